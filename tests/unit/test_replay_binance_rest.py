"""Binance spot REST semantics over the default Binance data, at fixed instants.

Covers klines (limit cap, startTime/endTime, in-progress last row, nothing past the clock, the
1m-only interval), aggTrades (fromId, one-hour windows), trades and historicalTrades, errors and
delisting, and exchangeInfo.
"""

from __future__ import annotations

import pytest

from tests.replay_exchange.binance import rest as binance_rest
from tests.replay_exchange.exchange import ReplayConfig, ReplayExchange
from tests.replay_exchange.markets import Moment
from tests.replay_exchange.models import MINUTE_MS as MINUTE

START_NS = 1_795_297_269_519_000_000  # wall start; the exchange clock starts here too


@pytest.fixture(scope="module")
def exchange() -> ReplayExchange:
    return ReplayExchange(config=ReplayConfig(exchange="binance"), wall_start_ns=START_NS)


@pytest.fixture
def moment(exchange: ReplayExchange) -> Moment:
    return exchange.moment(wall_ns=START_NS)


def test_klines_without_times_are_the_newest_ending_with_the_open_minute(moment: Moment) -> None:
    rows = binance_rest.klines(
        params={"symbol": "BTCUSD", "interval": "1m", "limit": "3"}, moment=moment
    ).body
    assert [r[0] for r in rows] == [(moment.now_ms // MINUTE - k) * MINUTE for k in (2, 1, 0)]
    assert rows[-1][6] == rows[-1][0] + MINUTE - 1
    assert all(r[0] <= moment.now_ms for r in rows)


def test_klines_are_capped_at_1000_and_page_forward_from_start_time(moment: Moment) -> None:
    market = moment.markets["BTC/USD"]
    first = binance_rest.klines(
        params={
            "symbol": "BTCUSD",
            "interval": "1m",
            "limit": "5000",
            "startTime": str(market.first_ms),
        },
        moment=moment,
    ).body
    assert len(first) == 1000
    assert first[0][0] == market.first_ms
    following = binance_rest.klines(
        params={"symbol": "BTCUSD", "interval": "1m", "startTime": str(first[-1][0] + MINUTE)},
        moment=moment,
    ).body
    assert following[0][0] == first[-1][0] + MINUTE
    assert len(following) == 441
    assert following[-1][0] == moment.now_ms // MINUTE * MINUTE


def test_klines_with_only_end_time_are_the_newest_up_to_it(moment: Moment) -> None:
    market = moment.markets["BTC/USD"]
    end = market.first_ms + 10 * MINUTE + 5
    rows = binance_rest.klines(
        params={"symbol": "BTCUSD", "interval": "1m", "endTime": str(end), "limit": "2"},
        moment=moment,
    ).body
    assert [r[0] for r in rows] == [market.first_ms + 9 * MINUTE, market.first_ms + 10 * MINUTE]


def test_klines_errors_are_binance_errors(moment: Moment) -> None:
    with pytest.raises(binance_rest.BinanceError) as unknown:
        binance_rest.klines(params={"symbol": "DOGEUSDT", "interval": "1m"}, moment=moment)
    assert unknown.value.reply().status == 400
    assert unknown.value.reply().body == {"code": -1121, "msg": "Invalid symbol."}
    with pytest.raises(binance_rest.BinanceError, match="Invalid interval"):
        binance_rest.klines(params={"symbol": "BTCUSD", "interval": "5m"}, moment=moment)


def test_agg_trades_page_by_from_id_without_gaps_up_to_the_clock(moment: Moment) -> None:
    market = moment.markets["BTC/USDT"]
    collected, from_id = [], 1
    while True:
        page = binance_rest.agg_trades(
            params={"symbol": "BTCUSDT", "fromId": str(from_id), "limit": "1000"}, moment=moment
        ).body
        if not page:
            break
        collected.extend(page)
        from_id = page[-1]["a"] + 1
    assert [row["a"] for row in collected] == list(
        range(1, market.visible_agg_trades(now_ns=moment.now_ns) + 1)
    )
    assert collected[-1]["T"] <= moment.now_ms


def test_agg_trades_accept_exactly_one_hour_and_refuse_more(moment: Moment) -> None:
    start = moment.markets["BTC/USDT"].first_ms
    one_hour = {"symbol": "BTCUSDT", "startTime": str(start), "endTime": str(start + 3_600_000)}
    assert binance_rest.agg_trades(params=one_hour, moment=moment).body[0]["T"] >= start
    with pytest.raises(binance_rest.BinanceError, match="More than 1 hours"):
        binance_rest.agg_trades(
            params={**one_hour, "endTime": str(start + 3_600_001)}, moment=moment
        )


def test_candle_only_markets_have_no_trades(moment: Moment) -> None:
    assert binance_rest.agg_trades(params={"symbol": "BTCUSD"}, moment=moment).body == []
    assert binance_rest.recent_trades(params={"symbol": "BTCUSD"}, moment=moment).body == []


def test_historical_trades_page_by_trade_id(moment: Moment) -> None:
    market = moment.markets["BTC/USDT"]
    first_id = market.trades[0].trade_id
    page = binance_rest.historical_trades(
        params={"symbol": "BTCUSDT", "fromId": str(first_id + 10), "limit": "3"}, moment=moment
    ).body
    assert [row["id"] for row in page] == [first_id + 10, first_id + 11, first_id + 12]
    recent = binance_rest.recent_trades(
        params={"symbol": "BTCUSDT", "limit": "2"}, moment=moment
    ).body
    last_visible = market.trades[market.visible_trades(now_ns=moment.now_ns) - 1]
    assert recent[-1]["id"] == last_visible.trade_id
    assert recent[-1]["isBuyerMaker"] is (last_visible.side == "sell")


def test_the_clock_moves_what_is_visible(exchange: ReplayExchange) -> None:
    early, later = (
        exchange.moment(wall_ns=START_NS),
        exchange.moment(wall_ns=START_NS + 120 * 10**9),
    )
    params = {"symbol": "BTCUSDT", "limit": "1"}
    assert (
        binance_rest.recent_trades(params=params, moment=later).body[0]["time"]
        > binance_rest.recent_trades(params=params, moment=early).body[0]["time"]
    )
    assert binance_rest.server_time(params={}, moment=later).body == {"serverTime": later.now_ms}


def test_a_delisted_symbol_is_break_and_invalid() -> None:
    exchange = ReplayExchange(config=ReplayConfig(exchange="binance"), wall_start_ns=START_NS)
    exchange.delist(symbol="BTC/USDC", after_s=60, from_start=True)
    before, after = (
        exchange.moment(wall_ns=START_NS),
        exchange.moment(wall_ns=START_NS + 61 * 10**9),
    )
    statuses = {
        s["symbol"]: s["status"]
        for s in binance_rest.exchange_info(params={}, moment=after).body["symbols"]
    }
    assert statuses == {"BTCUSD": "TRADING", "BTCUSDC": "BREAK", "BTCUSDT": "TRADING"}
    assert binance_rest.klines(params={"symbol": "BTCUSDC", "interval": "1m"}, moment=before).body
    with pytest.raises(binance_rest.BinanceError, match="Invalid symbol"):
        binance_rest.klines(params={"symbol": "BTCUSDC", "interval": "1m"}, moment=after)
