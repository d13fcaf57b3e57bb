"""Filling a symbol's holes over REST: the pagers of the core, driven against the exchange.

Backfill after a first start, resume after a restart, repair after a reconnect and
repair of a detected hole are all this: a hole, a pager, requests until it is full.
Where the exchange's candle history stops short of a hole, the rest is filled from
trades, aggregated into candles here exactly as the exchange would.
"""

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

from ohlcv_collector.core.aggregation import MinuteAssembler
from ohlcv_collector.core.coverage import whole_minutes
from ohlcv_collector.core.paging import CandlePager, TradePager, split_candle_hole
from ohlcv_collector.core.retry import EXCHANGE_REQUEST, RATE_LIMITED, is_our_bug
from ohlcv_collector.models import SeriesKind, TimeRange
from ohlcv_collector.observability import metrics
from ohlcv_collector.ports import (
    MarketData,
    MarketDataError,
    RateLimitedError,
    SymbolUnavailableError,
    UnsupportedRequestError,
)
from ohlcv_collector.runtime.sink import SymbolSink

log = logging.getLogger("ohlcv_collector.symbol")

Result = TypeVar("Result")

# Candle pages one symbol's backfill may fetch at once, when the exchange's spare requests
# allow. One page at a time waits a round trip per page: 30 days of Binance candles are 44
# pages, a year 526, at 100-200 ms each from a cluster far from the exchange, while the
# limit allows 50 such requests a second. ccxt's throttle still paces every request.
PAGES_AT_ONCE = 4
# Requests beyond one per symbol an exchange's backfills may make at once: two symbols'
# deep backfills fetch PAGES_AT_ONCE pages each, and answers held stay bounded.
SPARE_REQUESTS = 2 * (PAGES_AT_ONCE - 1)


class SpareRequests:
    """Requests an exchange's backfills may make beyond one per symbol, shared by its symbols.

    Every symbol always pages on its own; a symbol with a long hole takes what is spare so
    that a few symbols' deep backfills fetch several pages at once, while hundreds of
    symbols together stay within a bounded number of requests (and answers in memory).
    """

    def __init__(self, *, count: int) -> None:
        self._free = count

    def take(self, *, wanted: int) -> int:
        """Up to `wanted` spare requests, as many as are free now (possibly none)."""
        taken = max(0, min(wanted, self._free))
        self._free -= taken
        return taken

    def give_back(self, count: int) -> None:
        self._free += count


