"""Both storage backends behind one test-side handle: open, inspect raw tables, stall.

Tests of the storage and of the writer run the same assertions on PostgreSQL and on
SQLite; this is where the two differ (how to open them so that lock waits fail fast,
how to count rows behind the storage's back, how to make writes fail for a while).
"""

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from ohlcv_collector.backends.storage import SqliteStorage, open_sql_storage, schema
from ohlcv_collector.models import Candle, Side, Trade
from ohlcv_collector.ports import Storage

EXCHANGE = "binance"
SYMBOL = "BTC/USDT"
T0 = 1_700_000_040_000  # a whole minute


@dataclass(frozen=True)
class Backend:
    """One storage backend under test: `url` is what `open_sql_storage` takes."""

    name: str
    url: str

    @property
    def dialect(self) -> schema.Dialect:
        """The storage's SQL dialect, for writing tables as an older version did."""
        return schema.POSTGRES if self.name == "postgres" else schema.SQLITE

    @property
    def integrity_error(self) -> type[Exception]:
        """What the driver raises when a row breaks a constraint."""
        return asyncpg.CheckViolationError if self.name == "postgres" else sqlite3.IntegrityError

    async def open(self, *, fail_fast: bool = False) -> Storage:
        """A storage on this backend; with `fail_fast`, a write that meets a lock fails
        within 0.1 s instead of waiting, so a stall looks like an outage."""
        if not fail_fast:
            return await open_sql_storage(self.url)
        if self.name == "postgres":
            return await open_sql_storage(f"{self.url}?lock_timeout=100")
        return await SqliteStorage.connect(path=self._path, busy_timeout=0.1)

    @property
    def _path(self) -> Path:
        return Path(self.url.removeprefix("sqlite://"))

    async def fetch(self, query: str) -> list[tuple[object, ...]]:
        """Rows of a raw query on a connection of its own."""
        if self.name == "postgres":
            connection = await asyncpg.connect(self.url)
            try:
                return [tuple(row) for row in await connection.fetch(query)]
            finally:
                await connection.close()
        with contextlib.closing(sqlite3.connect(self._path)) as database:
            rows: list[tuple[object, ...]] = database.execute(query).fetchall()
            return rows

    async def execute(self, statements: list[str]) -> None:
        """Run raw statements on a connection of their own and commit them, as an older
        version of the collector left a database (the migration tests start from that)."""
        if self.name == "postgres":
            connection = await asyncpg.connect(self.url)
            try:
                for statement in statements:
                    await connection.execute(statement)
            finally:
                await connection.close()
            return
        with contextlib.closing(sqlite3.connect(self._path)) as database:
            for statement in statements:
                database.execute(statement)
            database.commit()

    async def count(self, table: str) -> int:
        """Rows in `table`."""
        [(count,)] = await self.fetch(f"SELECT count(*) FROM {table}")  # noqa: S608
        return int(str(count))

    @contextlib.asynccontextmanager
    async def stalled(self) -> AsyncIterator[None]:
        """Hold an exclusive lock on candles and trades from another connection, so every
        write waits (and, opened with `fail_fast`, fails) until the block exits."""
        if self.name == "postgres":
            connection = await asyncpg.connect(self.url)
            try:
                async with connection.transaction():
                    await connection.execute(
                        "LOCK TABLE ohlcv_candles, ohlcv_trades IN ACCESS EXCLUSIVE MODE"
                    )
                    yield
            finally:
                await connection.close()
            return
        locker = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            await asyncio.to_thread(locker.execute, "BEGIN EXCLUSIVE")
            yield
            await asyncio.to_thread(locker.execute, "ROLLBACK")
        finally:
            locker.close()


def backend_for(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The backend a test is parametrized with ("sqlite" or "postgres")."""
    if request.param == "postgres":
        return Backend(name="postgres", url=request.getfixturevalue("postgres_dsn"))
    return Backend(name="sqlite", url=f"sqlite://{tmp_path / 'ohlcv.sqlite'}")


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def trade(index: int, *, price: str = "61828.00", amount: str = "0.26833389999999996") -> Trade:
    """Trade number `index` of the test symbol, one every 10 ms from T0."""
    side = Side.BUY if index % 2 else Side.SELL
    return Trade(EXCHANGE, SYMBOL, f"t{index}", T0 + 10 * index, Decimal(price),
                 Decimal(amount), side)  # fmt: skip


def candle(
    minute: int,
    *,
    open: Decimal = Decimal("61828.00"),
    high: Decimal = Decimal("61900.5"),
    low: Decimal = Decimal("61800.01"),
    close: Decimal = Decimal("61850"),
    volume: Decimal = Decimal("0.26833389999999996"),
) -> Candle:
    """The 1m candle of minute `minute` after T0."""
    start = T0 + 60_000 * minute
    return Candle(EXCHANGE, SYMBOL, start, open, high, low, close, volume, trades=minute * 3)
