"""Scratch repro (not to be kept)."""
import json
import os
import time
from pathlib import Path

import pytest

from ohlcv_collector.models import MINUTE_MS
from tests.integration.collector_harness import (
    Check, Database, Lab, add_target, collection_window, database_for, init_db, wait_backfilled,
)

SYMBOLS = ("BTC/USD", "BTC/USDC", "BTC/USDT")
DELAY = float(os.environ.get("REPRO_DELAY", "25"))


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    return database_for(request, tmp_path)


@pytest.mark.parametrize("database", [os.environ.get("REPRO_DB", "sqlite")], indirect=True)
def test_late(database: Database, tmp_path: Path) -> None:
    init_db(database)
    for symbol in SYMBOLS:
        add_target(database, "binance", symbol, days=1)
    out = Path(os.environ.get("REPRO_OUT", "/tmp/repro")) / f"d{int(DELAY)}_{int(time.time())}"
    out.mkdir(parents=True)
    with Lab(out) as lab:
        replay = lab.replay("binance", "--speed", "20")
        time.sleep(DELAY)
        env = {"OHLCV_HEARTBEAT_SECONDS": "2", "OHLCV_TARGETS_REFRESH_SECONDS": "3"}
        collector = lab.collector(database, replay, repair_interval=5, env=env)
        try:
            wait_backfilled(collector, "binance", SYMBOLS, timeout=40)
        except TimeoutError:
            pass
        replay.wait_exchange_ms(replay.now_ms() + int(os.environ.get("REPRO_EXTRA_MIN", "3")) * MINUTE_MS, timeout=90)
        stopped = replay.now_ms()
        state = replay.state()
        window = collection_window(started_ms=collector.started_exchange_ms, stopped_ms=stopped, days=1)
        result = {}
        for symbol in SYMBOLS:
            result[symbol] = Check(database, replay, symbol, window).candles()
        cov = database.query(f"SELECT symbol, kind, {database._ms('start_ts')}, {database._ms('end_ts')} FROM ohlcv_coverage WHERE symbol='BTC/USDT' ORDER BY symbol, kind, start_ts")
        (out / "result.json").write_text(json.dumps({"window": [window.start, window.end], "started": collector.started_exchange_ms, "state": [m for m in state["markets"] if m["symbol"]=="BTC/USDT"], "now": state["now_ms"], "problems": {k: v[:10] for k, v in result.items()}, "coverage": [list(map(str, r)) for r in cov]}, indent=1, default=str))
        assert collector.stop() == 0
        assert all(not v for v in result.values()), {k: v[:5] for k, v in result.items()}
