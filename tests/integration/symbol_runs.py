"""Running one symbol's collector inside the test, for the tests that drive it directly
(the end-to-end tests run `ohlcv-collector run` instead: collector_harness.py)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from ohlcv_collector.backends.ccxt.market import CcxtMarket
from ohlcv_collector.core.phases import Phase
from ohlcv_collector.models import Target
from ohlcv_collector.runtime.filling import SPARE_REQUESTS, SpareRequests
from ohlcv_collector.runtime.sink import SymbolSink
from ohlcv_collector.runtime.symbol import CollectOptions, SymbolCollector
from ohlcv_collector.runtime.symbol_status import SymbolStatus
from ohlcv_collector.runtime.writer import BatchWriter
from tests.harness.waiting import wait_until_async


@contextlib.asynccontextmanager
async def running(*collectors: SymbolCollector) -> AsyncIterator[list["asyncio.Task[None]"]]:
    """The collectors running as tasks until the block ends, then cancelled."""
    tasks = [asyncio.create_task(c.run()) for c in collectors]
    try:
        yield tasks
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def candles_backfilled(
    *, market: CcxtMarket, target: Target, writer: BatchWriter, within_seconds: float
) -> AsyncIterator[tuple[SymbolSink, SymbolStatus]]:
    """A candle-only collector of `target` from nothing stored, running until the block ends,
    entered once its backfill has ended (the symbol streams)."""
    status = SymbolStatus(exchange=target.exchange, symbol=target.symbol)
    sink = SymbolSink(status=status, writer=writer, coverage={})
    collector = SymbolCollector(
        target=target, market=market, sink=sink, options=CollectOptions(trades=False),
        spare=SpareRequests(count=SPARE_REQUESTS),
    )  # fmt: skip
    async with running(collector):

        async def streaming() -> bool:
            return status.phase is Phase.STREAMING

        await wait_until_async(
            streaming, timeout=within_seconds, interval=0.02, describe="the backfill ended"
        )
        yield sink, status
