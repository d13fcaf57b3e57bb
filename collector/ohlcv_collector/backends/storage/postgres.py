"""Storage on PostgreSQL through an asyncpg pool; TimescaleDB hypertables when available.

A batch is one transaction: its candles and trades go in as one `INSERT ... SELECT FROM
unnest(arrays)` per table (one array literal per column), which sends thousands of rows
in one round trip, and its coverage is merged in the same transaction, so coverage is
never visible before the rows it vouches for. Rows carry their series' number (schema
version 4), which a storage learns from `ohlcv_series` once per series and keeps.

Rows are inserted optimistically, as if none were stored yet, and the transaction is
redone with `ON CONFLICT DO NOTHING` when one was. The collector writes only what its
coverage says is missing, so duplicates are rare, and the server's speculative insertion
for ON CONFLICT cost 2.0 of its 5.3 us a candle (a 50-symbol backfill: 6.3 to 4.8 CPU s).
After a write that met duplicates the next ones skip the optimistic try, until one of
them adds every row again.
"""

import logging
import re
from collections.abc import Sequence
from typing import TypeAlias

import asyncpg

from ohlcv_collector.backends.storage import schema
from ohlcv_collector.backends.storage.array_literals import (
    number_array,
    optional_number_array,
    text_array,
)
from ohlcv_collector.backends.storage.queries import (
    CANDLE_ROW_COLUMNS,
    TRADE_ROW_COLUMNS,
    SeriesName,
    candle_from_row,
    coverage_by_series,
    new_series,
    range_from_row,
    render,
    trade_from_row,
)
from ohlcv_collector.core.coverage import merge
from ohlcv_collector.models import TIMEFRAME_1M, Candle, SeriesKind, TimeRange, Trade
from ohlcv_collector.ports import Coverage, WriteBatch, WriteResult

logger = logging.getLogger("ohlcv_collector.storage")

_QUERIES = render(schema.POSTGRES)
_HYPERTABLES = (schema.CANDLE_ROWS, schema.TRADE_ROWS)
# Any constant works; it only has to differ from the keys others take on the same
# database. Series locks use hashtextextended() keys, which this one is not likely to be.
_MIGRATION_LOCK = 0x6F686C63765F6462  # "ohlcv_db"


_INSTANTS = ("ts", "start_ts", "end_ts")


def _value(column: str) -> str:
    """The SQL that turns one unnested array element into the column's value."""
    return schema.POSTGRES.instant_from_ms.format(column) if column in _INSTANTS else column


def _bulk_insert(*, table: str, columns: Sequence[str], arrays: Sequence[str]) -> str:
    """`INSERT ... SELECT FROM unnest($1::text::type[], ...)`, one array per column.

    Each array travels as one array literal string (see `array_literals`) that SQL casts
    to `arrays`' type; epoch ms go as int8 and become timestamptz in SQL.
    """
    placeholders = ", ".join(f"${i}::text::{kind}[]" for i, kind in enumerate(arrays, start=1))
    values = ", ".join(map(_value, columns))
    names = ", ".join(columns)
    return (
        f"INSERT INTO {table} ({names}) SELECT {values}"  # noqa: S608 (constants)
        f" FROM unnest({placeholders}) AS batch ({names})"
    )


