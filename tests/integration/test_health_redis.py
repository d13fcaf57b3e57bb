"""Health records on a real Redis, checked byte for byte against fullon_cache's ProcessCache.

The expected layout is spelled out here from fullon-contract.md section 4.2, not built
with the code under test, and `fullon_active_processes` below is fullon_cache's
`get_active_processes` algorithm restated, so the collector's reader is compared with
what fullon's own tools would see.
"""

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis

from ohlcv_collector.backends.health import HealthReader, ProcessStatus, RedisHealth
from ohlcv_collector.core.phases import Phase
from ohlcv_collector.runtime.heartbeat import HeartbeatWriter
from ohlcv_collector.runtime.symbol_status import SymbolStatus
from tests.harness.waiting import wait_until_async

pytestmark = pytest.mark.redis

ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    connection = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield connection
    await connection.aclose()


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisHealth]:
    health = RedisHealth.from_url(redis_url)
    yield health
    await health.close()


async def fullon_active_processes(
    client: aioredis.Redis, *, since_minutes: float
) -> list[dict[str, Any]]:
    """fullon_cache ProcessCache.get_active_processes(process_type=OHLCV), restated."""
    cutoff = datetime.now(UTC) - timedelta(minutes=since_minutes)
    found = []
    active = await client.hgetall("process:active:ohlcv")
    for process_id, stamp in active.items():
        try:
            if datetime.fromisoformat(str(stamp)) < cutoff:
                continue
        except (ValueError, TypeError):
            continue
        text = await client.get(f"process:data:{process_id!s}")
        if not text:
            continue
        record = json.loads(text)
        try:
            record["_heartbeat_stale"] = datetime.fromisoformat(record["heartbeat"]) < cutoff
        except (ValueError, TypeError, KeyError):
            record["_heartbeat_stale"] = True
        found.append(record)
    return sorted(found, key=lambda r: r.get("updated_at", ""), reverse=True)


async def test_register_writes_the_process_cache_layout_byte_for_byte(
    store: RedisHealth, client: aioredis.Redis
) -> None:
    params = {"exchange": "binance", "symbol": "BTC/USDT", "type": "live", "lag_seconds": 1.5}
    process_id = await store.register(
        component="binance:BTC/USDT", params=params, message="starting",
        status=ProcessStatus.STARTING,
    )  # fmt: skip
    key = f"process:data:{process_id}"
    text = await client.get(key)
    assert text is not None
    record = json.loads(text)
    created = datetime.fromisoformat(record["created_at"])
    assert process_id == f"ohlcv:binance:BTC/USDT:{created.timestamp()}"
    expected = {
        "process_id": process_id,
        "process_type": "ohlcv",
        "component": "binance:BTC/USDT",
        "params": params,
        "status": "starting",
        "message": "starting",
        "created_at": record["created_at"],
        "updated_at": record["created_at"],
        "heartbeat": record["created_at"],
    }
    assert text == json.dumps(expected)  # same keys, order and separators as set_json
    assert ISO_WITH_OFFSET.match(record["created_at"])
    assert 86_390 < await client.ttl(key) <= 86_400
    assert await client.hgetall("process:active:ohlcv") == {process_id: record["created_at"]}
    assert await client.hgetall("process:components") == {"binance:BTC/USDT": process_id}
    assert sorted(await client.keys("*")) == sorted(
        [key, "process:active:ohlcv", "process:components"]
    )


async def test_update_refreshes_ttl_heartbeat_and_active_time_and_merges_params(
    store: RedisHealth, client: aioredis.Redis
) -> None:
    process_id = await store.register(
        component="binance:ETH/USDT", params={"type": "live", "phase": "starting", "holes": 3},
        message="starting", status=ProcessStatus.STARTING,
    )  # fmt: skip
    key = f"process:data:{process_id}"
    await client.expire(key, 100)
    await asyncio.sleep(0.01)
    assert await store.update(
        process_id=process_id,
        status=ProcessStatus.RUNNING,
        message="backfilling 45%",
        params={"phase": "backfilling"},
    )
    record = json.loads(await client.get(key) or "")
    assert 86_390 < await client.ttl(key) <= 86_400
    assert record["status"] == "running"
    assert record["message"] == "backfilling 45%"
    assert record["params"] == {"type": "live", "phase": "backfilling", "holes": 3}
    assert record["updated_at"] == record["heartbeat"] > record["created_at"]
    assert await client.hget("process:active:ohlcv", process_id) == record["updated_at"]
    await client.delete(key)
    assert not await store.update(process_id=process_id, message="gone")


async def test_stop_marks_stopped_and_leaves_the_active_hash_and_components(
    store: RedisHealth, client: aioredis.Redis
) -> None:
    old = await store.register(
        component="binance:SOL/USDT", params={}, message="m", status=ProcessStatus.RUNNING
    )
    new = await store.register(
        component="binance:SOL/USDT", params={}, message="m", status=ProcessStatus.RUNNING
    )
    assert await store.stop(process_id=old, message="handed over")
    record = json.loads(await client.get(f"process:data:{old}") or "")
    assert (record["status"], record["message"]) == ("stopped", "handed over")
    assert record["heartbeat"] == record["created_at"] < record["updated_at"]
    assert await client.hkeys("process:active:ohlcv") == [new]
    # The component now names the newer process, which a stop of the older one keeps.
    assert await client.hgetall("process:components") == {"binance:SOL/USDT": new}
    assert await store.stop(process_id=new)
    assert await client.hgetall("process:components") == {}
    assert json.loads(await client.get(f"process:data:{new}") or "")["message"] == (
        "Process stopped"
    )


