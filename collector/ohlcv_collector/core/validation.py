"""What an exchange sends is checked before anything is stored.

Exchanges and their client libraries do deliver NaN, negative or zero prices,
inverted highs and lows, and times off the minute grid. Such rows are rejected with a
reason the caller logs and reports; the valid rest of a page is kept, so one bad row
never stops a symbol.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from ohlcv_collector.models import MINUTE_MS, Candle, Trade

Row = TypeVar("Row", Candle, Trade)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A row that failed validation, with the reason in words."""

    row: Candle | Trade
    reason: str


def _finite(value: Decimal) -> bool:
    return value.is_finite()


def candle_problem(candle: Candle) -> str | None:
    """Why `candle` must not be stored, or None when it is sound."""
    prices = {"open": candle.open, "high": candle.high, "low": candle.low, "close": candle.close}
    for name, value in {**prices, "volume": candle.volume}.items():
        if not _finite(value):
            return f"{name} is not a finite number ({value})"
    for name, value in prices.items():
        if value <= 0:
            return f"{name} is not positive ({value})"
    if candle.volume < 0:
        return f"volume is negative ({candle.volume})"
    # High and low bound the minute's trades, and so does the close. The open does not
    # everywhere: BitMEX opens a bin at the previous bin's close, which may lie outside.
    if candle.high < max(candle.close, candle.low):
        return f"high {candle.high} is below close or low"
    if candle.low > candle.close:
        return f"low {candle.low} is above close"
    if candle.start % MINUTE_MS:
        return f"bar start {candle.start} is not on a minute boundary"
    if candle.trades is not None and candle.trades < 0:
        return f"trade count is negative ({candle.trades})"
    return None


def trade_problem(trade: Trade) -> str | None:
    """Why `trade` must not be stored, or None when it is sound."""
    if not trade.trade_id:
        return "trade has no id"
    for name, value in {"price": trade.price, "amount": trade.amount}.items():
        if not _finite(value):
            return f"{name} is not a finite number ({value})"
        if value <= 0:
            return f"{name} is not positive ({value})"
    if trade.time <= 0:
        return f"time is not a valid epoch ({trade.time})"
    return None


def partition(
    rows: Iterable[Row], *, problem: Callable[[Row], str | None]
) -> tuple[list[Row], list[Rejected]]:
    """Sound rows, and the rejected ones with their reasons (`problem` is one of the above)."""
    sound: list[Row] = []
    rejected: list[Rejected] = []
    for row in rows:
        reason = problem(row)
        if reason is None:
            sound.append(row)
        else:
            rejected.append(Rejected(row=row, reason=reason))
    return sound, rejected
