"""Binance spot market streams, sans I/O: `<symbol>@trade`, `@aggTrade` and `@kline_1m`.

Raw streams (`/ws`, and `/ws/<n>` as ccxt opens them) take `SUBSCRIBE`/`UNSUBSCRIBE` requests
and answer `{"result": null, "id": n}`; frames arrive bare. Combined streams
(`/stream?streams=a/b`) are subscribed by the URL and wrap each frame as {"stream", "data"}.
Trades stream as they happen, one frame each. A kline frame goes out at most every 2 seconds of
exchange time while its minute runs (x=false), and once more when the minute ends (x=true), also
for minutes without trades, as Binance does. Unknown streams are accepted and stay silent, as
on Binance; a delisted market's streams fall silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.replay_exchange.binance import payloads
from tests.replay_exchange.markets import Market, Moment
from tests.replay_exchange.streams import FrameKind, Outgoing, closed_candles, current_minute
from tests.replay_exchange.symbols import binance_id

KLINE_PUSH_NS = 2_000_000_000


@dataclass(slots=True)
class _Cursor:
    """Where one stream stands: next trade index, or the kline minute and last push."""

    symbol: str
    channel: str  # "trade", "aggTrade" or "kline_1m"
    index: int = 0
    minute: int | None = None
    pushed_ns: int = 0


class BinanceStreams:
    """One connection: its subscriptions and what each has sent so far."""

    def __init__(self, *, combined_streams: tuple[str, ...] = ()) -> None:
        self._combined = bool(combined_streams)
        self._initial = combined_streams
        self._cursors: dict[str, _Cursor | None] = {}

    def on_connect(self, *, moment: Moment) -> list[Outgoing]:
        for name in self._initial:
            self._subscribe(name, moment)
        return []

    def on_message(self, *, message: Any, moment: Moment) -> list[Outgoing]:
        if not isinstance(message, dict):
            return [self._control({"error": {"code": 3, "msg": "Invalid JSON"}, "id": None})]
        method, params, request_id = (
            message.get("method"),
            message.get("params") or [],
            message.get("id"),
        )
        if method == "SUBSCRIBE":
            for name in params:
                self._subscribe(str(name), moment)
        elif method == "UNSUBSCRIBE":
            for name in params:
                self._cursors.pop(str(name), None)
        elif method == "LIST_SUBSCRIPTIONS":
            return [self._control({"result": sorted(self._cursors), "id": request_id})]
        else:
            return [
                self._control(
                    {"error": {"code": 2, "msg": f"Invalid request: {method}"}, "id": request_id}
                )
            ]
        return [self._control({"result": None, "id": request_id})]

    def poll(self, *, moment: Moment) -> list[Outgoing]:
        frames: list[Outgoing] = []
        for name, cursor in self._cursors.items():
            market = moment.markets.get(cursor.symbol) if cursor else None
            if cursor is None or market is None or not moment.is_listed(cursor.symbol):
                continue
            for payload, kind in self._frames(cursor, market, moment):
                frames.append(Outgoing(self._wrap(name, payload), kind))
        return frames

    def idle_frame(self) -> Outgoing | None:
        return None  # Binance keeps connections alive with WebSocket ping frames instead

    def _subscribe(self, name: str, moment: Moment) -> None:
        market_id, _, channel = name.partition("@")
        symbol = next((s for s in moment.markets if binance_id(s).lower() == market_id), None)
        if symbol is None or channel not in ("trade", "aggTrade", "kline_1m"):
            self._cursors[name] = None
            return
        market = moment.markets[symbol]
        cursor = _Cursor(symbol=symbol, channel=channel, minute=current_minute(moment))
        if channel == "trade":
            cursor.index = market.visible_trades(now_ns=moment.now_ns)
        elif channel == "aggTrade":
            cursor.index = market.visible_agg_trades(now_ns=moment.now_ns)
        self._cursors[name] = cursor

    def _frames(
        self, cursor: _Cursor, market: Market, moment: Moment
    ) -> list[tuple[dict[str, Any], FrameKind]]:
        now_ns, now_ms, symbol = moment.now_ns, moment.now_ms, cursor.symbol
        if cursor.channel == "trade":
            upto = market.visible_trades(now_ns=now_ns)
            trades, cursor.index = market.trades[cursor.index : upto], upto
            return [
                (payloads.ws_trade(symbol=symbol, trade=t, event_ms=now_ms), FrameKind.TRADE)
                for t in trades
            ]
        if cursor.channel == "aggTrade":
            upto = market.visible_agg_trades(now_ns=now_ns)
            aggs, cursor.index = market.agg_trades[cursor.index : upto], upto
            return [
                (payloads.ws_agg_trade(symbol=symbol, agg=a, event_ms=now_ms), FrameKind.TRADE)
                for a in aggs
            ]
        return self._kline_frames(cursor, market, moment)

    def _kline_frames(
        self, cursor: _Cursor, market: Market, moment: Moment
    ) -> list[tuple[dict[str, Any], FrameKind]]:
        minute = current_minute(moment)
        previous = minute if cursor.minute is None else cursor.minute
        closing = closed_candles(market=market, from_minute=previous, to_minute=minute)
        frames = [
            (
                payloads.ws_kline(
                    symbol=cursor.symbol, candle=c, closed=True, event_ms=moment.now_ms
                ),
                FrameKind.DATA,
            )
            for c in closing
        ]
        due = minute != previous or moment.now_ns - cursor.pushed_ns >= KLINE_PUSH_NS
        in_progress = market.in_progress(now_ns=moment.now_ns) if due else None
        if in_progress is not None:
            kline = payloads.ws_kline(
                symbol=cursor.symbol, candle=in_progress, closed=False, event_ms=moment.now_ms
            )
            frames.append((kline, FrameKind.DATA))
            cursor.pushed_ns = moment.now_ns
        cursor.minute = minute
        return frames

    def _wrap(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {"stream": name, "data": payload} if self._combined else payload

    @staticmethod
    def _control(payload: dict[str, Any]) -> Outgoing:
        return Outgoing(payload, FrameKind.CONTROL)
