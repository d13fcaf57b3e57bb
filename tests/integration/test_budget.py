"""The per-exchange request budget that replicas share through Redis, with real ccxt."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from ohlcv_collector.backends.budget import SharedBudget
from ohlcv_collector.backends.ccxt.client import build_exchange
from tests.replay_exchange.server import ReplayServer

pytestmark = pytest.mark.redis


@pytest.fixture
async def budgets(redis_url: str) -> AsyncIterator[Callable[[str], SharedBudget]]:
    made: list[SharedBudget] = []

    def make(exchange: str) -> SharedBudget:
        made.append(SharedBudget.from_url(redis_url, exchange=exchange))
        return made[-1]

    yield make
    for budget in made:
        await budget.close()


async def test_replicas_share_one_pace_and_exchanges_do_not_share(
    budgets: Callable[[str], SharedBudget],
) -> None:
    replicas = [budgets("binance") for _ in range(3)]
    other = budgets("kraken")

    async def spend(budget: SharedBudget, times: int) -> float:
        started = time.monotonic()
        for _ in range(times):
            await budget.acquire(cost=1, rate=20, capacity=1)
        return time.monotonic() - started

    together = await asyncio.gather(*(spend(b, 10) for b in replicas), spend(other, 10))
    # 30 units at 20 a second take 1.45 s or more, however the replicas interleave...
    assert max(together[:3]) >= 1.4
    # ...while kraken's 10 units at 20 a second, alone in their bucket, take about 0.45 s.
    assert together[3] < 0.9
    assert all(b.shared for b in replicas)


async def test_without_redis_requests_go_ahead_on_local_pacing() -> None:
    budget = SharedBudget.from_url("redis://127.0.0.1:1/0", exchange="binance")
    started = time.monotonic()
    for _ in range(20):
        await budget.acquire(cost=1, rate=1, capacity=1)
    assert time.monotonic() - started < 1.5  # one failed attempt, then Redis is left alone
    assert not budget.shared
    await budget.close()


async def test_ccxt_requests_of_three_clients_are_paced_together(
    budgets: Callable[[str], SharedBudget], binance_replay: ReplayServer
) -> None:
    # rateLimit 250 ms: 4 cost units a second; ccxt charges 0.2 for /api/v3/time.
    clients = [
        build_exchange(exchange_id="binance", options={"rateLimit": 250},
                       urls=binance_replay.ccxt_urls(), budget=budgets("binance"))
        for _ in range(3)
    ]  # fmt: skip
    try:
        started = time.monotonic()
        await asyncio.gather(*(c.fetch_time() for c in clients for _ in range(10)))
        elapsed = time.monotonic() - started
    finally:
        for client in clients:
            await client.close()
    # Alone, each client's ten calls (2 units, the first within the 1-unit burst) would take
    # about 0.25 s; sharing one bucket, the thirty calls (6 units) take about 1.25 s.
    assert elapsed >= 1.0
