"""Kraken spot WebSocket v2 public channels, sans I/O: `trade` and `ohlc` (interval 1).

On connect Kraken sends a status frame. A subscription is acknowledged per symbol and followed by
a snapshot: the 50 most recent trades, or the 10 most recent candles including the one in
progress (as in the recorded session). Then `update` frames: the trades of each matching instant,
and the candle of every minute that trades touched, as it stands after them. A minute without
trades gets no frame; a candle-only market sends each minute's recorded candle as the minute
starts, since nothing finer was recorded. `{"method":"ping"}` is answered with a pong, and an
idle connection gets a heartbeat every second. Kraken names pairs BTC/USD in v2 (ccxt's form);
an unknown or delisted pair is refused with "Currency pair not supported".
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from tests.replay_exchange.kraken import payloads
from tests.replay_exchange.markets import Moment
from tests.replay_exchange.models import Candle
from tests.replay_exchange.streams import FrameKind, Outgoing, current_minute, touched_candles

TRADE_SNAPSHOT = 50
OHLC_SNAPSHOT = 10
HEARTBEAT: dict[str, Any] = {"channel": "heartbeat"}


@dataclass(slots=True)
class _Cursor:
    """Next trade index of a subscription, and (ohlc) the minute it has reached."""

    trade_index: int
    minute: int


class KrakenStreams:
    """One v2 connection: subscriptions per channel and symbol."""

    def __init__(self, *, connection_id: int) -> None:
        self._connection_id = connection_id
        self._trades: dict[str, _Cursor] = {}
        self._ohlc: dict[str, _Cursor] = {}

    def on_connect(self, *, moment: Moment) -> list[Outgoing]:
        status = payloads.ws_status(connection_id=self._connection_id)
        return [Outgoing(status, FrameKind.CONTROL)]

    def on_message(self, *, message: Any, moment: Moment) -> list[Outgoing]:
        method = message.get("method") if isinstance(message, dict) else None
        req_id = message.get("req_id") if isinstance(message, dict) else None
        if method == "ping":
            return [_control(payloads.ws_pong(req_id=req_id, now_ns=moment.now_ns))]
        params = message.get("params") or {} if isinstance(message, dict) else {}
        channel, symbols = params.get("channel"), params.get("symbol") or []
        if method not in ("subscribe", "unsubscribe") or channel not in ("trade", "ohlc"):
            error = (
                "Malformed request"
                if method is None
                else f"Unsupported method or channel: {method} {channel}"
            )
            return [
                _control(
                    payloads.ws_error(
                        method=str(method), error=error, req_id=req_id, now_ns=moment.now_ns
                    )
                )
            ]
        if channel == "ohlc" and params.get("interval", 1) != 1:
            error = "Subscription ohlc interval not supported"
            return [
                _control(
                    payloads.ws_error(
                        method=method, error=error, req_id=req_id, now_ns=moment.now_ns
                    )
                )
            ]
        frames: list[Outgoing] = []
        for symbol in symbols:
            frames.extend(self._change(method, channel, str(symbol), req_id, moment))
        return frames

    def poll(self, *, moment: Moment) -> list[Outgoing]:
        frames: list[Outgoing] = []
        for symbol, cursor in self._trades.items():
            market = moment.markets[symbol]
            upto = market.visible_trades(now_ns=moment.horizon_ns(symbol))
            new, cursor.trade_index = market.trades[cursor.trade_index : upto], upto
            for _, instant in itertools.groupby(new, key=lambda t: t.time_ns // 1000):
                frame = payloads.ws_trades(kind="update", symbol=symbol, trades=list(instant))
                frames.append(Outgoing(frame, FrameKind.TRADE))
        for symbol, cursor in self._ohlc.items():
            if moment.is_listed(symbol):
                candles = touched_candles(
                    cursor=cursor, market=moment.markets[symbol], moment=moment
                )
                frames.extend(self._ohlc_frame("update", symbol, [c], moment) for c in candles)
        return frames

    def idle_frame(self) -> Outgoing | None:
        return Outgoing(HEARTBEAT, FrameKind.CONTROL) if self._trades or self._ohlc else None

    def _change(
        self, method: str, channel: str, symbol: str, req_id: int | None, moment: Moment
    ) -> list[Outgoing]:
        subscriptions = self._trades if channel == "trade" else self._ohlc
        market = moment.markets.get(symbol)
        if market is None or not moment.is_listed(symbol):
            error = f"Currency pair not supported {symbol}"
            return [
                _control(
                    payloads.ws_error(
                        method=method, error=error, req_id=req_id, now_ns=moment.now_ns
                    )
                )
            ]
        if method == "unsubscribe":
            subscriptions.pop(symbol, None)
            ack = payloads.ws_subscribed(
                channel=channel, symbol=symbol, req_id=req_id, now_ns=moment.now_ns
            )
            return [_control({**ack, "method": "unsubscribe"})]
        visible = market.visible_trades(now_ns=moment.now_ns)
        subscriptions[symbol] = _Cursor(trade_index=visible, minute=current_minute(moment))
        frames = [
            _control(
                payloads.ws_subscribed(
                    channel=channel, symbol=symbol, req_id=req_id, now_ns=moment.now_ns
                )
            )
        ]
        if channel == "trade" and visible:
            recent = market.trades[max(visible - TRADE_SNAPSHOT, 0) : visible]
            frames.append(
                Outgoing(payloads.ws_trades(kind="snapshot", symbol=symbol, trades=recent))
            )
        if channel == "ohlc":
            count = market.visible_candle_count(now_ns=moment.now_ns)
            window = market.candle_slice(
                now_ns=moment.now_ns, start=count - OHLC_SNAPSHOT, stop=count
            )
            if window:
                frames.append(self._ohlc_frame("snapshot", symbol, [c for c, _ in window], moment))
        return frames

    @staticmethod
    def _ohlc_frame(kind: str, symbol: str, candles: list[Candle], moment: Moment) -> Outgoing:
        frame = payloads.ws_ohlc(kind=kind, symbol=symbol, candles=candles, now_ns=moment.now_ns)
        return Outgoing(frame)


def _control(payload: dict[str, Any]) -> Outgoing:
    return Outgoing(payload, FrameKind.CONTROL)
