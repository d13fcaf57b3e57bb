"""The reads and coverage writes both backends run, and how their rows become models.

Only the bulk writes differ between the backends: the row inserts (an `unnest` of arrays
on PostgreSQL, `executemany` on SQLite), the numbering of a batch's new series and the
merge of its coverage (PostgreSQL does each for all the batch's series in statements of
its own, SQLite one series at a time with the statements here). Every other statement is
rendered here from the `Dialect`, so both backends read rows and coverage with the same
SQL.
Rows are read through the views that name their series, and written to the tables
keyed by its number (see `schema._keyed_by_series`).
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter
from typing import Any, Protocol

from ohlcv_collector.backends.storage.schema import CANDLES, COVERAGE, SERIES, TRADES, Dialect
from ohlcv_collector.models import Candle, SeriesKind, Side, TimeRange, Trade
from ohlcv_collector.ports import Coverage, WriteBatch

CANDLE_ROW_COLUMNS = ("series", "ts", "timeframe", "open", "high", "low", "close", "volume",
                      "trades")  # fmt: skip
TRADE_ROW_COLUMNS = ("series", "ts", "trade_id", "price", "amount", "side")

SeriesName = tuple[str, str]  # exchange, symbol


@dataclass(frozen=True, slots=True)
class Queries:
    """Statements of one dialect; the parameters of each are listed in its comment."""

    select_candles: str  # exchange, symbol, timeframe, window start ms, window end ms
    select_trades: str  # exchange, symbol, window start ms, window end ms
    select_coverage: str  # exchange, symbol, kind
    delete_coverage: str  # exchange, symbol, kind
    insert_coverage: str  # exchange, symbol, kind, start ms, end ms
    insert_series: str  # exchange, symbol (nothing when it exists)
    select_series: str  # exchange, symbol


def render(dialect: Dialect) -> Queries:
    """The shared statements in `dialect`'s spelling."""
    p = dialect.param
    ms = dialect.ms_from_instant.format
    instant = dialect.instant_from_ms.format
    series = f"exchange = {p(1)} AND symbol = {p(2)}"
    # Table names and SQL fragments are constants of this package; values are parameters.
    return Queries(
        select_candles=(
            f"SELECT exchange, symbol, {ms('ts')}, open, high, low, close, volume, trades,"  # noqa: S608
            f" timeframe FROM {CANDLES} WHERE {series} AND timeframe = {p(3)}"
            f" AND ts >= {instant(p(4))} AND ts < {instant(p(5))} ORDER BY ts"
        ),
        select_trades=(
            f"SELECT exchange, symbol, trade_id, {ms('ts')}, price, amount, side"  # noqa: S608
            f" FROM {TRADES} WHERE {series}"
            f" AND ts >= {instant(p(3))} AND ts < {instant(p(4))} ORDER BY ts, trade_id"
        ),
        select_coverage=(
            f"SELECT {ms('start_ts')}, {ms('end_ts')} FROM {COVERAGE}"  # noqa: S608
            f" WHERE {series} AND kind = {p(3)} ORDER BY start_ts"
        ),
        delete_coverage=f"DELETE FROM {COVERAGE} WHERE {series} AND kind = {p(3)}",  # noqa: S608
        insert_coverage=(
            f"INSERT INTO {COVERAGE} (exchange, symbol, kind, start_ts, end_ts)"  # noqa: S608
            f" VALUES ({p(1)}, {p(2)}, {p(3)}, {instant(p(4))}, {instant(p(5))})"
        ),
        insert_series=(
            f"INSERT INTO {SERIES} (exchange, symbol) VALUES ({p(1)}, {p(2)})"  # noqa: S608
            " ON CONFLICT (exchange, symbol) DO NOTHING"
        ),
        select_series=f"SELECT id FROM {SERIES} WHERE {series}",  # noqa: S608
    )


def _series_names(rows: Sequence[Candle] | Sequence[Trade]) -> set[SeriesName]:
    """The series of `rows` (candles and trades both begin with exchange and symbol),
    gathered at C speed: a batch holds thousands of rows of a few series."""
    return set(zip(map(itemgetter(0), rows), map(itemgetter(1), rows), strict=True))


def new_series(batch: WriteBatch, *, numbered: Mapping[SeriesName, int]) -> list[SeriesName]:
    """The series of `batch`'s rows that have no number in `numbered` yet, sorted, so
    that writers adding the same new series wait for each other instead of deadlocking."""
    return sorted((_series_names(batch.candles) | _series_names(batch.trades)) - numbered.keys())


class Row(Protocol):
    """A result row of either driver (asyncpg Record, sqlite3 tuple), read by position."""

    def __getitem__(self, index: int, /) -> Any: ...


def candle_from_row(row: Row) -> Candle:
    """A candle from a `select_candles` row; `Decimal()` accepts numeric and text alike."""
    return Candle(
        exchange=row[0], symbol=row[1], start=row[2],
        open=Decimal(row[3]), high=Decimal(row[4]), low=Decimal(row[5]), close=Decimal(row[6]),
        volume=Decimal(row[7]), trades=row[8], timeframe=row[9],
    )  # fmt: skip


def trade_from_row(row: Row) -> Trade:
    """A trade from a `select_trades` row."""
    return Trade(
        exchange=row[0], symbol=row[1], trade_id=row[2], time=row[3],
        price=Decimal(row[4]), amount=Decimal(row[5]), side=Side(row[6]),
    )  # fmt: skip


def range_from_row(row: Row) -> TimeRange:
    """A covered range from a `select_coverage` row."""
    return TimeRange(row[0], row[1])


SeriesKey = tuple[str, str, SeriesKind]


def coverage_by_series(coverage: Iterable[Coverage]) -> dict[SeriesKey, list[TimeRange]]:
    """New coverage grouped by series (exchange, symbol, kind), in a stable order, so
    that concurrent writers lock series in the same order and cannot deadlock."""
    grouped: defaultdict[SeriesKey, list[TimeRange]] = defaultdict(list)
    for item in coverage:
        grouped[(item.exchange, item.symbol, item.kind)].append(item.range)
    return dict(sorted(grouped.items()))
