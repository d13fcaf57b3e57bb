"""Real ccxt (async_support, pinned 4.5.90) against the replay exchange's REST API.

For both exchanges: markets load through the `urls['api']` override, the exchange clock is the
replay clock, the whole history pages out and equals the ground truth row by row, and the last
candle of an answer is the one in progress. Kraken's 720-candle cap and `last` trade cursor,
and Binance's aggTrades `fromId` paging, behave as on the real exchanges.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp

from tests.replay_exchange import ground_truth
from tests.replay_exchange.fixtures import MakeClient, StartServer
from tests.replay_exchange.models import MINUTE_MS as MINUTE
from tests.replay_exchange.server import ReplayServer


def truth(
    server: ReplayServer, kind: str, symbol: str, *, horizon_ns: int | None = None
) -> list[Any]:
    """Ground truth up to `horizon_ns` (the replay's present when None)."""
    market = server.exchange.markets[symbol]
    horizon = server.exchange.moment().now_ns if horizon_ns is None else horizon_ns
    return ground_truth.rows(
        exchange=server.exchange_id, kind=kind, market=market, horizon_ns=horizon
    )


def as_candle(row: Any) -> list[Any]:
    fields = ("open", "high", "low", "close", "volume")
    return [int(row["open_time_ms"]), *(float(Decimal(row[f])) for f in fields)]


async def test_binance_markets_and_clock(
    binance_replay: ReplayServer, replay_ccxt: MakeClient
) -> None:
    binance = replay_ccxt(binance_replay)  # ccxt's default load_markets: spot, linear, inverse
    markets = await binance.load_markets()
    assert sorted(markets) == ["BTC/USD", "BTC/USDC", "BTC/USDT"]
    assert all(m["spot"] and m["active"] for m in markets.values())
    assert abs(await binance.fetch_time() - binance_replay.exchange.moment().now_ms) < 1000


async def test_binance_full_kline_history_pages_out_equal_to_ground_truth(
    binance_replay: ReplayServer, replay_ccxt: MakeClient
) -> None:
    binance = replay_ccxt(binance_replay)
    await binance.load_markets()
    first = binance_replay.exchange.markets["BTC/USD"].first_ms
    candles: list[list[Any]] = []
    since = first
    while True:
        page = await binance.fetch_ohlcv("BTC/USD", "1m", since=since, limit=1000)
        candles.extend(page)
        if len(page) < 1000:
            break
        since = page[-1][0] + MINUTE
    expected = [as_candle(row) for row in truth(binance_replay, "candles_1m", "BTC/USD")]
    assert len(expected) == 1440  # one day of history by default
    assert candles[:-1] == expected
    assert candles[-1][0] == expected[-1][0] + MINUTE  # the minute in progress comes last


async def test_binance_agg_trades_page_by_from_id_to_every_served_trade(
    binance_replay: ReplayServer, replay_ccxt: MakeClient
) -> None:
    binance = replay_ccxt(binance_replay)
    await binance.load_markets()
    start = binance_replay.exchange.markets["BTC/USDT"].first_ms
    trades = await binance.fetch_trades("BTC/USDT", since=start, limit=1000)
    while True:
        # ccxt sorts a page by (timestamp, id as a string): within one millisecond "10" comes
        # before "9", so the next fromId is the page's highest id, not its last one.
        next_id = max(int(t["id"]) for t in trades) + 1
        # an empty page proves every trade up to the moment it was asked for (the clock runs)
        asked_ns = binance_replay.exchange.moment().now_ns
        page = await binance.fetch_trades("BTC/USDT", limit=1000, params={"fromId": next_id})
        if not page:
            break
        trades.extend(page)
    by_id = {int(t["id"]): t for t in trades}
    assert len(by_id) == len(trades)
    expected = truth(binance_replay, "aggtrades", "BTC/USDT", horizon_ns=asked_ns)
    assert sorted(by_id) == [int(row["agg_id"]) for row in expected]
    for row in expected[:200]:
        assert by_id[int(row["agg_id"])]["amount"] == float(Decimal(row["amount"]))
    assert await binance.fetch_trades("BTC/USD") == []  # candle-only: no trades invented


async def test_kraken_ohlc_is_capped_at_720_candles_whatever_since_says(
    kraken_replay: ReplayServer, replay_ccxt: MakeClient
) -> None:
    kraken = replay_ccxt(kraken_replay)
    await kraken.load_markets()
    first = kraken_replay.exchange.markets["BTC/USD"].first_ms
    candles = await kraken.fetch_ohlcv("BTC/USD", "1m", since=first)
    expected = [as_candle(row) for row in truth(kraken_replay, "candles_1m", "BTC/USD")]
    assert len(expected) == 1440
    assert len(candles) == 721  # the 720 newest committed candles and the open one, no error
    assert candles[0][0] > first
    assert candles[:-1] == expected[-720:]


async def test_kraken_trades_page_with_the_ns_last_cursor_equal_to_ground_truth(
    replay_server_factory: StartServer, replay_ccxt: MakeClient
) -> None:
    server = await replay_server_factory(exchange="kraken", speed=100)
    kraken = replay_ccxt(server)
    await kraken.load_markets()
    trades = await kraken.fetch_trades(
        "BTC/USDT", since=server.exchange.markets["BTC/USDT"].first_ms, limit=100
    )
    while True:
        page = await kraken.fetch_trades(
            "BTC/USDT", limit=100, params={"since": trades[-1]["info"][-1]}
        )
        if not page:
            break
        trades.extend(page)
    expected = truth(server, "trades", "BTC/USDT")
    got = [(t["id"], t["timestamp"], Decimal(str(t["price"])), t["side"]) for t in trades]
    assert got[: len(expected)] == [
        (row["trade_id"], int(row["time_ms"]), Decimal(row["price"]), row["side"])
        for row in expected
    ]
    assert len(trades) > 100


async def test_admin_ground_truth_endpoint_serves_the_same_rows(
    kraken_replay: ReplayServer,
) -> None:
    async with aiohttp.ClientSession() as session:
        url = (
            f"{kraken_replay.http_url}/admin/ground-truth?kind=trades&symbol=BTC/USDT&format=jsonl"
        )
        async with session.get(url) as response:
            lines = (await response.text()).splitlines()
        async with session.get(f"{kraken_replay.http_url}/admin/state") as response:
            state = await response.json()
    assert len(lines) == next(
        m["trades_served"] for m in state["markets"] if m["symbol"] == "BTC/USDT"
    )
    assert lines[0].startswith(
        '{"exchange": "kraken", "symbol": "BTC/USDT", "trade_id": "10218208"'
    )
