"""Schema version 4: candle and trade rows are keyed by a series number (`ohlcv_series`), and
the views `ohlcv_candles` and `ohlcv_trades` keep the columns the tables had. A version-3
database is migrated in place on both backends and keeps every row; new series are numbered
once, also when two writers bring the same new series at the same time."""

import asyncio

from ohlcv_collector.backends.storage import schema
from ohlcv_collector.models import Candle, TimeRange
from ohlcv_collector.ports import WriteBatch, WriteResult
from tests.integration.storage_backends import EXCHANGE, SYMBOL, T0, Backend, candle, trade

EVERYTHING = TimeRange(0, 4_102_444_800_000)
OTHER = "ETH/USDT"
CANDLE_COLUMNS = ["exchange", "symbol", "timeframe", "ts", "open", "high", "low", "close",
                  "volume", "trades"]  # fmt: skip
TRADE_COLUMNS = ["exchange", "symbol", "trade_id", "ts", "price", "amount", "side"]


async def write_version_3(backend: Backend) -> None:
    """The tables as versions 1 to 3 left them: candles of two symbols, trades of one."""
    dialect = backend.dialect
    instant = dialect.instant_from_ms.format
    rows = [
        f"INSERT INTO {schema.CANDLES} VALUES ('{EXCHANGE}', '{symbol}', '1m',"  # noqa: S608
        f" {instant(T0 + 60_000 * minute)}, '61828.00', '61900.5', '61800.01', '61850',"
        f" '0.26833389999999996', {minute * 3})"
        for symbol in (SYMBOL, OTHER)
        for minute in range(3)
    ]
    trades = [
        f"INSERT INTO {schema.TRADES} VALUES ('{EXCHANGE}', '{SYMBOL}', 't{i}',"  # noqa: S608
        f" {instant(T0 + 10 * i)}, '61828.00', '0.26833389999999996', '{side}')"
        for i, side in enumerate(["sell", "buy", "sell", "buy"])  # as `trade(i)` has them
    ]
    await backend.execute(
        [
            schema.CREATE_VERSIONS,
            *(s for migration in schema.MIGRATIONS[:3] for s in migration.statements(dialect)),
            f"INSERT INTO {schema.VERSIONS} VALUES (1, 'v1'), (2, 'v2'), (3, 'v3')",  # noqa: S608
            *rows,
            *trades,
        ],
    )


async def columns(backend: Backend, view: str) -> list[str]:
    """The column names `SELECT *` on `view` gives, in order."""
    if backend.name == "postgres":
        query = (
            "SELECT column_name FROM information_schema.columns"  # noqa: S608
            f" WHERE table_name = '{view}' ORDER BY ordinal_position"
        )
    else:
        query = f"SELECT name FROM pragma_table_info('{view}')"  # noqa: S608
    return [str(name) for (name,) in await backend.fetch(query)]


async def test_version_3_database_migrates_and_keeps_every_row(backend: Backend) -> None:
    await write_version_3(backend)
    storage = await backend.open()
    try:
        await storage.migrate()
        assert await backend.fetch(f"SELECT version FROM {schema.VERSIONS}") == [  # noqa: S608
            (1,), (2,), (3,), (4,),
        ]  # fmt: skip
        assert await backend.fetch(
            f"SELECT exchange, symbol FROM {schema.SERIES} ORDER BY id"  # noqa: S608
        ) == [(EXCHANGE, SYMBOL), (EXCHANGE, OTHER)]  # fmt: skip
        assert await storage.candles(exchange=EXCHANGE, symbol=SYMBOL, window=EVERYTHING) == [
            candle(minute) for minute in range(3)
        ]
        others = await storage.candles(exchange=EXCHANGE, symbol=OTHER, window=EVERYTHING)
        assert others == [replace_symbol(candle(minute), OTHER) for minute in range(3)]
        assert await storage.trades(exchange=EXCHANGE, symbol=SYMBOL, window=EVERYTHING) == [
            trade(i) for i in range(4)
        ]
        assert await columns(backend, schema.CANDLES) == CANDLE_COLUMNS
        assert await columns(backend, schema.TRADES) == TRADE_COLUMNS
        # Rows after the migration join the series they belong to; stored ones are skipped.
        batch = WriteBatch(candles=[candle(2), candle(3)], trades=[trade(3), trade(4)])
        assert await storage.write(batch) == WriteResult(candles=1, trades=1)
        assert await backend.count(schema.CANDLES) == 7
        assert await backend.count(schema.TRADES) == 5
        await storage.migrate()  # nothing left to do
    finally:
        await storage.close()