_INSERT_CANDLES = _bulk_insert(
    table=schema.CANDLE_ROWS,
    columns=CANDLE_ROW_COLUMNS,
    arrays=("int4", "int8", "text", "numeric", "numeric", "numeric", "numeric", "numeric",
            "int4"),
)  # fmt: skip
_INSERT_TRADES = _bulk_insert(
    table=schema.TRADE_ROWS,
    columns=TRADE_ROW_COLUMNS,
    arrays=("int4", "int8", "text", "numeric", "numeric", "text"),
)
_SKIPPING_STORED = " ON CONFLICT DO NOTHING"
# The series a batch brings for the first time, numbered in two statements for all of them.
_NEW_SERIES = "unnest($1::text::text[], $2::text::text[]) AS new (exchange, symbol)"
_INSERT_SERIES = (
    f"INSERT INTO {schema.SERIES} (exchange, symbol) SELECT exchange, symbol"  # noqa: S608
    f" FROM {_NEW_SERIES} ON CONFLICT (exchange, symbol) DO NOTHING"
)
_SELECT_SERIES = (
    f"SELECT exchange, symbol, id FROM {schema.SERIES} JOIN {_NEW_SERIES}"  # noqa: S608
    " USING (exchange, symbol)"
)
# The coverage of all series a batch touches, in one statement per step (see _merge_coverage).
_COVERED_SERIES = (
    "unnest($1::text::text[], $2::text::text[], $3::text::text[])"
    " AS series (exchange, symbol, kind)"
)
_LOCK_COVERED_SERIES = (
    "SELECT pg_advisory_xact_lock(hashtextextended(key, 0)) FROM unnest($1::text::text[]) AS key"
)
# Read by deleting: the series are locked, and their merge replaces what this returns.
_TAKE_COVERAGE = (
    f"DELETE FROM {schema.COVERAGE} AS stored USING {_COVERED_SERIES}"  # noqa: S608
    " WHERE (stored.exchange, stored.symbol, stored.kind)"
    " = (series.exchange, series.symbol, series.kind)"
    " RETURNING stored.exchange, stored.symbol, stored.kind,"
    f" {schema.POSTGRES.ms_from_instant.format('stored.start_ts')},"
    f" {schema.POSTGRES.ms_from_instant.format('stored.end_ts')}"
)
_INSERT_COVERAGE = _bulk_insert(
    table=schema.COVERAGE,
    columns=("exchange", "symbol", "kind", "start_ts", "end_ts"),
    arrays=("text", "text", "text", "int8", "int8"),
)


# Every statement of a write whose answer the writer waits for: each takes only arrays.
_WRITE_STATEMENTS = (
    _INSERT_SERIES, _SELECT_SERIES, _INSERT_CANDLES, _INSERT_TRADES,
    _LOCK_COVERED_SERIES, _TAKE_COVERAGE, _INSERT_COVERAGE,
)  # fmt: skip


def _parameter_count(statement: str) -> int:
    """How many parameters (`$1`, `$2`, ...) `statement` takes."""
    return max((int(number) for number in re.findall(r"\$(\d+)", statement)), default=0)


def _inserted(status: str) -> int:
    """Rows added, from a command status such as "INSERT 0 4998"."""
    return int(status.rsplit(" ", 1)[-1])


