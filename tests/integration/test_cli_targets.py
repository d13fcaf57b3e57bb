"""The installed ``ohlcv-collector`` console script: ``db init`` and ``targets add|list|remove``.

Each test runs the real script in a subprocess, configured only through the
environment and flags a user would set, against a real SQLite file or PostgreSQL.
"""

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from tests.harness.tools import free_port
from tests.integration.collector_harness import SCRIPT, clean_environment

NO_CACHE_NOTE = (
    "ohlcv-collector: note: CACHE_HOST is not set, so no fullon_orm cache was cleared;"
    " a fullon_orm process with a Redis cache may see the old targets for up to 24 h\n"
)


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


@dataclass(frozen=True)
class Cli:
    """The console script with a fixed working directory and environment."""

    cwd: Path
    env: dict[str, str]
    url: str

    def __call__(self, *args: str, **env: str) -> Result:
        done = subprocess.run(
            [str(SCRIPT), *args],
            cwd=self.cwd,
            env=self.env | env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return Result(code=done.returncode, out=done.stdout, err=done.stderr)


def sqlite_cli(directory: Path) -> Cli:
    """No DB_HOST: the embedded default, ./fullon-ohlcv.sqlite in the working directory."""
    return Cli(
        cwd=directory,
        env=clean_environment(),
        url=f"sqlite:///{directory / 'fullon-ohlcv.sqlite'}",
    )


def postgres_cli(directory: Path, dsn: str) -> Cli:
    """DB_HOST and friends, as a fullon installation sets them (both databases in one)."""
    parts = urlsplit(dsn)
    database = parts.path.lstrip("/")
    env = clean_environment() | {
        "DB_HOST": str(parts.hostname),
        "DB_PORT": str(parts.port),
        "DB_USER": str(parts.username),
        "DB_NAME": database,
        "DB_OHLCV_NAME": database,
    }
    return Cli(cwd=directory, env=env, url=dsn)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def cli(request: pytest.FixtureRequest, tmp_path: Path) -> Cli:
    if request.param == "sqlite":
        return sqlite_cli(tmp_path)
    return postgres_cli(tmp_path, str(request.getfixturevalue("postgres_dsn")))


def assert_one_error_line(result: Result, message: str) -> None:
    assert result.code == 1
    assert result.out == ""
    assert result.err == f"ohlcv-collector: error: {message}\n"


def test_db_init_and_a_round_trip_of_targets(cli: Cli) -> None:
    init = cli("db", "init")
    assert init.code == 0, init.err
    assert init.out == (
        "targets: created tables users, cat_exchanges, cat_exchanges_params, exchanges, symbols"
        f" in {cli.url}\nstorage: schema is up to date in {cli.url}\n"
    )
    again = cli("db", "init")
    assert again.out.splitlines()[0] == f"targets: all tables already exist in {cli.url}"

    added = cli("targets", "add", "--exchange", "binance", "--symbol", "BTC/USDT")
    assert (added.code, added.err) == (0, NO_CACHE_NOTE)
    assert added.out == (
        "created user admin@fullon\ncreated exchange binance\n"
        "created account binance1 of admin@fullon\n"
        "added binance BTC/USDT: 30 days of history, updateframe 1h\n"
    )
    eth = ("--exchange", "binance", "--symbol", "ETH/USDT")
    added = cli("targets", "add", *eth, "--backtest-days", "7", "--updateframe", "15m")
    assert added.out == "added binance ETH/USDT: 7 days of history, updateframe 15m\n"
    cli("targets", "add", "--exchange", "kraken", "--symbol", "BTC/USD")

    listed = cli("targets", "list")
    assert (listed.code, listed.err) == (0, "")
    assert listed.out == (
        "EXCHANGE   SYMBOL     BACKTEST_DAYS   UPDATEFRAME\n"
        "binance    BTC/USDT   30              1h\n"
        "binance    ETH/USDT   7               15m\n"
        "kraken     BTC/USD    30              1h\n"
    )
    someone_else = cli("targets", "list", ADMIN_MAIL="trader@fullon")
    assert (someone_else.code, someone_else.out) == (0, "")
    assert someone_else.err == (
        "ohlcv-collector: warning: no user 'trader@fullon' in the users table: nothing to collect\n"
        "ohlcv-collector: note: no targets for trader@fullon\n"
    )
    as_json = cli("targets", "list", "--exchange", "binance", "-o", "json")
    assert json.loads(as_json.out) == [
        {"exchange": "binance", "symbol": "BTC/USDT", "backtest_days": 30, "updateframe": "1h"},
        {"exchange": "binance", "symbol": "ETH/USDT", "backtest_days": 7, "updateframe": "15m"},
    ]

    removed = cli("targets", "remove", *eth)
    assert (removed.code, removed.out) == (0, "removed binance ETH/USDT\n")
    deactivated = cli("targets", "remove", "--exchange", "binance")
    assert deactivated.out == "deactivated binance1 of admin@fullon on binance\n"
    assert cli("targets", "list", "-o", "json").out.count('"symbol"') == 1  # only kraken left
    empty = cli("targets", "list", "--exchange", "binance")
    assert (empty.code, empty.out) == (0, "")
    assert empty.err == "ohlcv-collector: note: no targets for admin@fullon\n"


def test_bad_input_is_one_line_and_stores_nothing(tmp_path: Path) -> None:
    cli = sqlite_cli(tmp_path)
    assert cli("db", "init").code == 0
    add = ("targets", "add", "--exchange", "binance", "--symbol")

    unknown = cli("targets", "add", "--exchange", "binanse", "--symbol", "BTC/USDT")
    assert unknown.code == 1
    assert unknown.err.startswith(
        "ohlcv-collector: error: unknown exchange 'binanse': not a ccxt exchange id;"
        " did you mean binance"
    )
    assert unknown.err.count("\n") == 1
    assert_one_error_line(
        cli(*add, "BTC USDT"),
        "symbol 'BTC USDT' is not in ccxt's unified form, e.g. BTC/USDT or BTC/USD:BTC",
    )
    assert_one_error_line(
        cli(*add, "BTC/USDT", "--backtest-days", "-1"),
        "backtest -1 is not between 0 and 32767 days",
    )
    assert_one_error_line(
        cli(*add, "BTC/USDT", "--updateframe", "90"),
        "updateframe '90' is not a timeframe such as 1m, 15m, 1h or 1d",
    )
    not_a_number = cli(*add, "BTC/USDT", "--backtest-days", "thirty")
    assert not_a_number.code == 2
    assert "argument --backtest-days: invalid int value: 'thirty'" in not_a_number.err
    assert_one_error_line(
        cli("targets", "remove", "--exchange", "binance", "--symbol", "DOGE/USDT"),
        "binance has no symbol 'DOGE/USDT' in the symbols table",
    )
    assert_one_error_line(
        cli("targets", "remove", "--exchange", "binance"),
        "admin@fullon has no active account on binance",
    )
    assert_one_error_line(
        cli("targets", "list", "--targets-url", "mysql://db/fullon"),
        "unsupported database URL 'mysql://db/fullon':"
        " expected postgresql://... or sqlite:///absolute/path",
    )
    listed = cli("targets", "list", "-o", "json")
    assert (listed.code, listed.out) == (0, "[]\n")


def test_a_missing_or_unreachable_database_is_one_line(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cli = sqlite_cli(elsewhere)
    assert_one_error_line(
        cli("targets", "list"),
        f"the targets database {elsewhere / 'fullon-ohlcv.sqlite'} does not exist;"
        " create it with `ohlcv-collector db init`",
    )
    assert list(elsewhere.iterdir()) == []
    port = str(free_port())
    refused = cli("targets", "list", DB_HOST="127.0.0.1", DB_PORT=port, DB_PASSWORD="secret")
    assert refused.code == 1
    assert refused.err.startswith(
        f"ohlcv-collector: error: cannot connect to postgresql://postgres:***@127.0.0.1:{port}/fullon:"
    )
    assert refused.err.count("\n") == 1
    assert "secret" not in refused.err
    assert_one_error_line(
        cli("targets", "list", DB_PORT="five"),
        "invalid DatabaseSettings in the environment:"
        " port: Input should be a valid integer, unable to parse string as an integer",
    )


@pytest.mark.postgres
def test_db_init_on_a_database_without_tables_is_needed_first(
    tmp_path: Path, postgres_dsn: str
) -> None:
    cli = postgres_cli(tmp_path, postgres_dsn)
    assert_one_error_line(
        cli("targets", "add", "--exchange", "binance", "--symbol", "BTC/USDT"),
        f'targets database {postgres_dsn}: relation "users" does not exist;'
        " create the tables with `ohlcv-collector db init`",
    )


@pytest.mark.redis
def test_edits_clear_fullon_orms_cached_reads_and_nothing_else(
    tmp_path: Path, redis_url: str
) -> None:
    cli = sqlite_cli(tmp_path)
    assert cli("db", "init").code == 0
    parts = urlsplit(redis_url)
    cache = {"CACHE_HOST": str(parts.hostname), "CACHE_PORT": str(parts.port), "CACHE_DB": "0"}
    stale = ["symbols:get:BTC/USDT:1", "symbols:by_ex_id:1", "exchanges:user_exchanges:1"]
    with redis.Redis.from_url(redis_url) as client:
        for key in stale:
            client.set(key, "stale rows")
        client.set("process:data:ohlcv:binance:1", "{}")
        added = cli("targets", "add", "--exchange", "binance", "--symbol", "BTC/USDT", **cache)
        assert added.code == 0
        assert added.err == (
            "ohlcv-collector: note: cleared 3 fullon_orm cache keys (symbols:* and exchanges:*)"
            f" at redis://{parts.hostname}:{parts.port}/0\n"
        )
        assert client.exists(*stale) == 0
        assert client.get("process:data:ohlcv:binance:1") == b"{}"

    unreachable = cache | {"CACHE_PORT": str(free_port())}
    removed = cli(
        "targets", "remove", "--exchange", "binance", "--symbol", "BTC/USDT", **unreachable
    )
    assert (removed.code, removed.out) == (0, "removed binance BTC/USDT\n")
    assert removed.err.startswith("ohlcv-collector: note: could not clear fullon_orm's cache")
    assert removed.err.endswith("it may serve old targets for 24 h\n")
