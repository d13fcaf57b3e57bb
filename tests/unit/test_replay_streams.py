"""The sans-I/O stream cores: what each exchange sends for subscriptions as time passes.

Binance: SUBSCRIBE acks, every trade once and in order across polls, kline pushes with a closing
frame (x=true) for each minute passed, combined-stream wrapping, silence after a delisting.
Kraken v2: status, acks, snapshots, trade and ohlc updates, pong, refusal of unknown pairs,
heartbeat only once subscribed.
"""

from __future__ import annotations

from typing import Any

from tests.replay_exchange.binance.streams import BinanceStreams
from tests.replay_exchange.exchange import ReplayConfig, ReplayExchange
from tests.replay_exchange.kraken.streams import KrakenStreams
from tests.replay_exchange.streams import FrameKind, Outgoing

START_NS = 1_795_297_269_519_000_000
SECOND = 1_000_000_000


def payloads(frames: list[Outgoing]) -> list[Any]:
    return [frame.payload for frame in frames]


def test_binance_trade_stream_sends_every_trade_once_in_order() -> None:
    exchange = ReplayExchange(config=ReplayConfig(exchange="binance"), wall_start_ns=START_NS)
    streams = BinanceStreams()
    ack = streams.on_message(
        message={"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1},
        moment=exchange.moment(wall_ns=START_NS),
    )
    assert payloads(ack) == [{"result": None, "id": 1}]
    assert ack[0].kind is FrameKind.CONTROL
    sent = []
    for step in range(1, 31):
        sent.extend(streams.poll(moment=exchange.moment(wall_ns=START_NS + step * SECOND)))
    ids = [frame.payload["t"] for frame in sent]
    market = exchange.markets["BTC/USDT"]
    first = market.visible_trades(now_ns=START_NS)
    assert ids == [
        t.trade_id
        for t in market.trades[first : market.visible_trades(now_ns=START_NS + 30 * SECOND)]
    ]
    assert all(frame.kind is FrameKind.TRADE and frame.payload["e"] == "trade" for frame in sent)


def test_binance_klines_push_while_open_and_close_each_minute_passed() -> None:
    exchange = ReplayExchange(config=ReplayConfig(exchange="binance"), wall_start_ns=START_NS)
    streams = BinanceStreams(combined_streams=("btcusd@kline_1m",))
    streams.on_connect(moment=exchange.moment(wall_ns=START_NS))
    first = payloads(streams.poll(moment=exchange.moment(wall_ns=START_NS + SECOND)))
    assert [(f["stream"], f["data"]["k"]["x"]) for f in first] == [("btcusd@kline_1m", False)]
    assert (
        streams.poll(moment=exchange.moment(wall_ns=START_NS + SECOND + SECOND // 2)) == []
    )  # < 2 s later
    later = payloads(streams.poll(moment=exchange.moment(wall_ns=START_NS + 181 * SECOND)))
    closes = [f["data"]["k"] for f in later if f["data"]["k"]["x"]]
    assert len(closes) == 3
    assert [k["t"] for k in closes] == [first[0]["data"]["k"]["t"] + n * 60_000 for n in range(3)]
    assert later[-1]["data"]["k"]["x"] is False


def test_binance_streams_fall_silent_for_a_delisted_market() -> None:
    exchange = ReplayExchange(config=ReplayConfig(exchange="binance"), wall_start_ns=START_NS)
    streams = BinanceStreams()
    streams.on_message(
        message={"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade"], "id": 3},
        moment=exchange.moment(wall_ns=START_NS),
    )
    assert streams.poll(moment=exchange.moment(wall_ns=START_NS + 5 * SECOND))
    exchange.delist(symbol="BTC/USDT", after_s=6, from_start=True)
    assert streams.poll(moment=exchange.moment(wall_ns=START_NS + 20 * SECOND)) == []


def test_kraken_subscription_gets_ack_then_snapshot_then_updates() -> None:
    exchange = ReplayExchange(config=ReplayConfig(exchange="kraken"), wall_start_ns=START_NS)
    streams = KrakenStreams(connection_id=7)
    status = payloads(streams.on_connect(moment=exchange.moment(wall_ns=START_NS)))
    assert status[0]["channel"] == "status"
    assert status[0]["data"][0]["connection_id"] == 7
    assert streams.idle_frame() is None
    subscribe = {
        "method": "subscribe",
        "params": {"channel": "trade", "symbol": ["BTC/USDT"]},
        "req_id": 4,
    }
    ack, snapshot = payloads(
        streams.on_message(message=subscribe, moment=exchange.moment(wall_ns=START_NS))
    )
    assert (ack["success"], ack["req_id"], ack["result"]["symbol"]) == (True, 4, "BTC/USDT")
    market = exchange.markets["BTC/USDT"]
    visible = market.visible_trades(now_ns=START_NS)
    assert [t["trade_id"] for t in snapshot["data"]] == [
        t.trade_id for t in market.trades[visible - 50 : visible]
    ]
    updates = payloads(streams.poll(moment=exchange.moment(wall_ns=START_NS + 3600 * SECOND)))
    ids = [t["trade_id"] for frame in updates for t in frame["data"]]
    assert ids == [
        t.trade_id
        for t in market.trades[visible : market.visible_trades(now_ns=START_NS + 3600 * SECOND)]
    ]
    assert {frame["type"] for frame in updates} == {"update"}
    assert streams.idle_frame() is not None


def test_kraken_ohlc_snapshot_is_ten_candles_and_updates_follow_trades() -> None:
    exchange = ReplayExchange(config=ReplayConfig(exchange="kraken"), wall_start_ns=START_NS)
    streams = KrakenStreams(connection_id=1)
    subscribe = {
        "method": "subscribe",
        "params": {"channel": "ohlc", "symbol": ["BTC/USD"], "interval": 1},
        "req_id": 2,
    }
    ack, snapshot = payloads(
        streams.on_message(message=subscribe, moment=exchange.moment(wall_ns=START_NS))
    )
    assert ack["result"]["interval"] == 1
    assert len(snapshot["data"]) == 10
    assert snapshot["data"][-1]["interval_begin"].endswith(":00.000000000Z")
    updates = payloads(streams.poll(moment=exchange.moment(wall_ns=START_NS + 120 * SECOND)))
    assert updates
    assert all(frame["channel"] == "ohlc" and frame["type"] == "update" for frame in updates)


def test_kraken_answers_pings_and_refuses_unknown_pairs() -> None:
    exchange = ReplayExchange(config=ReplayConfig(exchange="kraken"), wall_start_ns=START_NS)
    streams = KrakenStreams(connection_id=1)
    moment = exchange.moment(wall_ns=START_NS)
    (pong,) = payloads(streams.on_message(message={"method": "ping", "req_id": 9}, moment=moment))
    assert (pong["method"], pong["req_id"]) == ("pong", 9)
    refused = {
        "method": "subscribe",
        "params": {"channel": "trade", "symbol": ["DOGE/USD"]},
        "req_id": 5,
    }
    (error,) = payloads(streams.on_message(message=refused, moment=moment))
    assert error["success"] is False
    assert error["error"] == "Currency pair not supported DOGE/USD"


def test_kraken_candle_only_pairs_send_no_trade_snapshot() -> None:
    exchange = ReplayExchange(config=ReplayConfig(exchange="kraken"), wall_start_ns=START_NS)
    streams = KrakenStreams(connection_id=1)
    subscribe = {
        "method": "subscribe",
        "params": {"channel": "trade", "symbol": ["BTC/USD"]},
        "req_id": 1,
    }
    frames = payloads(
        streams.on_message(message=subscribe, moment=exchange.moment(wall_ns=START_NS))
    )
    assert [frame.get("method") for frame in frames] == ["subscribe"]
    assert streams.poll(moment=exchange.moment(wall_ns=START_NS + 600 * SECOND)) == []
