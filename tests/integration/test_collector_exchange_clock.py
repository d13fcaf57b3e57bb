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
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ohlcv_collector.backends.health import RedisHealth
from ohlcv_collector.models import MINUTE_MS
from tests.harness.waiting import wait_until
from tests.integration.collector_harness import (
    Database,
    Lab,
    add_target,
    init_db,
    must,
    ohlcv,
    wait_backfilled,
)

pytestmark = [pytest.mark.redis]

SYMBOL = "BTC/USDC:USDC"
EXCHANGE = "hyperliquid"


def status_of(database: Database) -> dict[str, object]:
    """The symbol's row of `ohlcv-collector status -o json`."""
    out = must(ohlcv("status", "-o", "json", "--targets-url", database.url,
                     "--storage-url", database.url)).out  # fmt: skip
    row: dict[str, object] = json.loads(out)[0]
    return row


async def health_record(redis_url: str) -> dict[str, object] | None:
    """The symbol's health record, once the heartbeat has written it."""
    store = RedisHealth.from_url(redis_url)
    try:
        records = await store.active_records(window=timedelta(seconds=30))
    finally:
        await store.close()
    found = [
        r["params"]
        for r in records
        if isinstance(r.get("params"), dict) and r["params"].get("symbol") == SYMBOL
    ]
    assert len(found) <= 1, found
    return dict(found[0]) if found else None


Sample = tuple[dict[str, object], dict[str, float | None], dict[str, object]]


def collect_and_sample(
    database: Database, tmp_path: Path, redis_url: str, *, days: int
) -> list[Sample]:
    """Collect `days` of Hyperliquid (recorded as far back) at 20x until the backfill is
    stored, then sample `status`, /metrics and the health record eight times each."""
    init_db(database)
    add_target(database, EXCHANGE, SYMBOL, days=days)
    redis = urlsplit(redis_url)
    with Lab(tmp_path) as lab:
        replay = lab.replay(EXCHANGE, "--speed", "20", "--history", f"{days}d")
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
        wait_until(
            lambda: status_of(database)["backfill_progress"] == 1,
            timeout=30, describe="the backfill stored", details=collector.output,
        )  # fmt: skip
        wait_until(  # the heartbeat writes the record within a beat of the backfill's end
            lambda: (asyncio.run(health_record(redis_url)) or {}).get("backfill_progress") == 1,
            timeout=30, describe="the health record of the backfill", details=collector.output,
        )  # fmt: skip
        wait_until(  # see the module docstring: the exchange's clock well ahead of ours
            lambda: replay.now_ms() - time.time() * 1000 >= 3 * MINUTE_MS,
            timeout=30, describe="the exchange's clock three minutes ahead",
        )  # fmt: skip
        samples: list[Sample] = []
        for _ in range(8):
            status = status_of(database)
            metrics = {
                name: collector.metric(name, exchange=EXCHANGE, symbol=SYMBOL)
                for name in (
                    "ohlcv_collector_lag_seconds",
                    "ohlcv_collector_backfill_progress_ratio",
                )
            }
            record = asyncio.run(health_record(redis_url))
            assert record is not None, "the health record expired"
            samples.append((status, metrics, record))
        assert collector.stop() == 0, collector.output()
    return samples


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_status_metrics_and_health_agree_on_the_exchanges_clock(
    database: Database, tmp_path: Path, redis_url: str
) -> None:
    samples = collect_and_sample(database, tmp_path, redis_url, days=1)
    lags = [metrics["ohlcv_collector_lag_seconds"] for _, metrics, _ in samples]
    for (status, _, record), metric in zip(samples, lags, strict=True):
        assert status["holes"] == record["holes"] == 0, (status, record)
        assert None not in (status["lag_seconds"], metric, record["lag_seconds"]), samples
    # On the local clock every lag would be 0: the newest bar lies in its future.
    assert any(float(str(record["lag_seconds"])) > 0 for _, _, record in samples), samples
    assert any(float(str(metric)) > 0 for metric in lags), samples


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_status_metrics_and_health_agree_on_a_range_hyperliquid_cannot_serve(
    database: Database, tmp_path: Path, redis_url: str
) -> None:
    """Five days asked and recorded, but Hyperliquid serves only its newest 5000 candles
    and no trade history: the older 1.5 days are not collectable. `status` shows them so,
    not as a hole, and agrees with the health record and /metrics on holes and progress."""
    samples = collect_and_sample(database, tmp_path, redis_url, days=5)
    # The window's days beyond the 5000 served minutes, as found by the backfill; the window
    # start moves on (20 exchange minutes a wall minute) into minutes since collected.
    beyond = 5 * 86400 - 5000 * MINUTE_MS / 1000
    for status, metrics, record in samples:
        assert status["holes"] == record["holes"] == 0, (status, record)
        progress = metrics["ohlcv_collector_backfill_progress_ratio"]
        assert status["backfill_progress"] == record["backfill_progress"] == progress == 1, (
            status, metrics, record,
        )  # fmt: skip
        not_collectable = float(str(status["not_collectable_seconds"]))
        assert beyond - 3600 <= not_collectable <= beyond + 60, status
