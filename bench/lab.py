"""The servers of one benchmark run (PostgreSQL, Redis) and the collector as users run it.

The servers are the test harness's own (tests/harness), started once per run inside the
run's network namespace. Every scenario gets a fresh database. The collector is the installed
`ohlcv-collector run` script in its own process, configured through the environment, as a
Deployment configures it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from bench.measure import Child, start, tree_cpu_seconds
from ohlcv_collector.backends.storage import open_sql_storage
from ohlcv_collector.backends.targets import SqlTargetEditor
from tests.harness.services import PostgresServer
from tests.harness.tools import VENV_BIN, ServerProcess, free_port, tool
from tests.harness.waiting import wait_until

CONFIG_PREFIXES = ("DB_", "CACHE_", "REDIS_", "OHLCV_", "ADMIN_MAIL", "DATABASE_URL")
# Only for the benchmark: when each row was written, to measure latency to the commit (the
# default is evaluated per row inside the collector's own insert transaction).
COMMITTED_AT = (
    "ALTER TABLE ohlcv_trade_rows ADD COLUMN bench_written_at timestamptz DEFAULT clock_timestamp()"
)


class Pid:
    """A process the benchmark did not start but charges CPU to (PostgreSQL's postmaster)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def cpu(self) -> float:
        return tree_cpu_seconds(self.pid)

    def check_running(self) -> None:
        return None


@dataclass
class Lab:
    directory: Path
    # Commit timestamps date the commit that completed a backfill (bench.backfill), to the
    # millisecond instead of to the next poll of the row count.
    postgres: PostgresServer = field(
        default_factory=lambda: PostgresServer(settings=("track_commit_timestamp=on",))
    )
    redis: ServerProcess | None = None
    redis_port: int = 0

    def start(self) -> None:
        self.postgres.start()
        self.redis_port = free_port()
        argv = [str(tool("redis-server")), "--port", str(self.redis_port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no"]  # fmt: skip
        self.redis = ServerProcess(name="redis", argv=argv, log=self.directory / "redis.log")
        wait_until(lambda: _answers(self.redis_port), timeout=30, describe="redis")

    def stop(self) -> None:
        if self.redis is not None:
            self.redis.stop()
        self.postgres.stop()

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def postgres_process(self) -> Pid:
        pid_file = self.postgres.directory / "data" / "postmaster.pid"
        return Pid(int(pid_file.read_text().split()[0]))

    async def drop_databases(self) -> None:
        """Drop every database the runs made, and checkpoint: what one scenario wrote
        (millions of rows at 500 symbols) must not cost the next one its flushes and
        vacuums, so each scenario measures only itself."""
        admin = await asyncpg.connect(self.postgres.dsn())
        try:
            names = await admin.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'test_%'")
            for row in names:
                await admin.execute(f'DROP DATABASE "{row["datname"]}" WITH (FORCE)')
            await admin.execute("CHECKPOINT")
        finally:
            await admin.close()

    async def database(self) -> str:
        """A new empty database; returns its DSN."""
        return self.postgres.dsn(database=await self.postgres.create_database())

    async def collector_database(self, *, exchange: str, symbols: list[str], days: int) -> str:
        """A database with the collector's tables and `symbols` as targets."""
        dsn = await self.database()
        editor = SqlTargetEditor(dsn, user_mail="admin@fullon")
        try:
            await editor.init_schema()
            for symbol in symbols:
                await editor.add(exchange=exchange, symbol=symbol, backtest_days=days)
        finally:
            await editor.close()
        storage = await open_sql_storage(dsn)  # what `ohlcv-collector db init` does for storage
        try:
            await storage.migrate()
        finally:
            await storage.close()
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(COMMITTED_AT)
        finally:
            await connection.close()
        return dsn

    def collector(
        self,
        *,
        name: str,
        exchange: str,
        dsn: str,
        ccxt_urls: dict[str, object],
        args: tuple[str, ...] = (),
        ccxt_options: dict[str, object] | None = None,
        redis: bool = False,
    ) -> Child:
        """`ohlcv-collector run` for one exchange, in its own process."""
        env = clean_environment() | {
            "OHLCV_CCXT_URLS": json.dumps(ccxt_urls),
            # {} is ccxt's own pacing (the rate-limited runs); None leaves pacing off
            "OHLCV_CCXT_OPTIONS": json.dumps(
                {"enableRateLimit": False} if ccxt_options is None else ccxt_options
            ),
            "OHLCV_HTTP_HOST": "127.0.0.1",
            "OHLCV_HTTP_PORT": str(free_port()),
            "OHLCV_TARGETS_REFRESH_SECONDS": "2",
            "OHLCV_HEARTBEAT_SECONDS": "2",
            "OHLCV_HEARTBEAT_TIMEOUT_SECONDS": "10",
            "OHLCV_INSTANCE": name,
        }
        if redis:
            env |= {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(self.redis_port)}
        argv = [str(VENV_BIN / "ohlcv-collector"), "run", "--exchange", exchange, "--targets-url",
                dsn, "--storage-url", dsn, "--log-level", "WARNING", *args]  # fmt: skip
        return start(name, argv, directory=self.directory, env=env)


def clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(CONFIG_PREFIXES)}


def _answers(port: int) -> bool:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")


async def fetch(dsn: str, sql: str, *args: object) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(dsn)
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()
