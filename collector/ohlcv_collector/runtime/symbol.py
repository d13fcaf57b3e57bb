"""Keeping one symbol complete: backfill, live streams and repair, until cancelled.

Three tasks per symbol. The streams store what arrives and extend coverage only for
the time their connection was up. The repair loop computes the holes of the
collection window (everything not covered) and fills them over REST: at start that
is the backfill or the resume, after a reconnect or a late update it is the repair,
and on a timer it catches whatever else was missed. One mechanism, so a restart, a
reconnect and a fresh start can never disagree about what is missing.
"""

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from ohlcv_collector.core.aggregation import MinuteAssembler
from ohlcv_collector.core.coverage import (
    collection_window,
    exchange_clock,
    holes,
    since_first,
    whole_minutes,
)
from ohlcv_collector.core.phases import Phase, phase_while_repairing
from ohlcv_collector.core.retry import (
    REPAIR_PASS,
    STREAM_RECONNECT,
    UNLISTED_SYMBOL,
    RetryPolicy,
    is_our_bug,
)
from ohlcv_collector.core.streams import CandleStreamTracker, TradeStreamTracker
from ohlcv_collector.models import MINUTE_MS, Candle, SeriesKind, Target, TimeRange, Trade
from ohlcv_collector.ports import (
    Market,
    StreamInterruptedError,
    SymbolUnavailableError,
)
from ohlcv_collector.runtime.filling import HoleFiller
from ohlcv_collector.runtime.reporting import SymbolReporter
from ohlcv_collector.runtime.sink import SymbolSink

log = logging.getLogger("ohlcv_collector.symbol")

POLL_GRACE_MS = 2_000  # exchanges publish a closed bar shortly after its minute ends
Row = TypeVar("Row", Candle, Trade)


class SymbolFailedError(Exception):
    """A bug of ours stopped this symbol's collection; it was logged and reported."""


@dataclass(frozen=True, slots=True)
class CollectOptions:
    """What to collect for each symbol (from the CLI, the environment, or the resource)."""

    candles: bool = True
    trades: bool = True
    backfill_days: int | None = None  # overrides the target's `backtest` days
    repair_interval_seconds: float = 60.0


