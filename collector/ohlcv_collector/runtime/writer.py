"""The one path from collection tasks to storage: buffered, batched, retried, never dropped.

Collection tasks `put()` batches and move on; background tasks write them, combining
consecutive batches into one storage call of up to `max_rows` rows, as soon as
`max_rows` are buffered or the oldest row has waited `max_seconds`. Up to the storage's
`parallel_writes` calls run at once: one at a time, the writer is the serial stage of a
backfill (busy 98% of bench B2's run, its buffer full), because the database sits idle
while this process encodes the next batch and the process waits while the database
stores one. Each call is a transaction carrying its own rows and the coverage they
complete, so calls may finish in any order; `flush()` waits for every earlier batch.

A failed write is retried, with exponential backoff, until it succeeds: the rows stay
in the buffer meanwhile, and once the buffer is full `put()` waits, which slows
collection down to what the database takes instead of losing anything. When to write
and how long to back off are pure functions of the core (`core.batching`, `core.retry`);
this module only carries them out.
"""

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from types import TracebackType

from ohlcv_collector.core.batching import batches_to_combine, has_room, seconds_until_flush
from ohlcv_collector.core.retry import (
    STORAGE_WRITE,
    STORAGE_WRITE_CLOSING,
    RetryPolicy,
    is_our_bug,
)
from ohlcv_collector.observability import metrics
from ohlcv_collector.ports import Storage, WriteBatch

logger = logging.getLogger("ohlcv_collector.writer")


@dataclass(frozen=True, slots=True)
class WriterStats:
    """What the writer has done so far, for metrics and health."""

    buffered_rows: int
    candles_inserted: int
    candles_duplicate: int
    trades_inserted: int
    trades_duplicate: int
    batches_written: int
    last_write_seconds: float | None
    failures: int
    consecutive_failures: int


@dataclass(slots=True)
class _Counters:
    candles_inserted: int = 0
    candles_duplicate: int = 0
    trades_inserted: int = 0
    trades_duplicate: int = 0
    batches_written: int = 0
    last_write_seconds: float | None = None
    failures: int = 0
    consecutive_failures: int = 0


@dataclass(frozen=True, slots=True)
class _Buffered:
    sequence: int
    batch: WriteBatch
    since: float


def combine(batches: Iterable[WriteBatch]) -> WriteBatch:
    """One batch holding the rows and coverage of `batches`, in their order."""
    combined = WriteBatch()
    for batch in batches:
        combined.candles += batch.candles
        combined.trades += batch.trades
        combined.coverage += batch.coverage
    return combined


