"""Which rows of the fullon_orm tables become collection targets, and which are refused.

The database is edited by people and by other programs, so a row may hold anything:
NULL days of history, a timeframe no exchange knows, a symbol with a stray space. Such
a row is refused with a reason that names it, and every other row still becomes a
target, so one bad row never stops the collection of the rest. The same parsers guard
what the command line writes, so nothing it stores is refused later.

Rows arrive as the database returned them (one per symbol and per account of the user
on that exchange), with the raw types of the driver: SQLite hands back 0/1 for
booleans and keeps text in integer columns, PostgreSQL returns real booleans.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ohlcv_collector.models import Target

# ccxt's unified form: "SPX", "BTC/USDT", "BTC/USD:BTC", "BTC/USDT:USDT-240628".
_SYMBOL = re.compile(r"[^\s/:]+(/[^\s/:]+(:[^\s/:]+)?)?")
# A ccxt timeframe: a positive count and a unit ("1m", "15m", "4h", "1d", "1w", "1M").
_TIMEFRAME = re.compile(r"[1-9][0-9]*[smhdwMy]")
# symbols.backtest is a PostgreSQL smallint.
MAX_BACKTEST_DAYS = 32_767


@dataclass(frozen=True, slots=True)
class TargetRow:
    """One symbol joined with one of the user's accounts on its exchange, values unchecked.

    `exchange` is `cat_exchanges.name`, the exchange id every fullon library uses;
    `account` is `exchanges.name`, the user's label, kept only to name the row in
    messages. `symbol_active` is None when the symbols table has no `active` column.
    """

    symbol_id: object
    exchange: object
    account: object
    symbol: object
    backtest: object
    updateframe: object
    only_ticker: object
    user_active: object
    account_active: object
    symbol_active: object = None


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A row that would have been a target but holds invalid values."""

    row: TargetRow
    reason: str

    def describe(self) -> str:
        """One line that lets a person find and fix the row."""
        row = self.row
        where = f"{row.exchange} {row.symbol!r}, account {row.account!r}"
        return f"symbols row {row.symbol_id} ({where}) is skipped: {self.reason}"


def parse_exchange(value: object) -> str:
    """`value` as an exchange id (cat_exchanges.name); ValueError when it cannot be one."""
    if not isinstance(value, str) or not value or value.split() != [value]:
        raise ValueError(f"exchange name {value!r} is empty or contains whitespace")
    return value


def parse_symbol(value: object) -> str:
    """`value` as a ccxt unified symbol; ValueError when it is not one."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"symbol is empty ({value!r})")
    if _SYMBOL.fullmatch(value) is None:
        raise ValueError(
            f"symbol {value!r} is not in ccxt's unified form, e.g. BTC/USDT or BTC/USD:BTC"
        )
    return value


def parse_updateframe(value: object) -> str:
    """`value` as a ccxt timeframe; ValueError when it is not one."""
    if not isinstance(value, str) or _TIMEFRAME.fullmatch(value) is None:
        raise ValueError(f"updateframe {value!r} is not a timeframe such as 1m, 15m, 1h or 1d")
    return value


def parse_backtest_days(value: object) -> int:
    """`value` as days of history to backfill; ValueError when it is not that."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"backtest {value!r} is not a whole number of days")
    if not 0 <= value <= MAX_BACKTEST_DAYS:
        raise ValueError(f"backtest {value} is not between 0 and {MAX_BACKTEST_DAYS} days")
    return value


@dataclass(frozen=True, slots=True)
class SymbolParts:
    """What the symbols table stores beside a symbol, read from its unified form."""

    base: str
    quote: str | None
    futures: bool


def symbol_parts(symbol: str) -> SymbolParts:
    """Base and quote currency of a unified symbol; a settle currency means a derivative."""
    base, _, rest = symbol.partition("/")
    quote, _, settle = rest.partition(":")
    return SymbolParts(base=base, quote=quote or None, futures=bool(settle))


def _flag(value: object, *, name: str, default: bool) -> bool:
    """A boolean column's value, `default` for NULL; ValueError for anything else."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError(f"{name} {value!r} is not a boolean")


def _selected(row: TargetRow) -> bool:
    """Whether the row is meant to be collected: everything active, more than a ticker.

    NULL in a flag counts as the column's default, the way fullon's services read a
    missing `active` (`getattr(symbol, "active", True)`); any other non-boolean value
    refuses the row, since guessing could start or stop a collection nobody asked for.
    """
    return (
        _flag(row.user_active, name="users.active", default=True)
        and _flag(row.account_active, name="exchanges.active", default=True)
        and _flag(row.symbol_active, name="symbols.active", default=True)
        and not _flag(row.only_ticker, name="only_ticker", default=False)
    )


def _target(row: TargetRow) -> Target:
    """The row as a target; ValueError names the first invalid value."""
    return Target(
        exchange=parse_exchange(row.exchange),
        symbol=parse_symbol(row.symbol),
        backtest_days=parse_backtest_days(row.backtest),
        updateframe=parse_updateframe(row.updateframe),
    )


def select_targets(
    *, rows: Iterable[TargetRow], exchange: str | None
) -> tuple[list[Target], list[RejectedRow]]:
    """The targets of `exchange` (of every exchange when None), sorted, and the refused rows.

    A symbol reached through two accounts of the user on one exchange is one target: it
    is collected when at least one of those accounts is active.
    """
    targets: dict[tuple[str, str], Target] = {}
    accepted: set[object] = set()
    rejected: dict[object, RejectedRow] = {}
    for row in rows:
        if exchange is not None and row.exchange != exchange:
            continue
        try:
            if not _selected(row):
                continue
            target = _target(row)
        except ValueError as error:
            rejected.setdefault(row.symbol_id, RejectedRow(row=row, reason=str(error)))
            continue
        targets.setdefault((target.exchange, target.symbol), target)
        accepted.add(row.symbol_id)
    refused = [item for symbol_id, item in rejected.items() if symbol_id not in accepted]
    return [targets[key] for key in sorted(targets)], refused
