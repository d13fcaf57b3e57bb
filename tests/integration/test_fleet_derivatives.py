"""Three replicas of the Hyperliquid collector share a mixed set of spot pairs and perpetual
swaps (ccxt `BTC/USDC` and `BTC/USDC:USDC` side by side): the rendezvous hash splits them, the
ProcessCache records and each process's own count agree, and what they store equals the
ground truth. Real `ohlcv-collector run` processes, PostgreSQL, Redis, ccxt and the replay.
"""

from collections.abc import Callable
from pathlib import Path

import pytest

from ohlcv_collector.core.sharding import assign
from tests.harness.waiting import wait_until_async
from tests.integration.fleet_scene import CANDLES, Scene
from tests.replay_exchange.fixtures import ReplayProcess

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

EXCHANGE = "hyperliquid"
# Candle-only recordings of real BTC markets, each replayed as another Hyperliquid market.
MARKETS = {
    "BTC/USDC": "binanceus_BTCUSD_1m_20230301_20230321.csv",
    "ETH/USDC": "binanceus_BTCUSDT_1m_20230301_20230321.csv",
    "SOL/USDC": "coinbase_BTC-USD_1m_20230301_20230321.csv",
    "BTC/USDC:USDC": "kraken_XBTUSD_1m_fromtrades_20230301_20230321.csv",
    "ETH/USDC:USDC": "kraken_XBTUSDT_1m_fromtrades_20230301_20230321.csv",
    "SOL/USDC:USDC": "binanceus_BTCUSDC_1m_20230301_20230321.csv",
}
SYMBOLS = sorted(MARKETS)
MEMBERS = ["c1", "c2", "c3"]


async def split_is(scene: Scene) -> bool:
    expected = {s: m for m in MEMBERS for s in assign(symbols=SYMBOLS, members=MEMBERS, me=m)}
    if await scene.owners() != expected:
        return False
    counts = {c.instance: c.symbols_running() for c in scene.live()}
    return counts == {m: sum(o == m for o in expected.values()) for m in MEMBERS}


async def test_three_replicas_share_spot_and_swap_symbols_and_store_the_ground_truth(
    postgres_dsn: str,
    redis_url: str,
    replay_process_factory: Callable[..., ReplayProcess],
    tmp_path: Path,
) -> None:
    args = ["--speed", "10", "--history", "1d"]
    for symbol, name in MARKETS.items():
        args += ["--data", f"{symbol}={CANDLES / name}"]
    server = replay_process_factory(exchange=EXCHANGE, args=args)
    scene = Scene(
        dsn=postgres_dsn, redis_url=redis_url, replay=server, directory=tmp_path,
        args=["--no-trades", "--backfill-days", "1", "--repair-interval", "5"], exchange=EXCHANGE,
    )  # fmt: skip
    await scene.seed(SYMBOLS, days=1)
    try:
        for member in MEMBERS:
            scene.start(member)
        await wait_until_async(
            lambda: split_is(scene), timeout=60, describe="spot and swaps split three ways"
        )
        compared = await scene.assert_complete(SYMBOLS, days=1)
        assert compared > len(SYMBOLS) * 500
    except AssertionError as error:
        raise AssertionError(f"{error}\n{scene.output()}") from error
    finally:
        scene.close()
