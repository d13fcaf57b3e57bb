"""Database and Redis settings as a Secret gives them, against real servers with TLS and ACLs.

A PostgreSQL server of this module's own serves TLS with a certificate from a throwaway CA;
the collector's settings (DB_URI as CloudNativePG writes it, DB_SSLMODE, DB_SSLROOTCERT) must
reach both the targets database and the candle storage over TLS, and a wrong CA must fail.
Redis is reached as an ACL user, and over TLS on a server of this module's own.
"""

import asyncio
import datetime
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import redis
from pydantic import SecretStr

from ohlcv_collector.backends.health.redis import RedisHealth
from ohlcv_collector.backends.storage import open_sql_storage
from ohlcv_collector.backends.targets.connection import TargetsDatabaseError, open_database
from ohlcv_collector.settings import DatabaseSettings, RedisSettings
from tests.harness.certs import CertificateAuthority, KeyPair
from tests.harness.services import PostgresServer
from tests.harness.tools import VENV_BIN, ServerProcess, free_port, tool

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def readable_by(owner: str | None, *paths: Path) -> None:
    """Hand the server its files: PostgreSQL refuses a key others can read."""
    for path in paths:
        if owner:
            shutil.chown(path, user=owner)
        path.chmod(0o600)


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority(directory=tmp_path_factory.mktemp("ca"))


async def enable_tls(dsn: str, *, cert: Path, key: Path) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f"ALTER SYSTEM SET ssl_cert_file = '{cert}'")
        await connection.execute(f"ALTER SYSTEM SET ssl_key_file = '{key}'")
        await connection.execute("ALTER SYSTEM SET ssl = on")
        await connection.execute("SELECT pg_reload_conf()")
    finally:
        await connection.close()


@pytest.fixture(scope="module")
def tls_postgres(authority: CertificateAuthority) -> Iterator[PostgresServer]:
    """A PostgreSQL server that serves TLS with a certificate for 127.0.0.1."""
    server = PostgresServer()
    server.start()
    issued = authority.issue(name="postgres", common_name="127.0.0.1", server=True)
    cert, key = server.directory / "server.crt", server.directory / "server.key"
    shutil.copy(issued.cert, cert)
    shutil.copy(issued.key, key)
    owner = "postgres" if server.directory.owner() == "postgres" else None
    readable_by(owner, cert, key)
    asyncio.run(enable_tls(server.dsn(), cert=cert, key=key))
    yield server
    server.stop()


def tls_settings(server: PostgresServer, ca: Path, *, database: str) -> DatabaseSettings:
    """Settings as a CloudNativePG `<cluster>-app` Secret and a CA Secret give them."""
    return DatabaseSettings(
        uri=SecretStr(f"postgresql://postgres@127.0.0.1:{server.port}/{database}"),
        ohlcv_name=database,
        sslmode="verify-full",
        sslrootcert=ca,
        required=True,
    )


async def uses_tls(url: str) -> bool:
    database = open_database(url)
    try:
        async with database.transaction() as session:
            [(ssl,)] = await session.fetch(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
            )
        return bool(ssl)
    finally:
        await database.close()


def test_targets_and_storage_connect_over_verified_tls(
    tls_postgres: PostgresServer, authority: CertificateAuthority
) -> None:
    settings = tls_settings(tls_postgres, authority.cert_path, database="postgres")
    assert "sslmode=verify-full" in settings.targets_url()
    assert asyncio.run(uses_tls(settings.targets_url())) is True

    async def migrate() -> None:
        storage = await open_sql_storage(settings.storage_url())
        try:
            await storage.migrate()
        finally:
            await storage.close()

    asyncio.run(migrate())


def test_a_certificate_from_another_ca_is_refused(
    tls_postgres: PostgresServer, tmp_path: Path
) -> None:
    stranger = CertificateAuthority(directory=tmp_path)
    settings = tls_settings(tls_postgres, stranger.cert_path, database="postgres")
    with pytest.raises(TargetsDatabaseError, match="certificate verify failed"):
        asyncio.run(uses_tls(settings.targets_url()))


