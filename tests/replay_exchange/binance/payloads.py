"""Binance spot's JSON, exactly as the exchange writes it: pure functions from records to bodies.

Shapes follow recorded traffic: the symbol entries of a captured Binance.US `exchangeInfo`
(ws_frames/cryptofeed/BINANCE_US.0), the `@trade` frames of the spot capture
(trades/binance_spot_ws) and Binance's documented klines, aggTrades and error bodies. Binance
writes prices and amounts as strings with 8 decimals. Binance.US recordings are served as
Binance spot: same API, same shapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from tests.replay_exchange.models import MINUTE_MS, AggTrade, Candle, Trade, decimal_text
from tests.replay_exchange.symbols import base_quote, binance_id

REQUEST_WEIGHT_PER_MINUTE = 6000

# Endpoint weights from Binance's spot REST documentation (request weight per IP).
ENDPOINT_WEIGHTS = {
    "ping": 1,
    "time": 1,
    "exchangeInfo": 20,
    "klines": 2,
    "aggTrades": 4,
    "trades": 25,
    "historicalTrades": 25,
}

INVALID_SYMBOL = (-1121, "Invalid symbol.")
INVALID_INTERVAL = (-1120, "Invalid interval.")
MISSING_SYMBOL = (-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
MISSING_INTERVAL = (
    -1102,
    "Mandatory parameter 'interval' was not sent, was empty/null, or malformed.",
)
BAD_NUMBER = (-1100, "Illegal characters found in a parameter.")
RANGE_TOO_WIDE = (-1127, "More than 1 hours between startTime and endTime.")


def text(value: Decimal) -> str:
    return decimal_text(value, places=8)


def error(code_and_message: tuple[int, str]) -> dict[str, Any]:
    code, message = code_and_message
    return {"code": code, "msg": message}


def symbol_entry(*, symbol: str, trading: bool) -> dict[str, Any]:
    """One `symbols[]` entry of exchangeInfo; a delisted market shows status BREAK."""
    base, quote = base_quote(symbol)
    return {
        "symbol": binance_id(symbol),
        "status": "TRADING" if trading else "BREAK",
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "0.01000000",
                "maxPrice": "1000000.00000000",
                "tickSize": "0.01000000",
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": "0.00000100",
                "maxQty": "9000.00000000",
                "stepSize": "0.00000100",
            },
            {"filterType": "MIN_NOTIONAL", "minNotional": "10.00000000", "applyToMarket": True},
        ],
        "permissions": ["SPOT"],
    }


def exchange_info(*, listings: Sequence[tuple[str, bool]], server_time_ms: int) -> dict[str, Any]:
    """GET /api/v3/exchangeInfo for (symbol, trading) listings."""
    return {
        "timezone": "UTC",
        "serverTime": server_time_ms,
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": REQUEST_WEIGHT_PER_MINUTE,
            },
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
            {
                "rateLimitType": "RAW_REQUESTS",
                "interval": "MINUTE",
                "intervalNum": 5,
                "limit": 61000,
            },
        ],
        "exchangeFilters": [],
        "symbols": [symbol_entry(symbol=s, trading=t) for s, t in listings],
    }


# Rendering a row formats eight decimals, about 8 us; a backfill asks for the same closed
# candles page after page (the benchmark's cloned symbols share theirs), which made the
# replay, not the client, the bound of bench B2. Rows are kept per candle object: keyed by
# id() with the candle kept alongside, so a recycled id never answers for another candle;
# emptied when full. Callers must not change the rows they get.
_ROWS: dict[int, tuple[Candle, list[Any]]] = {}
_ROWS_KEPT = 200_000


def kline_row(candle: Candle) -> list[Any]:
    """A klines row: open time, OHLCV, close time, quote volume, trades, taker buys, ignore.

    Fields a candle-only recording lacks (quote volume, trade count, taker volumes) are zero.
    """
    kept = _ROWS.get(id(candle))
    if kept is not None and kept[0] is candle:
        return kept[1]
    if len(_ROWS) >= _ROWS_KEPT:
        _ROWS.clear()
    row = _render_kline(candle)
    _ROWS[id(candle)] = (candle, row)
    return row


def _render_kline(candle: Candle) -> list[Any]:
    return [
        candle.open_ms,
        text(candle.open),
        text(candle.high),
        text(candle.low),
        text(candle.close),
        text(candle.volume),
        candle.open_ms + MINUTE_MS - 1,
        text(candle.quote_volume or Decimal(0)),
        candle.trade_count or 0,
        text(candle.taker_buy_volume or Decimal(0)),
        text(candle.taker_buy_quote_volume or Decimal(0)),
        "0",
    ]


def agg_trade_row(agg: AggTrade) -> dict[str, Any]:
    return {
        "a": agg.agg_id,
        "p": text(agg.price),
        "q": text(agg.amount),
        "f": agg.first_trade_id,
        "l": agg.last_trade_id,
        "T": agg.time_ms,
        "m": agg.side == "sell",
        "M": True,
    }


def trade_row(trade: Trade) -> dict[str, Any]:
    """A row of /api/v3/trades and /api/v3/historicalTrades."""
    return {
        "id": trade.trade_id,
        "price": text(trade.price),
        "qty": text(trade.amount),
        "quoteQty": text(trade.price * trade.amount),
        "time": trade.time_ms,
        "isBuyerMaker": trade.side == "sell",
        "isBestMatch": True,
    }


def ws_trade(*, symbol: str, trade: Trade, event_ms: int) -> dict[str, Any]:
    """A `<symbol>@trade` frame, as in the recorded spot capture."""
    return {
        "e": "trade",
        "E": event_ms,
        "s": binance_id(symbol),
        "t": trade.trade_id,
        "p": text(trade.price),
        "q": text(trade.amount),
        "T": trade.time_ms,
        "m": trade.side == "sell",
        "M": True,
    }


def ws_agg_trade(*, symbol: str, agg: AggTrade, event_ms: int) -> dict[str, Any]:
    return {"e": "aggTrade", "E": event_ms, "s": binance_id(symbol), **agg_trade_row(agg)}


def ws_kline(*, symbol: str, candle: Candle, closed: bool, event_ms: int) -> dict[str, Any]:
    """A `<symbol>@kline_1m` frame; `x` is true only on the frame that closes the minute."""
    market_id = binance_id(symbol)
    return {
        "e": "kline",
        "E": event_ms,
        "s": market_id,
        "k": {
            "t": candle.open_ms,
            "T": candle.open_ms + MINUTE_MS - 1,
            "s": market_id,
            "i": "1m",
            "f": -1 if candle.first_trade_id is None else candle.first_trade_id,
            "L": -1 if candle.last_trade_id is None else candle.last_trade_id,
            "o": text(candle.open),
            "c": text(candle.close),
            "h": text(candle.high),
            "l": text(candle.low),
            "v": text(candle.volume),
            "n": candle.trade_count or 0,
            "x": closed,
            "q": text(candle.quote_volume or Decimal(0)),
            "V": text(candle.taker_buy_volume or Decimal(0)),
            "Q": text(candle.taker_buy_quote_volume or Decimal(0)),
            "B": "0",
        },
    }
