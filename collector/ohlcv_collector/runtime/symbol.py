"""Keeping one symbol complete: backfill, live streams and repair, until cancelled.

Three tasks per symbol. The streams (`runtime.symbol_streams`) store what arrives and
extend coverage only for the time their connection was up. The repair loop (here)
computes the holes of the collection window (everything not covered) and fills them
over REST: at start that is the backfill or the resume, after a reconnect or a late
update it is the repair, and on a timer it catches whatever else was missed. One
mechanism, so a restart, a reconnect and a fresh start can never disagree about what
is missing.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from ohlcv_collector.core.coverage import collection_window, exchange_clock, holes, since_first
from ohlcv_collector.core.phases import Phase, phase_while_repairing
from ohlcv_collector.core.retry import REPAIR_PASS, UNLISTED_SYMBOL
from ohlcv_collector.models import MINUTE_MS, SeriesKind, Target, TimeRange, now_ms
from ohlcv_collector.ports import Market, SymbolUnavailableError
from ohlcv_collector.runtime.filling import HoleFiller, SpareRequests
from ohlcv_collector.runtime.reporting import SymbolFailedError, SymbolReporter
from ohlcv_collector.runtime.sink import SymbolSink
from ohlcv_collector.runtime.symbol_streams import SymbolStreams, wait_to_retry

log = logging.getLogger("ohlcv_collector.symbol")

POLL_GRACE_MS = 2_000  # exchanges publish a closed bar shortly after its minute ends


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
        self,
        *,
        target: Target,
        market: Market,
        sink: SymbolSink,
        options: CollectOptions,
        spare: SpareRequests,
    ) -> None:
        self.target = target
        self._market = market
        self._sink = sink
        self._report = SymbolReporter(status=sink.status)
        self._options = options
        self._repair_now = asyncio.Event()
        self._window = TimeRange(0, 0)
        self._filler = HoleFiller(
            market=market, sink=sink, spare=spare, on_progress=self._report_progress
        )
        self._labels = self._report.labels
        self._streams = SymbolStreams(
            market=market, sink=sink, report=self._report, symbol=target.symbol,
            trades=options.trades, candles=options.candles, repair_now=self._repair_now,
        )  # fmt: skip

    async def run(self) -> None:
        """Collect until cancelled; a failure here never reaches another symbol."""
        tasks = [self._repair_loop(), *self._streams.tasks()]
        try:
            async with asyncio.TaskGroup() as group:
                for task in tasks:
                    group.create_task(task)
        except* SymbolFailedError:
            pass  # the symbol stays in the error phase; the others go on

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
                await self._repair_pass()
                attempt = 0
                wait = self._options.repair_interval_seconds
                if self._polling:  # REST is the only source of each new bar
                    wait = self._seconds_until_next_bar()
                elif self._newest_stream not in self._streams.proving:
                    wait = min(wait, self._seconds_until_next_bar())
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._repair_now.wait()
                continue
            except SymbolUnavailableError as error:
                self._report.fail(f"the exchange does not list {self.target.symbol}: {error}")
                policy = UNLISTED_SYMBOL
            except Exception as error:  # a failing symbol must never stop the others
                self._report.stop_on_our_bug(error, what="repair pass")
                log.exception("repair pass failed", extra=self._labels)
                self._report.fail(str(error) or type(error).__name__)
                policy = REPAIR_PASS
            await wait_to_retry(policy, attempt=attempt)
            attempt += 1

    def _seconds_until_next_bar(self) -> float:
        """Until the bar after the window is closed and published, by the exchange's clock.

        Without a stream proving its time (polling, or one not proving yet since its
        (re)connect, such as a candle stream whose first bar is the one in progress) no
        stream will confirm that bar, so the next pass is due then, not a repair interval
        later: a backfill that ended in the first seconds of a minute, when the bar before
        was not yet published, had it only when the stream proved its first range, up
        to a minute later (bench B2 waited 50 s for it).
        """
        published = self._window.end + MINUTE_MS + POLL_GRACE_MS
        return max(0.0, (published - now_ms() - self._report.status.clock_offset_ms) / 1000)

    async def _repair_pass(self) -> None:
        """Fill every hole of the window."""
        self._repair_now.clear()
        now = exchange_clock(
            clock=await self._filler.exchange_time(),  # a 5xx here is retried, not an error
            covered=[part for parts in self._sink.coverage.values() for part in parts],
        )
        self._report.status.clock_offset_ms = now - now_ms()
        days = self._options.backfill_days or self.target.backtest_days
        # The newest closed minute is left to a stream proving its time, which confirms
        # that bar when the next one starts. Without one (polling, or a stream not yet
        # proving since its (re)connect) REST takes it, once the exchange has published it.
        end = now - now % MINUTE_MS
        if self._newest_stream in self._streams.proving or now % MINUTE_MS < POLL_GRACE_MS:
            end -= MINUTE_MS
        self._window = collection_window(now=now, end=end, days=days)
        candle_holes: list[TimeRange] = []
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
        trade_holes = await self._repair_trades(end=end) if self._options.trades else 0
        if candle_holes or trade_holes:
            # A pass that filled holes reports progress and its phase once storage holds
            # them, not up to a batching interval earlier (and a backfill is done sooner).
            await self._sink.committed()
        self._report_progress()
        self._report.lag()
        if self._report.status.phase in (Phase.BACKFILLING, Phase.STARTING, Phase.ERROR):
            self._report.phase(Phase.STREAMING, "polling" if self._polling else "streaming")

    async def _repair_trades(self, *, end: int) -> int:
        """Fill the trade holes; returns how many there were.

        Trade history starts where the first trade was collected, unless backfilled. The
        first trade stored counts from inside the collection window only, so that no stray
        timestamp sends the repair back to where the exchange never had trades.
        """
        covered = self._covered(SeriesKind.TRADES)
        first = self._sink.first_trade
        first_stored = None if first is None else max(first, self._window.start)
        window = since_first(covered, end=end, first_stored=first_stored)
        trade_holes = holes(window=window, covered=covered)
        for hole in trade_holes:
            await self._filler.fill_trades(hole)
        return len(trade_holes)

    def _covered(self, kind: SeriesKind) -> list[TimeRange]:
        return self._sink.coverage.get(kind, [])

    def _candles_settled(self) -> list[TimeRange]:
        """Candle ranges with nothing left to do: complete, or not collectable at all."""
        return self._covered(SeriesKind.CANDLES) + self._filler.uncollectable

    def _report_progress(self) -> None:
        self._report.progress(window=self._window, covered=self._candles_settled())
