"""One symbol's collection against the replay exchange, in this process: what its status
says when its repair meets coverage it did not expect, or a bug of ours.

Real parts throughout: ccxt against the replay exchange, SQLite storage, the batch writer.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest

from ohlcv_collector.backends.ccxt.market import CcxtMarket
from ohlcv_collector.backends.storage import open_sql_storage
from ohlcv_collector.core.phases import Phase
from ohlcv_collector.models import MINUTE_MS, SeriesKind, Target, TimeRange, floor_minute
from ohlcv_collector.ports import Coverage, Storage, WriteBatch
from ohlcv_collector.runtime.filling import SPARE_REQUESTS, SpareRequests
from ohlcv_collector.runtime.sink import SymbolSink
from ohlcv_collector.runtime.symbol import CollectOptions, SymbolCollector
from ohlcv_collector.runtime.symbol_status import SymbolStatus
from ohlcv_collector.runtime.writer import BatchWriter
from tests.harness.waiting import wait_until_async
from tests.integration.symbol_runs import candles_backfilled, running
from tests.replay_exchange import ground_truth
from tests.replay_exchange.faults import FaultPlan
from tests.replay_exchange.server import ReplayServer

StartServer = Callable[..., Awaitable[ReplayServer]]
SYMBOL_LOG = "ohlcv_collector.symbol"


@dataclass
class Scene:
    storage: Storage
    market: CcxtMarket
    writer: BatchWriter

    async def collector(
        self, target: Target, *, options: CollectOptions
    ) -> tuple[SymbolCollector, SymbolStatus]:
        """A symbol's collector resuming from what storage holds, as the exchange starts
        it, and the status record the heartbeat and /readyz read."""
        coverage = {
            kind: await self.storage.coverage(
                exchange=target.exchange, symbol=target.symbol, kind=kind
            )
            for kind in SeriesKind
        }
        status = SymbolStatus(exchange=target.exchange, symbol=target.symbol)
        sink = SymbolSink(status=status, writer=self.writer, coverage=coverage)
        collector = SymbolCollector(
            target=target, market=self.market, sink=sink, options=options,
            spare=SpareRequests(count=SPARE_REQUESTS),
        )  # fmt: skip
        return collector, status


@pytest.fixture
async def scene(replay_server_factory: StartServer, tmp_path: Path) -> AsyncIterator[Scene]:
    server = await replay_server_factory(exchange="binance")
    storage = await open_sql_storage(f"sqlite://{tmp_path / 'ohlcv.sqlite'}")
    await storage.migrate()
    market = CcxtMarket(
        exchange_id="binance", options={"enableRateLimit": False}, urls=server.ccxt_urls()
    )
    try:
        async with BatchWriter(storage, max_rows=500, max_seconds=0.2, buffer_max_rows=50_000) as w:
            yield Scene(storage=storage, market=market, writer=w)
    finally:
        await market.close()
        await storage.close()


def settled(status: SymbolStatus) -> Callable[[], Awaitable[Phase | None]]:
    """The phase once the first repair pass has ended (it leaves `starting` either way)."""

    async def phase() -> Phase | None:
        return None if status.phase is Phase.STARTING else status.phase

    return phase


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_trade_coverage_past_the_repair_window_is_nothing_to_repair(
    scene: Scene, caplog: pytest.LogCaptureFixture
) -> None:
    # The stream's own coverage runs past the closed minutes the repair ends at (stored
    # here ahead of the exchange's clock). The trade window then ended before it started,
    # which failed every repair pass with "range ends before it starts".
    ahead = floor_minute(await scene.market.exchange_time()) + 2 * MINUTE_MS + 10_000
    covered = TimeRange(ahead, ahead + 10_000)
    await scene.storage.write(
        WriteBatch(coverage=[Coverage("binance", "BTC/USDT", SeriesKind.TRADES, covered)])
    )
    target = Target(exchange="binance", symbol="BTC/USDT", backtest_days=1)
    collector, status = await scene.collector(target, options=CollectOptions(candles=False))
    with caplog.at_level(logging.INFO, logger=SYMBOL_LOG):
        async with running(collector):
            phase = await wait_until_async(
                settled(status), timeout=30, describe="the first repair pass ended"
            )
    assert (phase, status.last_error, status.message) == (Phase.STREAMING, None, "streaming")
    assert errors(caplog) == []


async def test_trades_stored_before_a_stream_proved_anything_are_joined_by_the_repair(
    replay_server_factory: StartServer, tmp_path: Path
) -> None:
    """Connections the exchange closes after 0.2 s (1.2 s of its time, less than the 2 s a
    stream waits for late trades before it proves a range) store trades but never prove one.
    Once they hold, the repair fills from the first trade stored: every aggregate trade
    between the first and the last stored one is stored. The repair used to start at the
    first proved instant, so those gaps stayed for good."""
    server = await replay_server_factory(
        exchange="binance", speed=6, faults=FaultPlan(ws_close_every_s=0.2)
    )
    storage = await open_sql_storage(f"sqlite://{tmp_path / 'ohlcv.sqlite'}")
    await storage.migrate()
    market = CcxtMarket(
        exchange_id="binance", options={"enableRateLimit": False}, urls=server.ccxt_urls()
    )
    target = Target(exchange="binance", symbol="BTC/USDT", backtest_days=1)
    options = CollectOptions(candles=False, repair_interval_seconds=1)
    try:
        async with BatchWriter(storage, max_rows=500, max_seconds=0.2, buffer_max_rows=50_000) as w:
            scene = Scene(storage=storage, market=market, writer=w)
            collector, status = await scene.collector(target, options=options)

            async def stored_ids() -> list[int]:
                window = TimeRange(0, 2**62)
                rows = await storage.trades(exchange="binance", symbol="BTC/USDT", window=window)
                return sorted(int(t.trade_id) for t in rows)

            async def reconnected() -> bool:
                return status.reconnects >= 3 and bool(await stored_ids())

            async def complete() -> bool:
                ids = await stored_ids()
                served = [
                    int(row["agg_id"])
                    for row in ground_truth.rows(
                        exchange="binance",
                        kind="aggtrades",
                        market=server.exchange.markets["BTC/USDT"],
                        horizon_ns=server.exchange.moment().now_ns,
                    )
                ]
                between = [i for i in served if ids and ids[0] <= i <= ids[-1]]
                return len(ids) > len(first) and ids == between

            async with running(collector):
                await wait_until_async(reconnected, timeout=30, describe="3 broken connections")
                first = await stored_ids()
                server.exchange.set_faults(FaultPlan())
                await wait_until_async(
                    complete, timeout=90, describe="every trade from the first stored one"
                )
    finally:
        await market.close()
        await storage.close()


async def test_a_bug_of_ours_stops_its_symbol_in_error_and_the_others_go_on(
    scene: Scene, caplog: pytest.LogCaptureFixture
) -> None:
    # A target without its days makes the repair compare None with a number: a TypeError
    # in our code, which no retry can fix.
    broken = Target(exchange="binance", symbol="BTC/USD", backtest_days=cast(int, None))
    healthy = Target(exchange="binance", symbol="BTC/USDC", backtest_days=0)
    options = CollectOptions(trades=False)
    broken_collector, broken_status = await scene.collector(broken, options=options)
    healthy_collector, healthy_status = await scene.collector(healthy, options=options)
    with caplog.at_level(logging.INFO, logger=SYMBOL_LOG):
        async with running(broken_collector, healthy_collector) as (broken_task, healthy_task):
            await wait_until_async(
                settled(healthy_status), timeout=30, describe="BTC/USDC's first repair ended"
            )
            await asyncio.wait_for(broken_task, timeout=30)  # ended: nothing retries it
            assert not healthy_task.done()
            assert healthy_status.phase is Phase.STREAMING
    assert broken_task.exception() is None
    expected = (
        "repair pass stopped by a bug in the collector: TypeError: '>' not supported"
        " between instances of 'int' and 'NoneType'"
    )
    assert (broken_status.phase, broken_status.last_error) == (Phase.ERROR, expected)
    assert broken_status.describe() == f"error: {expected}"  # the health record's message
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [(r.getMessage(), getattr(r, "symbol", None)) for r in failures] == [
        ("repair pass stopped by a bug in the collector", "BTC/USD")
    ]
    assert failures[0].exc_info is not None
    assert failures[0].exc_info[0] is TypeError


async def test_a_stop_at_the_instant_a_stream_breaks_still_stops_the_symbol(scene: Scene) -> None:
    # The exchange going away with the collector (a node drained, the demo ending) breaks
    # the streams as the stop cancels the symbol: the streams' call for a repair and the
    # cancellation arrive together. Waiting with asyncio.wait_for (Python 3.11), the repair
    # loop took the call, lost the cancellation and retried the gone exchange for ever.
    target = Target(exchange="binance", symbol="BTC/USDT", backtest_days=0)
    collector, status = await scene.collector(target, options=CollectOptions(trades=False))
    task = asyncio.create_task(collector.run())
    await wait_until_async(settled(status), timeout=30, describe="the first repair pass ended")
    collector._repair_now.set()  # what a broken stream does
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=10)
    assert done == {task}, f"the symbol ran on after its cancellation: {status.message}"
    assert task.cancelled()


async def test_a_backfill_is_reported_done_only_once_storage_holds_it(
    replay_server_factory: StartServer, tmp_path: Path
) -> None:
    """When a symbol says its backfill is done (streaming, 100%), `ohlcv-collector status`,
    which reads storage, must say so too. The writer here would hold the day's candles for
    its whole second of batching; the backfill used to report done meanwhile."""
    server = await replay_server_factory(exchange="binance")
    storage = await open_sql_storage(f"sqlite://{tmp_path / 'ohlcv.sqlite'}")
    await storage.migrate()
    market = CcxtMarket(
        exchange_id="binance", options={"enableRateLimit": False}, urls=server.ccxt_urls()
    )
    target = Target(exchange="binance", symbol="BTC/USDT", backtest_days=1)
    try:
        async with (
            BatchWriter(storage, max_rows=100_000, max_seconds=1.0, buffer_max_rows=200_000) as w,
            candles_backfilled(market=market, target=target, writer=w, within_seconds=30) as ran,
        ):
            sink, status = ran
            claimed = list(sink.coverage[SeriesKind.CANDLES])
            stored = await storage.coverage(
                exchange="binance", symbol="BTC/USDT", kind=SeriesKind.CANDLES
            )
    finally:
        await market.close()
        await storage.close()
    assert status.backfill_progress == 1.0
    assert claimed, "the backfill covered nothing"
    assert stored == claimed


async def test_the_bar_left_unpublished_at_the_backfill_is_fetched_once_published(
    scene: Scene,
) -> None:
    """A first pass in the first seconds of a minute leaves the bar before it (the exchange
    may not have published it yet), and the candle stream that just connected starts with
    the bar in progress, so it proves nothing until the next minute begins. That bar is
    due a few seconds later, not when the stream proves its first range a minute later
    (with a long repair interval it waited that long)."""
    clock = await scene.market.exchange_time()
    await asyncio.sleep((MINUTE_MS - clock % MINUTE_MS + 300) / 1000)  # 0.3 s into a minute
    target = Target(exchange="binance", symbol="BTC/USDT", backtest_days=1)
    options = CollectOptions(trades=False, repair_interval_seconds=3600)
    collector, _ = await scene.collector(target, options=options)
    started = await scene.market.exchange_time()
    bar_before = floor_minute(started) - MINUTE_MS
    assert started % MINUTE_MS < 2_000  # inside the grace, so the first pass leaves it

    async def bar_stored() -> bool:
        window = TimeRange(bar_before, bar_before + MINUTE_MS)
        return bool(
            await scene.storage.candles(exchange="binance", symbol="BTC/USDT", window=window)
        )

    async with running(collector):
        await wait_until_async(bar_stored, timeout=20, describe="the bar before the start stored")
