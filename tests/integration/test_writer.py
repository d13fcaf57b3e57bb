"""The batch writer on real storage: when it writes, backpressure, outages, shutdown.

Covers: a write as soon as `max_rows` are buffered or the oldest row is `max_seconds`
old; put() blocking on a full buffer and resuming once it drains; every row stored
exactly once across a storage outage (a lock that makes writes fail, a killed
connection); order and coverage kept with their rows; flush() and close().
"""

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from ohlcv_collector.core.retry import RetryPolicy
from ohlcv_collector.models import Candle, SeriesKind, TimeRange, Trade
from ohlcv_collector.observability.metrics import REGISTRY
from ohlcv_collector.ports import Coverage, Storage, WriteBatch, WriteResult
from ohlcv_collector.runtime.writer import BatchWriter
from tests.harness.waiting import wait_until_async
from tests.integration.storage_backends import EXCHANGE, SYMBOL, T0, Backend, trade

ALL_TIME = TimeRange(0, 4_102_444_800_000)


@pytest.fixture
async def storage(backend: Backend) -> AsyncIterator[Storage]:
    opened = await backend.open(fail_fast=True)
    await opened.migrate()
    yield opened
    await opened.close()


def trades_batch(first: int, count: int) -> WriteBatch:
    """Trades number first .. first + count - 1, with the coverage they complete."""
    start, end = T0 + 10 * first, T0 + 10 * (first + count)
    return WriteBatch(
        trades=[trade(i) for i in range(first, first + count)],
        coverage=[Coverage(EXCHANGE, SYMBOL, SeriesKind.TRADES, TimeRange(start, end))],
    )


async def stored_trades(storage: Storage) -> int:
    return len(await storage.trades(exchange=EXCHANGE, symbol=SYMBOL, window=ALL_TIME))


POLL_S = 0.01  # fine enough for the timing checks below


async def seconds_until_stored(storage: Storage, *, rows: int) -> float:
    """How long until `rows` trades are stored."""
    started = time.monotonic()

    async def stored() -> bool:
        return await stored_trades(storage) >= rows

    await wait_until_async(stored, timeout=3, interval=POLL_S, describe=f"{rows} trades stored")
    return time.monotonic() - started


async def test_writes_once_max_rows_are_buffered(storage: Storage) -> None:
    async with BatchWriter(storage, max_rows=100, max_seconds=1.0, buffer_max_rows=1000) as writer:
        await writer.put(trades_batch(0, 49))  # 49 trades + 1 coverage row
        await asyncio.sleep(0.3)
        assert await stored_trades(storage) == 0
        await writer.put(trades_batch(49, 49))
        assert await seconds_until_stored(storage, rows=98) < 0.5  # max_seconds is 1
        assert writer.stats.batches_written == 1


async def test_writes_once_the_oldest_row_is_max_seconds_old(storage: Storage) -> None:
    async with BatchWriter(storage, max_rows=10_000, max_seconds=0.4, buffer_max_rows=10_000) as w:
        await w.put(trades_batch(0, 1))
        await asyncio.sleep(0.1)
        await w.put(trades_batch(1, 1))  # younger rows do not postpone the oldest one
        waited = 0.1 + await seconds_until_stored(storage, rows=2)
        assert 0.35 <= waited < 0.9
        assert w.stats.batches_written == 1


async def test_put_waits_while_the_buffer_is_full(backend: Backend, storage: Storage) -> None:
    writer = BatchWriter(storage, max_rows=50, max_seconds=0.05, buffer_max_rows=100,
                         retry=RetryPolicy(base=0.05, cap=0.2))  # fmt: skip
    async with writer:
        async with backend.stalled():
            await writer.put(trades_batch(0, 39))  # 40 rows with the coverage
            await writer.put(trades_batch(39, 39))
            blocked = asyncio.create_task(writer.put(trades_batch(78, 39)))

            async def failed() -> bool:
                return writer.stats.failures >= 1

            await wait_until_async(failed, timeout=3, interval=POLL_S, describe="a failed write")
            assert not blocked.done()
            assert writer.stats.buffered_rows == 80
        await asyncio.wait_for(blocked, timeout=3)
        await writer.flush()
        assert writer.stats.buffered_rows == 0
    assert await stored_trades(storage) == 117