class PostgresStorage:
    """The `Storage` port on PostgreSQL; `timescaledb` tells, after `migrate()`, whether
    candles and trades are hypertables (True) or plain tables (False)."""

    # Two transactions at once keep the server busy while this process encodes the next
    # batch (one at a time, each side waited for the other); the pool keeps connections
    # for reads besides.
    parallel_writes = 2

    def __init__(self, *, pool: "asyncpg.Pool[asyncpg.Record]") -> None:
        self._pool = pool
        self.timescaledb = False
        self._expect_duplicates = False  # the last write met stored rows
        self._series: dict[SeriesName, int] = {}  # numbers of committed series; never change

    @classmethod
    async def connect(cls, *, dsn: str, max_connections: int = 4) -> "PostgresStorage":
        """Open a pool on `dsn`; query parameters of the DSN that are not connection
        options (e.g. `?lock_timeout=2000`) are applied as session settings."""
        pool = await asyncpg.create_pool(
            dsn, min_size=cls.parallel_writes, max_size=max(max_connections, cls.parallel_writes)
        )
        return cls(pool=pool)

    async def migrate(self) -> None:
        """Apply pending migrations under an advisory lock, so that collectors starting
        together run each migration once; then turn on TimescaleDB when it is there."""
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await connection.execute(schema.CREATE_VERSIONS)
            current: int = await connection.fetchval(schema.SELECT_VERSION)
            script = schema.migration_script(dialect=schema.POSTGRES, current_version=current)
            for statement in script:
                await connection.execute(statement)
            self.timescaledb = await _use_timescaledb(connection)
        logger.info(
            "storage schema ready on PostgreSQL (%s)",
            "TimescaleDB hypertables" if self.timescaledb else "plain tables",
            extra={"backend": "postgresql", "timescaledb": self.timescaledb,
                   "schema_version": max(current, schema.LATEST_VERSION)},
        )  # fmt: skip
        if current > schema.LATEST_VERSION:
            logger.warning(
                "database schema version %d is newer than this collector's %d",
                current, schema.LATEST_VERSION,
            )  # fmt: skip
        await self._prepare_writers()

    async def _prepare_writers(self) -> None:
        """Have every write statement parsed and planned on the writers' connections.

        asyncpg prepares a statement on a connection the first time it runs there, a round
        trip of its own, and while a backfill parses pages every answer waits for the event
        loop to finish parsing the pages at hand (4 to 16 ms each, bench B2). One symbol's
        backfill (14,400 candles in 3 writes) is done before later writes would have made
        the connections ready: 0.146 s (median of 6 runs) without this, 0.124 s with it.
        Run with empty arrays in a transaction that is rolled back, they store nothing.
        """
        connections = [await self._pool.acquire() for _ in range(self.parallel_writes)]
        try:
            for connection in connections:
                transaction = connection.transaction()
                await transaction.start()
                try:
                    for statement in _WRITE_STATEMENTS:
                        await connection.execute(statement, *["{}"] * _parameter_count(statement))
                finally:
                    await transaction.rollback()
        finally:
            for connection in connections:
                await self._pool.release(connection)

    async def write(self, batch: WriteBatch) -> WriteResult:
        """Store the batch in one transaction; rows already stored are skipped."""
        if not self._expect_duplicates:
            try:
                return await self._write(batch, on_conflict="")
            except asyncpg.UniqueViolationError:
                self._expect_duplicates = True  # rolled back whole: nothing of it is stored
        result = await self._write(batch, on_conflict=_SKIPPING_STORED)
        skipped = len(batch.candles) - result.candles + len(batch.trades) - result.trades
        self._expect_duplicates = skipped > 0
        return result

    async def _write(self, batch: WriteBatch, *, on_conflict: str) -> WriteResult:
        new = new_series(batch, numbered=self._series)
        async with self._pool.acquire() as connection, connection.transaction():
            # Numbered in this transaction, and kept only once it commits: a rolled back
            # number may be gone, or another series' after a concurrent writer's.
            learnt = await _series_numbers(connection, new)
            ids = self._series | learnt if learnt else self._series
            candles = await _insert_candles(
                connection, batch.candles, ids=ids, on_conflict=on_conflict
            )
            trades = await _insert_trades(
                connection, batch.trades, ids=ids, on_conflict=on_conflict
            )
            await _merge_coverage(connection, batch.coverage)
        self._series.update(learnt)
        return WriteResult(candles=candles, trades=trades)

    async def coverage(self, *, exchange: str, symbol: str, kind: SeriesKind) -> list[TimeRange]:
        """Covered ranges of one series, merged and sorted."""
        rows = await self._pool.fetch(_QUERIES.select_coverage, exchange, symbol, kind.value)
        return merge(range_from_row(row) for row in rows)

    async def candles(self, *, exchange: str, symbol: str, window: TimeRange) -> list[Candle]:
        """Stored 1m candles that start in `window`, oldest first."""
        rows = await self._pool.fetch(
            _QUERIES.select_candles, exchange, symbol, TIMEFRAME_1M, window.start, window.end
        )
        return [candle_from_row(row) for row in rows]

    async def trades(self, *, exchange: str, symbol: str, window: TimeRange) -> list[Trade]:
        """Stored trades whose time is in `window`, oldest first."""
        rows = await self._pool.fetch(
            _QUERIES.select_trades, exchange, symbol, window.start, window.end
        )
        return [trade_from_row(row) for row in rows]

    async def close(self) -> None:
        """Close the pool's connections once their current queries finish."""
        await self._pool.close()


_Connection: TypeAlias = "asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"


async def _series_numbers(
    connection: _Connection, names: list[SeriesName]
) -> dict[SeriesName, int]:
    """The numbers of series `names`, each added to `ohlcv_series` when it has none.

    Added in the sorted order of `names`, so that writers adding the same new series wait
    for each other instead of deadlocking; read by a statement of its own, whose snapshot
    sees a number another writer committed while this one waited for it.
    """
    if not names:
        return {}
    exchanges, symbols = (text_array(column) for column in zip(*names, strict=True))
    await connection.execute(_INSERT_SERIES, exchanges, symbols)
    rows = await connection.fetch(_SELECT_SERIES, exchanges, symbols)
    return {(exchange, symbol): number for exchange, symbol, number in rows}


