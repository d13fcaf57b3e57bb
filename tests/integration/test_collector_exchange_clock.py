"""The health record measures lag on the exchange's clock, as /metrics does, also when that
clock runs far ahead of the local one, and counts the holes left as `ohlcv-collector status`
counts them in the database. (Their lags are not compared figure for figure: /metrics is
refreshed at repair passes and stream deliveries, the record at each heartbeat, and `status`
reads the database, which trails the process by its batched writes and knows no exchange
clock: at 20x, seconds of wall time are minutes of lag.)

The replay runs 20 times faster than the wall clock, so ten seconds after it started the
exchange's clock is three minutes ahead of the collector's own. The newest stored bar then
lies in the local clock's future: a lag measured on the local clock is 0, one measured on the
exchange's clock is the time since that bar closed. Each source is sampled several times.
"""

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ohlcv_collector.backends.health import RedisHealth
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

pytestmark = [pytest.mark.redis]

SYMBOL = "BTC/USDC:USDC"
EXCHANGE = "hyperliquid"


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    return database_for(request, tmp_path)


def status_of(database: Database) -> dict[str, object]:
    """The symbol's row of `ohlcv-collector status -o json`."""
    out = must(ohlcv("status", "-o", "json", "--targets-url", database.url,
                     "--storage-url", database.url)).out  # fmt: skip
    row: dict[str, object] = json.loads(out)[0]
    return row


async def health_record(redis_url: str) -> dict[str, object]:
    store = RedisHealth.from_url(redis_url)
    try:
        records = await store.active_records(window=timedelta(seconds=30))
    finally:
        await store.close()
    [params] = [
        r["params"]
        for r in records
        if isinstance(r.get("params"), dict) and r["params"].get("symbol") == SYMBOL
    ]
    return dict(params)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_status_metrics_and_health_agree_on_the_exchanges_clock(
    database: Database, tmp_path: Path, redis_url: str
) -> None:
    init_db(database)
    add_target(database, EXCHANGE, SYMBOL, days=1)
    redis = urlsplit(redis_url)
    with Lab(tmp_path) as lab:
        replay = lab.replay(EXCHANGE, "--speed", "20")
        collector = lab.collector(
            database,
            replay,
            env={
                "REDIS_HOST": str(redis.hostname),
                "REDIS_PORT": str(redis.port),
                "OHLCV_HEARTBEAT_SECONDS": "1",
            },
        )
        wait_backfilled(collector, EXCHANGE, [SYMBOL], timeout=60)
        wait_until(  # the process writes in batches: the database follows within seconds
            lambda: status_of(database)["backfill_progress"] == 1,
            timeout=30, describe="the backfill stored", details=collector.output,
        )  # fmt: skip
        samples = []
        for _ in range(8):
            status = status_of(database)
            metric = collector.metric(
                "ohlcv_collector_lag_seconds", exchange=EXCHANGE, symbol=SYMBOL
            )
            record = asyncio.run(health_record(redis_url))
            samples.append((status, metric, record))
        assert collector.stop() == 0, collector.output()
    for status, metric, record in samples:
        assert status["holes"] == record["holes"] == 0, (status, record)
        assert None not in (status["lag_seconds"], metric, record["lag_seconds"]), samples
    # On the local clock every lag would be 0: the newest bar lies in its future.
    assert any(float(str(record["lag_seconds"])) > 0 for _, _, record in samples), samples
    assert any(float(str(metric)) > 0 for _, metric, _ in samples), samples
