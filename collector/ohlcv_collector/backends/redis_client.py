"""The one way the collector connects to Redis (health records and the request budget).

Servers with an idle `timeout` (managed Redis often sets one) close connections that
sat unused, which the operator's reader and a streaming collector's budget do; a
closed connection is retried once on a fresh one, so that is never an error.
"""

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError


def open_redis(url: str, *, timeout_seconds: float, decode_responses: bool) -> "aioredis.Redis":
    """A client on `url` whose commands give up after `timeout_seconds`."""
    return aioredis.Redis.from_url(
        url,
        decode_responses=decode_responses,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        # One immediate retry on a fresh connection (a server-side idle close), not a
        # retry policy: the callers (heartbeat, budget) retry on their own schedule.
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=1),
        retry_on_error=[RedisConnectionError],
    )
