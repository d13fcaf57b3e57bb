"""Stands in for fullon_cache.process_cache (not installable here): contract 4.2.

The library's behaviour as its source has it: enums required (a plain str fails on
`.value`), `process:data:{id}` JSON with a 24 h TTL renewed by each update, the
`process:active:{type}` and `process:components` hashes, `update_process` merging params
and answering False for an expired record, `stop_process` deleting the component entry
unconditionally, and `get_active_processes` filtering by `since_minutes`.
"""

import json
import os
from datetime import UTC, datetime, timedelta
from enum import Enum
from types import TracebackType
from typing import Any

import redis.asyncio as aioredis


class ProcessType(str, Enum):  # noqa: UP042 - as the library defines it
    TICK = "tick"
    OHLCV = "ohlcv"
    BOT = "bot"
    ACCOUNT = "account"
    ORDER = "order"
    BOT_STATUS_SERVICE = "bot_status_service"
    CRAWLER = "crawler"
    USER_TRADES_SERVICE = "user_trades_service"


class ProcessStatus(str, Enum):  # noqa: UP042 - as the library defines it
    STARTING = "starting"
    RUNNING = "running"
    PROCESSING = "processing"
    IDLE = "idle"
    ERROR = "error"
    STOPPED = "stopped"


class ProcessCache:
    def __init__(self) -> None:
        self._redis = aioredis.Redis(
            host=os.environ.get("REDIS_HOST", "localhost"),
            port=int(os.environ.get("REDIS_PORT", "6379")),
            db=int(os.environ.get("REDIS_DB", "0")),
            decode_responses=True,
        )

    async def __aenter__(self) -> "ProcessCache":
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._redis.aclose()

    async def register_process(
        self,
        process_type: ProcessType,
        component: str,
        params: dict[str, Any] | None = None,
        message: str | None = None,
        status: ProcessStatus = ProcessStatus.STARTING,
    ) -> str:
        now = datetime.now(UTC)
        process_id = f"{process_type.value}:{component}:{now.timestamp()}"
        data = {
            "process_id": process_id, "process_type": process_type.value,
            "component": component, "params": params or {}, "status": status.value,
            "message": message or f"Process {component} registered",
            "created_at": now.isoformat(), "updated_at": now.isoformat(),
            "heartbeat": now.isoformat(),
        }  # fmt: skip
        await self._redis.ping()
        await self._redis.set(f"process:data:{process_id}", json.dumps(data), ex=86400)
        await self._redis.hset(f"process:active:{process_type.value}", process_id, now.isoformat())
        await self._redis.hset("process:components", component, process_id)
        return process_id

    async def get_process(self, process_id: str) -> dict[str, Any] | None:
        text = await self._redis.get(f"process:data:{process_id}")
        return json.loads(text) if text else None

    async def update_process(
        self,
        process_id: str,
        status: ProcessStatus | None = None,
        message: str | None = None,
        params: dict[str, Any] | None = None,
        heartbeat: bool = True,
    ) -> bool:
        data = await self.get_process(process_id)
        if not data:
            return False
        now = datetime.now(UTC).isoformat()
        data["updated_at"] = now
        if heartbeat:
            data["heartbeat"] = now
        if status:
            data["status"] = status.value
        if message:
            data["message"] = message
        if params:
            data["params"].update(params)
        await self._redis.set(f"process:data:{process_id}", json.dumps(data), ex=86400)
        await self._redis.hset(f"process:active:{data['process_type']}", process_id, now)
        return True

    async def stop_process(self, process_id: str, message: str | None = None) -> bool:
        data = await self.get_process(process_id)
        if not data:
            return False
        await self.update_process(
            process_id, status=ProcessStatus.STOPPED, message=message or "Process stopped",
            heartbeat=False,
        )  # fmt: skip
        await self._redis.hdel(f"process:active:{data['process_type']}", process_id)
        await self._redis.hdel("process:components", data["component"])
        return True

    async def get_active_processes(
        self,
        process_type: ProcessType | None = None,
        component: str | None = None,
        since_minutes: int = 5,
        include_heartbeat_check: bool = True,
    ) -> list[dict[str, Any]]:
        cutoff = datetime.now(UTC) - timedelta(minutes=since_minutes)
        found = []
        for ptype in [process_type] if process_type else list(ProcessType):
            active: dict[str, str] = await self._redis.hgetall(f"process:active:{ptype.value}")  # type: ignore[assignment]  # decode_responses
            for process_id, stamp in active.items():
                try:
                    if datetime.fromisoformat(stamp) < cutoff:
                        continue
                except (ValueError, TypeError):
                    continue
                data = await self.get_process(process_id)
                if not data or (component and data.get("component") != component):
                    continue
                if include_heartbeat_check:
                    try:
                        data["_heartbeat_stale"] = (
                            datetime.fromisoformat(data["heartbeat"]) < cutoff
                        )
                    except (ValueError, TypeError, KeyError):
                        data["_heartbeat_stale"] = True
                found.append(data)
        return sorted(found, key=lambda p: p.get("updated_at", ""), reverse=True)
