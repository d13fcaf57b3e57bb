"""ProcessCache records on Redis with redis-py, exactly as fullon_cache lays them out.

Keys (fullon-contract.md section 4.2): `process:data:{process_id}` holds the record as
JSON with a 24 h TTL that every write renews; `process:active:ohlcv` maps each live
process id to the ISO time of its last write; `process:components` maps a component to
the latest process id registered for it. Each call is one transaction, so a reader
never sees a record without its active entry.

One deliberate difference: `stop` removes the component's entry only while it still
names the stopping process. fullon_cache deletes it unconditionally, which during a
handover would erase the entry of the collector that has just taken the symbol over.
"""

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis

from ohlcv_collector.backends.redis_client import open_redis
from ohlcv_collector.core.health_records import (
    DATA_TTL_SECONDS,
    PROCESS_TYPE,
    ProcessStatus,
    Record,
    new_record,
    process_id_of,
    updated_record,
)
from ohlcv_collector.core.liveness import in_window

PREFIX = "process"
ACTIVE_KEY = f"{PREFIX}:active:{PROCESS_TYPE}"
COMPONENTS_KEY = f"{PREFIX}:components"

# HDEL the component's entry only if it still points at this process.
_RELEASE_COMPONENT = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
    return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""


def data_key(process_id: str) -> str:
    """Where a process's record lives."""
    return f"{PREFIX}:data:{process_id}"


def _dumps(record: Record) -> str:
    # fullon_cache's BaseCache.set_json: json.dumps with default separators.
    return json.dumps(record)


class RedisHealth:
    """The health store on Redis: fullon_cache's register/update/stop, and the active records.

    Calls fail with redis-py's errors when Redis is unreachable; the caller decides
    whether to retry (the fleet does, without ever holding up collection).
    """

    def __init__(self, client: "aioredis.Redis") -> None:
        self._redis = client

    @classmethod
    def from_url(cls, url: str, *, timeout_seconds: float = 2.0) -> "RedisHealth":
        """A store on `url` whose calls give up after `timeout_seconds`."""
        client = open_redis(url, timeout_seconds=timeout_seconds, decode_responses=True)
        return cls(client)

    async def register(
        self, *, component: str, params: Mapping[str, Any], message: str, status: ProcessStatus
    ) -> str:
        """Write a new record; returns its process id."""
        at = datetime.now(UTC)
        process_id = process_id_of(component=component, at=at)
        record = new_record(
            process_id=process_id,
            component=component,
            params=params,
            message=message,
            status=status,
            at=at,
        )
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(data_key(process_id), _dumps(record), ex=DATA_TTL_SECONDS)
            pipe.hset(ACTIVE_KEY, process_id, record["updated_at"])
            pipe.hset(COMPONENTS_KEY, component, process_id)
            await pipe.execute()
        return process_id

    async def update(
        self,
        *,
        process_id: str,
        status: ProcessStatus | None = None,
        message: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> bool:
        """Refresh the record and its heartbeat; False when it has expired (register again)."""
        record = await self._load(process_id)
        if record is None:
            return False
        record = updated_record(
            record, at=datetime.now(UTC), status=status, message=message, params=params
        )
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(data_key(process_id), _dumps(record), ex=DATA_TTL_SECONDS)
            pipe.hset(ACTIVE_KEY, process_id, record["updated_at"])
            await pipe.execute()
        return True

    async def stop(self, *, process_id: str, message: str | None = None) -> bool:
        """Mark the record stopped (heartbeat kept) and drop it from the active hash."""
        record = await self._load(process_id)
        if record is None:
            return False
        record = updated_record(
            record,
            at=datetime.now(UTC),
            status=ProcessStatus.STOPPED,
            message=message or "Process stopped",
            heartbeat=False,
        )
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(data_key(process_id), _dumps(record), ex=DATA_TTL_SECONDS)
            pipe.hdel(ACTIVE_KEY, process_id)
            pipe.eval(_RELEASE_COMPONENT, 1, COMPONENTS_KEY, record["component"], process_id)
            await pipe.execute()
        return True

    async def active_records(self, *, window: timedelta) -> list[Record]:
        """Records of the active hash whose entry is within `window`, as stored."""
        active = {str(k): str(v) for k, v in (await self._redis.hgetall(ACTIVE_KEY)).items()}
        now = datetime.now(UTC)
        ids = [pid for pid, at in active.items() if in_window(at, now=now, window=window)]
        if not ids:
            return []
        stored = await self._redis.mget([data_key(pid) for pid in ids])
        records = []
        for text in stored:
            try:
                record = json.loads(text) if text else None
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    async def _load(self, process_id: str) -> Record | None:
        text = await self._redis.get(data_key(process_id))
        record = json.loads(text) if text else None
        return record if isinstance(record, dict) else None

    async def close(self) -> None:
        """Close the connections."""
        await self._redis.aclose()