def test_sslmode_disable_really_goes_without_tls(tls_postgres: PostgresServer) -> None:
    url = DatabaseSettings(uri=SecretStr(tls_postgres.dsn()), sslmode="disable").targets_url()
    assert asyncio.run(uses_tls(url)) is False


async def ping(url: str) -> bool:
    health = RedisHealth.from_url(url)
    try:
        records = await health.active_records(window=datetime.timedelta(seconds=60))
        return isinstance(records, list)
    finally:
        await health.close()


def test_redis_acl_user(redis_url: str) -> None:
    user, password = f"ohlcv-{uuid.uuid4().hex[:8]}", "s3cret/with:symbols"
    admin = redis.Redis.from_url(redis_url)
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    admin.acl_setuser(
        user, enabled=True, passwords=[f"+{password}"], keys=["*"], commands=["+@all"]
    )
    try:
        good = RedisSettings(
            host="127.0.0.1", port=port, username=user, password=SecretStr(password)
        )
        assert asyncio.run(ping(good.url() or "")) is True
        wrong = RedisSettings(
            host="127.0.0.1", port=port, username=user, password=SecretStr("nope")
        )
        with pytest.raises(redis.exceptions.AuthenticationError):
            asyncio.run(ping(wrong.url() or ""))
    finally:
        admin.acl_deluser(user)
        admin.close()


@pytest.fixture(scope="module")
def tls_redis(
    authority: CertificateAuthority, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[int]:
    """A Redis server that speaks only TLS, with a certificate for 127.0.0.1; its port."""
    directory = tmp_path_factory.mktemp("redis-tls")
    issued: KeyPair = authority.issue(name="redis", common_name="127.0.0.1", server=True)
    port = free_port()
    server = ServerProcess(
        name="redis-server",
        log=directory / "redis.log",
        argv=[
            str(tool("redis-server")), "--port", "0", "--tls-port", str(port),
            "--tls-cert-file", str(issued.cert), "--tls-key-file", str(issued.key),
            "--tls-ca-cert-file", str(authority.cert_path), "--tls-auth-clients", "no",
            "--save", "", "--appendonly", "no", "--dir", str(directory),
        ],
    )  # fmt: skip
    url = RedisSettings(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=authority.cert_path)
    server.wait_until(
        ready=lambda: _answers(url.url() or ""), timeout=30, what="answering over TLS"
    )
    yield port
    server.stop()


def _answers(url: str) -> bool:
    try:
        return asyncio.run(ping(url))
    except redis.exceptions.ConnectionError:
        return False


def test_redis_over_verified_tls(
    tls_redis: int, authority: CertificateAuthority, tmp_path: Path
) -> None:
    good = RedisSettings(
        host="127.0.0.1", port=tls_redis, ssl=True, ssl_ca_certs=authority.cert_path
    )
    assert (good.url() or "").startswith("rediss://")
    assert asyncio.run(ping(good.url() or "")) is True
    stranger = CertificateAuthority(directory=tmp_path)
    wrong = RedisSettings(
        host="127.0.0.1", port=tls_redis, ssl=True, ssl_ca_certs=stranger.cert_path
    )
    with pytest.raises(redis.exceptions.ConnectionError, match="certificate verify failed"):
        asyncio.run(ping(wrong.url() or ""))


@pytest.mark.parametrize(
    ("command", "code"),
    [(["ohlcv-collector", "run", "--exchange", "binance"], 1), (["ohlcv-operator", "run"], 2)],
    ids=["collector", "operator"],
)
def test_a_pod_whose_secret_lacks_the_database_settings_stops_saying_so(
    command: list[str], code: int, tmp_path: Path
) -> None:
    """What the chart's Pods get from a Secret without DB_HOST or DB_URI: DB_REQUIRED and a
    password; the process stops with the reason (no SQLite file, no password in the log)."""
    env = {"PATH": os.environ["PATH"], "DB_REQUIRED": "true", "DB_PASSWORD": "hunter2"}
    result = subprocess.run(
        [str(VENV_BIN / command[0]), *command[1:]],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == code, result.stderr
    assert "the database Secret lacks the database settings" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert list(tmp_path.iterdir()) == []  # no SQLite file