async def test_every_row_is_stored_exactly_once_across_an_outage(
    backend: Backend, storage: Storage
) -> None:
    writer = BatchWriter(storage, max_rows=200, max_seconds=0.05, buffer_max_rows=100_000,
                         retry=RetryPolicy(base=0.05, cap=0.2))  # fmt: skip
    async with writer:
        await writer.put(trades_batch(0, 100))
        await writer.flush()
        async with backend.stalled():
            for first in range(100, 1000, 100):
                await writer.put(trades_batch(first, 100))

            async def failed_thrice() -> bool:
                return writer.stats.failures >= 3

            await wait_until_async(
                failed_thrice, timeout=3, interval=POLL_S, describe="three failed writes"
            )
            assert writer.stats.trades_inserted == 100
        await writer.put(trades_batch(1000, 100))
        await writer.flush()
        stats = writer.stats
    assert stats.trades_inserted == 1100
    assert stats.trades_duplicate == 0
    assert stats.consecutive_failures == 0
    assert await backend.count("ohlcv_trades") == 1100
    assert await storage.coverage(exchange=EXCHANGE, symbol=SYMBOL, kind=SeriesKind.TRADES) == [
        TimeRange(T0, T0 + 11_000)
    ]


@pytest.mark.postgres
async def test_recovers_when_the_database_drops_its_connections(postgres_dsn: str) -> None:
    backend = Backend(name="postgres", url=postgres_dsn)
    storage = await backend.open()
    await storage.migrate()
    admin = await asyncpg.connect(postgres_dsn)
    try:
        async with BatchWriter(storage, max_rows=100, max_seconds=0.05, buffer_max_rows=10_000,
                               retry=RetryPolicy(base=0.05, cap=0.2)) as writer:  # fmt: skip
            for first in range(0, 500, 100):
                await writer.put(trades_batch(first, 100))
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            await writer.flush()
            assert writer.stats.failures >= 1
            assert writer.stats.trades_inserted + writer.stats.trades_duplicate >= 500
        assert await backend.count("ohlcv_trades") == 500
    finally:
        await admin.close()
        await storage.close()


