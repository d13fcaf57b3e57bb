"""Schema version 2: a bar's open may lie outside its high and low, as BitMEX opens each bin at
the previous bin's close. A database written by version 1 is migrated in place on both
backends, keeps its rows, and then stores such bars, while inverted bars stay impossible."""

from decimal import Decimal

import pytest

from ohlcv_collector.backends.storage import schema
from ohlcv_collector.models import TimeRange
from ohlcv_collector.ports import WriteBatch, WriteResult
from tests.integration.storage_backends import EXCHANGE, SYMBOL, T0, Backend, candle

EVERYTHING = TimeRange(0, 4_102_444_800_000)


async def write_version_1(backend: Backend) -> None:
    """The tables as version 1 created them, holding one candle (the first of `candle`)."""
    dialect = backend.dialect
    statements = [
        schema.CREATE_VERSIONS,
        *schema.MIGRATIONS[0].statements(dialect),
        f"INSERT INTO {schema.VERSIONS} VALUES (1, 'candles, trades, coverage')",  # noqa: S608
        f"INSERT INTO {schema.CANDLES} VALUES ('{EXCHANGE}', '{SYMBOL}', '1m',"  # noqa: S608
        f" {dialect.instant_from_ms.format(T0)}, '61828.00', '61900.5', '61800.01', '61850',"
        " '0.26833389999999996', 0)",
    ]
    await backend.execute(statements)


async def test_version_1_database_migrates_and_stores_an_open_outside_the_range(
    backend: Backend,
) -> None:
    await write_version_1(backend)
    storage = await backend.open()
    try:
        await storage.migrate()
        versions = await backend.fetch(f"SELECT version FROM {schema.VERSIONS}")  # noqa: S608
        assert versions == [(1,), (2,), (3,), (4,)]
        assert await storage.candles(exchange=EXCHANGE, symbol=SYMBOL, window=EVERYTHING) == [
            candle(0)
        ]
        # Recorded XBTUSD bin of 2020-04-11: open 6930 (the previous close), high 6929.5.
        bitmex_bin = candle(
            1, open=Decimal(6930), high=Decimal("6929.5"), low=Decimal("6928.5"),
            close=Decimal("6928.5"),
        )  # fmt: skip
        assert await storage.write(WriteBatch(candles=[bitmex_bin])) == WriteResult(1, 0)
        stored = await storage.candles(exchange=EXCHANGE, symbol=SYMBOL, window=EVERYTHING)
        assert stored == [candle(0), bitmex_bin]
        with pytest.raises(backend.integrity_error):  # a close above the high stays impossible
            await storage.write(WriteBatch(candles=[candle(2, close=Decimal(70000))]))
        await storage.migrate()  # nothing left to do
        assert await backend.count(schema.CANDLES) == 2
    finally:
        await storage.close()
