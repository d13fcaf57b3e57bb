"""Replicas of one exchange split its symbols, hand them over, and lose nothing.

Real `ohlcv-collector run` processes against a replay exchange subprocess, one
PostgreSQL and one Redis. The expected split is computed with the same rendezvous hash
the replicas use, and checked two ways: in the ProcessCache records, and in each
process's own count of the symbols it collects.
"""

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from ohlcv_collector.core.sharding import assign
from ohlcv_collector.models import MINUTE_MS
from tests.harness.waiting import wait_until_async
from tests.integration.collector_harness import http_json
from tests.integration.fleet_scene import (
    EXCHANGE,
    HEARTBEAT_TIMEOUT_S,
    MARKETS,
    Collector,
    Scene,
    replay_args,
)
from tests.replay_exchange.fixtures import ReplayProcess

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

SYMBOLS = sorted(MARKETS)
DAYS = 1


MakeScene = Callable[..., Scene]


@pytest.fixture
def make_scene(
    postgres_dsn: str,
    redis_url: str,
    replay_process_factory: Callable[..., ReplayProcess],
    tmp_path: Path,
) -> Iterator[MakeScene]:
    """(symbols=..., days=..., speed=..., replay=[...], env={...}) -> a Scene."""
    scenes: list[Scene] = []

    def make(
        *, days: int = DAYS, speed: float = 10, replay: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> Scene:  # fmt: skip
        history = f"{days}d"
        server = replay_process_factory(
            exchange=EXCHANGE, args=[*replay_args(SYMBOLS, speed=speed, history=history), *replay]
        )
        args = ["--no-trades", "--backfill-days", str(days), "--repair-interval", "5"]
        scene = Scene(dsn=postgres_dsn, redis_url=redis_url, replay=server, directory=tmp_path,
                      args=args, env=env or {})  # fmt: skip
        scenes.append(scene)
        return scene

    yield make
    for scene in scenes:
        scene.close()


def expected(members: list[str]) -> dict[str, str]:
    return {s: m for m in members for s in assign(symbols=SYMBOLS, members=members, me=m)}


async def split_is(scene: Scene, members: list[str]) -> bool:
    """Each symbol streamed by the replica the hash picks, and no replica runs extra ones."""
    if await scene.owners() != expected(members):
        return False
    counts = {c.instance: c.symbols_running() for c in scene.live()}
    return counts == {m: sum(o == m for o in expected(members).values()) for m in members}


async def test_replicas_split_symbols_hand_over_on_crash_and_scale_back(
    make_scene: MakeScene,
) -> None:
    scene = make_scene()
    await scene.seed(SYMBOLS, days=DAYS)
    try:
        scene.start("c1")
        await wait_until_async(
            lambda: split_is(scene, ["c1"]), timeout=40, describe="c1 streams all"
        )
        joining = time.monotonic()
        scene.start("c2")
        scene.start("c3")
        await wait_until_async(
            lambda: split_is(scene, ["c1", "c2", "c3"]), timeout=30, describe="a three-way split"
        )
        joined = time.monotonic() - joining
        # Steady state: the split holds, every symbol collected by exactly one replica.
        for _ in range(3):
            await asyncio.sleep(1)
            assert await split_is(scene, ["c1", "c2", "c3"])
        assert sum(c.symbols_running() for c in scene.live()) == len(SYMBOLS)

        crashed = time.monotonic()
        scene.collectors["c2"].kill()
        await wait_until_async(
            lambda: split_is(scene, ["c1", "c3"]), timeout=20, describe="c2's symbols taken over"
        )
        # Taken over within the heartbeat timeout (plus the new owner's start-up).
        taken_over = time.monotonic() - crashed
        assert taken_over <= HEARTBEAT_TIMEOUT_S + 3

        assert scene.collectors["c3"].stop() == 0
        stopped = await scene.health()
        assert all(h.collector != "c3" for h in stopped)  # its records left the active hash
        await wait_until_async(
            lambda: split_is(scene, ["c1"]), timeout=20, describe="c1 takes all back"
        )
        taken_back = await scene.newest(SYMBOLS)
        await wait_until_async(
            lambda: _advanced(scene, taken_back, minutes=1),
            timeout=20,
            interval=0.5,
            describe="another candle stored on every symbol after c1 took all back",
        )
        compared = await scene.assert_complete(SYMBOLS, days=DAYS)
        assert compared > len(SYMBOLS) * 1400
        print(f"join took {joined:.1f} s, crash handover {taken_over:.1f} s")
    except AssertionError as error:
        raise AssertionError(f"{error}\n{scene.output()}") from error


# Redis stays down until every symbol stored this many candles without it: at speed 30,
# about 20 s, four times the heartbeat timeout; the exchange's clock, not the wall clock,
# decides how much collection the outage spans.
OUTAGE_CANDLES = 10
OUTAGE_SPEED = 30


async def test_collection_goes_on_while_redis_is_down(
    make_scene: MakeScene, redis_server: Any
) -> None:
    scene = make_scene(speed=OUTAGE_SPEED)
    symbols = SYMBOLS[:3]
    await scene.seed(symbols, days=DAYS)
    collector = scene.start("c1")
    try:
        await wait_until_async(
            lambda: _owned_by(scene, symbols, "c1"), timeout=40, describe="c1 streams its symbols"
        )
        await wait_until_async(
            lambda: _all_stored(scene, symbols), timeout=10, describe="the backfill stored"
        )
        before = await scene.newest(symbols)
        redis_server.stop()
        try:
            await wait_until_async(
                lambda: _not_ready_for_redis(collector), timeout=10, describe="/readyz names Redis"
            )
            # Every candle of the outage is stored: compared with the ground truth below.
            await wait_until_async(
                lambda: _advanced(scene, before, minutes=OUTAGE_CANDLES),
                timeout=OUTAGE_CANDLES * 60 / OUTAGE_SPEED + 20,
                interval=0.5,
                describe=f"{OUTAGE_CANDLES} candles stored per symbol while Redis is down",
            )
            assert await _not_ready_for_redis(collector)
        finally:
            redis_server.start()
        await wait_until_async(
            lambda: _ready(collector),
            timeout=15,
            describe="/readyz ready again after Redis returned",
        )
        await wait_until_async(
            lambda: _owned_by(scene, symbols, "c1"), timeout=15, describe="health records back"
        )
        await scene.assert_complete(symbols, days=DAYS)
        assert collector.stop() == 0
    except AssertionError as error:
        raise AssertionError(f"{error}\n{scene.output()}") from error


async def _owned_by(scene: Scene, symbols: list[str], instance: str) -> bool:
    return await scene.owners() == dict.fromkeys(symbols, instance)


async def _all_stored(scene: Scene, symbols: list[str]) -> bool:
    return all((await scene.newest(symbols)).values())


async def _advanced(scene: Scene, since: dict[str, int], *, minutes: int) -> dict[str, int]:
    """The newest candles once every symbol's is `minutes` past `since` (empty before).
    Each call opens a connection per symbol: poll it every half second, not faster."""
    newest = await scene.newest(list(since))
    done = all(newest[s] - since[s] >= minutes * MINUTE_MS for s in since)
    return newest if done else {}


async def _not_ready_for_redis(collector: Collector) -> bool:
    status, body = collector.get("/readyz")
    return status == 503 and "Redis" in body and "collection goes on" in body


async def _ready(collector: Collector) -> bool:
    return collector.get("/readyz")[0] == 200


# Binance counts request weight per IP in one-minute windows. With this limit and ccxt
# pacing each replica at 1000/1667 ccxt cost units (x5 weight) per second, one replica
# uses 180 weight a minute; three on their own would use 540, and the backfill's ~260
# (more than the limit) would land in one window: 429s. Paced together they use 180.
WEIGHT_PER_MINUTE = 240
CCXT_RATE_LIMIT_MS = 1667
RATE_DAYS = 10
RATE_SYMBOLS = SYMBOLS[:6]
PROBE_EVERY_S = 5  # each probe costs a weight of 1: a dozen a minute


async def test_three_replicas_stay_within_the_exchange_rate_limit_together(
    make_scene: MakeScene,
) -> None:
    scene = make_scene(
        days=RATE_DAYS,
        speed=1,
        replay=["--rate-limits", "--binance-weight-per-minute", str(WEIGHT_PER_MINUTE)],
        env={"OHLCV_CCXT_OPTIONS": json.dumps({"rateLimit": CCXT_RATE_LIMIT_MS})},
    )
    await scene.seed(RATE_SYMBOLS, days=RATE_DAYS)
    # The exchange's first weight window starts now, so that unpaced replicas would exceed
    # the limit within one window rather than spread over two.
    origin = time.time()
    http_json(
        f"{scene.replay.http_url}/admin/faults",
        method="POST",
        body={"binance_window_origin_s": origin},
    )
    members = ["c1", "c2", "c3"]
    for member in members:
        scene.start(member)
    used: dict[int, int] = {}
    split = {s: o for s, o in expected(members).items() if s in RATE_SYMBOLS}
    probed = 0.0

    async def backfilled() -> bool:
        """Every symbol streaming with its owner; the weight used is sampled on the way."""
        nonlocal probed
        if time.monotonic() - probed >= PROBE_EVERY_S:
            probed = time.monotonic()
            status, weight = _probe(scene)
            assert status == 200, f"the exchange refused a request ({status})"
            window = int((time.time() - origin) // 60)
            used[window] = max(used.get(window, 0), weight)
            assert len(used) <= 4, f"backfill not done in time; weight used per minute {used}"
        return await scene.owners() == split

    try:
        await wait_until_async(
            backfilled, timeout=300, interval=0.5, describe="three replicas backfilled"
        )
        refused = sum(c.metric("ohlcv_collector_rate_limit_waits_total") for c in scene.live())
        assert refused == 0
        assert max(used.values()) <= WEIGHT_PER_MINUTE
        assert sum(used.values()) > WEIGHT_PER_MINUTE  # the work did need pacing
        await scene.assert_complete(RATE_SYMBOLS, days=RATE_DAYS)
        print(f"weight used per minute by three replicas: {sorted(used.items())}")
    except AssertionError as error:
        raise AssertionError(f"{error}\n{scene.output()}") from error


def _probe(scene: Scene) -> tuple[int, int]:
    """GET /api/v3/ping (weight 1): the status and the weight used in this minute so far."""
    url = f"http://127.0.0.1:{scene.replay.port}/api/v3/ping"
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, int(answer.headers["X-MBX-USED-WEIGHT-1M"])
    except urllib.error.HTTPError as error:
        return error.code, -1
