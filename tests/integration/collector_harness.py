"""Run the real collector against the replay exchange and judge what it stored.

One piece of code for every end-to-end test of the collector: a database (SQLite file or
PostgreSQL database) prepared with the installed ``ohlcv-collector`` script, replay exchanges
in their own processes, ``ohlcv-collector run`` in its own process configured only through
the environment and flags a user would set, and the comparison of the stored rows with the
replay's ground truth (what the exchange served, in served time).

The comparison rules (`candle_problems`, `trade_problems`) are what "equals the ground truth
row for row" means for a user of the database:

- every closed candle the exchange served inside the window is stored with identical decimals,
  and no stored candle is one the exchange did not serve as closed;
- a minute without trades is either stored as the exchange's zero-volume candle or absent and
  covered (known-empty), never invented with other values;
- every trade (Binance: aggregate trade) of the window is stored exactly once, none extra;
- the coverage has no hole inside the window, except before the exchange's first data.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ohlcv_collector.core.coverage import holes, merge
from ohlcv_collector.models import DAY_MS, MINUTE_MS, TimeRange, floor_minute
from tests.harness.tools import VENV_BIN, free_port
from tests.harness.waiting import wait_until
from tests.replay_exchange.fixtures import ReplayProcess, start_replay_process

SCRIPT = VENV_BIN / "ohlcv-collector"
CONFIG_PREFIXES = ("DB_", "CACHE_", "REDIS_", "OHLCV_", "ADMIN_MAIL", "DATABASE_URL")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
Labels = frozenset[tuple[str, str]]


def clean_environment() -> dict[str, str]:
    """The test process's environment without any collector or fullon configuration."""
    return {k: v for k, v in os.environ.items() if not k.startswith(CONFIG_PREFIXES)}


# -- the database ------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredCandle:
    start: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trades: int | None


@dataclass(frozen=True)
class StoredTrade:
    trade_id: str
    time: int
    price: Decimal
    amount: Decimal
    side: str


@dataclass(frozen=True)
class Database:
    """One database holding both the targets and the OHLCV tables, read with plain SQL
    (not through the collector's storage code, which is what is under test)."""

    backend: str  # "sqlite" or "postgres"
    url: str

    def _ms(self, column: str) -> str:
        return column if self.backend == "sqlite" else f"(extract(epoch FROM {column})*1000)::int8"

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        """Rows of one query on a connection of its own."""
        if self.backend == "sqlite":
            with contextlib.closing(sqlite3.connect(self.url.removeprefix("sqlite://"))) as db:
                return list(db.execute(sql.replace("$", "?"), params).fetchall())
        rows: list[tuple[Any, ...]] = _run_async(self._pg_query(sql, *params))
        return rows

    async def _pg_query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        connection = await asyncpg.connect(self.url)
        try:
            return [tuple(row) for row in await connection.fetch(sql, *params)]
        finally:
            await connection.close()

    def candles(self, exchange: str, symbol: str) -> dict[int, StoredCandle]:
        """Stored 1m candles of one symbol by bar start."""
        rows = self.query(
            f"SELECT {self._ms('ts')}, open, high, low, close, volume, trades FROM ohlcv_candles"  # noqa: S608
            " WHERE exchange = $1 AND symbol = $2 AND timeframe = '1m' ORDER BY ts",
            exchange,
            symbol,
        )
        return {int(r[0]): _candle(r[0], [str(v) for v in r[1:6]], r[6]) for r in rows}

    def trades(self, exchange: str, symbol: str) -> list[StoredTrade]:
        """Every stored trade row of one symbol (duplicates would show as repeated ids)."""
        rows = self.query(
            f"SELECT trade_id, {self._ms('ts')}, price, amount, side FROM ohlcv_trades"  # noqa: S608
            " WHERE exchange = $1 AND symbol = $2 ORDER BY ts, trade_id",
            exchange,
            symbol,
        )
        return [
            StoredTrade(str(r[0]), int(r[1]), Decimal(str(r[2])), Decimal(str(r[3])), str(r[4]))
            for r in rows
        ]

    def coverage(self, exchange: str, symbol: str, kind: str) -> list[TimeRange]:
        """Covered ranges of one series ("candles" or "trades"), merged."""
        rows = self.query(
            f"SELECT {self._ms('start_ts')}, {self._ms('end_ts')} FROM ohlcv_coverage"  # noqa: S608
            " WHERE exchange = $1 AND symbol = $2 AND kind = $3",
            exchange,
            symbol,
            kind,
        )
        return merge(TimeRange(int(a), int(b)) for a, b in rows)

    def count(self, table: str, exchange: str, symbol: str) -> int:
        [(n,)] = self.query(
            f"SELECT count(*) FROM {table} WHERE exchange = $1 AND symbol = $2",  # noqa: S608
            exchange,
            symbol,
        )
        return int(n)