class SymbolCollector:
    """The three tasks that keep one target's series complete."""

    def __init__(
        self, *, target: Target, market: Market, sink: SymbolSink, options: CollectOptions
    ) -> None:
        self.target = target
        self._market = market
        self._sink = sink
        self._report = SymbolReporter(status=sink.status)
        self._options = options
        self._repair_now = asyncio.Event()
        self._window = TimeRange(0, 0)
        self._filler = HoleFiller(market=market, sink=sink, on_progress=self._report_progress)
        self._labels = self._report.labels
        self._proving: set[str] = set()  # streams whose connection has proved a range

    async def run(self) -> None:
        """Collect until cancelled; a failure here never reaches another symbol."""
        tasks = [self._repair_loop()]
        caps = self._market.capabilities
        if self._options.trades and caps.stream_trades:
            tasks.append(self._stream(self._market.trades, self._on_trades, name="trades"))
        if self._options.candles and caps.stream_candles:
            tasks.append(self._stream(self._market.candles, self._on_candles, name="candles"))
        try:
            async with asyncio.TaskGroup() as group:
                for task in tasks:
                    group.create_task(task)
        except* SymbolFailedError:
            pass  # the symbol stays in the error phase; the others go on

    # -- repair: backfill, resume and hole repair --------------------------------------

    @property
    def _polling(self) -> bool:
        """True when no stream brings candles, so REST polls each bar as it closes."""
        caps = self._market.capabilities
        return not (caps.stream_candles or caps.stream_trades)

    @property
    def _newest_stream(self) -> str:
        """The stream that completes this symbol's newest minutes."""
        collects_candles = self._options.candles and self._market.capabilities.stream_candles
        return "candles" if collects_candles else "trades"

    async def _repair_loop(self) -> None:
        attempt = 0
        while True:
            try:
                now = await self._repair_pass()
                attempt = 0
                wait = self._options.repair_interval_seconds
                if self._polling:  # the next bar closes at the next minute boundary
                    wait = (MINUTE_MS - now % MINUTE_MS + POLL_GRACE_MS) / 1000
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._repair_now.wait(), wait)
                continue
            except SymbolUnavailableError as error:
                self._report.fail(f"the exchange does not list {self.target.symbol}: {error}")
                policy = UNLISTED_SYMBOL
            except Exception as error:  # a failing symbol must never stop the others
                self._unless_our_bug(error, what="repair pass")
                log.exception("repair pass failed", extra=self._labels)
                self._report.fail(str(error) or type(error).__name__)
                policy = REPAIR_PASS
            await self._wait_to_retry(policy, attempt=attempt)
            attempt += 1

    def _unless_our_bug(self, error: Exception, *, what: str) -> None:
        """Stop this symbol, in the error phase, on a programming error of ours.

        Retrying cannot fix a bug, so it must not look like an exchange failing forever:
        the traceback goes to the log, the message to the status and health records.
        """
        if not is_our_bug(error):
            return
        log.error("%s stopped by a bug in the collector", what, exc_info=error, extra=self._labels)
        self._report.fail(
            f"{what} stopped by a bug in the collector: {type(error).__name__}: {error}"
        )
        raise SymbolFailedError(str(error)) from error

    @staticmethod
    async def _wait_to_retry(policy: RetryPolicy, *, attempt: int) -> None:
        await asyncio.sleep(policy.delay(attempt=attempt, random=random.random()))

    async def _repair_pass(self) -> int:
        """Fill every hole of the window; returns the exchange's time at the start."""
        self._repair_now.clear()
        now = exchange_clock(
            clock=await self._filler.exchange_time(),  # a 5xx here is retried, not an error
            covered=[part for parts in self._sink.coverage.values() for part in parts],
        )
        self._report.status.clock_offset_ms = now - int(time.time() * 1000)
        days = self._options.backfill_days or self.target.backtest_days
        # The newest closed minute is left to a stream proving its time, which confirms
        # that bar when the next one starts. Without one (polling, or a stream not yet
        # proving since its (re)connect) REST takes it, once the exchange has published it.
        end = now - now % MINUTE_MS
        if self._newest_stream in self._proving or now % MINUTE_MS < POLL_GRACE_MS:
            end -= MINUTE_MS
        self._window = collection_window(end=end, days=days)
        if self._options.candles:
            candle_holes = holes(window=self._window, covered=self._candles_settled())
            self._report.status.holes = len(candle_holes)
            if candle_holes:
                self._report.phase(phase_while_repairing(self._report.status.phase))
            for hole in candle_holes:
                # Every minute before `end` has closed and been published: REST proves a
                # bar closed by the clock too, where no later bar does (the data stopped).
                await self._filler.fill_candles(hole, closed_before=end)
            # What is left, as `status` counts it in the database (not what the pass found).
            left = holes(window=self._window, covered=self._candles_settled())
            self._report.status.holes = len(left)
        if self._options.trades:
            await self._repair_trades(end=end)
        self._report_progress()
        self._report.lag()
        if self._report.status.phase in (Phase.BACKFILLING, Phase.STARTING, Phase.ERROR):
            self._report.phase(Phase.STREAMING, "polling" if self._polling else "streaming")
        return now

    async def _repair_trades(self, *, end: int) -> None:
        """Trade history starts where the first trade was collected, unless backfilled."""
        covered = self._covered(SeriesKind.TRADES)
        for hole in holes(window=since_first(covered, end=end), covered=covered):
            await self._filler.fill_trades(hole)

    def _covered(self, kind: SeriesKind) -> list[TimeRange]:
        return self._sink.coverage.get(kind, [])

    def _candles_settled(self) -> list[TimeRange]:
        """Candle ranges with nothing left to do: complete, or not collectable at all."""
        return self._covered(SeriesKind.CANDLES) + self._filler.uncollectable

    # -- streams ----------------------------------------------------------------------

    async def _stream(
        self,
        open_stream: Callable[..., AsyncIterator[list[Row]]],
        on_batch: Callable[[list[Row]], Awaitable[None]],
        *,
        name: str,
    ) -> None:
        attempt = 0
        while True:
            self._reset_stream(name)
            policy = STREAM_RECONNECT
            try:
                async for batch in open_stream(symbol=self.target.symbol):
                    attempt = 0
                    await on_batch(batch)
            except StreamInterruptedError as error:
                self._report.reconnecting(stream=name, error=error)
            except SymbolUnavailableError as error:
                self._report.fail(f"{name} stream: the exchange does not list the symbol: {error}")
                policy = UNLISTED_SYMBOL
            except Exception as error:
                self._unless_our_bug(error, what=f"{name} stream")
                log.exception("%s stream failed", name, extra=self._labels)
                self._report.fail(f"{name} stream: {error}")
            self._repair_now.set()
            await self._wait_to_retry(policy, attempt=attempt)
            attempt += 1

    def _reset_stream(self, name: str) -> None:
        self._proving.discard(name)
        if name == "trades":
            self._trade_tracker = TradeStreamTracker()
            self._assembler = MinuteAssembler()
        else:
            self._candle_tracker = CandleStreamTracker()

    async def _on_trades(self, trades: list[Trade]) -> None:
        step = self._trade_tracker.receive(trades)
        if step.gap:
            log.warning("trade ids jumped: trades were lost in the stream", extra=self._labels)
            self._assembler.reset()
            self._repair_now.set()
        candles: list[Candle] = []
        covered_candles: list[TimeRange] = []
        if self._options.candles and not self._market.capabilities.stream_candles:
            if self._assembler.add(trades):
                self._repair_now.set()  # a trade for a minute already released: repair it
            connection = self._trade_tracker.connection_coverage
            if connection is not None:
                done = whole_minutes(connection)
                candles = self._assembler.release(done)
                covered_candles = [] if done.empty else [done]
        self._proved(step.covered, stream="trades")
        await self._sink.store(
            trades=step.store,
            candles=candles,
            covered_trades=[step.covered] if step.covered else [],
            covered_candles=covered_candles,
        )
        self._report.streamed()

    async def _on_candles(self, updates: list[Candle]) -> None:
        step = self._candle_tracker.receive(updates)
        if step.late:
            self._repair_now.set()
        self._proved(step.covered, stream="candles")
        await self._sink.store(
            candles=step.store, covered_candles=[step.covered] if step.covered else []
        )
        self._report.streamed()

    def _proved(self, covered: TimeRange | None, *, stream: str) -> None:
        """A stream connection's first proven range asks for a repair.

        The time between what was stored before and a connection's first proof is a
        hole (at start, the newest minutes the backfill left to the stream; after a
        reconnect, the time offline); repairing at once fills the closed part of it
        now rather than a whole repair interval later.
        """
        if covered is None:
            return
        if stream not in self._proving:
            self._proving.add(stream)
            self._repair_now.set()

    def _report_progress(self) -> None:
        self._report.progress(window=self._window, covered=self._candles_settled())
