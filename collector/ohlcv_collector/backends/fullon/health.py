"""Health through fullon_cache's ProcessCache (fullon-contract.md section 4.2).

The same records as the built-in Redis store, written by the library itself: it takes
enums (a plain string fails on `.value`) and reads REDIS_HOST and friends from the
environment. Its reader filters by whole minutes (`since_minutes`), so records are
fetched for the window rounded up and judged to the second by `core.liveness`.
"""

import math
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from ohlcv_collector.backends.fullon import load
from ohlcv_collector.core.health_records import ProcessStatus, Record


class FullonHealth:
    """The fleet's health store on ProcessCache; its errors surface as fullon_cache's."""

    def __init__(self) -> None:
        module = load("fullon_cache.process_cache")
        self._types, self._statuses = module.ProcessType, module.ProcessStatus
        self._cache = load("fullon_cache").ProcessCache()

    def _status(self, status: ProcessStatus | None) -> Any:
        return None if status is None else self._statuses(status.value)

    async def register(
        self, *, component: str, params: Mapping[str, Any], message: str, status: ProcessStatus
    ) -> str:
        """register_process with type OHLCV."""
        process_id: str = await self._cache.register_process(
            process_type=self._types.OHLCV,
            component=component,
            params=dict(params),
            message=message,
            status=self._status(status),
        )
        return process_id

    async def update(
        self,
        *,
        process_id: str,
        status: ProcessStatus | None = None,
        message: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> bool:
        """update_process; False when the record has expired."""
        return bool(
            await self._cache.update_process(
                process_id=process_id,
                status=self._status(status),
                message=message,
                params=dict(params) if params else None,
            )
        )

    async def stop(self, *, process_id: str, message: str | None = None) -> bool:
        """stop_process."""
        return bool(await self._cache.stop_process(process_id=process_id, message=message))

    async def active_records(self, *, window: timedelta) -> list[Record]:
        """get_active_processes of type OHLCV over the window in whole minutes."""
        records: list[Record] = await self._cache.get_active_processes(
            process_type=self._types.OHLCV,
            since_minutes=max(1, math.ceil(window.total_seconds() / 60)),
            include_heartbeat_check=True,
        )
        return records

    async def close(self) -> None:
        """Close the cache's pub/sub clients (its pool is shared and stays)."""
        await self._cache.close()
