"""Hyperliquid on the replay, without a network: /info answers, limits, the /ws subscriptions.

The default market is BTC/USDC:USDC from real BTC candles recorded elsewhere (derived, see the
package docstring); trades come from the real Hyperliquid capture or from another exchange's
tape with Hyperliquid-style ids.
"""

from __future__ import annotations

import gzip
import itertools
import json
from decimal import Decimal
from typing import Any

import pytest

from tests.replay_exchange import ground_truth
from tests.replay_exchange.datasets import DataSpec, load_markets, shared_data_dir
from tests.replay_exchange.exchange import ReplayConfig, ReplayExchange
from tests.replay_exchange.hyperliquid import payloads, rest
from tests.replay_exchange.hyperliquid.streams import HyperliquidStreams
from tests.replay_exchange.markets import Moment
from tests.replay_exchange.ratelimits import HyperliquidWeights, RateLimitSettings
from tests.replay_exchange.streams import FrameKind

START_NS = 1_795_297_269_519_000_000
SECOND = 1_000_000_000
MINUTE_MS = 60_000
SYMBOL = "BTC/USDC:USDC"
DATA = shared_data_dir()
CAPTURE = DATA / "ws_frames/hftbacktest/hyperliquid_btcusd_20250126.gz"
TAPE = DataSpec(DATA / "trades/binance_spot_ws/btcusdt_20240808.gz", SYMBOL)


@pytest.fixture(scope="module")
def exchange() -> ReplayExchange:
    config = ReplayConfig(exchange="hyperliquid", history_ms=5 * 86_400_000)
    return ReplayExchange(config=config, wall_start_ns=START_NS)


@pytest.fixture
def moment(exchange: ReplayExchange) -> Moment:
    return exchange.moment(wall_ns=START_NS)


def snapshot(moment: Moment, start_ms: int, end_ms: int | None = None) -> list[dict[str, Any]]:
    request = {"coin": "BTC", "interval": "1m", "startTime": start_ms, "endTime": end_ms}
    body: list[dict[str, Any]] = rest.info(
        params={"type": "candleSnapshot", "req": request}, moment=moment
    ).body
    return body


def test_markets_are_the_recorded_entries_with_the_served_price(moment: Moment) -> None:
    meta, contexts = rest.info(params={"type": "metaAndAssetCtxs"}, moment=moment).body
    assert meta["universe"] == [
        {"szDecimals": 5, "name": "BTC", "maxLeverage": 40, "marginTableId": 56}
    ]
    close = moment.markets[SYMBOL].latest_close(now_ns=moment.now_ns)
    assert close is not None
    assert contexts[0]["markPx"] == payloads.text(close)
    assert contexts[0]["funding"] == "0.0000125"  # as recorded
    assert rest.info(params={"type": "perpDexs"}, moment=moment).body == [None]
    spot = rest.info(params={"type": "spotMeta"}, moment=moment).body
    assert spot["universe"] == []
    assert spot["tokens"][0]["name"] == "USDC"


def test_candle_snapshot_serves_only_the_newest_5000_candles(moment: Moment) -> None:
    market = moment.markets[SYMBOL]
    count = market.visible_candle_count(now_ns=moment.now_ns)
    assert count > rest.HISTORY_CANDLES  # five days of history were served, 7200 minutes
    rows = snapshot(moment, market.first_ms)
    oldest_servable = market.candles[count - rest.HISTORY_CANDLES].open_ms
    assert rows[0]["t"] >= oldest_servable
    assert snapshot(moment, market.first_ms, oldest_servable - MINUTE_MS) == []
    served = [c for c in market.candles[count - rest.HISTORY_CANDLES : count] if not c.is_empty]
    assert len(rows) == len(served)  # the newest row is the minute in progress
    assert [r["t"] for r in rows[:-1]] == [c.open_ms for c in served[:-1]]


def test_candle_snapshot_overlaps_the_range_and_omits_empty_minutes(moment: Moment) -> None:
    market = moment.markets[SYMBOL]
    closed = market.final_candles(now_ms=moment.now_ms)
    window = market.candles[closed - 600 : closed]
    rows = snapshot(moment, window[0].open_ms + 30_000, window[-1].open_ms + 59_999)
    assert rows[0]["t"] == window[0].open_ms  # contains startTime, so it opens before it
    assert [r["t"] for r in rows] == [c.open_ms for c in window if not c.is_empty]
    assert any(c.is_empty for c in window)  # the recording has quiet minutes, not served
    first = rows[0]
    assert first["T"] == first["t"] + MINUTE_MS - 1
    assert set(first) == {"t", "T", "s", "i", "o", "c", "h", "l", "v", "n"}


def test_unknown_requests_get_422_and_unknown_coins_nothing(moment: Moment) -> None:
    with pytest.raises(rest.HyperliquidError) as unknown:
        rest.info(params={"type": "candles"}, moment=moment)
    assert unknown.value.reply().status == 422
    assert snapshot_of_coin(moment, "DOGE") == []


def snapshot_of_coin(moment: Moment, coin: str) -> Any:
    request = {"coin": coin, "interval": "1m", "startTime": 0}
    return rest.info(params={"type": "candleSnapshot", "req": request}, moment=moment).body


def test_the_real_capture_is_served_exactly_as_recorded() -> None:
    market = load_markets((DataSpec(CAPTURE),))[SYMBOL]
    with gzip.open(CAPTURE, "rt") as lines:
        frames = [json.loads(line.split(" ", 1)[1]) for line in lines]
    recorded = {
        row["tid"]: row for f in frames if f.get("channel") == "trades" for row in f["data"]
    }
    assert len(market.trades) == len(recorded) == 64
    for trade in market.trades:
        served = payloads.trade_row(trade=trade, symbol=SYMBOL)
        assert served == {k: recorded[served["tid"]][k] for k in served}


