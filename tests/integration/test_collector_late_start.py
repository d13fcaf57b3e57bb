"""A collector started well after the exchange: the replay's Binance BTC/USDT recording is
12 minutes long (6 of history, 6 live at the start), so a collector started 12 s later
(8 exchange minutes at 40x, as a Pod scheduled by the operator is) finds a market whose
data has stopped. Its last bar is never followed by a later one; the exchange's clock
alone proves it closed, and the minutes after it empty.
"""

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

SYMBOLS = ("BTC/USD", "BTC/USDC", "BTC/USDT")


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    return database_for(request, tmp_path)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_collector_started_after_a_markets_data_stopped_stores_its_last_bar(
    database: Database, tmp_path: Path
) -> None:
    init_db(database)
    for symbol in SYMBOLS:
        add_target(database, "binance", symbol, days=1)
    with Lab(tmp_path) as lab:
        replay = lab.replay("binance", "--speed", "40")
        usdt = replay.market("BTC/USDT")
        replay.wait_exchange_ms(usdt["end_ms"] + 2 * MINUTE_MS, timeout=60)
        collector = lab.collector(
            database,
            replay,
            repair_interval=2.5,
            env={"OHLCV_HEARTBEAT_SECONDS": "2", "OHLCV_TARGETS_REFRESH_SECONDS": "3"},
        )
        assert collector.started_exchange_ms > usdt["end_ms"], "the market's data has not ended"
        wait_backfilled(collector, "binance", SYMBOLS, timeout=60)
        # More repair passes (every 100 exchange seconds): the minutes after the last bar
        # stay covered as they close.
        replay.wait_exchange_ms(replay.now_ms() + 4 * MINUTE_MS, timeout=30)
        stopped = replay.now_ms()
        assert collector.stop() == 0, collector.output()

        window = collection_window(
            started_ms=collector.started_exchange_ms, stopped_ms=stopped, days=1
        )
        for symbol in SYMBOLS:
            assert Check(database, replay, symbol, window).candles() == [], symbol
        last_bar = usdt["end_ms"] - MINUTE_MS
        assert last_bar in database.candles("binance", "BTC/USDT")
