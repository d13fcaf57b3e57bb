"""Hyperliquid /ws, sans I/O: the `trades` and `candle` (1m) subscriptions.

`{"method": "subscribe", "subscription": {"type": "trades", "coin": "BTC"}}` is acknowledged
with `{"channel": "subscriptionResponse", "data": <the request>}`; a trades subscription then
gets a snapshot of recent trades (as the recorded session's first frame: RECENT_TRADES), and
every new trade after that, in frames of one instant each. A candle subscription gets the
candle in progress each time trades change it (Hyperliquid sends no separate close; a minute's
last update is its final candle) and, for a candle-only recording, each minute's candle as the
minute starts; minutes without trades send nothing. `{"method": "ping"}` gets
`{"channel": "pong"}`; Hyperliquid sends no heartbeat of its own. An unknown coin or type gets
`{"channel": "error", "data": ...}`. A delisted market falls silent.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from tests.replay_exchange.hyperliquid import payloads
from tests.replay_exchange.hyperliquid.rest import RECENT_TRADES
from tests.replay_exchange.markets import Market, Moment
from tests.replay_exchange.models import Candle
from tests.replay_exchange.streams import FrameKind, Outgoing, current_minute, touched_candles


@dataclass(slots=True)
class _Cursor:
    symbol: str
    channel: str  # "trades" or "candle"
    trade_index: int
    minute: int


class HyperliquidStreams:
    """One /ws connection: subscriptions keyed by (type, coin)."""

    def __init__(self) -> None:
        self._subscriptions: dict[tuple[str, str], _Cursor] = {}

    def on_connect(self, *, moment: Moment) -> list[Outgoing]:
        return []

    def on_message(self, *, message: Any, moment: Moment) -> list[Outgoing]:
        method = message.get("method") if isinstance(message, dict) else None
        if method == "ping":
            return [Outgoing({"channel": "pong"}, FrameKind.CONTROL)]
        subscription = message.get("subscription") if isinstance(message, dict) else None
        if method not in ("subscribe", "unsubscribe") or not isinstance(subscription, dict):
            return [_error(f"Invalid request: {message}")]
        kind, coin = subscription.get("type"), str(subscription.get("coin"))
        symbol = next(
            (s for s in moment.markets if payloads.coin(s) == coin and moment.is_listed(s)), None
        )
        if kind not in ("trades", "candle") or symbol is None:
            return [_error(f"Invalid subscription {subscription}")]
        if kind == "candle" and subscription.get("interval") != "1m":
            return [_error(f"Only the 1m candle interval is replayed: {subscription}")]
        ack = Outgoing({"channel": "subscriptionResponse", "data": message}, FrameKind.CONTROL)
        if method == "unsubscribe":
            self._subscriptions.pop((kind, coin), None)
            return [ack]
        market = moment.markets[symbol]
        visible = market.visible_trades(now_ns=moment.now_ns)
        self._subscriptions[(kind, coin)] = _Cursor(symbol, kind, visible, current_minute(moment))
        if kind == "trades":
            recent = market.trades[max(visible - RECENT_TRADES, 0) : visible]
            return [ack, *([self._trades(symbol, recent)] if recent else [])]
        in_progress = market.in_progress(now_ns=moment.now_ns)
        if in_progress is None or in_progress.is_empty:
            return [ack]
        return [ack, self._candle(symbol, in_progress)]

    def poll(self, *, moment: Moment) -> list[Outgoing]:
        frames: list[Outgoing] = []
        for cursor in self._subscriptions.values():
            if not moment.is_listed(cursor.symbol):
                continue
            market = moment.markets[cursor.symbol]
            if cursor.channel == "trades":
                frames.extend(self._new_trades(cursor, market, moment))
            else:
                updates = touched_candles(cursor=cursor, market=market, moment=moment)
                frames.extend(self._candle(cursor.symbol, c) for c in updates)
        return frames

    def idle_frame(self) -> Outgoing | None:
        return None

    def _new_trades(self, cursor: _Cursor, market: Market, moment: Moment) -> list[Outgoing]:
        upto = market.visible_trades(now_ns=moment.now_ns)
        new, cursor.trade_index = market.trades[cursor.trade_index : upto], upto
        return [
            self._trades(cursor.symbol, list(instant))
            for _, instant in itertools.groupby(new, key=lambda t: t.time_ms)
        ]

    @staticmethod
    def _trades(symbol: str, trades: Any) -> Outgoing:
        rows = [payloads.trade_row(trade=t, symbol=symbol) for t in trades]
        return Outgoing({"channel": "trades", "data": rows}, FrameKind.TRADE)

    @staticmethod
    def _candle(symbol: str, candle: Candle) -> Outgoing:
        return Outgoing(
            {"channel": "candle", "data": payloads.candle_row(candle=candle, symbol=symbol)}
        )


def _error(text: str) -> Outgoing:
    return Outgoing({"channel": "error", "data": text}, FrameKind.CONTROL)