async def _insert_candles(
    connection: _Connection, candles: list[Candle], *, ids: dict[SeriesName, int], on_conflict: str
) -> int:
    if not candles:
        return 0
    exchanges, symbols, starts, opens, highs, lows, closes, volumes, counts, timeframes = zip(
        *candles, strict=True
    )
    status = await connection.execute(
        _INSERT_CANDLES + on_conflict,
        number_array(map(ids.__getitem__, zip(exchanges, symbols, strict=True))),
        number_array(starts), text_array(timeframes), number_array(opens), number_array(highs),
        number_array(lows), number_array(closes), number_array(volumes),
        optional_number_array(counts),
    )  # fmt: skip
    return _inserted(status)


async def _insert_trades(
    connection: _Connection, trades: list[Trade], *, ids: dict[SeriesName, int], on_conflict: str
) -> int:
    if not trades:
        return 0
    exchanges, symbols, trade_ids, times, prices, amounts, sides = zip(*trades, strict=True)
    status = await connection.execute(
        _INSERT_TRADES + on_conflict,
        number_array(map(ids.__getitem__, zip(exchanges, symbols, strict=True))),
        number_array(times), text_array(trade_ids), number_array(prices), number_array(amounts),
        text_array([side.value for side in sides]),
    )  # fmt: skip
    return _inserted(status)


async def _merge_coverage(connection: _Connection, coverage: list[Coverage]) -> None:
    """Replace each touched series' ranges with their merge with the new ones.

    Three statements for all the batch's series (lock, take the stored ranges by deleting
    them, insert the merge), where a statement per series and step made four round trips
    per series: a stream's one-second batch touches every symbol that traded (2,000 round
    trips at 500 symbols), a backfill's batch five or six, and while the event loop is busy
    parsing pages every answer waits for it. The series are locked first (transaction
    advisory locks, in the sorted order of `coverage_by_series`, so concurrent writers
    cannot deadlock), because a series with no ranges yet has no row `SELECT ... FOR
    UPDATE` could lock; the ranges are read by a later statement, whose snapshot sees what
    a writer that held the lock before committed.
    """
    grouped = {
        (exchange, symbol, kind.value): ranges
        for (exchange, symbol, kind), ranges in coverage_by_series(coverage).items()
    }
    if not grouped:
        return
    series_arrays = [text_array(column) for column in zip(*grouped, strict=True)]
    keys = text_array(["\n".join(series) for series in grouped])
    await connection.execute(_LOCK_COVERED_SERIES, keys)
    stored: dict[tuple[str, str, str], list[TimeRange]] = {series: [] for series in grouped}
    for exchange, symbol, kind, start, end in await connection.fetch(
        _TAKE_COVERAGE, *series_arrays
    ):
        stored[exchange, symbol, kind].append(TimeRange(start, end))
    merged = [
        (*series, part)
        for series, ranges in grouped.items()
        for part in merge([*stored[series], *ranges])
    ]
    if merged:  # only empty ranges came, which carry nothing (see core.coverage.merge)
        exchanges, symbols, kinds, parts = zip(*merged, strict=True)
        await connection.execute(
            _INSERT_COVERAGE, text_array(exchanges), text_array(symbols), text_array(kinds),
            number_array(part.start for part in parts), number_array(part.end for part in parts),
        )  # fmt: skip


async def _use_timescaledb(connection: _Connection) -> bool:
    """Make candles and trades hypertables when TimescaleDB is installed or installable.

    Run at every migration rather than as a versioned step, so a database that gains
    the extension later is converted then (`migrate_data` moves existing rows).
    """
    installed = await connection.fetchval(
        "SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'timescaledb')"
    )
    if not installed:
        available = await connection.fetchval(
            "SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'timescaledb')"
        )
        if not available:
            return False
        try:
            async with connection.transaction():  # a savepoint: a refusal keeps plain tables
                await connection.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        except asyncpg.PostgresError as error:
            logger.warning(
                "TimescaleDB is available but could not be enabled (%s); using plain tables",
                error, extra={"error": str(error)},
            )  # fmt: skip
            return False
    for table in _HYPERTABLES:
        await connection.execute(
            f"SELECT create_hypertable('{table}', 'ts', if_not_exists => TRUE,"
            " migrate_data => TRUE)"
        )
    return True