class RecordingStorage:
    """Real storage that also remembers each batch it was asked to write."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.parallel_writes = storage.parallel_writes
        self.written: list[WriteBatch] = []

    async def write(self, batch: WriteBatch) -> WriteResult:
        self.written.append(batch)
        return await self.storage.write(batch)

    async def migrate(self) -> None:
        await self.storage.migrate()

    async def coverage(self, *, exchange: str, symbol: str, kind: SeriesKind) -> list[TimeRange]:
        return await self.storage.coverage(exchange=exchange, symbol=symbol, kind=kind)

    async def candles(self, *, exchange: str, symbol: str, window: TimeRange) -> list[Candle]:
        return await self.storage.candles(exchange=exchange, symbol=symbol, window=window)

    async def trades(self, *, exchange: str, symbol: str, window: TimeRange) -> list[Trade]:
        return await self.storage.trades(exchange=exchange, symbol=symbol, window=window)

    async def close(self) -> None:
        await self.storage.close()


async def test_batches_keep_their_order_and_their_coverage(storage: Storage) -> None:
    recording = RecordingStorage(storage)
    puts = [trades_batch(first, 30) for first in range(0, 300, 30)]
    async with BatchWriter(recording, max_rows=100, max_seconds=0.05, buffer_max_rows=1000) as w:
        for batch in puts:
            await w.put(batch)
    assert [t.trade_id for w in recording.written for t in w.trades] == [
        t.trade_id for b in puts for t in b.trades
    ]
    for written in recording.written:  # each call carries the coverage of its own rows
        covered = [c.range for c in written.coverage]
        assert covered == [TimeRange(t.time, t.time + 300) for t in written.trades[::30]]
        assert len(written) <= 100


async def test_close_stores_everything_at_once_and_refuses_more(storage: Storage) -> None:
    writer = BatchWriter(storage, max_rows=10_000, max_seconds=1.0, buffer_max_rows=10_000)
    writer.start()
    for first in range(0, 1000, 100):
        await writer.put(trades_batch(first, 100))
    started = time.monotonic()
    await writer.close()
    assert time.monotonic() - started < 0.5  # does not wait for max_seconds
    assert await stored_trades(storage) == 1000
    with pytest.raises(RuntimeError, match="not running"):
        await writer.put(trades_batch(1000, 1))


async def test_flush_returns_once_earlier_puts_are_stored(storage: Storage) -> None:
    async with BatchWriter(storage, max_rows=10_000, max_seconds=1.0, buffer_max_rows=10_000) as w:
        await w.put(trades_batch(0, 10))
        await w.put(WriteBatch())  # nothing to store: accepted and ignored
        await w.flush()
        assert await stored_trades(storage) == 10
        assert w.stats.trades_inserted == 10
        assert w.stats.last_write_seconds is not None
        await w.put(trades_batch(0, 10))  # the same rows again
        await w.flush()
        assert (w.stats.trades_inserted, w.stats.trades_duplicate) == (10, 10)


async def test_close_cuts_a_long_backoff_short(backend: Backend, storage: Storage) -> None:
    writer = BatchWriter(storage, max_rows=100, max_seconds=0.05, buffer_max_rows=1000,
                         retry=RetryPolicy(base=10.0, cap=30.0),
                         closing_retry=RetryPolicy(base=0.3, cap=0.3),
                         random=lambda: 1.0)  # fmt: skip
    writer.start()
    async with backend.stalled():
        await writer.put(trades_batch(0, 50))

        async def failed() -> bool:
            return writer.stats.failures >= 1

        # Now waiting 10 s before the next try.
        await wait_until_async(failed, timeout=3, interval=POLL_S, describe="a failed write")
        closing = asyncio.create_task(writer.close())
        await asyncio.sleep(0.2)
    await asyncio.wait_for(closing, timeout=1.5)  # not the 10 s backoff
    assert await stored_trades(storage) == 50


async def test_a_close_given_up_on_reports_what_was_lost(
    backend: Backend, storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    writer = BatchWriter(storage, max_rows=100, max_seconds=0.05, buffer_max_rows=1000,
                         retry=RetryPolicy(base=0.05, cap=0.1))  # fmt: skip
    writer.start()
    async with backend.stalled():
        await writer.put(trades_batch(0, 50))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(writer.close(), timeout=0.5)
    failures = [r for r in caplog.records if r.getMessage().startswith("storage write of 51")]
    assert failures
    assert all(r.name == "ohlcv_collector.writer" and r.rows == 51 for r in failures)  # type: ignore[attr-defined]
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        "batch writer stopped with 51 rows not stored"
    ]


async def test_every_write_is_timed_in_the_metrics(storage: Storage) -> None:
    """`ohlcv_collector_batch_write_seconds` counts every batch written, so that its rate is
    the write rate (it was fed one write every few seconds, a sample)."""
    count = "ohlcv_collector_batch_write_seconds_count"
    before = REGISTRY.get_sample_value(count) or 0.0
    async with BatchWriter(storage, max_rows=10, max_seconds=1.0, buffer_max_rows=100) as writer:
        for first in range(0, 50, 10):
            await writer.put(trades_batch(first, 10))
            await writer.flush()
        written = writer.stats.batches_written
    assert written == 5
    assert (REGISTRY.get_sample_value(count) or 0.0) - before == written


class FirstWriteHeld(RecordingStorage):
    """Real storage whose first write waits for `release`, and that counts finished writes."""

    def __init__(self, storage: Storage, *, parallel_writes: int) -> None:
        super().__init__(storage)
        self.parallel_writes = parallel_writes
        self.release = asyncio.Event()
        self.finished = 0

    async def write(self, batch: WriteBatch) -> WriteResult:
        first = not self.written
        self.written.append(batch)
        if first:
            await self.release.wait()
        result = await self.storage.write(batch)
        self.finished += 1
        return result


async def test_writes_run_side_by_side_and_flush_waits_for_every_earlier_one(
    storage: Storage,
) -> None:
    """With two writes allowed, a slow write does not hold the next batch back (one at a
    time, the writer was the serial stage of a backfill), yet flush() still returns only
    once every batch put before it is stored, and every row is stored once."""
    held = FirstWriteHeld(storage, parallel_writes=2)
    async with BatchWriter(held, max_rows=10, max_seconds=1.0, buffer_max_rows=1000) as writer:
        await writer.put(trades_batch(0, 10))  # due at once: the first write, held
        await writer.put(trades_batch(10, 10))  # the second write, beside it

        async def second_stored() -> bool:
            return held.finished == 1 and await stored_trades(storage) == 10

        await wait_until_async(second_stored, timeout=3, describe="the second write done")
        flushed = asyncio.create_task(writer.flush())
        await asyncio.sleep(0.2)
        assert not flushed.done(), "flush() returned while the first batch was not stored"
        held.release.set()
        await flushed
        assert writer.stats.buffered_rows == 0
    assert await stored_trades(storage) == 20
    assert held.finished == 2


async def test_one_write_at_a_time_where_the_storage_says_so(storage: Storage) -> None:
    held = FirstWriteHeld(storage, parallel_writes=1)
    async with BatchWriter(held, max_rows=10, max_seconds=1.0, buffer_max_rows=1000) as writer:
        await writer.put(trades_batch(0, 10))
        await writer.put(trades_batch(10, 10))
        await asyncio.sleep(0.3)
        assert (len(held.written), held.finished) == (1, 0)
        held.release.set()
        await writer.flush()
    assert await stored_trades(storage) == 20
