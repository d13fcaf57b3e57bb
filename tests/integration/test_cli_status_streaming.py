"""``ohlcv-collector status`` while a collector streams: nothing missing means 0 holes.

The collector's first repair pass takes the newest closed bar over REST (no stream proves
its time yet); `status` always leaves that bar to the stream. Both must count the backfill
window from the same start, or `status` shows one hole (the minute before the backfill's
first) on every symbol until the next minute begins, while nothing is missing.
"""

import json
from pathlib import Path

import pytest

from ohlcv_collector.models import MINUTE_MS, floor_minute
from tests.harness.waiting import wait_until
from tests.integration.collector_harness import (
    Database,
    Lab,
    add_target,
    database_for,
    init_db,
    must,
    ohlcv,
    wait_backfilled,
)

EXCHANGE, SYMBOL = "binance", "BTC/USDC"


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    return database_for(request, tmp_path)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_status_counts_no_hole_while_the_collector_streams(
    database: Database, tmp_path: Path
) -> None:
    init_db(database)
    add_target(database, EXCHANGE, SYMBOL, days=1)
    url = ("--targets-url", database.url, "--storage-url", database.url)
    with Lab(tmp_path) as lab:
        replay = lab.replay(EXCHANGE)
        collector = lab.collector(database, replay)
        wait_backfilled(collector, EXCHANGE, [SYMBOL], timeout=30)

        def backfill_stored() -> bool:
            """The process writes in batches: the backfill reaches the database within
            seconds, one range up to the newest closed minute the stream leaves."""
            covered = database.coverage(EXCHANGE, SYMBOL, "candles")
            newest_closed = floor_minute(replay.now_ms()) - MINUTE_MS
            return len(covered) == 1 and covered[0].end >= newest_closed

        wait_until(backfill_stored, timeout=30, describe="the backfill stored")
        for _ in range(5):  # seconds apart, in the minute the backfill ran and after
            [row] = json.loads(must(ohlcv("status", "-o", "json", *url)).out)
            assert (row["holes"], row["backfill_progress"]) == (0, 1), row
            assert 0 <= row["lag_seconds"] < 120, row
        assert collector.stop() == 0, collector.output()
