"""BitMEX /realtime, sans I/O: the `trade` and `tradeBin1m` tables.

As in the recorded session (ws_frames/cryptofeed/BITMEX.ws.1.0): a welcome frame on connect;
`{"op": "subscribe", "args": ["trade:XBTUSD", ...]}` is acknowledged per topic with
`{"success": true, "subscribe": topic, "request": ...}`, followed by a `partial` (the table's
keys, types and the most recent row) and then `insert` frames: the trades of each instant as they
happen, and each 1m bin when its minute is over (labelled by its end, as /trade/bucketed). An
unknown table or symbol is refused with `{"status": 400, "error": ...}`. BitMEX sends no
heartbeat: clients send the text "ping" and get "pong". A delisted market falls silent.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from tests.replay_exchange.bitmex import payloads, rest
from tests.replay_exchange.markets import Market, Moment
from tests.replay_exchange.streams import FrameKind, Outgoing, closed_candles, current_minute

TABLES = ("trade", "tradeBin1m")
WELCOME_VERSION = "2021-07-14T01:26:29.000Z"  # as in the recorded session
_TYPES = {
    "trade": {
        "timestamp": "timestamp", "symbol": "symbol", "side": "symbol", "size": "long",
        "price": "float", "tickDirection": "symbol", "trdMatchID": "guid", "grossValue": "long",
        "homeNotional": "float", "foreignNotional": "float", "trdType": "symbol",
    },
    "tradeBin1m": {
        "timestamp": "timestamp", "symbol": "symbol", "open": "float", "high": "float",
        "low": "float", "close": "float", "trades": "long", "volume": "long", "vwap": "float",
        "lastSize": "long", "turnover": "long", "homeNotional": "float",
        "foreignNotional": "float",
    },
}  # fmt: skip


@dataclass(slots=True)
class _Cursor:
    symbol: str
    table: str
    trade_index: int
    minute: int


class BitmexStreams:
    """One /realtime connection: its topics and how far each has been sent."""

    def __init__(self) -> None:
        self._topics: dict[str, _Cursor] = {}

    def on_connect(self, *, moment: Moment) -> list[Outgoing]:
        welcome = {
            "info": "Welcome to the BitMEX Realtime API.",
            "version": WELCOME_VERSION,
            "timestamp": payloads.iso(moment.now_ms),
            "docs": "https://www.bitmex.com/app/wsAPI",
            "limit": {"remaining": 39},
        }
        return [Outgoing(welcome, FrameKind.CONTROL)]

    def on_message(self, *, message: Any, moment: Moment) -> list[Outgoing]:
        if message == "ping":
            return [Outgoing("pong", FrameKind.CONTROL)]
        op = message.get("op") if isinstance(message, dict) else None
        args = message.get("args") if isinstance(message, dict) else None
        if op not in ("subscribe", "unsubscribe") or not isinstance(args, list):
            return [_refusal("Unknown or missing op", message)]
        frames: list[Outgoing] = []
        for topic in map(str, args):
            frames.extend(self._change(op, topic, message, moment))
        return frames

    def poll(self, *, moment: Moment) -> list[Outgoing]:
        frames: list[Outgoing] = []
        for cursor in self._topics.values():
            market = moment.markets[cursor.symbol]
            if moment.is_listed(cursor.symbol):
                frames.extend(self._inserts(cursor, market, moment))
        return frames

    def idle_frame(self) -> Outgoing | None:
        return None

    def _change(self, op: str, topic: str, request: Any, moment: Moment) -> list[Outgoing]:
        table, _, market_id = topic.partition(":")
        if table not in TABLES:
            return [_refusal(f"Unknown table: {table}", request)]
        symbol = next(
            (
                s
                for s in moment.markets
                if payloads.market_id(s) == market_id and moment.is_listed(s)
            ),
            None,
        )
        if symbol is None:
            return [_refusal(f"Unknown or expired symbol: {market_id}", request)]
        ack = Outgoing({"success": True, op: topic, "request": request}, FrameKind.CONTROL)
        if op == "unsubscribe":
            self._topics.pop(topic, None)
            return [ack]
        market = moment.markets[symbol]
        visible = market.visible_trades(now_ns=moment.now_ns)
        self._topics[topic] = _Cursor(symbol, table, visible, current_minute(moment))
        return [ack, Outgoing(self._partial(table, symbol, market, moment))]

    def _partial(self, table: str, symbol: str, market: Market, moment: Moment) -> dict[str, Any]:
        if table == "trade":
            visible = market.visible_trades(now_ns=moment.now_ns)
            data = [
                payloads.trade_row(
                    trade=market.trades[visible - 1],
                    symbol=symbol,
                    previous=market.trades[max(0, visible - 51) : visible - 1],
                )
            ] if visible else []  # fmt: skip
        else:
            closed = market.final_candles(now_ms=moment.now_ms)
            data = [self._bin(market.candles[closed - 1], symbol, market, moment)] if closed else []
        return {
            "table": table,
            "action": "partial",
            "keys": [],
            "types": _TYPES[table],
            "foreignKeys": {"symbol": "instrument", "side": "side"} if table == "trade" else {},
            "attributes": {"timestamp": "sorted", "symbol": "grouped"},
            "filter": {"symbol": payloads.market_id(symbol)},
            "data": data,
        }

    def _inserts(self, cursor: _Cursor, market: Market, moment: Moment) -> list[Outgoing]:
        if cursor.table == "trade":
            upto = market.visible_trades(now_ns=moment.now_ns)
            first, cursor.trade_index = cursor.trade_index, upto
            frames = []
            indexes = range(first, upto)
            for _, instant in itertools.groupby(indexes, key=lambda i: market.trades[i].time_ms):
                rows = [
                    payloads.trade_row(
                        trade=market.trades[i],
                        symbol=cursor.symbol,
                        previous=market.trades[max(0, i - 50) : i],
                    )
                    for i in instant
                ]
                frames.append(
                    Outgoing({"table": "trade", "action": "insert", "data": rows}, FrameKind.TRADE)
                )
            return frames
        minute = current_minute(moment)
        ended = closed_candles(market=market, from_minute=cursor.minute, to_minute=minute)
        cursor.minute = minute
        return [
            Outgoing(
                {
                    "table": "tradeBin1m",
                    "action": "insert",
                    "data": [self._bin(candle, cursor.symbol, market, moment)],
                }
            )
            for candle in ended
        ]

    @staticmethod
    def _bin(candle: Any, symbol: str, market: Market, moment: Moment) -> dict[str, Any]:
        trades = rest.minute_trades(market, candle.open_ms, moment.now_ns)
        return payloads.bin_row(candle=candle, symbol=symbol, trades=trades)


def _refusal(error: str, request: Any) -> Outgoing:
    return Outgoing(
        {"status": 400, "error": error, "meta": {}, "request": request}, FrameKind.CONTROL
    )
