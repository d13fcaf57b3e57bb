"""A whole collector process: backends assembled, probes served, a clean stop on SIGTERM.

On SIGTERM or SIGINT the symbol tasks are cancelled, every buffered row is flushed,
and connections are closed, all within the grace period Kubernetes gives a pod.
"""

import asyncio
import contextlib
import gc
import logging
import signal
from dataclasses import dataclass

from ohlcv_collector.observability import metrics
from ohlcv_collector.observability.http import start_probe_server
from ohlcv_collector.runtime import assembly
from ohlcv_collector.runtime.exchange import ExchangeCollector, take_all
from ohlcv_collector.runtime.heartbeat import HeartbeatWriter
from ohlcv_collector.runtime.symbol import CollectOptions
from ohlcv_collector.runtime.writer import BatchWriter
from ohlcv_collector.settings import CollectorSettings

log = logging.getLogger("ohlcv_collector.process")

# Kubernetes' default grace period is 30 s; the collector promises to be gone in 10.
SHUTDOWN_SECONDS = 10.0
METRICS_SAMPLE_SECONDS = 5.0


# The cyclic garbage collector's thresholds for a collector process. Candles and trades are
# named tuples, which it tracks (it stops tracking exact tuples only), and a backfill keeps
# a couple of hundred thousand of them waiting for the writer. With CPython's defaults
# (700, 10, 10) a full collection scanned them all 16 times in a 50-symbol backfill (bench
# B2): 1.4 of the collector's 6.4 CPU s, and 0.3 more in young collections. With these,
# no full collection ran and the whole backfill took 4.4 CPU s. Collections still run
# every 10,000 net allocations, so reference cycles are not kept much longer.
GC_THRESHOLDS = (10_000, 10, 100)


def tune_garbage_collection() -> None:
    """Apply GC_THRESHOLDS to this process (a whole collector process, not a library user)."""
    gc.set_threshold(*GC_THRESHOLDS)


@dataclass(frozen=True, slots=True)
class ProcessConfig:
    """Everything a collector process needs to know."""

    exchange: str
    targets_url: str
    storage_url: str
    collector: CollectorSettings
    options: CollectOptions
    symbols: frozenset[str] | None = None
    redis_url: str | None = None  # health, the symbol split and the shared request budget


async def run_collector(config: ProcessConfig, *, stop: asyncio.Event | None = None) -> None:
    """Collect one exchange until `stop` is set or a termination signal arrives."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    settings = config.collector
    store = assembly.open_health(config.redis_url)
    heartbeat = None
    if store is not None:
        heartbeat = HeartbeatWriter(
            exchange=config.exchange,
            instance=settings.instance,
            store=store,
            heartbeat_seconds=settings.heartbeat_seconds,
            member_timeout_seconds=settings.member_timeout_seconds(),
        )
        await heartbeat.start()
    budget = assembly.open_budget(redis_url=config.redis_url, exchange=config.exchange)
    targets = assembly.open_targets(url=config.targets_url, user_mail=settings.user_mail)
    market = assembly.open_market(
        exchange=config.exchange, settings=settings, targets=targets, budget=budget
    )
    storage = await assembly.open_storage(config.storage_url)
    await storage.migrate()
    assembly.chosen(targets=targets, market=market, storage=storage, health=store)
    writer = BatchWriter(
        storage,
        max_rows=settings.batch_max_rows,
        max_seconds=settings.batch_max_seconds,
        buffer_max_rows=settings.buffer_max_rows,
    )
    writer.start()
    exchange = ExchangeCollector(
        exchange=config.exchange,
        targets=targets,
        market=market,
        storage=storage,
        writer=writer,
        options=config.options,
        refresh_seconds=settings.targets_refresh_seconds,
        symbols=config.symbols,
        assignment=heartbeat.assignment if heartbeat else take_all,
    )

    def not_ready() -> list[str]:
        reasons = []
        if not exchange.targets_loaded:
            reasons.append("the targets have not been read from the database yet")
        if writer.stats.consecutive_failures:
            reasons.append(f"storage writes failing ({writer.stats.consecutive_failures} in a row)")
        return reasons + (heartbeat.not_ready() if heartbeat else [])

    probes = await start_probe_server(
        host=settings.http_host, port=settings.http_port, not_ready=not_ready
    )
    collecting = asyncio.create_task(exchange.run(), name=f"collect {config.exchange}")
    sampling = asyncio.create_task(_sample_writer(writer), name="writer metrics")
    background = [collecting, sampling]
    if heartbeat is not None:
        heartbeats = heartbeat.run(statuses=exchange.statuses)
        background.append(asyncio.create_task(heartbeats, name="health heartbeats"))
    log.info("collector started", extra={"exchange": config.exchange})
    try:
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({collecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
    finally:
        log.info("stopping: flushing buffered rows", extra={"exchange": config.exchange})
        for task in background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        # Others take this replica's symbols over as soon as its records are stopped, so
        # that runs while the rows are flushed, not after.
        await asyncio.gather(_flush(writer), heartbeat.stop() if heartbeat else asyncio.sleep(0))
        closings = [market.close(), targets.close(), storage.close(), probes.cleanup()]
        closings += [c.close() for c in (store, budget) if c is not None]
        for closing in closings:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await closing
        log.info("collector stopped", extra={"exchange": config.exchange})


async def _flush(writer: BatchWriter) -> None:
    try:
        async with asyncio.timeout(SHUTDOWN_SECONDS - 2):
            await writer.close()
    except TimeoutError:
        log.error(
            "storage did not take the buffered rows in time; their coverage was not"
            " recorded either, so the next start fetches them again"
        )


async def _sample_writer(writer: BatchWriter) -> None:
    """Copy the writer's counters into Prometheus metrics (it times each write itself)."""
    seen_failures = 0
    while True:
        stats = writer.stats
        metrics.BUFFERED_ROWS.set(stats.buffered_rows)
        metrics.WRITE_FAILURES.inc(stats.failures - seen_failures)
        seen_failures = stats.failures
        await asyncio.sleep(METRICS_SAMPLE_SECONDS)
