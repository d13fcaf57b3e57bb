"""What the benchmarks share: a replay exchange subprocess, storages, and one exchange's
collector assembled from the real backends (ccxt, SQLite or PostgreSQL, the batch writer).
"""

import asyncio
import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ohlcv_collector.backends.ccxt.market import CcxtMarket
from ohlcv_collector.backends.storage import open_storage
from ohlcv_collector.models import Target
from ohlcv_collector.ports import Storage
from ohlcv_collector.runtime.exchange import ExchangeCollector
from ohlcv_collector.runtime.symbol import CollectOptions
from ohlcv_collector.runtime.writer import BatchWriter

REPO_ROOT = Path(__file__).resolve().parents[1]
POSTGRES_DSN_ENV = "OHLCV_BENCH_POSTGRES_DSN"


@dataclass
class Replay:
    """`python -m tests.replay_exchange` in a subprocess."""

    process: "subprocess.Popen[str]"
    ccxt_urls: dict[str, Any]


@contextlib.contextmanager
def replay(exchange: str, *args: str) -> Iterator[Replay]:
    command = [sys.executable, "-m", "tests.replay_exchange", "--exchange", exchange, "--port", "0"]
    process = subprocess.Popen(
        [*command, *args], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        listening = json.loads(process.stdout.readline())
        yield Replay(process, listening["ccxt_urls"])
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def storage_urls(directory: Path) -> dict[str, str]:
    """SQLite always; PostgreSQL when OHLCV_BENCH_POSTGRES_DSN names a database."""
    urls = {"sqlite": f"sqlite://{directory / 'bench.sqlite'}"}
    if os.environ.get(POSTGRES_DSN_ENV):
        urls["postgresql"] = os.environ[POSTGRES_DSN_ENV]
    return urls


async def fresh_storage(url: str) -> Storage:
    storage = await open_storage(url)
    await storage.migrate()
    if url.startswith("postgres"):  # a reused database: start from empty tables
        import asyncpg

        connection = await asyncpg.connect(url)
        try:
            await connection.execute("TRUNCATE ohlcv_candles, ohlcv_trades, ohlcv_coverage")
        finally:
            await connection.close()
    return storage


class StaticTargets:
    """A `TargetSource` with a fixed list (the benchmark needs no targets database)."""

    def __init__(self, targets: list[Target]) -> None:
        self._targets = targets

    async def targets(self, *, exchange: str) -> list[Target]:
        return [t for t in self._targets if t.exchange == exchange]

    async def all_exchanges(self) -> list[str]:
        return sorted({t.exchange for t in self._targets})

    async def close(self) -> None:
        return None


@contextlib.asynccontextmanager
async def collecting(
    *,
    exchange: str,
    targets: list[Target],
    urls: dict[str, Any],
    storage: Storage,
    options: CollectOptions,
    ccxt_options: dict[str, Any] | None = None,
) -> AsyncIterator[tuple[ExchangeCollector, BatchWriter]]:
    """The collector of `exchange` running on the real backends until the block ends."""
    market = CcxtMarket(
        exchange_id=exchange, options=ccxt_options or {"enableRateLimit": False}, urls=urls
    )
    writer = BatchWriter(storage, max_rows=5000, max_seconds=1.0, buffer_max_rows=200_000)
    writer.start()
    collector = ExchangeCollector(
        exchange=exchange, targets=StaticTargets(targets), market=market, storage=storage,
        writer=writer, options=options, refresh_seconds=5.0,
    )  # fmt: skip
    task = asyncio.create_task(collector.run())
    try:
        yield collector, writer
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await writer.close()
        await market.close()


def max_rss_mb() -> float:
    """The benchmark process's peak resident memory."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def temporary_directory() -> "tempfile.TemporaryDirectory[str]":
    return tempfile.TemporaryDirectory(prefix="ohlcv-bench-")
