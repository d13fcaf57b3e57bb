"""The built-in BitMEX backend against the replay's BitMEX: its /realtime streams deliver every
trade, in order and unchanged, and each 1m bin keyed by the minute it opens with BitMEX's own
values; a symbol BitMEX does not list is refused as unavailable, not retried."""

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from ohlcv_collector.backends.bitmex.market import BitmexMarket
from ohlcv_collector.backends.bitmex.wire import ms_of
from ohlcv_collector.ports import SymbolUnavailableError
from tests.replay_exchange import ground_truth
from tests.replay_exchange.fixtures import StartServer
from tests.replay_exchange.server import ReplayServer

SYMBOL = "BTC/USD:BTC"
Row = TypeVar("Row")


def truth(server: ReplayServer, kind: str) -> list[Any]:
    exchange = server.exchange
    return ground_truth.rows(
        exchange="bitmex",
        kind=kind,
        market=exchange.markets[SYMBOL],
        horizon_ns=exchange.moment().now_ns,
    )


async def take(stream: AsyncIterator[list[Row]], *, at_least: int) -> list[Row]:
    rows: list[Row] = []
    async for batch in stream:
        rows.extend(batch)
        if len(rows) >= at_least:
            return rows
    return rows


async def test_streams_deliver_every_trade_and_each_bin_equal_to_ground_truth(
    replay_server_factory: StartServer,
) -> None:
    server = await replay_server_factory(
        exchange="bitmex", speed=5, start_ms=ms_of("2020-04-11T15:00:00Z")
    )
    market = BitmexMarket(urls=server.ccxt_urls(), pace=False)
    try:
        trades, candles = await asyncio.wait_for(
            asyncio.gather(
                take(market.trades(symbol=SYMBOL), at_least=100),
                take(market.candles(symbol=SYMBOL), at_least=3),
            ),
            timeout=60,
        )
    finally:
        await market.close()
    served = truth(server, "trades")
    ids = [r["trade_id"] for r in served]
    first = ids.index(trades[0].trade_id)  # the partial: the newest trade at subscription
    assert [t.trade_id for t in trades] == ids[first : first + len(trades)]
    by_id = {r["trade_id"]: r for r in served}
    for trade in trades:
        row = by_id[trade.trade_id]
        assert (trade.time, trade.price, trade.amount, trade.side.value) == (
            int(row["time_ms"]), Decimal(row["price"]), Decimal(row["amount"]), row["side"]
        )  # fmt: skip
    bins = {int(r["open_time_ms"]): r for r in truth(server, "candles_1m")}
    starts = [c.start for c in candles]
    assert starts == sorted(starts)
    assert starts[-1] - starts[0] == 60_000 * (len(candles) - 1)  # one bin a minute, none lost
    for candle in candles:
        row = bins[candle.start]
        assert (candle.open, candle.high, candle.low, candle.close, candle.volume) == tuple(
            Decimal(row[k]) for k in ("open", "high", "low", "close", "volume")
        )


async def test_a_symbol_bitmex_does_not_list_is_unavailable(
    replay_server_factory: StartServer,
) -> None:
    server = await replay_server_factory(exchange="bitmex")
    market = BitmexMarket(urls=server.ccxt_urls(), pace=False)
    try:
        assert set(await market.markets()) == {SYMBOL}
        with pytest.raises(SymbolUnavailableError, match="ETH/USD:BTC"):
            await market.fetch_trades(symbol="ETH/USD:BTC", since=0, limit=10)
        with pytest.raises(SymbolUnavailableError):
            await take(market.trades(symbol="ETH/USD:BTC"), at_least=1)
    finally:
        await market.close()
