"""Storage backends on real databases: the same behaviour on PostgreSQL and on SQLite.

Covers: migrations (repeatable, concurrent), exact round trips of Decimals and sides,
idempotent writes with correct duplicate counts, coverage merging and its atomicity
with the rows, CHECK constraints against invalid rows, a 50,000-trade batch, URLs.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from ohlcv_collector.backends.storage import PostgresStorage, open_sql_storage
from ohlcv_collector.models import SeriesKind, Side, TimeRange
from ohlcv_collector.ports import Coverage, Storage, WriteBatch, WriteResult
from tests.harness.services import PostgresServer
from tests.integration.storage_backends import EXCHANGE, SYMBOL, T0, Backend, candle, trade

EVERYTHING = TimeRange(0, 4_102_444_800_000)  # 1970 to 2100


@pytest.fixture
async def storage(backend: Backend) -> AsyncIterator[Storage]:
    opened = await backend.open()
    await opened.migrate()
    yield opened
    await opened.close()


def covers(kind: SeriesKind, start: int, end: int, *, symbol: str = SYMBOL) -> Coverage:
    return Coverage(EXCHANGE, symbol, kind, TimeRange(start, end))


async def test_migrating_again_keeps_data_and_version(backend: Backend, storage: Storage) -> None:
    await storage.write(WriteBatch(trades=[trade(1)]))
    await storage.migrate()
    await storage.migrate()
    assert await backend.fetch("SELECT version FROM ohlcv_schema_version") == [
        (1,),
        (2,),
        (3,),
        (4,),
    ]
    assert await storage.trades(exchange=EXCHANGE, symbol=SYMBOL, window=EVERYTHING) == [trade(1)]


async def test_concurrent_migrations_from_two_processes_apply_once(backend: Backend) -> None:
    first, second = await backend.open(), await backend.open()
    try:
        await asyncio.gather(first.migrate(), second.migrate())
        assert await backend.fetch("SELECT version FROM ohlcv_schema_version") == [
            (1,),
            (2,),
            (3,),
            (4,),
        ]
        assert await second.write(WriteBatch(trades=[trade(1)])) == WriteResult(0, 1)
        assert await first.trades(exchange=EXCHANGE, symbol=SYMBOL, window=EVERYTHING) == [trade(1)]
    finally:
        await first.close()
        await second.close()


async def test_rows_read_back_equal_to_what_was_written(storage: Storage) -> None:
    candles = [candle(0), candle(1, volume=Decimal("0"), close=Decimal("61828.00")), candle(2)]
    trades = [trade(0), trade(1, price="0.26833389999999996", amount="1E-8"),
              trade(2)._replace(side=Side.UNKNOWN)]  # fmt: skip
    other_symbol = trade(3)._replace(symbol="ETH/USDT")
    await storage.write(WriteBatch(candles=candles, trades=[*trades, other_symbol]))

    stored_candles = await storage.candles(exchange=EXCHANGE, symbol=SYMBOL, window=EVERYTHING)
    stored_trades = await storage.trades(exchange=EXCHANGE, symbol=SYMBOL, window=EVERYTHING)
    assert stored_candles == candles
    assert stored_trades == trades
    assert [str(t.price) for t in stored_trades] == ["61828.00", "0.26833389999999996", "61828.00"]
    assert [t.side for t in stored_trades] == [Side.SELL, Side.BUY, Side.UNKNOWN]
    assert all(type(t.side) is Side for t in stored_trades)


async def test_text_that_array_syntax_uses_is_stored_as_sent(storage: Storage) -> None:
    """Ids and symbols travel inside array literals: quotes, backslashes, commas, braces,
    spaces, the word NULL and the empty string must come back unchanged."""
    ids = ['a"b', "c\\d", "e,f", "{g}", " h i ", "NULL", "", '\\"', "ü€", "\\N"]
    trades = [trade(n)._replace(trade_id=trade_id) for n, trade_id in enumerate(ids)]
    odd_symbol = [trade(0)._replace(symbol='X"{,}\\Y/USDT')]
    candles = [candle(0)._replace(trades=None), candle(1), candle(2)]
    await storage.write(WriteBatch(candles=candles, trades=[*trades, *odd_symbol]))

    stored = await storage.trades(exchange=EXCHANGE, symbol=SYMBOL, window=EVERYTHING)
    assert [t.trade_id for t in stored] == ids
    assert (
        await storage.trades(exchange=EXCHANGE, symbol='X"{,}\\Y/USDT', window=EVERYTHING)
        == odd_symbol
    )
    stored_candles = await storage.candles(exchange=EXCHANGE, symbol=SYMBOL, window=EVERYTHING)
    assert [c.trades for c in stored_candles] == [None, 3, 6]


async def test_windows_include_their_start_and_exclude_their_end(storage: Storage) -> None:
    await storage.write(WriteBatch(candles=[candle(m) for m in range(4)],
                                   trades=[trade(i) for i in range(4)]))  # fmt: skip
    window = TimeRange(T0 + 60_000, T0 + 3 * 60_000)
    stored = await storage.candles(exchange=EXCHANGE, symbol=SYMBOL, window=window)
    assert stored == [candle(1), candle(2)]
    trades = await storage.trades(
        exchange=EXCHANGE, symbol=SYMBOL, window=TimeRange(T0 + 10, T0 + 30)
    )
    assert trades == [trade(1), trade(2)]


async def test_duplicates_are_skipped_and_not_counted(backend: Backend, storage: Storage) -> None:
    first = WriteBatch(candles=[candle(0), candle(1)], trades=[trade(i) for i in range(5)])
    assert await storage.write(first) == WriteResult(candles=2, trades=5)
    assert await storage.write(first) == WriteResult(candles=0, trades=0)

    overlapping = WriteBatch(candles=[candle(1), candle(2)], trades=[trade(i) for i in range(3, 8)])
    assert await storage.write(overlapping) == WriteResult(candles=1, trades=3)

    repeated_within = WriteBatch(trades=[trade(8), trade(8), trade(9)])
    assert await storage.write(repeated_within) == WriteResult(candles=0, trades=2)

    same_id_other_time = trade(0)._replace(time=T0 + 5)  # keys include the time
    assert await storage.write(WriteBatch(trades=[same_id_other_time])) == WriteResult(0, 1)
    # Fresh rows again after duplicates, then a duplicate among fresh rows.
    assert await storage.write(WriteBatch(candles=[candle(3)])) == WriteResult(candles=1, trades=0)
    late_repeat = WriteBatch(candles=[candle(4), candle(3)], trades=[trade(10), trade(9)])
    assert await storage.write(late_repeat) == WriteResult(candles=1, trades=1)
    assert await backend.count("ohlcv_candles") == 5
    assert await backend.count("ohlcv_trades") == 12


async def test_overlapping_writes_at_once_store_each_row_once(backend: Backend) -> None:
    """Two collectors' writes of the same rows at the same time (a shard handed over, a
    repair and a stream): one stores each row, the other counts it as a duplicate."""
    first, second = await backend.open(), await backend.open()
    try:
        await first.migrate()
        batches = [
            WriteBatch(candles=[candle(m) for m in range(start, start + 40)],
                       trades=[trade(i) for i in range(start * 10, start * 10 + 400)])
            for start in (0, 20, 10, 30)
        ]  # fmt: skip
        results = await asyncio.gather(
            *(storage.write(batch) for storage in (first, second) for batch in batches)
        )
        assert sum(result.candles for result in results) == 70
        assert sum(result.trades for result in results) == 700
        stored = await first.candles(exchange=EXCHANGE, symbol=SYMBOL, window=EVERYTHING)
        assert stored == [candle(m) for m in range(70)]
        assert await backend.count("ohlcv_trades") == 700
    finally:
        await first.close()
        await second.close()


async def test_coverage_merges_touching_and_overlapping_ranges(
    backend: Backend, storage: Storage
) -> None:
    candles, trades = SeriesKind.CANDLES, SeriesKind.TRADES
    await storage.write(WriteBatch(coverage=[covers(candles, 0, 100), covers(candles, 300, 400)]))
    await storage.write(WriteBatch(coverage=[covers(candles, 100, 150)]))  # touching
    await storage.write(WriteBatch(coverage=[covers(candles, 350, 500), covers(trades, 7, 9)]))
    await storage.write(WriteBatch(coverage=[covers(candles, 10, 20, symbol="ETH/USDT")]))

    found = await storage.coverage(exchange=EXCHANGE, symbol=SYMBOL, kind=candles)
    assert found == [TimeRange(0, 150), TimeRange(300, 500)]
    assert await storage.coverage(exchange=EXCHANGE, symbol=SYMBOL, kind=trades) == [
        TimeRange(7, 9)
    ]
    assert await storage.coverage(exchange=EXCHANGE, symbol="ETH/USDT", kind=candles) == [
        TimeRange(10, 20)
    ]
    assert await storage.coverage(exchange="kraken", symbol=SYMBOL, kind=candles) == []
    assert await backend.count("ohlcv_coverage") == 4  # stored merged, not appended

    await storage.write(WriteBatch(coverage=[covers(candles, 120, 320)]))  # bridges the gap
    assert await storage.coverage(exchange=EXCHANGE, symbol=SYMBOL, kind=candles) == [
        TimeRange(0, 500)
    ]


async def test_one_batch_merges_the_coverage_of_many_series_each_on_its_own(
    backend: Backend,
) -> None:
    """Two storages at once, each batch touching 40 series (a stream's batch touches every
    symbol that traded), in opposite orders: every series ends with the merge of its own
    ranges, and neither writer waits for the other forever."""
    candles, trades = SeriesKind.CANDLES, SeriesKind.TRADES
    symbols = [f"S{i:02d}/USDT" for i in range(20)]
    first, second = await backend.open(), await backend.open()
    try:
        await first.migrate()
        await first.write(WriteBatch(coverage=[covers(candles, 0, 10, symbol=s) for s in symbols]))
        batches = [
            WriteBatch(coverage=[covers(kind, 10 + 10 * k, 20 + 10 * k, symbol=s)
                                 for s in symbols for kind in (candles, trades)])
            for k in range(4)
        ]  # fmt: skip
        for batch in batches[1::2]:
            batch.coverage.reverse()
        writes = (s.write(b) for s, b in zip([first, second] * 2, batches, strict=True))
        await asyncio.wait_for(asyncio.gather(*writes), timeout=30)
        for symbol in symbols:
            series = {"exchange": EXCHANGE, "symbol": symbol}
            assert await first.coverage(**series, kind=candles) == [TimeRange(0, 50)]
            assert await second.coverage(**series, kind=trades) == [TimeRange(10, 50)]
        assert await backend.count("ohlcv_coverage") == 40
    finally:
        await first.close()
        await second.close()


async def test_failed_batch_stores_neither_rows_nor_coverage(
    backend: Backend, storage: Storage
) -> None:
    await storage.write(WriteBatch(coverage=[covers(SeriesKind.TRADES, T0, T0 + 10)]))
    broken = WriteBatch(
        trades=[trade(i) for i in range(1, 10)],
        candles=[candle(0), candle(1, high=Decimal("1"))],  # high below low
        coverage=[covers(SeriesKind.TRADES, T0 + 10, T0 + 100)],
    )
    with pytest.raises(backend.integrity_error):
        await storage.write(broken)

    assert await backend.count("ohlcv_trades") == 0
    assert await backend.count("ohlcv_candles") == 0
    assert await storage.coverage(exchange=EXCHANGE, symbol=SYMBOL, kind=SeriesKind.TRADES) == [
        TimeRange(T0, T0 + 10)
    ]
    # The storage is still usable after the failed transaction.
    assert await storage.write(WriteBatch(trades=[trade(1)])) == WriteResult(0, 1)


INVALID_BATCHES = {
    "NaN price": WriteBatch(trades=[trade(1, price="NaN")]),
    "infinite price": WriteBatch(trades=[trade(1, price="Infinity")]),
    "zero price": WriteBatch(trades=[trade(1, price="0")]),
    "negative price": WriteBatch(trades=[trade(1, price="-61828.00")]),
    "negative amount": WriteBatch(trades=[trade(1, amount="-0.1")]),
    "NaN amount": WriteBatch(trades=[trade(1, amount="NaN")]),
    "zero open": WriteBatch(candles=[candle(1, open=Decimal("0"))]),
    "negative volume": WriteBatch(candles=[candle(1, volume=Decimal("-1"))]),
    "close above high": WriteBatch(candles=[candle(1, close=Decimal("70000"))]),
    "close below low": WriteBatch(candles=[candle(1, close=Decimal("61800"))]),
    "negative trade count": WriteBatch(candles=[candle(1)._replace(trades=-1)]),
    "empty coverage range": WriteBatch(coverage=[covers(SeriesKind.TRADES, 5, 5)]),
}


@pytest.mark.parametrize("batch", INVALID_BATCHES.values(), ids=INVALID_BATCHES.keys())
async def test_check_constraints_reject_invalid_rows(
    backend: Backend, storage: Storage, batch: WriteBatch
) -> None:
    if batch.coverage:
        # Empty ranges carry no information and are dropped rather than stored.
        await storage.write(batch)
        assert await backend.count("ohlcv_coverage") == 0
        return
    with pytest.raises(backend.integrity_error):
        await storage.write(batch)
    assert await backend.count("ohlcv_trades") + await backend.count("ohlcv_candles") == 0


async def test_large_batch_is_stored_whole(backend: Backend, storage: Storage) -> None:
    trades = [trade(i) for i in range(50_000)]
    coverage = [covers(SeriesKind.TRADES, T0, T0 + 500_000)]
    started = time.monotonic()
    result = await storage.write(WriteBatch(trades=trades, coverage=coverage))
    elapsed = time.monotonic() - started
    print(f"{backend.name}: 50000 trades in {elapsed:.2f} s = {50_000 / elapsed:,.0f} rows/s")
    assert result == WriteResult(candles=0, trades=50_000)
    assert await backend.count("ohlcv_trades") == 50_000
    window = TimeRange(T0 + 10 * 49_990, T0 + 10 * 50_000)
    assert await storage.trades(exchange=EXCHANGE, symbol=SYMBOL, window=window) == trades[-10:]


@pytest.mark.postgres
async def test_postgres_reports_whether_it_uses_timescaledb(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    storage = await open_sql_storage(postgres_dsn)
    try:
        await storage.migrate()
        assert isinstance(storage, PostgresStorage)
        assert storage.timescaledb is postgres_server.timescaledb
        backend = Backend(name="postgres", url=postgres_dsn)
        if postgres_server.timescaledb:
            hypertables = await backend.fetch(
                "SELECT hypertable_name FROM timescaledb_information.hypertables ORDER BY 1"
            )
            assert hypertables == [("ohlcv_candle_rows",), ("ohlcv_trade_rows",)]
        else:
            indexes = await backend.fetch(
                "SELECT indexdef FROM pg_indexes WHERE tablename = 'ohlcv_trade_rows'"
            )
            assert indexes == [
                (
                    "CREATE UNIQUE INDEX ohlcv_trade_rows_pkey ON public.ohlcv_trade_rows"
                    " USING btree (series, ts, trade_id)",
                )
            ]
    finally:
        await storage.close()


@pytest.mark.postgres
async def test_postgres_migrate_readies_the_writers_connections_and_stores_nothing(
    postgres_dsn: str,
) -> None:
    """After `migrate()` the writers' connections are open, with their statements prepared
    (a first write's round trips wait for a busy event loop); preparing them stored
    nothing, used no series number, and the first write lands as on any database."""
    storage = await open_sql_storage(postgres_dsn)
    backend = Backend(name="postgres", url=postgres_dsn)
    try:
        await storage.migrate()
        assert isinstance(storage, PostgresStorage)
        [(connections,)] = await backend.fetch(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert connections == storage.parallel_writes
        for table in ("ohlcv_series", "ohlcv_candle_rows", "ohlcv_trade_rows", "ohlcv_coverage"):
            assert await backend.count(table) == 0, table
        result = await storage.write(
            WriteBatch(candles=[candle(0)], trades=[trade(0)],
                       coverage=[Coverage(EXCHANGE, SYMBOL, SeriesKind.CANDLES, TimeRange(0, 60))])
        )  # fmt: skip
        assert result == WriteResult(candles=1, trades=1)
        assert await backend.fetch("SELECT id, symbol FROM ohlcv_series") == [(1, SYMBOL)]
        window = TimeRange(0, 4_102_444_800_000)
        assert await storage.candles(exchange=EXCHANGE, symbol=SYMBOL, window=window) == [candle(0)]
        assert await storage.coverage(
            exchange=EXCHANGE, symbol=SYMBOL, kind=SeriesKind.CANDLES
        ) == [TimeRange(0, 60)]  # fmt: skip
    finally:
        await storage.close()


async def test_open_storage_rejects_unknown_and_malformed_urls(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown storage URL scheme 'mysql'") as error:
        await open_sql_storage("mysql://root:secret@db/ohlcv")
    assert "secret" not in str(error.value)
    with pytest.raises(ValueError, match="sqlite:///absolute/path"):
        await open_sql_storage("sqlite://relative.sqlite")
    storage = await open_sql_storage(f"sqlite://{tmp_path}/new/dir/ohlcv.sqlite")
    await storage.migrate()
    await storage.close()
    assert (tmp_path / "new" / "dir" / "ohlcv.sqlite").exists()
