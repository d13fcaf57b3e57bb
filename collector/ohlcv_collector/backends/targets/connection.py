"""One small interface over asyncpg and aiosqlite, so the targets SQL is written only once.

Statements use PostgreSQL's numbered parameters ($1, $2); SQLite reads the same
numbers as ?1, ?2. Every driver error leaves as `TargetsDatabaseError` with a message
a person can act on, and no password ever appears in it.
"""

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

import aiosqlite
import asyncpg

Dialect = Literal["postgresql", "sqlite"]
_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")
_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, sqlite3.Error, OSError)
_TIMEOUT_SECONDS = 10.0
_PARAMETER = re.compile(r"\$(\d+)")


class TargetsDatabaseError(Exception):
    """The targets database cannot be reached or refused a statement; the message says why."""


class Session(Protocol):
    """Statements inside one transaction."""

    async def fetch(self, sql: str, *args: object) -> list[tuple[object, ...]]:
        """All rows of a query."""
        ...

    async def execute(self, sql: str, *args: object) -> int:
        """Run a statement; returns how many rows it changed."""
        ...


class Database(Protocol):
    """A lazily connected targets database."""

    dialect: Dialect
    url: str

    def transaction(self, *, write: bool = False) -> AbstractAsyncContextManager[Session]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        ...

    async def close(self) -> None:
        """Release the connections."""
        ...


def redact_url(url: str) -> str:
    """`url` with its password masked, fit for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def open_database(url: str, *, create: bool = False) -> Database:
    """The database at `url`; a missing SQLite file is created only when `create` is set.

    A SQLite URL names the same file as for the storage backend: the URL's path, which
    is absolute (`settings` writes sqlite:/// followed by an absolute path).
    """
    parts = urlsplit(url)
    if parts.scheme == "sqlite" and not parts.netloc and parts.path.startswith("/"):
        path = Path("/" + unquote(parts.path).lstrip("/"))
        return _SqliteDatabase(path=path, create=create)
    if parts.scheme in _POSTGRES_SCHEMES and parts.netloc:
        return _PostgresDatabase(dsn=urlunsplit(parts._replace(scheme="postgresql")))
    raise TargetsDatabaseError(
        f"unsupported database URL {redact_url(url)!r}:"
        " expected postgresql://... or sqlite:///absolute/path"
    )


@contextmanager
def _translated(url: str) -> Iterator[None]:
    try:
        yield
    except _DRIVER_ERRORS as error:
        text = str(error) or type(error).__name__
        missing_table = isinstance(error, asyncpg.UndefinedTableError) or (
            isinstance(error, sqlite3.OperationalError) and text.startswith("no such table")
        )
        hint = "; create the tables with `ohlcv-collector db init`" if missing_table else ""
        raise TargetsDatabaseError(f"targets database {url}: {text}{hint}") from error


class _PostgresSession:
    def __init__(self, connection: "asyncpg.pool.PoolConnectionProxy[asyncpg.Record]") -> None:
        self._connection = connection

    async def fetch(self, sql: str, *args: object) -> list[tuple[object, ...]]:
        return [tuple(record) for record in await self._connection.fetch(sql, *args)]

    async def execute(self, sql: str, *args: object) -> int:
        status = await self._connection.execute(sql, *args)
        count = status.rsplit(" ", 1)[-1]
        return int(count) if count.isdigit() else 0


class _PostgresDatabase:
    dialect: Dialect = "postgresql"

    def __init__(self, *, dsn: str) -> None:
        self._dsn = dsn
        self.url = redact_url(dsn)
        self._pool: asyncpg.Pool[asyncpg.Record] | None = None
        self._lock = asyncio.Lock()

    async def _connected(self) -> "asyncpg.Pool[asyncpg.Record]":
        async with self._lock:
            if self._pool is None:
                try:
                    self._pool = await asyncpg.create_pool(
                        self._dsn, min_size=1, max_size=2, timeout=_TIMEOUT_SECONDS
                    )
                except (*_DRIVER_ERRORS, ValueError) as error:
                    text = str(error) or type(error).__name__
                    raise TargetsDatabaseError(f"cannot connect to {self.url}: {text}") from error
            return self._pool

    @asynccontextmanager
    async def transaction(self, *, write: bool = False) -> AsyncIterator[Session]:
        # `write` needs no hint here: PostgreSQL locks rows as statements reach them.
        pool = await self._connected()
        with _translated(self.url):
            async with pool.acquire() as connection, connection.transaction():
                yield _PostgresSession(connection)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


class _SqliteSession:
    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    async def fetch(self, sql: str, *args: object) -> list[tuple[object, ...]]:
        async with self._connection.execute(_PARAMETER.sub(r"?\1", sql), args) as cursor:
            return [tuple(row) for row in await cursor.fetchall()]

    async def execute(self, sql: str, *args: object) -> int:
        async with self._connection.execute(_PARAMETER.sub(r"?\1", sql), args) as cursor:
            return max(cursor.rowcount, 0)


class _SqliteDatabase:
    """One connection, one transaction at a time; other processes wait up to the timeout."""

    dialect: Dialect = "sqlite"

    def __init__(self, *, path: Path, create: bool) -> None:
        self._path = path
        self._create = create
        self.url = f"sqlite:///{path}"
        self._connection: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def _connected(self) -> aiosqlite.Connection:
        if self._connection is None:
            if not self._create and not self._path.is_file():
                raise TargetsDatabaseError(
                    f"the targets database {self._path} does not exist;"
                    " create it with `ohlcv-collector db init`"
                )
            try:
                if self._create:
                    self._path.parent.mkdir(parents=True, exist_ok=True)
                self._connection = await aiosqlite.connect(
                    self._path, timeout=_TIMEOUT_SECONDS, isolation_level=None
                )
            except (sqlite3.Error, OSError) as error:
                raise TargetsDatabaseError(f"cannot open {self._path}: {error}") from error
        return self._connection

    @asynccontextmanager
    async def transaction(self, *, write: bool = False) -> AsyncIterator[Session]:
        async with self._lock:
            connection = await self._connected()
            with _translated(self.url):
                # IMMEDIATE takes the write lock up front: a deferred transaction that reads
                # and then writes can fail at once instead of waiting for another writer.
                await connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield _SqliteSession(connection)
                except BaseException:
                    if connection.in_transaction:
                        await connection.execute("ROLLBACK")
                    raise
                await connection.execute("COMMIT")

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