class BatchWriter:
    """Buffers batches and writes them to `storage`; use it as `async with`.

    Batches are taken for writing in the order they were put, by up to
    `storage.parallel_writes` writes at once. Rows count towards `buffer_max_rows` until
    they are stored. Failed writes are retried on `retry`; once `close()` has begun, on
    `closing_retry`, because a stopping collector has a grace period to finish in.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        max_rows: int,
        max_seconds: float,
        buffer_max_rows: int,
        retry: RetryPolicy = STORAGE_WRITE,
        closing_retry: RetryPolicy = STORAGE_WRITE_CLOSING,
        random: Callable[[], float] = random.random,
    ) -> None:
        if max_rows < 1 or buffer_max_rows < 1 or max_seconds <= 0:
            raise ValueError("max_rows and buffer_max_rows must be >= 1, max_seconds > 0")
        self._storage = storage
        self._max_rows = max_rows
        self._max_seconds = max_seconds
        self._buffer_max_rows = buffer_max_rows
        self._retry = retry
        self._closing_retry = closing_retry
        self._random = random
        self._buffer: deque[_Buffered] = deque()  # not yet stored, or stored out of turn
        self._buffered_rows = 0  # rows not yet stored
        self._waiting: deque[_Buffered] = deque()  # the buffer's newest, not yet taken
        self._waiting_rows = 0
        self._stored: set[int] = set()  # sequences stored while an older one is not
        self._accepted = 0  # sequence of the newest buffered batch
        self._taken = 0  # sequence of the newest batch a write has taken
        self._written = 0  # every batch up to this sequence is stored
        self._flush_through = 0  # flush() asked for everything up to this sequence
        self._changed = asyncio.Condition()
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._counters = _Counters()

    @property
    def stats(self) -> WriterStats:
        """A snapshot of the counters."""
        return WriterStats(buffered_rows=self._buffered_rows, **asdict(self._counters))

    async def __aenter__(self) -> "BatchWriter":
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def start(self) -> None:
        """Start the background task that writes; `async with` calls this."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ohlcv-batch-writer")

    def _ensure_accepting(self) -> None:
        if self._task is None or self._task.done() or self._closing.is_set():
            raise RuntimeError("the batch writer is not running: start() it, or it was closed")

    async def put(self, batch: WriteBatch) -> None:
        """Buffer `batch`, waiting first while the buffer has no room for it."""
        self._ensure_accepting()
        if not len(batch):
            return
        async with self._changed:
            await self._changed.wait_for(
                lambda: (
                    self._closing.is_set()
                    or has_room(
                        buffered_rows=self._buffered_rows,
                        incoming_rows=len(batch),
                        capacity=self._buffer_max_rows,
                    )
                )
            )
            self._ensure_accepting()
            self._accepted += 1
            loop = asyncio.get_running_loop()
            buffered = _Buffered(self._accepted, batch, since=loop.time())
            self._buffer.append(buffered)
            self._waiting.append(buffered)
            self._buffered_rows += len(batch)
            self._waiting_rows += len(batch)
            # Writes sleep until the oldest waiting batch is due, so only a put that changes
            # when that is wakes them: the first batch starts the clock, a full batch is due
            # now. Waking them for every put cost a task switch per streamed batch.
            if len(self._waiting) == 1 or self._waiting_rows >= self._max_rows:
                self._changed.notify_all()

    async def flush(self) -> None:
        """Write now, and return once every batch put before this call is stored."""
        async with self._changed:
            target = self._accepted
            self._flush_through = max(self._flush_through, target)
            self._changed.notify_all()
            await self._changed.wait_for(lambda: self._written >= target or self._stopped())
        if self._written < target:
            raise RuntimeError("the batch writer stopped before storing everything")

    async def close(self) -> None:
        """Store everything buffered, then stop. Cancelling this abandons the buffer
        (the loss is logged), for a caller whose grace period is running out."""
        if self._task is None:
            return
        async with self._changed:
            self._closing.set()
            self._changed.notify_all()
        await self._task

    def _stopped(self) -> bool:
        return self._task is None or self._task.done()

    async def _run(self) -> None:
        try:
            async with asyncio.TaskGroup() as writes:
                for _ in range(self._storage.parallel_writes):
                    writes.create_task(self._write_while_open())
        finally:
            if self._buffered_rows:
                logger.error(
                    "batch writer stopped with %d rows not stored", self._buffered_rows,
                    extra={"rows": self._buffered_rows},
                )  # fmt: skip
            async with self._changed:
                self._changed.notify_all()

    async def _write_while_open(self) -> None:
        while (due := await self._next_due()) is not None:
            await self._store(due)

    async def _next_due(self) -> list[_Buffered] | None:
        """The oldest waiting batches, taken for one write once due; None when closed and
        nothing waits."""
        loop = asyncio.get_running_loop()
        async with self._changed:
            while True:
                waiting = self._waiting
                delay = seconds_until_flush(
                    buffered_rows=self._waiting_rows,
                    oldest_age=loop.time() - waiting[0].since if waiting else 0.0,
                    max_rows=self._max_rows,
                    max_seconds=self._max_seconds,
                    forced=self._closing.is_set() or self._flush_through > self._taken,
                )
                if delay is None and self._closing.is_set():
                    return None
                if delay == 0:
                    count = batches_to_combine(
                        (len(item.batch) for item in waiting), max_rows=self._max_rows
                    )
                    due = [waiting.popleft() for _ in range(count)]
                    self._waiting_rows -= sum(len(item.batch) for item in due)
                    self._taken = due[-1].sequence
                    return due
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._changed.wait()

    async def _store(self, due: list[_Buffered]) -> None:
        """Write `due` as one storage call, retrying until it succeeds."""
        loop = asyncio.get_running_loop()
        batch = combine(item.batch for item in due)
        attempt = 0
        while True:
            started = loop.time()
            try:
                result = await self._storage.write(batch)
                break
            except Exception as error:
                attempt = await self._back_off(attempt=attempt, rows=len(batch), error=error)
        counters = self._counters
        counters.last_write_seconds = loop.time() - started
        metrics.BATCH_LATENCY.observe(counters.last_write_seconds)  # every write, not a sample
        if counters.consecutive_failures:
            logger.info("storage write succeeded after %d failures", counters.consecutive_failures)
        counters.consecutive_failures = 0
        counters.batches_written += 1
        counters.candles_inserted += result.candles
        counters.candles_duplicate += len(batch.candles) - result.candles
        counters.trades_inserted += result.trades
        counters.trades_duplicate += len(batch.trades) - result.trades
        async with self._changed:
            self._buffered_rows -= len(batch)
            self._stored.update(item.sequence for item in due)
            # Another write may still hold older batches: `flush()` counts only the
            # stored prefix, so it never returns before an earlier batch is stored.
            while self._buffer and self._buffer[0].sequence in self._stored:
                self._written = self._buffer.popleft().sequence
                self._stored.discard(self._written)
            self._changed.notify_all()

    async def _back_off(self, *, attempt: int, rows: int, error: Exception) -> int:
        """Log a failed write and wait before the next try; returns the next attempt number.

        A close() that begins during the wait cuts it short and restarts the schedule,
        so that a stopping collector does not sit out a long backoff.
        """
        self._counters.failures += 1
        self._counters.consecutive_failures += 1
        closing = self._closing.is_set()
        policy = self._closing_retry if closing else self._retry
        delay = policy.delay(attempt=attempt, random=self._random())
        logger.warning(
            "storage write of %d rows failed (attempt %d): %r; retrying in %.2f s",
            rows, attempt + 1, error, delay,
            exc_info=error if is_our_bug(error) else None,  # a bug's traceback, to fix it
            extra={"rows": rows, "attempt": attempt + 1, "retry_in_seconds": delay,
                   "error": repr(error)},
        )  # fmt: skip
        if closing:
            await asyncio.sleep(delay)
            return attempt + 1
        try:
            async with asyncio.timeout(delay):
                await self._closing.wait()
        except TimeoutError:
            return attempt + 1
        return 0