def _run_async(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def database_for(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    """The database a test is parametrized with ("sqlite" or "postgres")."""
    if request.param == "postgres":
        return Database("postgres", request.getfixturevalue("postgres_dsn"))
    return Database("sqlite", f"sqlite://{tmp_path / 'fullon.sqlite'}")


# -- the command line --------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


def ohlcv(*args: str, env: Mapping[str, str] | None = None, timeout: float = 60) -> Result:
    """Run the installed ``ohlcv-collector`` script to completion."""
    done = subprocess.run(
        [str(SCRIPT), *args],
        env=clean_environment() | dict(env or {}),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def must(result: Result) -> Result:
    assert result.code == 0, f"exit {result.code}\n{result.out}\n{result.err}"
    return result


def init_db(db: Database) -> None:
    must(ohlcv("db", "init", "--targets-url", db.url, "--storage-url", db.url))


def add_target(db: Database, exchange: str, symbol: str, *, days: int) -> None:
    must(
        ohlcv(
            "targets", "add", "--exchange", exchange, "--symbol", symbol,
            "--backtest-days", str(days), "--targets-url", db.url,
        )
    )  # fmt: skip


def remove_target(db: Database, exchange: str, symbol: str) -> None:
    must(
        ohlcv("targets", "remove", "--exchange", exchange, "--symbol", symbol,
              "--targets-url", db.url)
    )  # fmt: skip


# -- the replay exchange -----------------------------------------------------------------


def http_json(url: str, *, method: str = "GET", body: object = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (loopback)
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        return json.loads(answer.read())


@dataclass
class Replay:
    """A replay exchange in its own process."""

    process: ReplayProcess
    exchange: str

    @property
    def base(self) -> str:
        return self.process.http_url

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = http_json(f"{self.base}/admin/state")
        return state

    def now_ms(self) -> int:
        return int(self.state()["now_ms"])

    def market(self, symbol: str) -> dict[str, Any]:
        [market] = [m for m in self.state()["markets"] if m["symbol"] == symbol]
        return dict(market)

    def ground_truth(self, kind: str, symbol: str) -> list[dict[str, str]]:
        url = f"{self.base}/admin/ground-truth?kind={kind}&symbol={symbol}&format=jsonl"
        with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 (loopback)
            return [json.loads(line) for line in answer.read().decode().splitlines() if line]

    def set_faults(self, **changes: object) -> None:
        http_json(f"{self.base}/admin/faults", method="POST", body=changes)

    def wait_exchange_ms(self, until_ms: int, *, timeout: float) -> None:
        """Wait until the exchange's clock reaches `until_ms`."""
        wait_until(lambda: self.now_ms() >= until_ms, timeout=timeout, describe="replay clock")


# -- the collector process ---------------------------------------------------------------


@dataclass
class Collector:
    """``ohlcv-collector run`` in its own process; stdout (JSON logs) goes to a file."""

    popen: subprocess.Popen[bytes]
    log_path: Path
    err_path: Path
    http_port: int
    started_exchange_ms: int
    stopped_after_s: float | None = None

    def logs(self) -> list[dict[str, Any]]:
        lines = self.log_path.read_text(errors="replace").splitlines()
        parsed = []
        for line in lines:
            with contextlib.suppress(ValueError):
                parsed.append(json.loads(line))
        return parsed

    def messages(self, **fields: str) -> list[str]:
        """Messages of the log lines whose fields equal `fields`."""
        return [
            str(line.get("message"))
            for line in self.logs()
            if all(line.get(k) == v for k, v in fields.items())
        ]

    def output(self) -> str:
        tail = self.log_path.read_text(errors="replace").splitlines()[-60:]
        return "\n".join(tail) + "\n--- stderr ---\n" + self.err_path.read_text(errors="replace")

    def wait_log(
        self, predicate: Callable[[dict[str, Any]], bool], *, timeout: float, what: str
    ) -> None:
        wait_until(
            lambda: any(predicate(line) for line in self.logs()) or self._died(),
            timeout=timeout,
            describe=what,
            details=self.output,
        )
        assert self.popen.poll() is None, f"collector exited early\n{self.output()}"

    def _died(self) -> bool:
        return self.popen.poll() is not None

    def get(self, path: str) -> tuple[int, str]:
        """Status and body of a GET on the probe server."""
        url = f"http://127.0.0.1:{self.http_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return int(answer.status), answer.read().decode()
        except urllib.error.HTTPError as error:
            return int(error.code), error.read().decode()

    def metrics(self) -> dict[str, dict[Labels, float]]:
        """Samples of /metrics: name -> labels -> value."""
        status, text = self.get("/metrics")
        assert status == 200, text
        samples: dict[str, dict[Labels, float]] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
        return samples

    def metric(self, name: str, **labels: str) -> float | None:
        """The value of one sample, or None when it is not exported."""
        return self.metrics().get(name, {}).get(frozenset(labels.items()))

    def wait_metric(
        self, name: str, check: Callable[[float], bool], *, timeout: float, **labels: str
    ) -> float:
        found: list[float] = []

        def holds() -> bool:
            value = self.metric(name, **labels)
            if value is not None and check(value):
                found.append(value)
                return True
            return self._died()

        wait_until(holds, timeout=timeout, describe=f"metric {name}{labels}", details=self.output)
        assert found, f"collector exited early\n{self.output()}"
        return found[0]

    def stop(self, signum: int = signal.SIGTERM, *, timeout: float = 20.0) -> int:
        """Send `signum` and wait for the exit; returns the exit code."""
        if self.popen.poll() is None:
            began = time.monotonic()
            self.popen.send_signal(signum)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
            self.stopped_after_s = time.monotonic() - began
        return int(self.popen.returncode)


class Lab:
    """Owns the processes of one test and stops them all at its end."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.replays: list[Replay] = []
        self.collectors: list[Collector] = []

    def __enter__(self) -> Lab:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for collector in self.collectors:
            collector.stop(signal.SIGKILL)
        for replay in self.replays:
            replay.process.stop()
            for stream in (replay.process.process.stdout, replay.process.process.stderr):
                if stream is not None:
                    stream.close()

    def replay(self, exchange: str, *args: str) -> Replay:
        """A replay exchange started with the standalone server's flags."""
        replay = Replay(start_replay_process(exchange=exchange, args=args), exchange)
        self.replays.append(replay)
        return replay

    def collector(
        self,
        db: Database,
        replay: Replay,
        *args: str,
        repair_interval: float = 2.0,
        ccxt_options: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        exchange: str | None = None,
    ) -> Collector:
        """Start ``ohlcv-collector run`` against the replay; returns once /healthz answers."""
        exchange = exchange or replay.exchange
        port = free_port()
        name = f"collector-{exchange}-{len(self.collectors)}"
        log_path, err_path = self.directory / f"{name}.log", self.directory / f"{name}.err"
        environment = clean_environment() | {
            "OHLCV_CCXT_URLS": json.dumps(replay.process.ccxt_urls),
            "OHLCV_CCXT_OPTIONS": json.dumps(ccxt_options or {"enableRateLimit": False}),
            "OHLCV_HTTP_HOST": "127.0.0.1",
            "OHLCV_HTTP_PORT": str(port),
            "OHLCV_TARGETS_REFRESH_SECONDS": "2",
            "OHLCV_INSTANCE": name,
            **(env or {}),
        }
        command = [
            str(SCRIPT), "run", "--exchange", exchange, "--repair-interval", str(repair_interval),
            "--targets-url", db.url, "--storage-url", db.url, *args,
        ]  # fmt: skip
        started_ms = replay.now_ms()
        with log_path.open("wb") as out, err_path.open("wb") as err:
            popen = subprocess.Popen(command, env=environment, stdout=out, stderr=err)
        collector = Collector(popen, log_path, err_path, port, started_ms)
        self.collectors.append(collector)
        wait_until(
            lambda: collector.get("/healthz")[0] == 200 or collector._died(),
            timeout=30,
            describe="collector /healthz",
            details=collector.output,
        )
        assert popen.poll() is None, f"collector exited at start\n{collector.output()}"
        return collector


def wait_backfilled(
    collector: Collector, exchange: str, symbols: Sequence[str], *, timeout: float
) -> None:
    """Wait until every symbol's backfill progress reaches 100 %."""
    for symbol in symbols:
        collector.wait_metric(
            "ohlcv_collector_backfill_progress_ratio",
            lambda v: v >= 1.0,
            timeout=timeout,
            exchange=exchange,
            symbol=symbol,
        )


# -- comparison with the ground truth ----------------------------------------------------


@dataclass(frozen=True)
class Window:
    """The minutes a collector was responsible for: [start, end), whole minutes."""

    start: int
    end: int

    @property
    def range(self) -> TimeRange:
        return TimeRange(self.start, self.end)


def collection_window(
    *, started_ms: int, stopped_ms: int, days: float, margin_ms: int = 2 * MINUTE_MS
) -> Window:
    """The window a collector started at `started_ms` (exchange time) with `days` of
    backfill had to complete by `stopped_ms`: from the start of its first backfill (plus
    `margin_ms`, as its first pass begins a little after it starts) to the minutes that
    closed at least two minutes before the stop. The newest closed bar is the stream's to
    confirm when the next one starts; when a reconnect loses that moment, the repair takes
    the bar once it is no longer the newest, so a bar may be stored up to two minutes late."""
    start = floor_minute(started_ms) - int(days * DAY_MS) + margin_ms
    return Window(start=floor_minute(start), end=floor_minute(stopped_ms) - 2 * MINUTE_MS)


def _candle(start: object, values: Sequence[str], count: object) -> StoredCandle:
    """A candle from its start, its open, high, low, close and volume, and trade count."""
    o, h, low, c, v = (Decimal(value) for value in values)
    return StoredCandle(
        int(str(start)), o, h, low, c, v, None if count in (None, "") else int(str(count))
    )


def _truth_candle(row: Mapping[str, str]) -> StoredCandle:
    values = [row[k] for k in ("open", "high", "low", "close", "volume")]
    return _candle(row["open_time_ms"], values, row.get("trade_count"))


def candle_problems(
    *,
    stored: Mapping[int, StoredCandle],
    truth: Sequence[Mapping[str, str]],
    covered: Sequence[TimeRange],
    window: Window,
) -> list[str]:
    """Every way the stored candles differ from the exchange's closed candles (empty: equal)."""
    problems: list[str] = []
    served = {int(r["open_time_ms"]): r for r in truth}
    for start, candle in stored.items():
        row = served.get(start)
        if row is None:
            problems.append(f"extra candle at {start}: the exchange served no closed bar there")
            continue
        expected = _truth_candle(row)
        same = (candle.open, candle.high, candle.low, candle.close, candle.volume) == (
            expected.open, expected.high, expected.low, expected.close, expected.volume,
        )  # fmt: skip
        counts_agree = None in (candle.trades, expected.trades) or candle.trades == expected.trades
        if not (same and counts_agree):
            problems.append(f"candle at {start} differs: stored {candle}, exchange {expected}")
    first = min(served, default=window.end)
    for start, row in served.items():
        if not window.start <= start < window.end or start in stored:
            continue
        if row["empty"] == "true":
            if holes(window=TimeRange(start, start + MINUTE_MS), covered=covered):
                problems.append(f"empty minute {start} neither stored nor covered as known-empty")
        else:
            problems.append(f"missing candle at {start}")
    inside = TimeRange(max(window.start, first), max(window.end, max(window.start, first)))
    problems += [f"candle coverage hole {h}" for h in holes(window=inside, covered=covered)]
    return problems


def trade_problems(
    *,
    stored: Sequence[StoredTrade],
    truth: Sequence[Mapping[str, str]],
    id_key: str,
    covered: Sequence[TimeRange],
    window: Window,
) -> list[str]:
    """Every way the stored trades differ from the exchange's trades (empty: equal).

    `id_key` is the ground truth's id column: "trade_id", or "agg_id" for Binance, whose
    REST and WebSocket defaults both carry aggregate trades.
    """
    problems: list[str] = []
    served = {r[id_key]: r for r in truth}
    counts = Counter(t.trade_id for t in stored)
    problems += [f"trade {i} stored {n} times" for i, n in counts.items() if n > 1]
    for trade in stored:
        row = served.get(trade.trade_id)
        expected = None if row is None else (
            int(row["time_ms"]), Decimal(row["price"]), Decimal(row["amount"]), row["side"]
        )  # fmt: skip
        if expected != (trade.time, trade.price, trade.amount, trade.side):
            problems.append(f"trade {trade.trade_id} differs: stored {trade}, exchange {row}")
    ids = set(counts)
    missing = [
        r[id_key]
        for r in truth
        if window.start <= int(r["time_ms"]) < window.end and r[id_key] not in ids
    ]
    if missing:
        problems.append(f"{len(missing)} trades missing, e.g. {missing[:5]}")
    first = min((int(r["time_ms"]) for r in truth), default=window.end)
    inside = TimeRange(max(window.start, first), max(window.end, max(window.start, first)))
    problems += [f"trade coverage hole {h}" for h in holes(window=inside, covered=covered)]
    return problems


@dataclass
class Check:
    """The comparison of one symbol's stored series with the replay's ground truth."""

    db: Database
    replay: Replay
    symbol: str
    window: Window
    trades_window: Window | None = None
    candle_truth: list[dict[str, str]] = field(default_factory=list)

    def candles(self) -> list[str]:
        self.candle_truth = self.replay.ground_truth("candles_1m", self.symbol)
        return candle_problems(
            stored=self.db.candles(self.replay.exchange, self.symbol),
            truth=self.candle_truth,
            covered=self.db.coverage(self.replay.exchange, self.symbol, "candles"),
            window=self.window,
        )

    def trades(self) -> list[str]:
        binance = self.replay.exchange == "binance"
        kind, id_key = ("aggtrades", "agg_id") if binance else ("trades", "trade_id")
        return trade_problems(
            stored=self.db.trades(self.replay.exchange, self.symbol),
            truth=self.replay.ground_truth(kind, self.symbol),
            id_key=id_key,
            covered=self.db.coverage(self.replay.exchange, self.symbol, "trades"),
            window=self.trades_window or self.window,
        )
