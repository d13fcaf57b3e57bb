"""A bar is final once the exchange's clock has passed its end, on every exchange whose data
can go quiet (the Binance case is tests/integration/test_collector_late_start.py).

Kraken: the recorded BTC/USDT trades and OHLC end; Kraken keeps serving the minutes after
them as empty bars. Hyperliquid: a trade tape ends, and Hyperliquid serves no candle at all for
a minute without trades, so nothing after the last bar ever proves it closed but the clock.
BitMEX: the default XBTUSD recording (recorded bins, then the latest 1,000 trades) ends at
15:03; BitMEX serves a bin for every minute, empty ones included, but publishes a bin only
after its minute ends and labels it by that end, so a bar "final once the exchange's clock has
passed its end" is the bin labelled 15:03 (stored at its open, 15:02, 147 trades): served as
soon as the clock reaches 15:03, and after it the replay serves no bin and no trade at all, so
no later bin ever follows it.
A collector started after the data stopped stores the last bar, equal to the ground truth.
"""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ohlcv_collector.models import MINUTE_MS
from tests.integration.collector_harness import (
    Check,
    Database,
    Lab,
    add_target,
    collection_window,
    database_for,
    init_db,
    wait_backfilled,
)
from tests.replay_exchange.datasets import DataSpec, default_specs, load_markets, shared_data_dir

TAPE = shared_data_dir() / "trades/binance_spot_ws/btcusdt_20240808.gz"
QUIET = {
    # exchange: (symbol that goes quiet, replay arguments, its recording)
    "bitmex": ("BTC/USD:BTC", (), default_specs("bitmex")),
    "kraken": ("BTC/USDT", (), default_specs("kraken")),
    "hyperliquid": (
        "BTC/USDC:USDC",
        ("--data", f"BTC/USDC:USDC={TAPE}"),
        (DataSpec(TAPE, "BTC/USDC:USDC"),),
    ),
}


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    return database_for(request, tmp_path)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
@pytest.mark.parametrize("exchange", sorted(QUIET))
def test_a_collector_started_after_a_markets_data_stopped_stores_its_last_bar(
    database: Database, tmp_path: Path, exchange: str
) -> None:
    symbol, args, recording = QUIET[exchange]
    recorded_end = load_markets(recording)[symbol].end_ms
    start = datetime.fromtimestamp((recorded_end - 4 * MINUTE_MS) / 1000, tz=UTC).isoformat()
    init_db(database)
    add_target(database, exchange, symbol, days=1)
    with Lab(tmp_path) as lab:
        replay = lab.replay(exchange, "--speed", "20", "--start", start, *args)
        end_ms = replay.market(symbol)["end_ms"]
        replay.wait_exchange_ms(end_ms + 2 * MINUTE_MS, timeout=60)
        collector = lab.collector(
            database,
            replay,
            repair_interval=5,
            env={"OHLCV_HEARTBEAT_SECONDS": "2", "OHLCV_TARGETS_REFRESH_SECONDS": "3"},
        )
        assert collector.started_exchange_ms > end_ms, "the market's data has not ended"
        wait_backfilled(collector, exchange, [symbol], timeout=60)
        replay.wait_exchange_ms(replay.now_ms() + 4 * MINUTE_MS, timeout=30)
        stopped = replay.now_ms()
        assert collector.stop() == 0, collector.output()
        window = collection_window(
            started_ms=collector.started_exchange_ms, stopped_ms=stopped, days=1
        )
        assert Check(database, replay, symbol, window).candles() == []
        last_bar = end_ms - MINUTE_MS
        assert last_bar in database.candles(exchange, symbol)
