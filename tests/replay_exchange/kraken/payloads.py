"""Kraken spot's JSON, REST and WebSocket v2, as pure functions from records to bodies.

Shapes follow recorded traffic: AssetPairs entries of ws_frames/cryptofeed/KRAKEN.0 (plus the
`status` field current ccxt needs to mark a pair active), the Trades and OHLC bodies under
trades/, and the WS v2 frames of ccxt-static/ws_kraken_excerpt.json. Kraken formats OHLC prices
with the pair's `pair_decimals`, Trades prices with 5 decimals, volumes with 8, and writes an
empty minute as the previous close with vwap 0 and count 0. Its vwap is truncated, not rounded.
WS v2 carries numbers as JSON numbers and times as RFC 3339 strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from tests.replay_exchange.clock import iso_utc
from tests.replay_exchange.models import MINUTE_MS, NS_PER_MS, Candle, Trade, decimal_text
from tests.replay_exchange.symbols import KrakenNames, kraken_asset, kraken_names

UNKNOWN_PAIR = "EQuery:Unknown asset pair"
INVALID_ARGUMENTS = "EGeneral:Invalid arguments"
RATE_LIMIT_EXCEEDED = "EAPI:Rate limit exceeded"

# Asset decimals (Assets `decimals`, `display_decimals`) of the assets the recordings trade.
_ASSET_DECIMALS = {"XXBT": (10, 5), "ZUSD": (4, 2), "ZEUR": (4, 2), "USDT": (8, 4), "USDC": (8, 4)}
_TAKER_FEES = [[0, 0.26], [50000, 0.24], [100000, 0.22], [250000, 0.2], [500000, 0.18]]
_MAKER_FEES = [[0, 0.16], [50000, 0.14], [100000, 0.12], [250000, 0.1], [500000, 0.08]]


def ok(result: Any) -> dict[str, Any]:
    return {"error": [], "result": result}


def failure(message: str) -> dict[str, Any]:
    return {"error": [message]}


def assets(*, symbols: Sequence[str]) -> dict[str, Any]:
    """GET /0/public/Assets for the currencies of `symbols`."""
    entries = {}
    for symbol in symbols:
        for code in symbol.split("/"):
            asset_id, altname = kraken_asset(code)
            decimals, display = _ASSET_DECIMALS.get(asset_id, (8, 5))
            entries[asset_id] = {
                "aclass": "currency",
                "altname": altname,
                "decimals": decimals,
                "display_decimals": display,
                "status": "enabled",
            }
    return ok(entries)


def asset_pair(names: KrakenNames) -> dict[str, Any]:
    """One AssetPairs entry, shaped as the recorded ones."""
    return {
        "altname": names.altname,
        "wsname": names.wsname,
        "aclass_base": "currency",
        "base": names.base_asset,
        "aclass_quote": "currency",
        "quote": names.quote_asset,
        "lot": "unit",
        "pair_decimals": names.pair_decimals,
        "lot_decimals": 8,
        "lot_multiplier": 1,
        "leverage_buy": [],
        "leverage_sell": [],
        "fees": _TAKER_FEES,
        "fees_maker": _MAKER_FEES,
        "fee_volume_currency": "ZUSD",
        "margin_call": 80,
        "margin_stop": 40,
        "ordermin": "0.0002",
        "tick_size": str(Decimal(1).scaleb(-names.pair_decimals)),
        "status": "online",
    }


def asset_pairs(*, symbols: Sequence[str]) -> dict[str, Any]:
    """GET /0/public/AssetPairs; a delisted pair is simply absent, as on Kraken."""
    return ok({kraken_names(s).pair_id: asset_pair(kraken_names(s)) for s in symbols})


def server_time(*, now_ms: int) -> dict[str, Any]:
    moment = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
    return ok(
        {"unixtime": now_ms // 1000, "rfc1123": moment.strftime("%a, %d %b %y %H:%M:%S +0000")}
    )


def ohlc_row(*, candle: Candle, pair_decimals: int) -> list[Any]:
    """[time, open, high, low, close, vwap, volume, count]; vwap falls back to the close when a
    candle-only recording does not hold it."""
    if candle.is_empty:
        vwap = Decimal(0)
    elif candle.vwap is not None:
        vwap = candle.vwap.quantize(Decimal(1).scaleb(-pair_decimals), rounding=ROUND_DOWN)
    else:
        vwap = candle.close
    return [
        candle.open_ms // 1000,
        decimal_text(candle.open, places=pair_decimals),
        decimal_text(candle.high, places=pair_decimals),
        decimal_text(candle.low, places=pair_decimals),
        decimal_text(candle.close, places=pair_decimals),
        decimal_text(vwap, places=pair_decimals),
        decimal_text(candle.volume, places=8),
        candle.trade_count or 0,
    ]


def trade_row(trade: Trade) -> list[Any]:
    """[price, volume, time (s), side b/s, order type l/m, misc, trade id].

    Trades recorded without an order type (Binance's) are written as limit ("l").
    """
    return [
        decimal_text(trade.price, places=5),
        decimal_text(trade.amount, places=8),
        trade.time_ns / 1e9,
        "s" if trade.side == "sell" else "b",
        "m" if trade.order_type == "market" else "l",
        "",
        trade.trade_id,
    ]


def ws_status(*, connection_id: int) -> dict[str, Any]:
    system = {"version": "2.0.10", "system": "online", "api_version": "v2"}
    return {
        "channel": "status",
        "type": "update",
        "data": [{**system, "connection_id": connection_id}],
    }


def ws_subscribed(*, channel: str, symbol: str, req_id: int | None, now_ns: int) -> dict[str, Any]:
    result: dict[str, Any] = {"channel": channel, "snapshot": True, "symbol": symbol}
    if channel == "ohlc":
        result = {
            **result,
            "interval": 1,
            "warnings": ["timestamp is deprecated, use interval_begin"],
        }
    return {
        "method": "subscribe",
        "req_id": req_id,
        "result": result,
        "success": True,
        **_stamps(now_ns),
    }


def ws_error(*, method: str, error: str, req_id: int | None, now_ns: int) -> dict[str, Any]:
    return {"error": error, "method": method, "req_id": req_id, "success": False, **_stamps(now_ns)}


def ws_pong(*, req_id: int | None, now_ns: int) -> dict[str, Any]:
    return {"method": "pong", "req_id": req_id, **_stamps(now_ns)}


def ws_trades(*, kind: str, symbol: str, trades: Sequence[Trade]) -> dict[str, Any]:
    """A `trade` channel frame, `kind` being "snapshot" or "update"."""
    data = [
        {
            "symbol": symbol,
            "side": trade.side,
            "price": float(trade.price),
            "qty": float(trade.amount),
            "ord_type": trade.order_type or "limit",
            "trade_id": trade.trade_id,
            "timestamp": iso_utc(ns=trade.time_ns, digits=6),
        }
        for trade in trades
    ]
    return {"channel": "trade", "type": kind, "data": data}


def ws_ohlc(*, kind: str, symbol: str, candles: Sequence[Candle], now_ns: int) -> dict[str, Any]:
    """An `ohlc` channel frame with interval 1."""
    data = [
        {
            "symbol": symbol,
            "open": float(candle.open),
            "high": float(candle.high),
            "low": float(candle.low),
            "close": float(candle.close),
            "trades": candle.trade_count or 0,
            "volume": float(candle.volume),
            "vwap": float(candle.vwap or (0 if candle.is_empty else candle.close)),
            "interval_begin": iso_utc(ns=candle.open_ms * NS_PER_MS, digits=9),
            "interval": 1,
            "timestamp": iso_utc(ns=(candle.open_ms + MINUTE_MS) * NS_PER_MS, digits=6),
        }
        for candle in candles
    ]
    return {
        "channel": "ohlc",
        "type": kind,
        "timestamp": iso_utc(ns=now_ns, digits=9),
        "data": data,
    }


def _stamps(now_ns: int) -> dict[str, str]:
    stamp = iso_utc(ns=now_ns, digits=6)
    return {"time_in": stamp, "time_out": stamp}
