"""Real ccxt.pro (pinned 4.5.90) against the replay exchange's WebSocket streams.

Binance: `@trade` (ccxt's default) and `@aggTrade` streams deliver the served trades with no
gap, `@kline_1m` the minute in progress. Kraken v2: the trade snapshot then updates, the ohlc
channel, and the ping/pong keepalive that ccxt enforces.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.replay_exchange.fixtures import MakeClient, StartServer
from tests.replay_exchange.server import ReplayServer


async def collect_trades(
    client: Any, symbol: str, *, at_least: int, params: dict[str, Any] | None = None
) -> list[Any]:
    trades: list[Any] = []
    while len(trades) < at_least:
        trades.extend(await asyncio.wait_for(client.watch_trades(symbol, params=params or {}), 10))
    return trades


async def test_binance_trade_stream_is_gapless_and_matches_what_rest_serves(
    binance_replay: ReplayServer, replay_ccxt: MakeClient
) -> None:
    binance = replay_ccxt(binance_replay, pro=True)
    trades = await collect_trades(binance, "BTC/USDT", at_least=60)
    ids = [int(t["id"]) for t in trades]
    assert ids == list(
        range(ids[0], ids[0] + len(ids))
    )  # @trade ids are the recording's, contiguous
    market = binance_replay.exchange.markets["BTC/USDT"]
    recorded = {t.trade_id: t for t in market.trades}
    assert all(t["timestamp"] == recorded[int(t["id"])].time_ms for t in trades)
    assert all(t["timestamp"] <= binance_replay.exchange.moment().now_ms for t in trades)


async def test_binance_agg_trade_stream_uses_the_aggregate_id_space(
    binance_replay: ReplayServer, replay_ccxt: MakeClient
) -> None:
    binance = replay_ccxt(binance_replay, pro=True)
    trades = await collect_trades(binance, "BTC/USDT", at_least=20, params={"name": "aggTrade"})
    ids = [int(t["id"]) for t in trades]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    assert ids[-1] < 100_000  # far from the @trade ids (3.7e9): never mix the two


async def test_binance_kline_stream_shows_the_minute_in_progress(
    binance_replay: ReplayServer, replay_ccxt: MakeClient
) -> None:
    binance = replay_ccxt(binance_replay, pro=True)
    candles = await asyncio.wait_for(binance.watch_ohlcv("BTC/USD", "1m"), 10)
    now_ms = binance_replay.exchange.moment().now_ms
    assert candles[-1][0] == now_ms // 60_000 * 60_000
    assert candles[-1][5] >= 0


async def test_kraken_trade_snapshot_then_live_updates(
    replay_server_factory: StartServer, replay_ccxt: MakeClient
) -> None:
    server = await replay_server_factory(exchange="kraken", speed=300)
    kraken = replay_ccxt(server, pro=True)
    snapshot = await asyncio.wait_for(kraken.watch_trades("BTC/USDT"), 10)
    assert len(snapshot) == 50
    updates = await collect_trades(kraken, "BTC/USDT", at_least=5)
    ids = [int(t["id"]) for t in snapshot + updates]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    market = server.exchange.markets["BTC/USDT"]
    recorded = {t.trade_id: t for t in market.trades}
    assert all(t["timestamp"] == recorded[int(t["id"])].time_ms for t in updates)


async def test_kraken_ohlc_snapshot_and_updates(
    replay_server_factory: StartServer, replay_ccxt: MakeClient
) -> None:
    server = await replay_server_factory(exchange="kraken", speed=120)
    kraken = replay_ccxt(server, pro=True)
    snapshot = await asyncio.wait_for(kraken.watch_ohlcv("BTC/USD", "1m"), 10)
    first = snapshot[0][0]
    assert [c[0] for c in snapshot] == list(range(first, first + 10 * 60_000, 60_000))
    later = await asyncio.wait_for(kraken.watch_ohlcv("BTC/USD", "1m"), 10)
    assert later[-1][0] > snapshot[-1][0]  # a candle-only pair sends each new minute's candle


async def test_kraken_answers_ccxt_pings_so_the_connection_stays_up(
    kraken_replay: ReplayServer, replay_ccxt: MakeClient
) -> None:
    # ccxt pings every keepAlive ms and raises RequestTimeout when two pongs are missing.
    kraken = replay_ccxt(kraken_replay, pro=True, options={"streaming": {"keepAlive": 200}})
    await asyncio.wait_for(kraken.watch_trades("BTC/USDT"), 10)
    client = next(iter(kraken.clients.values()))
    await asyncio.sleep(1.5)  # seven keepalive periods
    assert client.lastPong is not None
    assert kraken.milliseconds() - client.lastPong < 600
    assert not client.closed()
