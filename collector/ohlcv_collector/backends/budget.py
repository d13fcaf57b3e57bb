"""One exchange's REST request budget, shared by all its replicas through Redis.

Exchanges limit public requests per source IP, and the replicas of one exchange usually
leave through one egress IP, so each pacing itself at the exchange's limit would make N
replicas send N times too much. Every request therefore also reserves its cost from a
bucket in Redis that all replicas share, refilled at the rate one process would use.

The bucket is GCRA (the generic cell rate algorithm, a token bucket kept as one number):
the key holds the theoretical arrival time of the next request on Redis's own clock, so
replicas with skewed clocks still agree. A reservation is one atomic script call that
answers how long to wait; callers never poll. When Redis does not answer within
`timeout_seconds`, the request goes ahead on local pacing alone and Redis is left alone
for `retry_seconds`, so an outage costs neither collection nor latency.
"""

import asyncio
import logging
import time
from typing import Protocol

import redis.asyncio as aioredis

from ohlcv_collector.backends.redis_client import open_redis

log = logging.getLogger("ohlcv_collector.budget")

KEY_PREFIX = "ohlcv_collector:budget"

# KEYS[1]: the bucket. ARGV: cost (units), rate (units per second), capacity (units).
# Returns the milliseconds to wait as a string (script numbers would be truncated).
_RESERVE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + tonumber(now_parts[2]) / 1000
local interval = 1000 / tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - now - tonumber(ARGV[3]) * interval
if wait < 0 then wait = 0 end
local next_tat = tat + tonumber(ARGV[1]) * interval
redis.call('SET', KEYS[1], string.format('%.3f', next_tat), 'PX', math.ceil(next_tat - now) + 60000)
return string.format('%.3f', wait)
"""


class RequestBudget(Protocol):
    """What a backend paces its REST requests by, besides its own local pacing.

    Backends take this rather than `SharedBudget` so that neither depends on Redis being
    configured; `SharedBudget` is the one implementation.
    """

    async def acquire(self, *, cost: float, rate: float, capacity: float) -> None:
        """Wait until `cost` fits a bucket of `rate` units per second and burst `capacity`."""
        ...


class SharedBudget:
    """Reserves request cost from one exchange's bucket in Redis; see the module docstring."""

    def __init__(
        self,
        client: "aioredis.Redis",
        *,
        exchange: str,
        timeout_seconds: float = 0.5,  # a reservation is one script call: far less when up
        retry_seconds: float = 5.0,  # an outage then costs one timeout per 5 s, not per request
    ) -> None:
        self.key = f"{KEY_PREFIX}:{exchange}"
        self.shared = True
        self._redis = client
        self._script = client.register_script(_RESERVE)
        self._timeout = timeout_seconds
        self._retry = retry_seconds
        self._skip_until = 0.0

    @classmethod
    def from_url(cls, url: str, *, exchange: str) -> "SharedBudget":
        """A budget on the Redis at `url`."""
        client = open_redis(url, timeout_seconds=0.5, decode_responses=False)
        return cls(client, exchange=exchange)

    async def acquire(self, *, cost: float, rate: float, capacity: float) -> None:
        """Wait until `cost` units fit the shared bucket (`rate` units/s, burst `capacity`)."""
        if time.monotonic() < self._skip_until:
            return
        try:
            async with asyncio.timeout(self._timeout):
                answer = await self._script(keys=[self.key], args=[cost, rate, capacity])
        except Exception as error:
            if self.shared:
                log.warning(
                    "shared request budget unavailable, pacing locally only: %s",
                    error or type(error).__name__,
                    extra={"budget": self.key},
                )
            self.shared = False
            self._skip_until = time.monotonic() + self._retry
            return
        if not self.shared:
            log.info("shared request budget available again", extra={"budget": self.key})
        self.shared = True
        wait_ms = float(answer.decode() if isinstance(answer, bytes) else answer)
        if wait_ms > 0:
            await asyncio.sleep(wait_ms / 1000)

    async def close(self) -> None:
        """Close the connections."""
        await self._redis.aclose()
