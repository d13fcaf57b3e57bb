"""Kraken spot REST semantics over the default Kraken data, at fixed instants.

Covers the 720-candle OHLC window whatever `since` says, the in-progress row and `last`, Trades
paging with the nanosecond `last` cursor and its 1000 cap, pair naming, errors and delisting.
"""

from __future__ import annotations

import pytest

from tests.replay_exchange.exchange import ReplayConfig, ReplayExchange
from tests.replay_exchange.kraken import rest as kraken_rest
from tests.replay_exchange.markets import Moment
from tests.replay_exchange.models import MINUTE_MS as MINUTE

START_NS = 1_795_297_269_519_000_000


@pytest.fixture(scope="module")
def exchange() -> ReplayExchange:
    return ReplayExchange(config=ReplayConfig(exchange="kraken"), wall_start_ns=START_NS)


@pytest.fixture
def moment(exchange: ReplayExchange) -> Moment:
    return exchange.moment(wall_ns=START_NS)


def test_ohlc_serves_720_committed_candles_and_the_open_one_whatever_since_says(
    moment: Moment,
) -> None:
    market = moment.markets["BTC/USD"]  # one day of history, far more than 720 minutes
    body = kraken_rest.ohlc(
        params={"pair": "XBTUSD", "since": str(market.first_ms // 1000)}, moment=moment
    ).body
    rows = body["result"]["XXBTZUSD"]
    assert len(rows) == 721
    assert rows[-1][0] == moment.now_ms // MINUTE * 60  # in progress
    assert body["result"]["last"] == rows[-2][0]
    assert rows[0][0] * 1000 > market.first_ms  # the start of the history is silently missing


def test_since_filters_inside_the_window_but_keeps_the_open_candle(moment: Moment) -> None:
    now_minute_s = moment.now_ms // MINUTE * 60
    body = kraken_rest.ohlc(
        params={"pair": "XXBTZUSD", "since": str(now_minute_s - 180)}, moment=moment
    ).body
    assert [r[0] for r in body["result"]["XXBTZUSD"]] == [
        now_minute_s - 120,
        now_minute_s - 60,
        now_minute_s,
    ]
    future = kraken_rest.ohlc(
        params={"pair": "XXBTZUSD", "since": str(now_minute_s + 600)}, moment=moment
    ).body
    assert [r[0] for r in future["result"]["XXBTZUSD"]] == [now_minute_s]


def test_empty_minutes_are_served_as_kraken_writes_them(moment: Moment) -> None:
    rows = kraken_rest.ohlc(params={"pair": "XBTUSDC"}, moment=moment).body["result"]["XBTUSDC"]
    empty = next(r for r in rows if r[7] == 0)
    assert empty[1] == empty[2] == empty[3] == empty[4]
    assert (empty[5], empty[6]) == ("0.00", "0.00000000")


def test_trades_page_with_the_last_cursor_reaches_every_visible_trade_once(moment: Moment) -> None:
    market = moment.markets["BTC/USDT"]
    visible = market.visible_trades(now_ns=moment.now_ns)
    first_second = market.trades[0].time_ns // 10**9
    body = kraken_rest.trades(
        params={"pair": "XBTUSDT", "since": str(first_second), "count": "7"}, moment=moment
    ).body
    ids = [row[6] for row in body["result"]["XBTUSDT"]]
    while True:
        body = kraken_rest.trades(
            params={"pair": "XBTUSDT", "since": body["result"]["last"], "count": "7"}, moment=moment
        ).body
        page = body["result"]["XBTUSDT"]
        if not page:
            break
        ids.extend(row[6] for row in page)
    assert ids == [t.trade_id for t in market.trades[:visible]]
    assert visible > 7


def test_trades_without_since_are_the_newest_and_count_is_capped(moment: Moment) -> None:
    exchange_later = moment.now_ns + 10 * 3600 * 10**9
    later = Moment(now_ns=exchange_later, markets=moment.markets, delisted_at_ns={})
    body = kraken_rest.trades(params={"pair": "XBTUSDT", "count": "5000"}, moment=later).body
    rows = body["result"]["XBTUSDT"]
    assert len(rows) == 1000
    assert body["result"]["last"] == str(later.markets["BTC/USDT"].trades[-1].time_ns)
    assert rows[0][:2] == ["105433.60000", "0.00027625"]
    assert rows[0][3:6] == ["b", "l", ""]


def test_candle_only_pairs_have_no_trades(moment: Moment) -> None:
    body = kraken_rest.trades(params={"pair": "XBTUSD"}, moment=moment).body
    assert body["result"]["XXBTZUSD"] == []


def test_unknown_pairs_and_intervals_are_kraken_errors(moment: Moment) -> None:
    with pytest.raises(kraken_rest.KrakenError) as unknown:
        kraken_rest.ohlc(params={"pair": "DOGEUSD"}, moment=moment)
    assert unknown.value.reply().body == {"error": ["EQuery:Unknown asset pair"]}
    with pytest.raises(kraken_rest.KrakenError, match="Invalid arguments"):
        kraken_rest.ohlc(params={"pair": "XBTUSD", "interval": "5"}, moment=moment)


def test_markets_and_a_delisting(exchange: ReplayExchange) -> None:
    fresh = ReplayExchange(config=ReplayConfig(exchange="kraken"), wall_start_ns=START_NS)
    fresh.delist(symbol="BTC/USD", after_s=0, from_start=True)
    moment = fresh.moment(wall_ns=START_NS + 1)
    pairs = kraken_rest.asset_pairs(params={}, moment=moment).body["result"]
    assert sorted(pairs) == ["XBTUSDC", "XBTUSDT"]
    assert pairs["XBTUSDT"]["wsname"] == "XBT/USDT"
    assert pairs["XBTUSDT"]["status"] == "online"
    assets = kraken_rest.assets(params={}, moment=moment).body["result"]
    assert assets["XXBT"]["altname"] == "XBT"
    assert "ZUSD" in assets
    with pytest.raises(kraken_rest.KrakenError, match="Unknown asset pair"):
        kraken_rest.trades(params={"pair": "XBTUSD"}, moment=moment)
