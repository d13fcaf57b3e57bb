"""The live streams of one symbol: store what arrives, and ask for a repair when needed.

A stream extends coverage only for the time its connection was up, and never fills a
hole itself: a reconnect, a gap in trade ids or a late update only sets `repair_now`,
and the symbol's repair loop (`runtime.symbol`) works out over REST what is missing.
Kept apart from that loop because the two meet only at that event and at which
streams are proving their time.
"""

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from ohlcv_collector.core.aggregation import MinuteAssembler
from ohlcv_collector.core.coverage import whole_minutes
from ohlcv_collector.core.retry import STREAM_RECONNECT, UNLISTED_SYMBOL, RetryPolicy
from ohlcv_collector.core.streams import CandleStreamTracker, TradeStreamTracker
from ohlcv_collector.models import Candle, TimeRange, Trade
from ohlcv_collector.ports import Market, StreamInterruptedError, SymbolUnavailableError
from ohlcv_collector.runtime.reporting import SymbolReporter
from ohlcv_collector.runtime.sink import SymbolSink

log = logging.getLogger("ohlcv_collector.symbol")

Row = TypeVar("Row", Candle, Trade)


async def wait_to_retry(policy: RetryPolicy, *, attempt: int) -> None:
    """Sleep the policy's delay before the next attempt (jittered, so symbols spread out)."""
    await asyncio.sleep(policy.delay(attempt=attempt, random=random.random()))


class SymbolStreams:
    """The trade and candle streams of one symbol, each reopened whenever it stops."""

    def __init__(
        self,
        *,
        market: Market,
        sink: SymbolSink,
        report: SymbolReporter,
        symbol: str,
        trades: bool,
        candles: bool,
        repair_now: asyncio.Event,
    ) -> None:
        self._market = market
        self._sink = sink
        self._report = report
        self._symbol = symbol
        self._trades = trades
        self._candles = candles  # wanted: streamed, or else built from the trades
        self._repair_now = repair_now
        self.proving: set[str] = set()  # streams whose connection has proved a range

    def tasks(self) -> list[Coroutine[Any, Any, None]]:
        """The stream loops to run: those wanted that the exchange offers."""
        caps = self._market.capabilities
        tasks = []
        if self._trades and caps.stream_trades:
            tasks.append(self._stream(self._market.trades, self._on_trades, name="trades"))
        if self._candles and caps.stream_candles:
            tasks.append(self._stream(self._market.candles, self._on_candles, name="candles"))
        return tasks

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
                async for batch in open_stream(symbol=self._symbol):
                    attempt = 0
                    await on_batch(batch)
            except StreamInterruptedError as error:
                self._report.reconnecting(stream=name, error=error)
            except SymbolUnavailableError as error:
                self._report.fail(f"{name} stream: the exchange does not list the symbol: {error}")
                policy = UNLISTED_SYMBOL
            except Exception as error:
                self._report.stop_on_our_bug(error, what=f"{name} stream")
                log.exception("%s stream failed", name, extra=self._report.labels)
                self._report.fail(f"{name} stream: {error}")
            self._repair_now.set()
            await wait_to_retry(policy, attempt=attempt)
            attempt += 1

    def _reset_stream(self, name: str) -> None:
        self.proving.discard(name)
        if name == "trades":
            self._trade_tracker = TradeStreamTracker()
            self._assembler = MinuteAssembler()
        else:
            self._candle_tracker = CandleStreamTracker()

    async def _on_trades(self, trades: list[Trade]) -> None:
        step = self._trade_tracker.receive(trades)
        if step.gap:
            log.warning(
                "trade ids jumped: trades were lost in the stream", extra=self._report.labels
            )
            self._assembler.reset()
            self._repair_now.set()
        candles: list[Candle] = []
        covered_candles: list[TimeRange] = []
        if self._candles and not self._market.capabilities.stream_candles:
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
        if stream not in self.proving:
            self.proving.add(stream)
            self._repair_now.set()
