"""Running the real `ohlcv-operator` against the test control plane, PostgreSQL and Redis.

The operator runs as a subprocess with only what its Deployment would give it: a
kubeconfig (admin, or a ServiceAccount token), OPERATOR_NAMESPACE and the DB_* /
REDIS_* / OHLCV_* environment. Targets are written with the collector's own target
editor, and health records with the collector's own ProcessCache writer, exactly as
a collector writes them.
"""

import asyncio
import json
import os
import signal
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ohlcv_collector.backends.health.redis import RedisHealth
from ohlcv_collector.backends.targets import SqlTargetEditor
from ohlcv_collector.core.health_records import (
    ProcessStatus,
    collector_component,
    collector_params,
    symbol_component,
    symbol_params,
)
from ohlcv_collector.settings import DEFAULT_USER_MAIL
from tests.harness import waiting
from tests.harness.controlplane import ControlPlane
from tests.harness.tools import REPO_ROOT, VENV_BIN, free_port

CRD = REPO_ROOT / "charts/fullon-ohlcv/files/crd-ohlcvcollectors.yaml"
CONFIG_PREFIXES = ("DB_", "CACHE_", "REDIS_", "OHLCV_", "ADMIN_MAIL", "KUBECONFIG", "OPERATOR_")


def database_env(dsn: str) -> dict[str, str]:
    """DB_* variables for a postgresql:// DSN of the test server."""
    url = urlsplit(dsn)
    return {
        "DB_HOST": url.hostname or "127.0.0.1",
        "DB_PORT": str(url.port),
        "DB_USER": url.username or "postgres",
        "DB_NAME": url.path.lstrip("/"),
    }


def redis_env(url: str) -> dict[str, str]:
    """REDIS_* variables for a redis:// URL of the test server."""
    parsed = urlsplit(url)
    return {"REDIS_HOST": parsed.hostname or "127.0.0.1", "REDIS_PORT": str(parsed.port)}


@dataclass
class OperatorProcess:
    """A running operator; its JSON log is kept for failure messages."""

    process: subprocess.Popen[bytes]
    log: Path
    metrics_port: int

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def counter(self, name: str) -> int:
        """A counter of this operator's /metrics, such as ohlcv_operator_reconciles."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as answer:
            for line in answer.read().decode().splitlines():
                if line.startswith(f"{name}_total "):
                    return int(float(line.split()[1]))
        return 0

    def reconciles(self) -> int:
        """Reconciles this operator has finished, failed ones included."""
        return self.counter("ohlcv_operator_reconciles")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def running_operator(
    *,
    kubeconfig: Path,
    namespace: str,
    dsn: str,
    redis_url: str,
    log: Path,
    pod_name: str = "operator-0",
    **settings: str,
) -> Iterator[OperatorProcess]:
    """Start `ohlcv-operator run` and stop it (SIGTERM) when the block ends."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(CONFIG_PREFIXES)}
    port = free_port()
    env |= (
        database_env(dsn)
        | redis_env(redis_url)
        | {
            "KUBECONFIG": str(kubeconfig),
            "OPERATOR_NAMESPACE": namespace,
            "OHLCV_OPERATOR_METRICS_HOST": "127.0.0.1",
            "OHLCV_OPERATOR_METRICS_PORT": str(port),
            "OHLCV_RESYNC_SECONDS": "2",
            "OHLCV_DISCOVERY_INTERVAL_SECONDS": "2",
            "OHLCV_DATABASE_SECRET": "fullon-db",
            "OHLCV_REDIS_SECRET": "fullon-redis",
            "OHLCV_COLLECTOR_IMAGE": "ghcr.io/fullon-ohlcv/fullon-ohlcv:test",
            # A killed operator's Lease is taken over in seconds, not the default 20 s.
            "OHLCV_LEADER_LEASE_SECONDS": "6",
            "OHLCV_LEADER_RETRY_SECONDS": "1",
            "POD_NAME": pod_name,
        }
        | {f"OHLCV_{key.upper()}": value for key, value in settings.items()}
    )
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(VENV_BIN / "ohlcv-operator"), "run"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    running = OperatorProcess(process=process, log=log, metrics_port=port)
    try:
        yield running
    finally:
        running.stop()


StartOperator = Callable[..., AbstractContextManager[OperatorProcess]]
"""The e2e `start_operator` fixture: running_operator(**settings) as the admin (conftest)."""


def add_target(dsn: str, *, exchange: str, symbol: str) -> None:
    """Add a target the way `ohlcv-collector targets add` does."""

    async def add() -> None:
        editor = SqlTargetEditor(dsn, user_mail=DEFAULT_USER_MAIL)  # the operator's user
        try:
            await editor.init_schema()
            await editor.add(exchange=exchange, symbol=symbol)
        finally:
            await editor.close()

    asyncio.run(add())


