"""Real PostgreSQL and Redis servers, one of each per test session, on free loopback ports.

Redis comes from pytest-redis. PostgreSQL is started here rather than by
pytest-postgresql because that plugin runs pg_ctl as the current user, and initdb
refuses to run as root, which is what CI runs as; here the server drops to the
`postgres` system user that the Debian package creates. TimescaleDB is loaded when
its library is installed next to the server, otherwise the server is plain
PostgreSQL; `PostgresServer.timescaledb` says which, so tests exercise both paths.

Inside the test run's network namespace (tests/harness/netns.py) the server also listens
on the node's address and trusts the Pod network, so collector Pods on the real node
(tests/harness/node.py) use the same server as the tests that read their rows.
"""

import asyncio
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import redis
from pytest_redis import factories

from tests.harness.tools import VENV_BIN, ServerProcess, free_port, tool

POD_SUBNET = "10.88.0.0/16"  # the test node's Pod network (tests/harness/node.py)

_SYSTEM_USER = "postgres"


class PostgresServer:
    """A PostgreSQL server in a throwaway directory, trusting local connections."""

    def __init__(
        self,
        *,
        addresses: tuple[str, ...] = (),
        trusted: tuple[str, ...] = (),
        settings: tuple[str, ...] = (),
    ) -> None:
        self.addresses = ("127.0.0.1", *addresses)
        self._trusted = trusted
        self._settings = settings  # more `name=value` server settings
        # Not under pytest's tmp_path: that is private to root, and the server may run as
        # the postgres user.
        self.directory = Path(tempfile.mkdtemp(prefix="ohlcv-postgres-"))
        self.port = free_port()
        postgres = tool("postgres").resolve()
        self.timescaledb = (postgres.parent.parent / "lib" / "timescaledb.so").exists()
        self._user = _SYSTEM_USER if os.geteuid() == 0 else None
        self._process: ServerProcess | None = None

    @classmethod
    def reachable_from_pods(cls, node_ip: str) -> "PostgresServer":
        """A server that also listens on the node's address and trusts the Pod network."""
        return cls(addresses=(node_ip,), trusted=(f"{node_ip}/32", POD_SUBNET))

    def dsn(self, *, database: str = "postgres") -> str:
        """Connection string for one database of this server."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Initialise the data directory and start the server; return once it accepts queries."""
        data = self.directory / "data"
        data.mkdir(parents=True)
        if self._user:
            shutil.chown(self.directory, user=self._user)
            shutil.chown(data, user=self._user)
        initdb = subprocess.run(
            [str(tool("initdb")), "-D", str(data), "-U", "postgres", "--auth=trust",
             "--encoding=UTF8", "--no-sync"],
            capture_output=True, text=True, user=self._user, timeout=120,
        )  # fmt: skip
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{initdb.stderr}{initdb.stdout}")
        with (data / "pg_hba.conf").open("a") as hba:
            hba.writelines(f"host all all {network} trust\n" for network in self._trusted)
        settings = ["fsync=off", "synchronous_commit=off", "full_page_writes=off",
                    f"listen_addresses={','.join(self.addresses)}",
                    f"unix_socket_directories={self.directory}", "max_connections=200"]  # fmt: skip
        if self.timescaledb:
            settings += ["shared_preload_libraries=timescaledb", "timescaledb.telemetry_level=off"]
        settings += self._settings
        argv = [str(tool("postgres")), "-D", str(data), "-p", str(self.port)]
        for setting in settings:
            argv += ["-c", setting]
        self._process = ServerProcess(
            name="postgres", argv=argv, log=self.directory / "postgres.log", user=self._user
        )
        self._process.wait_until(
            ready=lambda: asyncio.run(self._accepts_queries()), timeout=60, what="accepting queries"
        )

    async def _accepts_queries(self) -> bool:
        connection = await asyncpg.connect(self.dsn(), timeout=2)
        try:
            return bool(await connection.fetchval("SELECT 1") == 1)
        finally:
            await connection.close()

    async def create_database(self) -> str:
        """A new empty database (with TimescaleDB enabled when present); returns its name."""
        name = f"test_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(self.dsn())
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        if self.timescaledb:
            connection = await asyncpg.connect(self.dsn(database=name))
            try:
                await connection.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            finally:
                await connection.close()
        return name

    async def drop_database(self, *, name: str) -> None:
        """Drop a test database, disconnecting anyone still using it."""
        admin = await asyncpg.connect(self.dsn())
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    def stop(self) -> None:
        """Stop the server (smart shutdown on SIGTERM) and remove its files."""
        if self._process:
            self._process.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def node_address() -> str | None:
    """The node's address when the run is inside its network namespace (netns.py sets it)."""
    return os.environ.get("OHLCV_NODE_IP") or None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server (also on the node's address, for Pods, when there is one)."""
    node = node_address()
    server = PostgresServer.reachable_from_pods(node) if node else PostgresServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh database for one test, dropped afterwards."""
    name = asyncio.run(postgres_server.create_database())
    yield postgres_server.dsn(database=name)
    asyncio.run(postgres_server.drop_database(name=name))


redis_server = factories.redis_proc(executable=str(VENV_BIN / "redis-server"))


@pytest.fixture
def redis_url(redis_server: object) -> Iterator[str]:
    """URL of the session's Redis server, emptied after each test."""
    tool("redis-server")
    url = f"redis://127.0.0.1:{redis_server.port}/0"  # type: ignore[attr-defined]
    yield url
    with redis.Redis.from_url(url) as client:
        client.flushall()
