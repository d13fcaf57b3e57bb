"""ccxt's unified rows to the collector's models.

ccxt parses the exchanges' decimal strings into floats. The shortest representation
of such a float is the exchange's decimal again, so `Decimal(repr(x))` recovers it
exactly. Missing or unparsable values become NaN, which validation then rejects with
a reason instead of a crash.
"""

from decimal import Decimal, InvalidOperation
from typing import Any

from ohlcv_collector.models import Candle, Side, Trade

_NAN = Decimal("NaN")

# The decimals of floats already seen. Converting is the collector's largest own cost per
# row (a backfill converts five numbers per candle), and prices repeat: a bar opens at the
# previous close and trades cluster on a few price levels. Decimals are immutable, so
# sharing one is safe; the memo is emptied when full, which bounds its memory (~10 MB).
_DECIMALS: dict[float, Decimal] = {}
_DECIMALS_KEPT = 65_536


def decimal_of(value: Any) -> Decimal:
    """The exact decimal of a ccxt number, or NaN when there is none."""
    if type(value) is float:
        found = _DECIMALS.get(value)
        if found is None:
            if len(_DECIMALS) >= _DECIMALS_KEPT:
                _DECIMALS.clear()
            # -0.0 == 0.0 share an entry: the same number, which is all storage keeps.
            found = _DECIMALS[value] = Decimal(repr(value))
        return found
    if value is None or isinstance(value, bool):
        return _NAN
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return _NAN


def candle_of(row: Any, *, exchange: str, symbol: str) -> Candle:
    """A candle from ccxt's `[timestamp, open, high, low, close, volume]`."""
    if type(row) is list and len(row) >= 6:  # what ccxt returns; the checks below are slower
        values = row
    else:
        values = [*row, *[None] * 6][:6] if isinstance(row, list | tuple) else [None] * 6
    start = values[0] if isinstance(values[0], int) else -1
    return Candle(
        exchange=exchange,
        symbol=symbol,
        start=start,
        open=decimal_of(values[1]),
        high=decimal_of(values[2]),
        low=decimal_of(values[3]),
        close=decimal_of(values[4]),
        volume=decimal_of(values[5]),
    )


_SIDES = {"buy": Side.BUY, "sell": Side.SELL}  # a dict lookup; calling the enum is slower


def trade_of(row: Any, *, exchange: str, symbol: str) -> Trade:
    """A trade from ccxt's unified trade structure."""
    timestamp = row.get("timestamp")
    side = row.get("side")
    return Trade(
        exchange=exchange,
        symbol=symbol,
        trade_id=str(row.get("id") or ""),
        time=timestamp if isinstance(timestamp, int) else 0,
        price=decimal_of(row.get("price")),
        amount=decimal_of(row.get("amount")),
        side=_SIDES.get(side, Side.UNKNOWN) if type(side) is str else Side.UNKNOWN,
    )
