"""BitMEX's REST API over aiohttp: paced requests, and failures as the ports' errors.

BitMEX counts requests per IP in a token bucket (30 a minute without an API key, 429 with
Retry-After when it is empty). Each request waits for a token of a local bucket of the same
size, and, with a shared budget, for one of the bucket all replicas of the exchange share,
so replicas leaving through one IP keep the pace one process would. Failures are translated
as the ccxt backend translates ccxt's, so the runtime's retry policy treats both alike.
"""

import asyncio
import functools
import json
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import aiohttp

from ohlcv_collector.backends.bitmex.wire import error_message, retry_after_of
from ohlcv_collector.backends.budget import RequestBudget
from ohlcv_collector.ports import (
    ExchangeUnavailableError,
    MarketDataError,
    RateLimitedError,
)

REQUESTS_PER_MINUTE = 30  # BitMEX's public limit without an API key
TIMEOUT_S = 10.0  # as ccxt's default request timeout
loads = functools.partial(json.loads, parse_float=Decimal)


def take_token(
    *, tokens: float, elapsed_s: float, rate: float, capacity: float
) -> tuple[float, float]:
    """(seconds to wait, tokens left after taking one) for a bucket that held `tokens`
    `elapsed_s` seconds ago and refills `rate` a second up to `capacity`."""
    available = min(capacity, tokens + elapsed_s * rate)
    wait = 0.0 if available >= 1 else (1 - available) / rate
    return wait, available + wait * rate - 1


class BitmexRest:
    """GET requests to BitMEX's /api/v1, paced, with the body parsed exactly."""

    def __init__(self, *, base_url: str, pace: bool, budget: RequestBudget | None) -> None:
        self._base = base_url.rstrip("/") + "/api/v1"
        self._pace = pace
        self._budget = budget
        self._rate = REQUESTS_PER_MINUTE / 60
        self._capacity = float(REQUESTS_PER_MINUTE)
        self._tokens, self._at = self._capacity, time.monotonic()
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        """The one HTTP session of the exchange (REST and WebSocket), opened on first use."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S))
        return self._session

    async def _wait_turn(self) -> None:
        if not self._pace:
            return
        async with self._lock:
            now = time.monotonic()
            wait, self._tokens = take_token(
                tokens=self._tokens, elapsed_s=now - self._at, rate=self._rate,
                capacity=self._capacity,
            )  # fmt: skip
            self._at = now + wait
            await asyncio.sleep(wait)
        if self._budget is not None:
            await self._budget.acquire(cost=1, rate=self._rate, capacity=self._capacity)

    async def get(self, path: str, *, params: Mapping[str, str]) -> list[Any]:
        """The JSON list BitMEX answers to GET /api/v1/`path`."""
        await self._wait_turn()
        try:
            async with self.session().get(self._base + path, params=dict(params)) as response:
                text = await response.text()
                status, headers = response.status, dict(response.headers)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ExchangeUnavailableError(f"{type(error).__name__}: {error}") from error
        try:
            body = loads(text)
        except ValueError:
            body = None
        if status in (418, 429):
            message = f"HTTP {status}: {error_message(body)}"
            raise RateLimitedError(message, retry_after=retry_after_of(headers, now_s=time.time()))
        if status >= 500:
            raise ExchangeUnavailableError(f"HTTP {status}: {error_message(body)}")
        if status >= 400:
            raise MarketDataError(f"HTTP {status}: {error_message(body)}")
        if not isinstance(body, list):
            raise ExchangeUnavailableError("the exchange's answer was not a JSON list (damaged)")
        return body

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