class HoleFiller:
    """Fills holes of one symbol's candle and trade series."""

    def __init__(
        self,
        *,
        market: MarketData,
        sink: SymbolSink,
        spare: SpareRequests,
        on_progress: Callable[[], None],
    ) -> None:
        self._market = market
        self._sink = sink
        self._spare = spare
        self._on_progress = on_progress
        self._symbol = sink.status.symbol
        self._labels = {"exchange": sink.status.exchange, "symbol": self._symbol}

    @property
    def uncollectable(self) -> list[TimeRange]:
        """Candle ranges the exchange cannot serve at all (older than its candle history, and
        no trade history to build them from): not collectable, so neither holes to repair
        again and again nor covered as empty. Kept in storage, as `status` reads them."""
        return self._sink.coverage.get(SeriesKind.UNCOLLECTABLE_CANDLES, [])

    async def _request(self, call: Callable[[], Awaitable[Result]], *, what: str) -> Result:
        """Make a request until it succeeds; a symbol the exchange lacks, or a bug of
        ours (see `core.retry.is_our_bug`), ends it."""
        attempt = 0
        while True:
            try:
                return await call()
            except (SymbolUnavailableError, UnsupportedRequestError):
                raise
            except RateLimitedError as error:
                delay = RATE_LIMITED.delay(
                    attempt=attempt, random=random.random(), retry_after=error.retry_after
                )
                metrics.RATE_LIMIT_WAITS.labels(exchange=self._labels["exchange"]).inc()
                metrics.RATE_LIMIT_WAIT_SECONDS.labels(exchange=self._labels["exchange"]).inc(delay)
                self._sink.status.message = f"rate limited by the exchange, waiting {delay:.1f} s"
            except (MarketDataError, ValueError, KeyError, TypeError) as error:
                if is_our_bug(error):
                    raise
                # Exchanges send malformed bodies too; they get the same patient retry.
                delay = EXCHANGE_REQUEST.delay(attempt=attempt, random=random.random())
                metrics.REQUEST_ERRORS.labels(
                    exchange=self._labels["exchange"], error=type(error).__name__
                ).inc()
                log.warning(
                    "%s failed (attempt %d), retrying in %.1f s: %s",
                    what, attempt + 1, delay, error, extra=self._labels,
                )  # fmt: skip
            attempt += 1
            await asyncio.sleep(delay)

    async def exchange_time(self) -> int:
        """The exchange's clock, asked with the same patient retry as every request."""
        return await self._request(self._market.exchange_time, what="the exchange's time")

    async def fill_candles(self, hole: TimeRange, *, closed_before: int | None = None) -> None:
        """Fill a candle hole from the exchange's candles, and from trades where they stop.

        `closed_before`: the exchange's time by which every minute ending then had closed
        and been published (see CandlePager), so that the last bar of a market whose data
        stops is taken, and the minutes after it are known to be empty.
        """
        limit = self._market.capabilities.candle_page_limit
        first = CandlePager(hole=hole, limit=limit, closed_before=closed_before)
        await self._page_candles(first, pages=1)
        if first.next_since() is None:
            return
        # The first answer showed how the exchange pages (one serving only its newest
        # candles has answered the whole hole by now): the rest is cut into ranges of whole
        # pages, fetched side by side with the spare requests free now (none are held for a
        # rest of one page).
        rest = TimeRange(first.cursor, hole.end)
        useful = len(split_candle_hole(rest, limit=limit, parts=PAGES_AT_ONCE)) - 1
        spare = self._spare.take(wanted=useful)
        try:
            async with asyncio.TaskGroup() as group:
                for part in split_candle_hole(rest, limit=limit, parts=1 + spare):
                    pager = CandlePager(hole=part, limit=limit, closed_before=closed_before)
                    group.create_task(self._page_candles(pager))
        except BaseExceptionGroup as group_error:
            raise group_error.exceptions[0] from None  # the first failure, as sequential paging
        finally:
            self._spare.give_back(spare)

    async def _page_candles(self, pager: CandlePager, *, pages: int | None = None) -> None:
        """Request pages until `pager` is done (or `pages` were made)."""
        made = 0
        while (since := pager.next_since()) is not None and (pages is None or made < pages):
            candles = await self._request(
                partial(
                    self._market.fetch_candles, symbol=self._symbol, since=since, limit=pager.limit
                ),
                what=f"candles since {since}",
            )
            made += 1
            page = pager.receive(candles)
            if page.unavailable is not None:
                await self._candles_from_trades(page.unavailable)
            covered = [page.covered] if page.covered else []
            await self._sink.store(candles=page.store, covered_candles=covered)
            self._on_progress()

    async def _candles_from_trades(self, hole: TimeRange) -> None:
        if self._market.capabilities.rest_trades:
            log.info(
                "the exchange's candle history starts at %d: building candles from trades"
                " from %d", hole.end, hole.start, extra=self._labels,
            )  # fmt: skip
            await self.fill_trades(hole, build_candles=True)
        if not self._market.capabilities.rest_trades:  # none, or learnt just now
            log.warning(
                "the exchange serves no candles before %d and no trade history: %d to %d is"
                " not collectable", hole.end, hole.start, hole.end, extra=self._labels,
            )  # fmt: skip
            await self._sink.not_collectable(hole)

    async def fill_trades(self, hole: TimeRange, *, build_candles: bool = False) -> None:
        """Fill a trade hole; with `build_candles`, also the candles of its whole minutes.

        Where the exchange has no trade history to page (learnt from its answer), the hole
        cannot be filled: it is logged once and left, and trades are collected by the stream.
        """
        if not self._market.capabilities.rest_trades:
            return
        try:
            await self._page_trades(hole, build_candles=build_candles)
        except UnsupportedRequestError as error:
            log.warning(
                "the exchange serves no trade history over REST (%s): trades are collected"
                " from the stream only, and the gaps between stream connections cannot be filled",
                error, extra=self._labels,
            )  # fmt: skip

    async def _page_trades(self, hole: TimeRange, *, build_candles: bool) -> None:
        pager = TradePager(hole=hole, limit=self._market.capabilities.trade_page_limit)
        assembler = MinuteAssembler()
        while (since := pager.next_since()) is not None:
            trades = await self._request(
                partial(
                    self._market.fetch_trades, symbol=self._symbol, since=since, limit=pager.limit
                ),
                what=f"trades since {since}",
            )
            page = pager.receive(trades)
            if page.stuck_at is not None:
                log.error(
                    "more than %d trades share the instant %d: the exchange cannot page past"
                    " them, so that second stays a hole", pager.limit, page.stuck_at,
                    extra=self._labels,
                )  # fmt: skip
            candles, covered_minutes = [], []
            if build_candles:
                assembler.add(page.store)
                done = whole_minutes(TimeRange(hole.start, pager.cursor))
                candles = assembler.release(done)
                covered_minutes = [done] if not done.empty else []
            await self._sink.store(
                trades=page.store,
                candles=candles,
                covered_trades=[page.covered] if page.covered else [],
                covered_candles=covered_minutes,
            )
            self._on_progress()