async def test_reader_follows_fullon_semantics_for_window_and_stale_heartbeat(
    store: RedisHealth, client: aioredis.Redis
) -> None:
    params = {"exchange": "kraken", "type": "live", "collector": "pod-a"}
    fresh = await store.register(
        component="kraken:BTC/USD", params={**params, "symbol": "BTC/USD"}, message="streaming",
        status=ProcessStatus.RUNNING,
    )  # fmt: skip
    silent = await store.register(
        component="kraken:ETH/USD", params={**params, "symbol": "ETH/USD"}, message="streaming",
        status=ProcessStatus.RUNNING,
    )  # fmt: skip
    gone = await store.register(
        component="kraken:SOL/USD", params={**params, "symbol": "SOL/USD"}, message="streaming",
        status=ProcessStatus.RUNNING,
    )  # fmt: skip
    now = datetime.now(UTC)
    # A heartbeat 10 minutes old on a record updated just now (update with heartbeat=False).
    record = json.loads(await client.get(f"process:data:{silent}") or "")
    record["heartbeat"] = (now - timedelta(minutes=10)).isoformat()
    await client.set(f"process:data:{silent}", json.dumps(record), ex=86_400)
    # An active-hash entry older than the 5-minute window, and a naive one.
    await client.hset("process:active:ohlcv", gone, (now - timedelta(minutes=6)).isoformat())
    await client.hset("process:active:ohlcv", "ohlcv:naive:1.0", "2025-01-01T00:00:00")

    fullon = await fullon_active_processes(client, since_minutes=5)
    assert {r["process_id"]: r["_heartbeat_stale"] for r in fullon} == {
        fresh: False, silent: True
    }  # fmt: skip
    ours = await HealthReader(store).symbol_health("kraken")
    assert {s.symbol: s.stale for s in ours} == {"BTC/USD": False, "ETH/USD": True}
    assert all(s.collector == "pod-a" and s.status == "running" for s in ours)
    assert await HealthReader(store).symbol_health("binance") == []


async def test_a_crashed_fleet_goes_stale_and_a_stopped_one_leaves(
    store: RedisHealth, client: aioredis.Redis
) -> None:
    statuses = {
        "BTC/USDT": SymbolStatus(exchange="binance", symbol="BTC/USDT", phase=Phase.STREAMING,
                                 message="streaming", newest_candle=1_700_000_000_000),
        "ETH/USDT": SymbolStatus(exchange="binance", symbol="ETH/USDT",
                                 phase=Phase.BACKFILLING, backfill_progress=0.45),
    }  # fmt: skip

    def fleet(instance: str) -> HeartbeatWriter:
        return HeartbeatWriter(
            exchange="binance", instance=instance, store=store,
            heartbeat_seconds=0.2, member_timeout_seconds=1.0,
        )  # fmt: skip

    crashing, stopping = fleet("pod-a"), fleet("pod-b")
    await crashing.start()
    await stopping.start()
    crash_task = asyncio.create_task(crashing.run(statuses=statuses))
    stop_task = asyncio.create_task(stopping.run(statuses={}))
    window, stale_after = timedelta(seconds=3), timedelta(seconds=1)
    reader = HealthReader(store, window=window, stale_after=stale_after)

    async def both_seen() -> list[tuple[str, int, bool]]:
        collectors = await reader.live_collectors("binance")
        seen = [(c.instance, c.symbols, c.stale) for c in collectors]
        return seen if len(seen) == 2 and len(await reader.symbol_health("binance")) == 2 else []

    seen = await wait_until_async(both_seen, timeout=5, describe="both fleets' records written")
    assert seen == [("pod-a", 2, False), ("pod-b", 0, False)]
    symbols = {s.symbol: s for s in await reader.symbol_health("binance")}
    assert symbols["BTC/USDT"].newest_candle == datetime.fromtimestamp(1_700_000_000, UTC)
    assert symbols["BTC/USDT"].message == "streaming"
    assert symbols["ETH/USDT"].message == "backfilling 45%"
    assert symbols["ETH/USDT"].lag_seconds is None

    crash_task.cancel()  # no stop(): its records are left as a killed process leaves them
    stop_task.cancel()
    await asyncio.gather(crash_task, stop_task, return_exceptions=True)
    await stopping.stop()
    assert [c.instance for c in await reader.live_collectors("binance")] == ["pod-a"]

    def reader_at(later: timedelta) -> HealthReader:
        """The reader `later` from now: the crashed fleet's records age without a wait."""
        return HealthReader(
            store, window=window, stale_after=stale_after,
            clock=lambda: datetime.now(UTC) + later,
        )  # fmt: skip

    stale = reader_at(stale_after + timedelta(seconds=0.3))
    assert [s.stale for s in await stale.symbol_health("binance")] == [True, True]
    assert [c.stale for c in await stale.live_collectors("binance")] == [True]
    gone = reader_at(window + timedelta(seconds=0.3))
    assert await gone.symbol_health("binance") == []
    assert await gone.live_collectors("binance") == []


async def test_the_fleet_reports_an_unreachable_redis_and_never_raises() -> None:
    store = RedisHealth.from_url("redis://127.0.0.1:1/0", timeout_seconds=0.2)
    fleet = HeartbeatWriter(
        exchange="binance", instance="pod-a", store=store,
        heartbeat_seconds=0.2, member_timeout_seconds=1.0,
    )  # fmt: skip
    await fleet.start()
    assert not fleet.redis_ok
    assert "collection goes on" in fleet.not_ready()[0]
    assert await fleet.assignment(["BTC/USDT", "ETH/USDT"]) == {"BTC/USDT", "ETH/USDT"}
    await fleet.stop()
    await store.close()