def test_trades_from_another_tape_get_scattered_distinct_tids() -> None:
    exchange = ReplayExchange(
        config=ReplayConfig(exchange="hyperliquid", data=(TAPE,)), wall_start_ns=START_NS
    )
    moment = exchange.moment(wall_ns=START_NS)
    recent = rest.info(params={"type": "recentTrades", "coin": "BTC"}, moment=moment).body
    tids = [row["tid"] for row in recent]
    assert len(recent) == rest.RECENT_TRADES
    assert len(set(tids)) == len(tids)
    assert all(abs(b - a) != 1 for a, b in itertools.pairwise(tids))
    market = moment.markets[SYMBOL]
    truth = ground_truth.rows(
        exchange="hyperliquid",
        kind="trades",
        market=market,
        horizon_ns=moment.now_ns,
        trade_id=exchange.venue.published_trade_id,
    )
    assert [int(row["trade_id"]) for row in truth[-len(tids) :]] == tids


def test_ws_trades_snapshot_then_every_trade_once() -> None:
    exchange = ReplayExchange(
        config=ReplayConfig(exchange="hyperliquid", data=(TAPE,)), wall_start_ns=START_NS
    )
    streams = HyperliquidStreams()
    start = exchange.moment(wall_ns=START_NS)
    request = {"method": "subscribe", "subscription": {"type": "trades", "coin": "BTC"}}
    ack, snapshot_frame = streams.on_message(message=request, moment=start)
    assert ack.payload == {"channel": "subscriptionResponse", "data": request}
    assert len(snapshot_frame.payload["data"]) == rest.RECENT_TRADES
    sent = []
    for step in range(1, 61):
        sent.extend(streams.poll(moment=exchange.moment(wall_ns=START_NS + step * SECOND)))
    later = exchange.moment(wall_ns=START_NS + 60 * SECOND)
    market = later.markets[SYMBOL]
    first = market.visible_trades(now_ns=start.now_ns)
    expected = market.trades[first : market.visible_trades(now_ns=later.now_ns)]
    assert [r["tid"] for f in sent for r in f.payload["data"]] == [
        payloads.tid(t) for t in expected
    ]
    assert all(f.kind is FrameKind.TRADE for f in sent)
    assert all(len({r["time"] for r in f.payload["data"]}) == 1 for f in sent)


def test_ws_candle_updates_end_with_the_final_candle(exchange: ReplayExchange) -> None:
    streams = HyperliquidStreams()
    start = exchange.moment(wall_ns=START_NS)
    request = {
        "method": "subscribe",
        "subscription": {"type": "candle", "coin": "BTC", "interval": "1m"},
    }
    streams.on_message(message=request, moment=start)
    sent = []
    for step in range(1, 301):
        sent.extend(streams.poll(moment=exchange.moment(wall_ns=START_NS + step * SECOND)))
    later = exchange.moment(wall_ns=START_NS + 300 * SECOND)
    market = later.markets[SYMBOL]
    final = {c.open_ms: c for c in market.candles[: market.final_candles(now_ms=later.now_ms)]}
    last_by_minute = {f.payload["data"]["t"]: f.payload["data"] for f in sent}
    for open_ms, row in last_by_minute.items():
        if open_ms in final:
            assert row["c"] == payloads.text(final[open_ms].close)
    assert all(not final[t].is_empty for t in last_by_minute if t in final)
    assert [f.payload for f in streams.on_message(message={"method": "ping"}, moment=later)] == [
        {"channel": "pong"}
    ]


def test_weight_limit_counts_candles_returned() -> None:
    weights = HyperliquidWeights(settings=RateLimitSettings())
    assert all(weights.charge(ip="a", weight=20, now_s=10.0) is None for _ in range(55))
    weights.add(ip="a", weight=5000 // 60, now_s=10.0)  # 1100 + 83 of 1200 spent
    refused = weights.charge(ip="a", weight=20, now_s=11.0)
    assert refused is not None
    assert refused.status == 429
    assert weights.charge(ip="a", weight=2, now_s=11.0) is None
    assert weights.charge(ip="a", weight=20, now_s=71.0) is None  # a minute later


def test_spot_pairs_are_listed_in_spot_meta_and_served_by_their_pair_name() -> None:
    candles = DATA / "candles_1m/binanceus_BTCUSD_1m_20230301_20230321.csv"
    exchange = ReplayExchange(
        config=ReplayConfig(exchange="hyperliquid", data=(DataSpec(candles, "ETH/USDC"),)),
        wall_start_ns=START_NS,
    )
    moment = exchange.moment(wall_ns=START_NS)
    spot, contexts = rest.info(params={"type": "spotMetaAndAssetCtxs"}, moment=moment).body
    assert spot["universe"] == [
        {"tokens": [1, 0], "name": "ETH/USDC", "index": 0, "isCanonical": True}
    ]
    assert [t["name"] for t in spot["tokens"]] == ["USDC", "ETH"]
    assert contexts[0]["midPx"] == payloads.text(
        moment.markets["ETH/USDC"].latest_close(now_ns=moment.now_ns) or Decimal(0)
    )
    assert rest.info(params={"type": "meta"}, moment=moment).body["universe"] == []
    assert snapshot_of_coin(moment, "ETH/USDC")[-1]["s"] == "ETH/USDC"