def replace_symbol(row: Candle, symbol: str) -> Candle:
    return row._replace(symbol=symbol)


async def test_two_writers_number_a_new_series_once(backend: Backend) -> None:
    """Both learn the same number, and each one's rows land in the same series."""
    first, second = await backend.open(), await backend.open()
    try:
        await first.migrate()
        new = "SOL/USDT"
        batches = [
            WriteBatch(candles=[replace_symbol(candle(m), new) for m in range(0, 10, 2)]),
            WriteBatch(candles=[replace_symbol(candle(m), new) for m in range(1, 10, 2)]),
        ]
        results = await asyncio.gather(first.write(batches[0]), second.write(batches[1]))
        assert list(results) == [WriteResult(candles=5, trades=0)] * 2
        assert await backend.fetch(
            f"SELECT symbol FROM {schema.SERIES}"  # noqa: S608
        ) == [(new,)]  # fmt: skip
        stored = await first.candles(exchange=EXCHANGE, symbol=new, window=EVERYTHING)
        assert stored == [replace_symbol(candle(m), new) for m in range(10)]
        # The second learnt the number too: its next write needs no lookup, and lands there.
        await second.write(WriteBatch(candles=[replace_symbol(candle(10), new)]))
        assert len(await first.candles(exchange=EXCHANGE, symbol=new, window=EVERYTHING)) == 11
    finally:
        await first.close()
        await second.close()


async def test_one_batch_numbers_each_of_many_new_series_once(backend: Backend) -> None:
    """A stream's first batch brings every symbol at once (500 at the bench's largest):
    each series gets its own number, candles and trades of a symbol share it, and every
    row reads back under its symbol."""
    symbols = [f"N{i:02d}/USDT" for i in range(40)]
    storage = await backend.open()
    try:
        await storage.migrate()
        batch = WriteBatch(
            candles=[replace_symbol(candle(0), symbol) for symbol in symbols],
            trades=[trade(0)._replace(symbol=symbol) for symbol in symbols[::2]],
        )
        assert await storage.write(batch) == WriteResult(candles=40, trades=20)
        numbers = await backend.fetch(f"SELECT symbol, id FROM {schema.SERIES}")  # noqa: S608
        assert sorted(str(symbol) for symbol, _ in numbers) == sorted(symbols)
        assert len({number for _, number in numbers}) == 40
        for symbol in symbols:
            stored = await storage.candles(exchange=EXCHANGE, symbol=symbol, window=EVERYTHING)
            assert stored == [replace_symbol(candle(0), symbol)]
        trades = await backend.fetch(
            f"SELECT symbol FROM {schema.TRADES} ORDER BY symbol"  # noqa: S608
        )  # fmt: skip
        assert trades == [(symbol,) for symbol in sorted(symbols[::2])]
    finally:
        await storage.close()


async def test_a_failed_batch_leaves_no_series_number_behind(backend: Backend) -> None:
    """A batch refused by a constraint rolls back its new series too, and the writer does
    not keep a number that was never committed: its next batch numbers the series again."""
    storage = await backend.open()
    try:
        await storage.migrate()
        broken = WriteBatch(candles=[candle(0, close=candle(0).high * 2)])
        try:
            await storage.write(broken)
        except backend.integrity_error:
            pass
        else:
            raise AssertionError("a close above the high was stored")
        assert await backend.count(schema.SERIES) == 0
        assert await storage.write(WriteBatch(candles=[candle(0)])) == WriteResult(1, 0)
        assert await storage.candles(exchange=EXCHANGE, symbol=SYMBOL, window=EVERYTHING) == [
            candle(0)
        ]
    finally:
        await storage.close()


async def test_views_name_each_rows_series(backend: Backend) -> None:
    storage = await backend.open()
    try:
        await storage.migrate()
        await storage.write(
            WriteBatch(candles=[candle(0), replace_symbol(candle(0), OTHER)], trades=[trade(0)])
        )
    finally:
        await storage.close()
    ms = backend.dialect.ms_from_instant.format
    assert await backend.fetch(
        f"SELECT exchange, symbol, {ms('ts')} FROM {schema.CANDLES} ORDER BY symbol"  # noqa: S608
    ) == [(EXCHANGE, SYMBOL, T0), (EXCHANGE, OTHER, T0)]  # fmt: skip
    assert await backend.fetch(
        f"SELECT exchange, symbol, trade_id FROM {schema.TRADES}"  # noqa: S608
    ) == [(EXCHANGE, SYMBOL, "t0")]  # fmt: skip
