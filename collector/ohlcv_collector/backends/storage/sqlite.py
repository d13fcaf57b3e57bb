"""Storage in an embedded SQLite file: the default when no PostgreSQL server is configured.

Two connections: one writes, one reads. In WAL mode readers never wait for the writer,
so a 50,000-row batch does not stall the collector's coverage lookups. Writes take
`BEGIN IMMEDIATE`, which makes SQLite queue concurrent writers (other processes too,
up to `busy_timeout`) rather than fail half-way. Inserts use `ON CONFLICT DO NOTHING`,
not `INSERT OR IGNORE`: the latter would also silently drop rows that break a CHECK
constraint, where a broken row must fail its whole batch.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from ohlcv_collector.backends.storage import schema
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
from ohlcv_collector.ports import WriteBatch, WriteResult

logger = logging.getLogger("ohlcv_collector.storage")

_QUERIES = render(schema.SQLITE)


def _insert(*, table: str, columns: tuple[str, ...]) -> str:
    placeholders = ", ".join(schema.SQLITE.param(i) for i in range(1, len(columns) + 1))
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"  # noqa: S608
        " ON CONFLICT DO NOTHING"
    )


_INSERT_CANDLES = _insert(table=schema.CANDLE_ROWS, columns=CANDLE_ROW_COLUMNS)
_INSERT_TRADES = _insert(table=schema.TRADE_ROWS, columns=TRADE_ROW_COLUMNS)


class SqliteStorage:
    """The `Storage` port on one SQLite file; decimals are stored as their exact text."""

    parallel_writes = 1  # SQLite has one writer at a time

    def __init__(self, *, writer: aiosqlite.Connection, reader: aiosqlite.Connection) -> None:
        self._writer = writer
        self._reader = reader
        self._writing = asyncio.Lock()
        self._series: dict[SeriesName, int] = {}  # numbers of committed series; never change

    @classmethod
    async def connect(cls, *, path: Path, busy_timeout: float = 30.0) -> "SqliteStorage":
        """Open (creating if needed) the database file at `path` in WAL mode.

        `busy_timeout` is how long a statement waits for another process's lock
        before it fails with "database is locked".
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = await aiosqlite.connect(path, isolation_level=None, timeout=busy_timeout)
        # Read the answer: a pragma's unread result keeps its statement, and a lock, open.
        [(mode,)] = await writer.execute_fetchall("PRAGMA journal_mode=WAL")
        if mode != "wal":
            logger.warning("SQLite journal mode is %s, not WAL: readers wait for writes", mode)
        reader = await aiosqlite.connect(path, isolation_level=None, timeout=busy_timeout)
        return cls(writer=writer, reader=reader)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """The write connection inside `BEGIN IMMEDIATE`, committed unless the body raises."""
        async with self._writing:
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
            except BaseException:
                if self._writer.in_transaction:
                    await self._writer.rollback()
                raise
            await self._writer.commit()

    async def migrate(self) -> None:
        """Apply pending migrations; `BEGIN IMMEDIATE` makes a second process wait for
        the first one's migration and then find nothing left to do."""
        async with self._transaction() as connection:
            await connection.execute(schema.CREATE_VERSIONS)
            [(current,)] = await connection.execute_fetchall(schema.SELECT_VERSION)
            for statement in schema.migration_script(
                dialect=schema.SQLITE, current_version=current
            ):
                await connection.execute(statement)
        logger.info(
            "storage schema ready on SQLite",
            extra={"backend": "sqlite", "schema_version": max(current, schema.LATEST_VERSION)},
        )
        if current > schema.LATEST_VERSION:
            logger.warning(
                "database schema version %d is newer than this collector's %d",
                current, schema.LATEST_VERSION,
            )  # fmt: skip

    async def write(self, batch: WriteBatch) -> WriteResult:
        """Store the batch in one transaction; rows already stored are skipped."""
        new = new_series(batch, numbered=self._series)
        async with self._transaction() as connection:
            # Kept once the transaction commits (see PostgresStorage._write).
            learnt = {name: await _series_number(connection, name) for name in new}
            ids = self._series | learnt if learnt else self._series
            candles = await connection.executemany(
                _INSERT_CANDLES,
                [(ids[c.exchange, c.symbol], c.start, c.timeframe, str(c.open), str(c.high),
                  str(c.low), str(c.close), str(c.volume), c.trades) for c in batch.candles],
            )  # fmt: skip
            trades = await connection.executemany(
                _INSERT_TRADES,
                [(ids[t.exchange, t.symbol], t.time, t.trade_id, str(t.price), str(t.amount),
                  t.side.value) for t in batch.trades],
            )  # fmt: skip
            for (exchange, symbol, kind), ranges in coverage_by_series(batch.coverage).items():
                series = (exchange, symbol, kind.value)
                stored = await connection.execute_fetchall(_QUERIES.select_coverage, series)
                merged = merge([*(range_from_row(row) for row in stored), *ranges])
                await connection.execute(_QUERIES.delete_coverage, series)
                await connection.executemany(
                    _QUERIES.insert_coverage, [(*series, part.start, part.end) for part in merged]
                )
        self._series.update(learnt)
        # executemany's rowcount sums the rows each statement changed: skipped ones add 0.
        return WriteResult(candles=max(candles.rowcount, 0), trades=max(trades.rowcount, 0))

    async def coverage(self, *, exchange: str, symbol: str, kind: SeriesKind) -> list[TimeRange]:
        """Covered ranges of one series, merged and sorted."""
        rows = await self._reader.execute_fetchall(
            _QUERIES.select_coverage, (exchange, symbol, kind.value)
        )
        return merge(range_from_row(row) for row in rows)

    async def candles(self, *, exchange: str, symbol: str, window: TimeRange) -> list[Candle]:
        """Stored 1m candles that start in `window`, oldest first."""
        rows = await self._reader.execute_fetchall(
            _QUERIES.select_candles, (exchange, symbol, TIMEFRAME_1M, window.start, window.end)
        )
        return [candle_from_row(row) for row in rows]

    async def trades(self, *, exchange: str, symbol: str, window: TimeRange) -> list[Trade]:
        """Stored trades whose time is in `window`, oldest first."""
        rows = await self._reader.execute_fetchall(
            _QUERIES.select_trades, (exchange, symbol, window.start, window.end)
        )
        return [trade_from_row(row) for row in rows]

    async def close(self) -> None:
        """Close both connections (the writer's last, so it can checkpoint the WAL)."""
        await self._reader.close()
        async with self._writing:
            await self._writer.close()


async def _series_number(connection: aiosqlite.Connection, name: SeriesName) -> int:
    """The number of series `name`, added to `ohlcv_series` when it has none."""
    await connection.execute(_QUERIES.insert_series, name)
    [(number,)] = await connection.execute_fetchall(_QUERIES.select_series, name)
    return int(number)
