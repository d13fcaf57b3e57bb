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


_ZERO = Decimal(0)


def _finite(value: Decimal) -> bool:
    return value.is_finite()


def candle_problem(candle: Candle) -> str | None:
    """Why `candle` must not be stored, or None when it is sound."""
    return None if _sound_candle(candle) else _candle_reason(candle)


def _sound_candle(candle: Candle) -> bool:
    """Every rule of `_candle_reason` in one expression: rows are checked one by one on the
    backfill's hot path, where the reasons are almost never needed.

    High and low bound the minute's trades, and so does the close. The open does not
    everywhere: BitMEX opens a bin at the previous bin's close, which may lie outside.
    A low above zero and below the close and the high makes those positive too.
    """
    o, h, low, c, v = candle.open, candle.high, candle.low, candle.close, candle.volume
    return (
        o.is_finite() and h.is_finite() and low.is_finite() and c.is_finite() and v.is_finite()
        and o > _ZERO and low > _ZERO and v >= _ZERO and low <= c <= h
        and not candle.start % MINUTE_MS and (candle.trades is None or candle.trades >= 0)
    )  # fmt: skip


def _candle_reason(candle: Candle) -> str | None:
    prices = {"open": candle.open, "high": candle.high, "low": candle.low, "close": candle.close}
    for name, value in {**prices, "volume": candle.volume}.items():
        if not _finite(value):
            return f"{name} is not a finite number ({value})"
    for name, value in prices.items():
        if value <= 0:
            return f"{name} is not positive ({value})"
    if candle.volume < 0:
        return f"volume is negative ({candle.volume})"
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
    price, amount = trade.price, trade.amount
    if (
        trade.trade_id and price.is_finite() and amount.is_finite()
        and price > _ZERO and amount > _ZERO and trade.time > 0
    ):  # fmt: skip
        return None  # the common case, without building the reasons below
    if not trade.trade_id:
        return "trade has no id"
    for name, value in {"price": price, "amount": amount}.items():
        if not _finite(value):
            return f"{name} is not a finite number ({value})"
        if value <= 0:
            return f"{name} is not positive ({value})"
    return f"time is not a valid epoch ({trade.time})"


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
