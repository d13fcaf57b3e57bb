"""Market data over ccxt: REST through async_support, streams through ccxt.pro.

Thin on purpose: every decision about what a page or a stream update means is in
the core; this module only makes the calls and converts what comes back.
"""

import asyncio
import dataclasses
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import ccxt

from ohlcv_collector.backends.budget import RequestBudget
from ohlcv_collector.backends.ccxt.client import (
    TRADES_LIMIT,
    build_exchange,
    capabilities_of,
    translate,
)
from ohlcv_collector.backends.ccxt.convert import candles_of, trade_of
from ohlcv_collector.models import TIMEFRAME_1M, Candle, Trade, now_ms
from ohlcv_collector.ports import (
    ExchangeUnavailableError,
    MarketInfo,
    StreamInterruptedError,
    UnsupportedRequestError,
)

log = logging.getLogger("ohlcv_collector.market")

Result = TypeVar("Result")

# A busy trade stream is read at most this often. Read at every trade, at 100 symbols at
# the recording's own pace (bench B4), the collector spent 0.119 CPU s per 1,000 trades;
# reads 0.2 s apart, 0.081 (ccxt alone in B1: 0.043-0.054). A trade waits that long at
# most, beside the writer's 1 s of batching (p99 from exchange to database 1.05 to 1.2 s).
TRADES_GATHER_SECONDS = 0.2


