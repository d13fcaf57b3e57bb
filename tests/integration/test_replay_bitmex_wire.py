"""The replay's BitMEX over real HTTP and WebSocket, driven as a BitMEX client drives it.

The pinned ccxt (4.5.90) has no bitmex class, so these tests speak BitMEX's documented wire
protocol with aiohttp: the instrument list, trade history paged with startTime/count/start and
1m bins paged by their end label both equal the ground truth; /realtime delivers a partial and
then every trade; the token bucket answers 429 with Retry-After and X-RateLimit headers.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import aiohttp

from tests.replay_exchange import ground_truth
from tests.replay_exchange.faults import FaultPlan
from tests.replay_exchange.fixtures import StartServer
from tests.replay_exchange.ratelimits import RateLimitSettings
from tests.replay_exchange.server import ReplayServer

SYMBOL = "BTC/USD:BTC"
MINUTE = 60_000


def truth(server: ReplayServer, kind: str) -> list[Any]:
    exchange = server.exchange
    market = exchange.markets[SYMBOL]
    return ground_truth.rows(
        exchange="bitmex", kind=kind, market=market, horizon_ns=exchange.moment().now_ns
    )


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


async def get(session: aiohttp.ClientSession, url: str, **params: str) -> Any:
    async with session.get(url, params=params) as response:
        response.raise_for_status()
        return await response.json()


async def test_trade_and_bin_history_page_out_equal_to_ground_truth(
    replay_server_factory: StartServer,
) -> None:
    start_ms = ms("2020-04-11T15:01:00Z")  # after 1000 recorded bins, inside the trades
    server = await replay_server_factory(exchange="bitmex", speed=10, start_ms=start_ms)
    api = f"{server.http_url}/api/v1"
    async with aiohttp.ClientSession() as session:
        instruments = await get(session, f"{api}/instrument/active")
        assert [i["symbol"] for i in instruments] == ["XBTUSD"]
        assert instruments[0]["isInverse"] is True
        first = server.exchange.markets[SYMBOL].first_ms
        bins: list[Any] = []
        while True:  # the next page starts after the last label, as a BitMEX client pages
            start = ms(bins[-1]["timestamp"]) + 1 if bins else first
            page = await get(
                session, f"{api}/trade/bucketed", symbol="XBTUSD", binSize="1m",
                count="1000", startTime=iso(start),
            )  # fmt: skip
            bins.extend(page)
            if len(page) < 1000:
                break
        trades: list[Any] = []
        while True:  # start counts rows, so equal timestamps never split a page
            page = await get(
                session, f"{api}/trade", symbol="XBTUSD", count="500", start=str(len(trades))
            )
            trades.extend(page)
            if len(page) < 500:
                break
    candles = {int(r["open_time_ms"]): r for r in truth(server, "candles_1m")}
    assert len(bins) > 1000
    for row in bins:
        expected = candles[ms(row["timestamp"]) - MINUTE]  # a bin is labelled by its end
        assert (str(row["open"]), str(row["close"])) == (expected["open"], expected["close"])
    served = [r["trade_id"] for r in truth(server, "trades")]
    assert len(trades) > 300
    assert [t["trdMatchID"] for t in trades] == served[: len(trades)]


async def test_realtime_partial_then_every_trade(replay_server_factory: StartServer) -> None:
    start_ms = ms("2020-04-11T15:00:10Z")  # inside the recorded trades
    server = await replay_server_factory(exchange="bitmex", speed=5, start_ms=start_ms)
    received: list[dict[str, Any]] = []
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{server.ws_url}/realtime") as ws,
    ):
        welcome = json.loads((await ws.receive()).data)
        assert welcome["info"] == "Welcome to the BitMEX Realtime API."
        await ws.send_str(json.dumps({"op": "subscribe", "args": ["trade:XBTUSD"]}))
        subscribed_ms = server.exchange.moment().now_ms
        while sum(len(f.get("data", [])) for f in received if f.get("action") == "insert") < 50:
            received.append(json.loads((await asyncio.wait_for(ws.receive(), 10)).data))
        await ws.send_str("ping")
        while (message := await asyncio.wait_for(ws.receive(), 10)).data != "pong":
            received.append(json.loads(message.data))
    assert received[0] == {
        "success": True,
        "subscribe": "trade:XBTUSD",
        "request": {"op": "subscribe", "args": ["trade:XBTUSD"]},
    }
    assert received[1]["action"] == "partial"
    inserted = [t for f in received if f.get("action") == "insert" for t in f["data"]]
    served = [r for r in truth(server, "trades") if int(r["time_ms"]) > subscribed_ms]
    assert [t["trdMatchID"] for t in inserted] == [r["trade_id"] for r in served][: len(inserted)]


async def test_token_bucket_refuses_with_429_and_ratelimit_headers(
    replay_server_factory: StartServer,
) -> None:
    limits = RateLimitSettings(bitmex_requests_per_minute=5)
    server = await replay_server_factory(
        exchange="bitmex", faults=FaultPlan(rate_limits=True, limits=limits)
    )
    url = f"{server.http_url}/api/v1/trade?symbol=XBTUSD&count=1"
    statuses, remaining = [], []
    async with aiohttp.ClientSession() as session:
        for _ in range(6):
            async with session.get(url) as response:
                statuses.append(response.status)
                remaining.append(response.headers["X-RateLimit-Remaining"])
                last_headers, last_body = response.headers, await response.json()
    assert statuses == [200] * 5 + [429]
    assert remaining == ["4", "3", "2", "1", "0", "0"]
    assert last_headers["Retry-After"] == "12"  # five a minute: one token every 12 s
    assert last_body["error"]["name"] == "RateLimitError"
