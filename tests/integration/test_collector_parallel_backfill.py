"""A deep backfill of one symbol fetches several candle pages at once, asks for each page
once, and stores exactly the candles the exchange served; many symbols at once stay within
the exchange's spare requests."""

from decimal import Decimal
from pathlib import Path

from ohlcv_collector.backends.ccxt.market import CcxtMarket
from ohlcv_collector.backends.storage import open_sql_storage
from ohlcv_collector.models import MINUTE_MS, SeriesKind, Target, TimeRange
from ohlcv_collector.runtime.filling import PAGES_AT_ONCE
from ohlcv_collector.runtime.writer import BatchWriter
from tests.integration.symbol_runs import candles_backfilled
from tests.replay_exchange import ground_truth
from tests.replay_exchange.datasets import DataSpec, shared_data_dir
from tests.replay_exchange.faults import FaultPlan
from tests.replay_exchange.fixtures import StartServer

DAYS = 6  # 8,640 candles: 9 pages of Binance's 1,000
RECORDING = shared_data_dir() / "candles_1m" / "binanceus_BTCUSD_1m_20230301_20230321.csv"


async def test_a_deep_backfill_fetches_pages_side_by_side_and_stores_every_candle_once(
    replay_server_factory: StartServer, tmp_path: Path
) -> None:
    # 50 ms per answer, as from a distant exchange, so that requests in flight overlap.
    server = await replay_server_factory(
        exchange="binance",
        data=[DataSpec(RECORDING, "BTC/USD")],
        history_ms=(DAYS + 1) * 1440 * MINUTE_MS,
        faults=FaultPlan(rest_latency_s=0.05),
    )
    storage = await open_sql_storage(f"sqlite://{tmp_path / 'ohlcv.sqlite'}")
    await storage.migrate()
    market = CcxtMarket(
        exchange_id="binance", options={"enableRateLimit": False}, urls=server.ccxt_urls()
    )
    target = Target(exchange="binance", symbol="BTC/USD", backtest_days=DAYS)
    try:
        async with (
            BatchWriter(storage, max_rows=5_000, max_seconds=0.2, buffer_max_rows=50_000) as w,
            candles_backfilled(market=market, target=target, writer=w, within_seconds=60),
        ):
            requests = server.rest_requests["klines"]
            peak = server.rest_in_flight_peak["klines"]
        window = TimeRange(0, 2**62)
        stored = await storage.candles(exchange="binance", symbol="BTC/USD", window=window)
        covered = await storage.coverage(
            exchange="binance", symbol="BTC/USD", kind=SeriesKind.CANDLES
        )
    finally:
        await market.close()
        await storage.close()
    served = {
        int(row["open_time_ms"]): row
        for row in ground_truth.rows(
            exchange="binance", kind="candles_1m", market=server.exchange.markets["BTC/USD"],
            horizon_ns=server.exchange.moment().now_ns,
        )
    }  # fmt: skip
    starts = [c.start for c in stored]
    assert len(starts) == len(set(starts)) >= DAYS * 1440
    assert [(c.open, c.high, c.low, c.close, c.volume) for c in stored] == [
        tuple(Decimal(served[s][k]) for k in ("open", "high", "low", "close", "volume"))
        for s in starts
    ]
    assert len(covered) == 1, covered  # one range: the pages' ranges joined without a gap
    assert peak == PAGES_AT_ONCE
    assert requests <= DAYS * 1440 // 999 + 3  # one pager's pages, and the repair's
