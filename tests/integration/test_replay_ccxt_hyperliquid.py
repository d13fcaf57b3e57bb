"""Real ccxt (async_support and ccxt.pro, pinned 4.5.90) against the replay's Hyperliquid.

Markets load through the `urls['api']` override as ccxt loads them from Hyperliquid (spotMeta,
spotMetaAndAssetCtxs, metaAndAssetCtxs, perpDexs); the clock is the exchange's; candle history
pages out in answers of ccxt's own page size (`features` fetchOHLCV limit, 5000) and equals the
ground truth, back to Hyperliquid's 5000-candle history and no further; public trades cannot be
paged back through ccxt (it asks for a user's fills); the trades and candle streams deliver what
the ground truth holds; a spent weight limit is ccxt's RateLimitExceeded.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async
import pytest

from tests.replay_exchange import ground_truth
from tests.replay_exchange.datasets import DataSpec, shared_data_dir
from tests.replay_exchange.faults import FaultPlan
from tests.replay_exchange.fixtures import MakeClient, StartServer
from tests.replay_exchange.hyperliquid.rest import HISTORY_CANDLES
from tests.replay_exchange.ratelimits import RateLimitSettings
from tests.replay_exchange.server import ReplayServer

SYMBOL = "BTC/USDC:USDC"
MINUTE = 60_000
TAPE = DataSpec(shared_data_dir() / "trades/binance_spot_ws/btcusdt_20240808.gz", SYMBOL)


def truth(server: ReplayServer, kind: str) -> list[Any]:
    exchange = server.exchange
    return ground_truth.rows(
        exchange="hyperliquid",
        kind=kind,
        market=exchange.markets[SYMBOL],
        horizon_ns=exchange.moment().now_ns,
        trade_id=exchange.venue.published_trade_id,
    )


def as_candle(row: Any) -> list[Any]:
    fields = ("open", "high", "low", "close", "volume")
    return [int(row["open_time_ms"]), *(float(Decimal(row[f])) for f in fields)]


async def test_markets_clock_and_capabilities(
    replay_server_factory: StartServer, replay_ccxt: MakeClient
) -> None:
    server = await replay_server_factory(exchange="hyperliquid")
    client = replay_ccxt(server)
    markets = await client.load_markets()
    assert list(markets) == [SYMBOL]
    market = markets[SYMBOL]
    assert (market["swap"], market["linear"], market["settle"], market["id"]) == (
        True,
        True,
        "USDC",
        "0",
    )
    assert abs(await client.fetch_time() - server.exchange.moment().now_ms) < 1000
    assert client.features["swap"]["linear"]["fetchOHLCV"]["limit"] == HISTORY_CANDLES
    with pytest.raises(ccxt_async.ArgumentsRequired):  # ccxt pages a user's fills, not the tape
        await client.fetch_trades(SYMBOL, since=server.exchange.moment().now_ms - MINUTE)


async def test_candle_history_pages_out_to_the_5000_candle_limit_equal_to_ground_truth(
    replay_server_factory: StartServer, replay_ccxt: MakeClient
) -> None:
    server = await replay_server_factory(exchange="hyperliquid", history_ms=5 * 86_400_000)
    client = replay_ccxt(server)
    await client.load_markets()
    page_size = client.features["swap"]["linear"]["fetchOHLCV"]["limit"]
    now = await client.fetch_time()
    first = server.exchange.markets[SYMBOL].first_ms
    candles: list[list[Any]] = []
    since = first
    while since < now:
        page = await client.fetch_ohlcv(SYMBOL, "1m", since, page_size, {"until": now})
        if not page:
            break
        candles.extend(page)
        since = page[-1][0] + MINUTE
    closed = [c for c in candles if c[0] + MINUTE <= now]
    expected = [
        as_candle(row)
        for row in truth(server, "candles_1m")
        if row["empty"] == "false" and int(row["open_time_ms"]) >= closed[0][0]
    ]
    assert closed == expected
    servable_from = now // MINUTE * MINUTE - (HISTORY_CANDLES - 1) * MINUTE
    assert closed[0][0] >= servable_from  # nothing older than the newest 5000 minutes
    assert closed[0][0] - first > 86_400_000  # though five days of recording were served


async def test_trade_stream_delivers_every_trade_with_its_tid(
    replay_server_factory: StartServer, replay_ccxt: MakeClient
) -> None:
    server = await replay_server_factory(exchange="hyperliquid", data=[TAPE], speed=5)
    client = replay_ccxt(server, pro=True)
    await asyncio.wait_for(client.watch_trades(SYMBOL), 10)  # the snapshot
    started_ms = server.exchange.moment().now_ms
    seen: list[Any] = []
    while len(seen) < 200:
        seen.extend(await asyncio.wait_for(client.watch_trades(SYMBOL), 10))
    cached = [t for t in client.trades[SYMBOL] if t["timestamp"] > started_ms]
    served = {row["trade_id"]: row for row in truth(server, "trades")}
    assert all(t["id"] in served for t in cached)
    ids = [t["id"] for t in cached]
    newest = cached[-1]["timestamp"]
    expected = [
        tid
        for tid, row in served.items()
        if started_ms < int(row["time_ms"]) < newest  # the newest instant may be held back
    ]
    assert [i for i in ids if served[i]["time_ms"] != str(newest)] == expected
    assert all(t["side"] == served[t["id"]]["side"] for t in cached)


async def test_candle_stream_ends_each_minute_with_its_final_candle(
    replay_server_factory: StartServer, replay_ccxt: MakeClient
) -> None:
    server = await replay_server_factory(exchange="hyperliquid", speed=60)
    client = replay_ccxt(server, pro=True)
    latest: dict[int, list[Any]] = {}
    while len(latest) < 4:
        for candle in await asyncio.wait_for(client.watch_ohlcv(SYMBOL, "1m"), 10):
            latest[candle[0]] = candle
    final = {int(row["open_time_ms"]): as_candle(row) for row in truth(server, "candles_1m")}
    ended = [t for t in sorted(latest) if t in final]
    assert len(ended) >= 2
    assert all(latest[t] == final[t] for t in ended)


async def test_spent_weight_is_rate_limit_exceeded(
    replay_server_factory: StartServer, replay_ccxt: MakeClient
) -> None:
    limits = RateLimitSettings(hyperliquid_weight_per_minute=100)
    server = await replay_server_factory(
        exchange="hyperliquid", faults=FaultPlan(rate_limits=True, limits=limits)
    )
    client = replay_ccxt(server)
    await client.load_markets()  # four /info calls of weight 20
    assert len(await client.fetch_ohlcv(SYMBOL, "1m", limit=10)) > 0  # 100 of 100 spent
    with pytest.raises(ccxt_async.RateLimitExceeded):
        await client.fetch_ohlcv(SYMBOL, "1m", limit=10)
