"""Replicas of one exchange's collector as real `ohlcv-collector run` processes.

A `Scene` holds what they share (PostgreSQL, Redis, a replay exchange subprocess) and
starts, kills and stops collectors as Kubernetes would; it reads what a user would look
at: each process's /readyz and /metrics, the ProcessCache records in Redis, the stored
candles, and the replay's ground truth.
"""

import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote, urlsplit

from ohlcv_collector.backends.health import HealthReader, RedisHealth, SymbolHealth
from ohlcv_collector.backends.storage import PostgresStorage
from ohlcv_collector.backends.targets import SqlTargetEditor
from ohlcv_collector.models import MINUTE_MS, TimeRange
from tests.harness.tools import VENV_BIN, free_port
from tests.harness.waiting import wait_until_async
from tests.replay_exchange.datasets import shared_data_dir
from tests.replay_exchange.fixtures import ReplayProcess

EXCHANGE = "binance"
CANDLES = shared_data_dir() / "candles_1m"
# Candles-only recordings, each replayed as another market: seven symbols of one exchange.
MARKETS = {
    "BTC/USD": "binanceus_BTCUSD_1m_20230301_20230321.csv",
    "BTC/USDC": "binanceus_BTCUSDC_1m_20230301_20230321.csv",
    "ETH/USD": "binanceus_BTCUSDT_1m_20230301_20230321.csv",
    "SOL/USD": "coinbase_BTC-USD_1m_20230301_20230321.csv",
    "XRP/USD": "kraken_XBTUSD_1m_fromtrades_20230301_20230321.csv",
    "ADA/USD": "kraken_XBTUSDC_1m_ohlcvt_20230301_20230321.csv",
    "DOT/USD": "kraken_XBTUSDT_1m_fromtrades_20230301_20230321.csv",
}
# Short fleet timings: a heartbeat a second, a silent replica's symbols move within 5 s.
FLEET_ENV = {
    "OHLCV_HEARTBEAT_SECONDS": "1",
    "OHLCV_HEARTBEAT_TIMEOUT_SECONDS": "5",
    "OHLCV_TARGETS_REFRESH_SECONDS": "2",
}
HEARTBEAT_TIMEOUT_S = 5.0
OMIT_EMPTY_MINUTES = ("hyperliquid",)  # exchanges that serve no candle for a quiet minute
EVER = TimeRange(0, 4_102_444_800_000)  # up to 2100


def replay_args(symbols: list[str], *, speed: float, history: str) -> list[str]:
    """`python -m tests.replay_exchange` arguments serving `symbols` of MARKETS."""
    args = ["--speed", str(speed), "--history", history]
    for symbol in symbols:
        args += ["--data", f"{symbol}={CANDLES / MARKETS[symbol]}"]
    return args


@dataclass
class Collector:
    """One `ohlcv-collector run` process and its probe port."""

    instance: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def get(self, path: str) -> tuple[int, str]:
        """GET a probe or /metrics: (status, body); (0, "") while it does not listen yet."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except OSError:
            return 0, ""

    def metric(self, name: str, **labels: str) -> float:
        """Sum of a Prometheus metric's samples that carry `labels`."""
        total = 0.0
        for line in self.get("/metrics")[1].splitlines():
            if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def symbols_running(self) -> int:
        """Symbols this process collects, by its own gauge (every phase but stopped)."""
        return int(self.metric("ohlcv_collector_symbols{") - self.stopped())

    def stopped(self) -> float:
        return self.metric("ohlcv_collector_symbols{", phase="stopped")

    def stop(self, *, timeout: float = 20) -> int:
        """SIGTERM, as Kubernetes stops a pod; the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL: a crash, nothing cleaned up."""
        self.process.kill()
        self.process.wait(timeout=10)


