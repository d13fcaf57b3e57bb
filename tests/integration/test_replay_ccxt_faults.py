"""Every fault knob, seen through real ccxt (pinned 4.5.90): which error, reconnect or damage.

Observed mapping (what a collector must handle):
- WS closed by the server (scheduled or on demand): NetworkError "closing code 1000"; calling
  watch again reconnects and resubscribes.
- Binance weight limit: 429 then 418 -> DDoSProtection; Kraken EAPI:Rate limit exceeded ->
  DDoSProtection.
- 5xx burst: ExchangeNotAvailable, then normal answers.
- REST bodies truncated or replaced: ccxt does NOT raise; it returns garbage rows (Binance) or
  nothing at all (Kraken, and load_markets on both): answers must be validated.
- WS frame truncated (both) or replaced (Binance): ccxt's receive loop dies; the keepalive turns
  it into RequestTimeout. A replaced frame on Kraken is dropped silently: the trade is lost.
- Duplicated / reordered trade frames: ccxt passes them on as they came.
- Delisting: Binance market inactive and BadSymbol; Kraken pair gone; streams fall silent.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import aiohttp
import ccxt
import pytest

from tests.replay_exchange.faults import FaultPlan
from tests.replay_exchange.fixtures import MakeClient, StartServer
from tests.replay_exchange.ratelimits import RateLimitSettings
from tests.replay_exchange.server import ReplayServer


async def admin(server: ReplayServer, changes: dict[str, Any]) -> dict[str, Any]:
    url = f"{server.http_url}/admin/faults"
    async with aiohttp.ClientSession() as session, session.post(url, json=changes) as response:
        assert response.status == 200, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer


async def watch(client: Any, symbol: str, **params: Any) -> list[Any]:
    result: list[Any] = await asyncio.wait_for(client.watch_trades(symbol, params=params), 10)
    return result


async def watch_until_it_raises(client: Any, symbol: str, *, received: list[Any]) -> None:
    """Call watch_trades again and again (at most 500 times), keeping what arrives."""
    for _ in range(500):
        received.extend(await watch(client, symbol))


# Speeds that give a few trades a second: Binance's capture is dense, Kraken's trades sparse.
LIVELY = {"binance": 2.0, "kraken": 300.0}


@pytest.mark.parametrize("exchange", ["binance", "kraken"])
async def test_scheduled_ws_close_is_a_network_error_and_watch_reconnects(
    exchange: str, replay_server_factory: StartServer, replay_ccxt: MakeClient
) -> None:
    server = await replay_server_factory(
        exchange=exchange, speed=LIVELY[exchange], faults=FaultPlan(ws_close_every_s=0.7)
    )
    client = replay_ccxt(server, pro=True)
    delivered: list[Any] = []
    with pytest.raises(ccxt.NetworkError, match="closing code 1000"):
        await watch_until_it_raises(client, "BTC/USDT", received=delivered)
    assert delivered
    assert len(await watch(client, "BTC/USDT")) > 0  # reconnected and resubscribed


async def test_ws_close_on_demand(binance_replay: ReplayServer, replay_ccxt: MakeClient) -> None:
    client = replay_ccxt(binance_replay, pro=True)
    await asyncio.wait_for(client.watch_ohlcv("BTC/USD", "1m"), 10)  # klines come every 2 s
    pending = asyncio.ensure_future(client.watch_ohlcv("BTC/USD", "1m"))
    await admin(binance_replay, {"close_websockets": True})
    with pytest.raises(ccxt.NetworkError, match="closing code 1000"):
        await asyncio.wait_for(pending, 10)


async def test_binance_weight_limit_gives_429_then_418(
    replay_server_factory: StartServer, replay_ccxt: MakeClient
) -> None:
    limits = RateLimitSettings(  # the weight window starts now, not on the wall-clock minute
        binance_weight_per_minute=24, binance_429s_before_ban=1, binance_window_origin_s=time.time()
    )
    server = await replay_server_factory(
        exchange="binance", faults=FaultPlan(rate_limits=True, limits=limits)
    )
    binance = replay_ccxt(server, options={"options": {"fetchMarkets": {"types": ["spot"]}}})
    await binance.load_markets()  # weight 20
    await binance.fetch_ohlcv("BTC/USD", "1m", limit=5)  # 22
    await binance.fetch_ohlcv("BTC/USD", "1m", limit=5)  # 24
    with pytest.raises(ccxt.DDoSProtection, match=" 429 "):
        await binance.fetch_ohlcv("BTC/USD", "1m", limit=5)
    with pytest.raises(ccxt.DDoSProtection, match=r" 418 .*IP banned until"):
        await binance.fetch_ohlcv("BTC/USD", "1m", limit=5)
    with pytest.raises(ccxt.DDoSProtection, match=" 418 "):
        await binance.fetch_time()
    assert int(binance.last_response_headers["Retry-After"]) > 60


async def test_kraken_per_pair_limit_is_rate_limit_exceeded(
    replay_server_factory: StartServer, replay_ccxt: MakeClient
) -> None:
    limits = RateLimitSettings(kraken_max_counter=2, kraken_decay_per_s=0.1)
    server = await replay_server_factory(
        exchange="kraken", faults=FaultPlan(rate_limits=True, limits=limits)
    )
    kraken = replay_ccxt(server)
    await kraken.load_markets()
    await kraken.fetch_ohlcv("BTC/USD", "1m")
    await kraken.fetch_ohlcv("BTC/USD", "1m")
    with pytest.raises(ccxt.DDoSProtection, match="EAPI:Rate limit exceeded"):
        await kraken.fetch_ohlcv("BTC/USD", "1m")
    assert await kraken.fetch_ohlcv("BTC/USDT", "1m")  # another pair has its own counter


@pytest.mark.parametrize("exchange", ["binance", "kraken"])
async def test_5xx_burst_is_exchange_not_available_then_recovers(
    exchange: str, replay_server_factory: StartServer, replay_ccxt: MakeClient
) -> None:
    server = await replay_server_factory(exchange=exchange)
    client = replay_ccxt(server)
    await client.load_markets()
    await admin(server, {"http_5xx_burst_now": 2, "http_5xx_status": 502})
    for _ in range(2):
        with pytest.raises(ccxt.ExchangeNotAvailable, match="502"):
            await client.fetch_ohlcv("BTC/USD", "1m", limit=2)
    assert len(await client.fetch_ohlcv("BTC/USD", "1m", limit=2)) == 2


@pytest.mark.parametrize("fault", ["rest_truncate_every", "rest_malformed_every"])
async def test_damaged_rest_bodies_pass_through_ccxt_without_an_error(
    fault: str, replay_server_factory: StartServer, replay_ccxt: MakeClient
) -> None:
    binance_server = await replay_server_factory(exchange="binance")
    kraken_server = await replay_server_factory(exchange="kraken")
    binance, kraken = replay_ccxt(binance_server), replay_ccxt(kraken_server)
    await binance.load_markets()
    await kraken.load_markets()
    for server in (binance_server, kraken_server):
        await admin(server, {fault: 1})
    garbage = await binance.fetch_ohlcv("BTC/USD", "1m", limit=3)
    assert garbage
    assert all(row[1] is None for row in garbage)  # characters of the body, parsed as rows
    assert await kraken.fetch_ohlcv("BTC/USD", "1m") == []
    assert await kraken.load_markets(reload=True) == {}


@pytest.mark.parametrize(
    ("exchange", "fault"),
    [
        ("binance", "ws_truncate_every"),
        ("kraken", "ws_truncate_every"),
        ("binance", "ws_malformed_every"),
    ],
)
async def test_damaged_frames_kill_ccxts_receive_loop_until_the_keepalive_times_out(
    exchange: str, fault: str, replay_server_factory: StartServer, replay_ccxt: MakeClient
) -> None:
    server = await replay_server_factory(
        exchange=exchange, speed=LIVELY[exchange], faults=FaultPlan().updated({fault: 3})
    )
    client = replay_ccxt(server, pro=True, options={"streaming": {"keepAlive": 300}})
    with pytest.raises(ccxt.RequestTimeout, match="ping-pong keepalive"):
        await watch_until_it_raises(client, "BTC/USDT", received=[])


async def test_a_replaced_kraken_frame_is_dropped_silently(
    replay_server_factory: StartServer, replay_ccxt: MakeClient
) -> None:
    server = await replay_server_factory(
        exchange="kraken", speed=300, faults=FaultPlan(ws_malformed_every=3)
    )
    client = replay_ccxt(server, pro=True)
    trades = await watch(client, "BTC/USDT")  # the snapshot is data frame 1
    while len(trades) < 70:
        trades.extend(await watch(client, "BTC/USDT"))
    ids = sorted({int(t["id"]) for t in trades})
    assert ids[-1] - ids[0] + 1 > len(ids)  # trades are missing, no error was raised


async def test_duplicated_and_reordered_trades_reach_the_client(
    replay_server_factory: StartServer, replay_ccxt: MakeClient
) -> None:
    plan = FaultPlan(ws_duplicate_every=5, ws_reorder_every=7)
    server = await replay_server_factory(exchange="binance", faults=plan)
    client = replay_ccxt(server, pro=True)
    trades: list[Any] = []
    while len(trades) < 60:
        trades.extend(await watch(client, "BTC/USDT"))
    ids = [int(t["id"]) for t in trades]
    assert len(set(ids)) < len(ids)
    assert any(later < earlier for earlier, later in itertools.pairwise(ids))


async def test_binance_delisting_breaks_the_market_and_silences_its_stream(
    binance_replay: ReplayServer, replay_ccxt: MakeClient
) -> None:
    rest, stream = replay_ccxt(binance_replay), replay_ccxt(binance_replay, pro=True)
    await rest.load_markets()
    await watch(stream, "BTC/USDT")
    await admin(binance_replay, {"delist": {"symbol": "BTC/USDT"}})
    markets = await rest.load_markets(reload=True)
    assert markets["BTC/USDT"]["active"] is False
    assert markets["BTC/USDT"]["info"]["status"] == "BREAK"
    with pytest.raises(ccxt.BadSymbol, match="Invalid symbol"):
        await rest.fetch_ohlcv("BTC/USDT", "1m")
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(stream.watch_trades("BTC/USDT"), 1.5)


async def test_kraken_delisting_removes_the_pair(
    kraken_replay: ReplayServer, replay_ccxt: MakeClient
) -> None:
    kraken = replay_ccxt(kraken_replay)
    await kraken.load_markets()
    await admin(kraken_replay, {"delist": {"symbol": "BTC/USD", "after_s": 0}})
    with pytest.raises(ccxt.ExchangeError, match="EQuery:Unknown asset pair"):
        await kraken.fetch_ohlcv("BTC/USD", "1m")
    assert "BTC/USD" not in await kraken.load_markets(reload=True)
