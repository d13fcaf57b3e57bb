"""BitMEX's JSON to the collector's models, as pure functions.

BitMEX names contracts its own way (XBTUSD) and labels a 1m bin by the END of its minute;
the collector keys everything by ccxt's unified symbol (BTC/USD:BTC) and a candle by the
minute it opens, so that BitMEX rows land in the same series ccxt-backed exchanges fill.
Bodies are parsed with `parse_float=Decimal`, so prices are the exchange's decimals exactly.
Missing or malformed values become NaN (or time -1), which validation rejects with a reason.
"""

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ohlcv_collector.backends.ccxt.convert import decimal_of, trade_decimal_of
from ohlcv_collector.models import MINUTE_MS, Candle, Side, Trade

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
# BitMEX's currency codes that ccxt renamed to the common ones (its bitmex commonCurrencies).
_COMMON_CODES = {"XBT": "BTC"}


def ms_of(text: Any) -> int:
    """Epoch ms of BitMEX's ISO 8601 time ("2020-04-11T15:00:00.000Z"); -1 when unreadable."""
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return -1
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MS


def iso_of(ms: int) -> str:
    """BitMEX's ISO 8601 form of an epoch-ms instant, for startTime."""
    return (_EPOCH + ms * _MS).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def currency_code(code: Any) -> str:
    """ccxt's code for a BitMEX currency: upper case (BitMEX writes XBt and USDt for the
    smallest units it settles in), XBT as BTC."""
    upper = str(code or "").upper()
    return _COMMON_CODES.get(upper, upper)


def unified_symbol(instrument: Mapping[str, Any]) -> str | None:
    """ccxt's unified symbol of an /instrument/active entry, None for what is not a market.

    Futures and swaps (typ FF...) settle in `settlCurrency`: a perpetual is
    base/quote:settle, a dated future adds its expiry as -YYMMDD; spot (IFXXXP) is
    base/quote. Indices and other entries are not tradable markets.
    """
    typ = str(instrument.get("typ") or "")
    base = currency_code(instrument.get("underlying"))
    quote = currency_code(instrument.get("quoteCurrency"))
    if not base or not quote:
        return None
    if typ == "IFXXXP":
        return f"{base}/{quote}"
    if not typ.startswith("FF"):
        return None
    settle = currency_code(instrument.get("settlCurrency"))
    if not settle:
        return None
    expiry = instrument.get("expiry")
    if expiry is None:
        return f"{base}/{quote}:{settle}"
    expiry_ms = ms_of(expiry)
    if expiry_ms < 0:
        return None
    return f"{base}/{quote}:{settle}-{(_EPOCH + expiry_ms * _MS).strftime('%y%m%d')}"


def candle_of(row: Any, *, exchange: str, symbol: str) -> Candle:
    """A candle from a /trade/bucketed row or tradeBin1m entry, keyed by the minute it opens
    (its label minus one minute), with the exchange's own values."""
    fields: Mapping[str, Any] = row if isinstance(row, Mapping) else {}
    label = ms_of(fields.get("timestamp"))
    count = fields.get("trades")
    return Candle(
        exchange=exchange,
        symbol=symbol,
        start=label - MINUTE_MS if label >= MINUTE_MS else -1,
        open=decimal_of(fields.get("open")),
        high=decimal_of(fields.get("high")),
        low=decimal_of(fields.get("low")),
        close=decimal_of(fields.get("close")),
        volume=decimal_of(fields.get("volume")),
        trades=count if isinstance(count, int) and not isinstance(count, bool) else None,
    )


def trade_of(row: Any, *, exchange: str, symbol: str) -> Trade:
    """A trade from a /trade row or `trade` table entry; its id is BitMEX's trdMatchID."""
    fields: Mapping[str, Any] = row if isinstance(row, Mapping) else {}
    side = {"Buy": Side.BUY, "Sell": Side.SELL}.get(str(fields.get("side")), Side.UNKNOWN)
    return Trade(
        exchange=exchange,
        symbol=symbol,
        trade_id=str(fields.get("trdMatchID") or ""),
        time=max(0, ms_of(fields.get("timestamp"))),
        price=trade_decimal_of(fields.get("price")),
        amount=trade_decimal_of(fields.get("size")),
        side=side,
    )


def retry_after_of(headers: Mapping[str, str], *, now_s: float) -> float | None:
    """Seconds BitMEX asks to wait after a 429: its Retry-After, else until its bucket's
    X-RateLimit-Reset (epoch seconds); None when it says neither."""
    lowered = {key.lower(): value for key, value in headers.items()}
    for name, since in (("retry-after", 0.0), ("x-ratelimit-reset", now_s)):
        try:
            seconds = float(lowered[name]) - since
        except (KeyError, ValueError):
            continue
        if math.isfinite(seconds):
            return max(0.0, seconds)
    return None


def error_message(body: Any) -> str:
    """BitMEX's `{"error": {"message", "name"}}`, as one line."""
    error = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(error, Mapping):
        return f"{error.get('name', 'Error')}: {error.get('message', '')}"
    return str(error or body)[:200]


def newest_time(instruments: list[Any]) -> int | None:
    """The exchange's clock as /instrument/active shows it: BitMEX stamps each instrument
    with its last update, so the newest stamp is the exchange's present (it has no time
    endpoint)."""
    times = [ms_of(i.get("timestamp")) for i in instruments if isinstance(i, Mapping)]
    return max((t for t in times if t >= 0), default=None)