@dataclass
class Scene:
    """Collectors of one exchange sharing PostgreSQL, Redis and a replay exchange."""

    dsn: str
    redis_url: str
    replay: ReplayProcess
    directory: Path
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    collectors: dict[str, Collector] = field(default_factory=dict)
    exchange: str = EXCHANGE

    async def seed(self, symbols: list[str], *, days: int) -> None:
        """The targets: `symbols` of the exchange for the default user."""
        editor = SqlTargetEditor(self.dsn, user_mail="admin@fullon")
        try:
            await editor.init_schema()
            for symbol in symbols:
                await editor.add(exchange=self.exchange, symbol=symbol, backtest_days=days)
        finally:
            await editor.close()

    def start(self, instance: str) -> Collector:
        """Start one replica named `instance`."""
        parts, redis_parts = urlsplit(self.dsn), urlsplit(self.redis_url)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "REDIS_", "OHLCV_"))}
        env |= {
            "DB_HOST": str(parts.hostname), "DB_PORT": str(parts.port),
            "DB_USER": str(parts.username), "DB_NAME": parts.path.lstrip("/"),
            "DB_OHLCV_NAME": parts.path.lstrip("/"),
            "REDIS_HOST": str(redis_parts.hostname), "REDIS_PORT": str(redis_parts.port),
            "OHLCV_INSTANCE": instance, "OHLCV_HTTP_HOST": "127.0.0.1",
            "OHLCV_HTTP_PORT": str(port), "OHLCV_CCXT_URLS": json.dumps(self.replay.ccxt_urls),
            **FLEET_ENV, **self.env,
        }  # fmt: skip
        log = self.directory / f"{instance}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [str(VENV_BIN / "ohlcv-collector"), "run", "--exchange", self.exchange, *self.args],
                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=self.directory,
            )  # fmt: skip
        collector = Collector(instance=instance, process=process, port=port, log=log)
        self.collectors[instance] = collector
        return collector

    def live(self) -> list[Collector]:
        return [c for c in self.collectors.values() if c.process.poll() is None]

    def close(self) -> None:
        """Kill whatever still runs (a test that failed half-way)."""
        for collector in self.live():
            collector.kill()

    async def health(self) -> list[SymbolHealth]:
        """Per-symbol health as the operator reads it (stale after the heartbeat timeout)."""
        store = RedisHealth.from_url(self.redis_url)
        try:
            reader = HealthReader(
                store, window=timedelta(seconds=30), stale_after=timedelta(seconds=2.5)
            )
            return await reader.symbol_health(self.exchange)
        finally:
            await store.close()

    async def owners(self) -> dict[str, str]:
        """symbol -> the replica whose fresh record reports it streaming."""
        return {
            h.symbol: h.collector
            for h in await self.health()
            if not h.stale and h.status == "running" and h.message == "streaming"
        }

    def ground_truth(self, symbol: str) -> dict[int, tuple[Decimal, ...]]:
        """Final candles the replay served for `symbol`: start -> (o, h, l, c, v); minutes
        without trades only where the exchange serves a candle for them (Hyperliquid does
        not)."""
        url = (
            f"http://127.0.0.1:{self.replay.port}/admin/ground-truth?kind=candles_1m"
            f"&format=jsonl&symbol={quote(symbol)}"
        )
        with urllib.request.urlopen(url, timeout=10) as answer:
            rows = [json.loads(line) for line in answer.read().decode().splitlines() if line]
        return {
            int(r["open_time_ms"]): tuple(
                Decimal(r[k]) for k in ("open", "high", "low", "close", "volume")
            )
            for r in rows
            if r["empty"] == "false" or self.exchange not in OMIT_EMPTY_MINUTES
        }

    async def stored(self, symbol: str, window: TimeRange) -> dict[int, tuple[Decimal, ...]]:
        """Candles in the database for `symbol` in `window`."""
        storage = await PostgresStorage.connect(dsn=self.dsn)
        try:
            candles = await storage.candles(exchange=self.exchange, symbol=symbol, window=window)
        finally:
            await storage.close()
        return {c.start: (c.open, c.high, c.low, c.close, c.volume) for c in candles}

    async def newest(self, symbols: list[str]) -> dict[str, int]:
        """The newest stored candle's start per symbol (0 for none yet)."""
        return {s: max(await self.stored(s, EVER), default=0) for s in symbols}

    async def assert_complete(self, symbols: list[str], *, days: int) -> int:
        """Every symbol's stored candles equal the ground truth over the last day collected,
        up to the newest minute all symbols have; returns how many candles were compared.

        Retried for a few seconds: a minute the stream missed is repaired over REST within
        the repair interval, so a check right after it closed may see it still missing.
        """
        problem = ""

        async def compared() -> int:
            nonlocal problem
            try:
                return await self._compare(symbols, days=days)
            except AssertionError as error:
                problem = str(error)
                return 0

        return await wait_until_async(
            compared,
            timeout=10,
            interval=0.5,
            describe=lambda: f"stored candles equal to the ground truth: {problem}",
        )

    async def _compare(self, symbols: list[str], *, days: int) -> int:
        newest = await self.newest(symbols)
        assert all(newest.values()), f"nothing stored for some of {newest}"
        end = min(newest.values()) + MINUTE_MS
        window = TimeRange(end - days * 86_400_000 + 10 * MINUTE_MS, end)
        compared = 0
        for symbol in symbols:
            truth = {t: row for t, row in self.ground_truth(symbol).items() if window.contains(t)}
            stored = await self.stored(symbol, window)
            missing = sorted(set(truth) - set(stored))
            assert not missing, f"{symbol}: {len(missing)} candles missing, first {missing[:3]}"
            assert stored == truth, f"{symbol}: stored candles differ from the ground truth"
            compared += len(truth)
        return compared

    def output(self) -> str:
        """Every replica's log, for a failure message."""
        return "\n".join(
            f"--- {c.instance}\n{c.log.read_text()[-3000:]}" for c in self.collectors.values()
        )