class CcxtMarket:
    """The `MarketData` and `MarketStream` ports for one exchange, on one ccxt object."""

    def __init__(
        self,
        *,
        exchange_id: str,
        options: dict[str, Any],
        urls: dict[str, Any],
        budget: RequestBudget | None = None,
    ) -> None:
        self.exchange_id = exchange_id
        self._exchange = build_exchange(
            exchange_id=exchange_id, options=options, urls=urls, budget=budget
        )
        self.capabilities = capabilities_of(self._exchange)
        # ccxt's "now" for requests it bounds by the present (Hyperliquid's candleSnapshot
        # `endTime`) is the local clock; it is moved to the exchange's, learnt at each
        # `exchange_time`, so a local clock behind the exchange's never hides closed bars.
        self._clock_offset_ms = 0
        self._exchange.milliseconds = self._exchange_milliseconds

    def _exchange_milliseconds(self) -> int:
        return now_ms() + self._clock_offset_ms

    async def _call(self, request: Callable[[], Awaitable[Result]]) -> Result:
        try:
            return await request()
        except ccxt.BaseError as error:
            raise translate(error, exchange=self._exchange) from error

    async def markets(self) -> dict[str, MarketInfo]:
        """Listed symbols, reloaded from the exchange each time (delistings show up)."""
        previous = list((self._exchange.markets or {}).values())
        loaded = await self._call(lambda: self._exchange.load_markets(reload=True))
        if not loaded and previous:
            # ccxt parses a damaged answer as no markets and forgets the ones it had, after
            # which every request of every symbol fails as an unknown symbol: restore them.
            self._exchange.set_markets(previous)
            raise ExchangeUnavailableError("the exchange listed no markets (a damaged answer)")
        return {
            symbol: MarketInfo(symbol=symbol, active=market.get("active") is not False)
            for symbol, market in loaded.items()
        }

    async def exchange_time(self) -> int:
        """The exchange's clock, or the local one when it publishes none."""
        if not self._exchange.has.get("fetchTime"):
            return now_ms()
        now = int(await self._call(self._exchange.fetch_time))
        self._clock_offset_ms = now - now_ms()
        return now

    async def _rows(self, request: Callable[[], Awaitable[list[Any]]]) -> list[Any]:
        """Rows of a REST request, refusing an answer that was not JSON.

        ccxt reads a damaged body (a proxy's HTML error page, a truncated answer) as no
        rows at all, which would pass for a quiet market and be covered as empty. ccxt
        records the parsed body just before returning, with no await in between, so it
        is this request's own.
        """
        self._exchange.enableLastJsonResponse = True
        rows = await self._call(request)
        if self._exchange.last_json_response is None:
            raise ExchangeUnavailableError("the exchange's answer was not JSON (damaged body)")
        return rows

    async def fetch_candles(self, *, symbol: str, since: int, limit: int) -> list[Candle]:
        """1m candles from `since`, oldest first, as the exchange answered."""
        rows = await self._rows(
            lambda: self._exchange.fetch_ohlcv(symbol, TIMEFRAME_1M, since, limit)
        )
        return candles_of(rows, exchange=self.exchange_id, symbol=symbol)

    async def fetch_trades(self, *, symbol: str, since: int, limit: int) -> list[Trade]:
        """Trades from `since`, oldest first, as the exchange answered.

        An exchange whose trade history ccxt cannot page (Hyperliquid: ccxt asks for a
        user's fills) says so on the first request: `capabilities.rest_trades` turns False.
        """
        try:
            rows = await self._rows(lambda: self._exchange.fetch_trades(symbol, since, limit))
        except UnsupportedRequestError:
            self.capabilities = dataclasses.replace(self.capabilities, rest_trades=False)
            raise
        return [trade_of(row, exchange=self.exchange_id, symbol=symbol) for row in rows]

    def _connections(self) -> frozenset[tuple[int, Any]]:
        """The exchange's established connections, each as (client, when established).

        A connection still being opened is left out: it has delivered nothing yet, so its
        opening replaces nothing. Counted, it made every symbol that read while another
        symbol's connection was opening restart its stream when that one came up (29 of
        100 symbols at once at start-up in bench B1, where ccxt opens 50 Binance streams).
        """
        clients = getattr(self._exchange, "clients", None) or {}
        return frozenset(
            (id(c), c.connectionEstablished)
            for c in clients.values()
            if c.connectionEstablished is not None
        )

    async def _watch(
        self, request: Callable[[], Awaitable[list[Any]]], *, what: str
    ) -> AsyncIterator[list[Any]]:
        """Rows of a ccxt watch call, until a connection of the exchange drops or is replaced.

        ccxt reconnects on the next watch call after a drop; if that happened between
        two of our reads, frames were lost without an error, so a connection that is gone
        or was re-established since the last read counts as an interruption too. A new
        connection alone does not: ccxt opens more as other symbols subscribe (a spurious
        interruption per symbol at start-up, each leaving a hole to repair, at 10 symbols
        and more in bench/).
        """
        connections: frozenset[tuple[int, Any]] | None = None
        while True:
            try:
                rows = await request()
            except ccxt.NetworkError as error:
                raise StreamInterruptedError(f"{what}: {error}") from error
            except ccxt.BaseError as error:
                raise translate(error, exchange=self._exchange) from error
            current = self._connections()
            if connections is not None and not connections <= current:
                raise StreamInterruptedError(f"{what}: connection was replaced")
            connections = current
            yield rows

    async def trades(self, *, symbol: str) -> AsyncIterator[list[Trade]]:
        """Every streamed trade of `symbol`, in batches gathered as `_next_trades` says."""
        reads = itertools.count()  # the first read subscribes (on a new connection after a drop)
        watch = lambda: self._next_trades(symbol, gather=next(reads) > 0)  # noqa: E731
        async for rows in self._watch(watch, what="trades"):
            if len(rows) >= TRADES_LIMIT:
                raise StreamInterruptedError(f"trades: more than {TRADES_LIMIT} between reads")
            batch = [trade_of(row, exchange=self.exchange_id, symbol=symbol) for row in rows]
            self._forget_delivered(symbol=symbol)
            yield batch

    async def _next_trades(self, symbol: str, *, gather: bool) -> list[Any]:
        """With `gather`, the trades that arrived in the last TRADES_GATHER_SECONDS, or else
        the next to arrive.

        Read one by one, a busy stream hands over a trade or two per read, and each read
        costs the collector as much as the trades in it (validation, coverage, a writer
        batch, metrics). What ccxt received meanwhile is all unread, as the cache is
        emptied at each read (`_forget_delivered`); a stream that had nothing waits for
        ccxt's next message as before, so a trade is never held more than this long.
        """
        if gather:
            await asyncio.sleep(TRADES_GATHER_SECONDS)
            gathered = (self._exchange.trades or {}).get(symbol)
            if gathered:
                return list(gathered)
        rows: list[Any] = await self._exchange.watch_trades(symbol)
        return rows

    def _forget_delivered(self, *, symbol: str) -> None:
        """Empty ccxt.pro's trade cache of `symbol` once read: ccxt keeps every trade it
        handed over until TRADES_LIMIT push it out, which held ~2 KB a trade, 1.25 GB at 100
        symbols in bench B1. Emptied, it holds only the trades not yet read, and its count
        since the last read (the overflow check above) still starts from zero. No await
        comes between ccxt counting the new trades and this, so none can arrive unseen."""
        cache = (self._exchange.trades or {}).get(symbol)
        if cache is not None:
            cache.clear()

    async def candles(self, *, symbol: str) -> AsyncIterator[list[Candle]]:
        """Updates of the current 1m bar of `symbol`."""
        watch = lambda: self._exchange.watch_ohlcv(symbol, TIMEFRAME_1M)  # noqa: E731
        async for rows in self._watch(watch, what="candles"):
            yield candles_of(rows, exchange=self.exchange_id, symbol=symbol)

    async def close(self) -> None:
        """Close REST sessions and WebSocket connections."""
        await self._exchange.close()