def remove_target(dsn: str, *, exchange: str, symbol: str) -> None:
    """Remove a target the way `ohlcv-collector targets remove` does."""

    async def remove() -> None:
        editor = SqlTargetEditor(dsn, user_mail=DEFAULT_USER_MAIL)
        try:
            await editor.remove(exchange=exchange, symbol=symbol)
        finally:
            await editor.close()

    asyncio.run(remove())


def write_health(
    redis_url: str, *, exchange: str, symbols: dict[str, tuple[str, str, float]]
) -> None:
    """Health records as a collector writes them: one process record, one per symbol
    (`symbols` maps a symbol to its phase, message and lag in seconds)."""

    async def write() -> None:
        store = RedisHealth.from_url(redis_url)
        try:
            instance = "collector-0"
            collector = await store.register(
                component=collector_component(exchange=exchange, instance=instance),
                params=collector_params(
                    exchange=exchange, instance=instance, host="test", pid=1, symbols=len(symbols)
                ),
                message="collecting",
                status=ProcessStatus.RUNNING,
            )
            for symbol, (phase, message, lag) in symbols.items():
                await store.register(
                    component=symbol_component(exchange=exchange, symbol=symbol),
                    params=symbol_params(
                        exchange=exchange,
                        symbol=symbol,
                        collector=collector,
                        phase=phase,
                        newest_candle=1_795_000_000_000,
                        newest_trade=None,
                        lag_ms=int(lag * 1000),
                        backfill_progress=1.0,
                        reconnects=0,
                        holes=0,
                    ),
                    message=message,
                    status=ProcessStatus.ERROR if phase == "error" else ProcessStatus.RUNNING,
                )
        finally:
            await store.close()

    asyncio.run(write())


def get(kube: ControlPlane, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
    """An object as JSON, or None when it does not exist."""
    result = kube.kubectl(
        "get", kind, name, "-n", namespace, "-o", "json", "--show-managed-fields", check=False
    )
    return json.loads(result.stdout) if result.returncode == 0 else None


def condition(resource: dict[str, Any] | None, kind: str) -> tuple[str, str] | None:
    """The status and reason of a resource's condition `kind`, None while it has none."""
    for found in ((resource or {}).get("status") or {}).get("conditions", []):
        if found["type"] == kind:
            return found["status"], found["reason"]
    return None


def events(kube: ControlPlane, namespace: str, name: str, *, event_type: str = "") -> list[str]:
    """The reasons of the events about object `name` (only those of `event_type`, such as
    Warning, when given): what `kubectl describe` shows a user."""
    selector = f"regarding.name={name}" + (f",type={event_type}" if event_type else "")
    listed = json.loads(
        kube.kubectl(
            "get", "events.events.k8s.io", "-n", namespace, "-o", "json",
            "--field-selector", selector,
        ).stdout
    )  # fmt: skip
    return [item["reason"] for item in listed["items"]]


def wait_until(check: Any, *, what: str, operator: OperatorProcess, timeout: float = 60) -> None:
    """Wait for `check()` to hold, showing the operator's log when it does not."""
    waiting.wait_until(check, timeout=timeout, describe=what, details=operator.log_tail)


def wait_condition(
    kube: ControlPlane,
    operator: OperatorProcess,
    *,
    name: str,
    namespace: str,
    kind: str,
    expected: tuple[str, str],
    what: str,
    timeout: float = 60,
) -> None:
    """Until the OhlcvCollector `name` has the condition `kind` with (status, reason)."""
    wait_until(
        lambda: condition(get(kube, "ohlcv", name, namespace), kind) == expected,
        what=what,
        operator=operator,
        timeout=timeout,
    )


def wait_reconciles(operator: OperatorProcess, *, count: int, timeout: float = 30) -> None:
    """Until `operator` has finished `count` reconciles. A check that nothing changes waits
    for the operator's own rounds (every resource on each resync, discovery on the same
    period), so it neither passes before the operator looked nor waits a fixed time."""
    waiting.wait_until(
        lambda: operator.reconciles() >= count,
        timeout=timeout,
        describe=f"{count} reconciles by the operator",
        details=operator.log_tail,
    )


def discover_binance(
    kube: ControlPlane, *, namespace: str, dsn: str, operator: OperatorProcess
) -> None:
    """A binance target in the database, and the resource and Deployment discovery makes."""
    add_target(dsn, exchange="binance", symbol="BTC/USDT")
    wait_until(
        lambda: get(kube, "deployment", "binance-collector", namespace) is not None,
        what="discovery created the resource and its Deployment",
        operator=operator,
    )
