"""Schema version 3: the coverage table also keeps the candle ranges an exchange cannot serve
(kind `candles-uncollectable`), which `ohlcv-collector status` reads so as not to count them
as holes. A version-2 database is migrated in place on both backends and keeps its coverage;
a kind nobody writes stays impossible."""

import sqlite3

import asyncpg
import pytest

from ohlcv_collector.backends.storage import schema
from ohlcv_collector.models import MINUTE_MS, SeriesKind, TimeRange
from ohlcv_collector.ports import Coverage, WriteBatch
from tests.integration.storage_backends import EXCHANGE, SYMBOL, T0, Backend


def minutes(start: int, end: int) -> TimeRange:
    return TimeRange(T0 + start * MINUTE_MS, T0 + end * MINUTE_MS)


async def write_version_2(backend: Backend) -> None:
    """The tables as versions 1 and 2 left them, with one covered candle range (minutes 0-5)."""
    dialect = backend.dialect
    instant = dialect.instant_from_ms.format
    covered = minutes(0, 5)
    await backend.execute(
        [
            schema.CREATE_VERSIONS,
            *(s for migration in schema.MIGRATIONS[:2] for s in migration.statements(dialect)),
            f"INSERT INTO {schema.VERSIONS} VALUES (1, 'v1'), (2, 'v2')",  # noqa: S608
            f"INSERT INTO {schema.COVERAGE} VALUES ('{EXCHANGE}', '{SYMBOL}', 'candles',"  # noqa: S608
            f" {instant(covered.start)}, {instant(covered.end)})",
        ],
    )


async def test_version_2_database_migrates_and_keeps_uncollectable_ranges(
    backend: Backend,
) -> None:
    await write_version_2(backend)
    assert await backend.fetch(f"SELECT version FROM {schema.VERSIONS}") == [(1,), (2,)]  # noqa: S608
    storage = await backend.open()
    try:
        await storage.migrate()
        versions = await backend.fetch(f"SELECT version FROM {schema.VERSIONS}")  # noqa: S608
        assert versions == [(1,), (2,), (3,), (4,)]
        series = {"exchange": EXCHANGE, "symbol": SYMBOL}
        assert await storage.coverage(**series, kind=SeriesKind.CANDLES) == [minutes(0, 5)]
        kind = SeriesKind.UNCOLLECTABLE_CANDLES
        found = [minutes(-30, -20), minutes(-20, -10)]  # two answers, one range
        await storage.write(
            WriteBatch(coverage=[Coverage(EXCHANGE, SYMBOL, kind, r) for r in found])
        )
        assert await storage.coverage(**series, kind=kind) == [minutes(-30, -10)]
        assert await storage.coverage(**series, kind=SeriesKind.CANDLES) == [minutes(0, 5)]
        await storage.migrate()  # nothing left to do
    finally:
        await storage.close()
    instant = backend.dialect.instant_from_ms
    bogus = (
        f"INSERT INTO {schema.COVERAGE} VALUES ('{EXCHANGE}', '{SYMBOL}', 'bogus',"  # noqa: S608
        f" {instant.format(T0)}, {instant.format(T0 + MINUTE_MS)})"
    )
    with pytest.raises((asyncpg.CheckViolationError, sqlite3.IntegrityError)):
        await backend.execute([bogus])
