"""The project installed on the real node as a user installs it, and what the user checks.

A `Deployment` of the scene is: a fresh PostgreSQL database with fullon_orm targets, a
replay exchange per exchange listening on the node's address, the `fullon-db` and
`fullon-redis` Secrets, and `helm install` of the chart with the image built from this
tree. What it reads is what a user reads: `kubectl get`, the resources' status, the
ProcessCache records in Redis, and the rows in PostgreSQL compared with the replays'
ground truth (tests/integration/collector_harness.py says what "equal" means).
"""

import asyncio
import json
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ohlcv_collector.backends.health import RedisHealth
from ohlcv_collector.core.health_records import SYMBOL_TYPE
from ohlcv_operator.spec import selector_string
from tests.harness.cluster import CHART, Cluster
from tests.harness.node import wait_for_pods_ready
from tests.harness.waiting import wait_until
from tests.integration.collector_harness import (
    Check,
    Database,
    Replay,
    add_target,
    collection_window,
    init_db,
)
from tests.replay_exchange.fixtures import start_replay_process

CRD = CHART / "files" / "crd-ohlcvcollectors.yaml"
OPERATOR_PODS = "app.kubernetes.io/component=operator"
# Quick timings for a test: heartbeats every 2 s, a silent replica's symbols move in 15 s.
COLLECTOR_ENV = {
    "OHLCV_HEARTBEAT_SECONDS": "2",
    "OHLCV_HEARTBEAT_TIMEOUT_SECONDS": "15",
    "OHLCV_TARGETS_REFRESH_SECONDS": "3",
    "OHLCV_REPAIR_INTERVAL_SECONDS": "5",
    "OHLCV_CCXT_OPTIONS": json.dumps({"enableRateLimit": False}),
}
REPLAY_ARGS = {
    "binance": ("--speed", "20"),
    "kraken": ("--speed", "20", "--history", "10h"),
}


@dataclass
class Installation:
    """The chart installed in `namespace`, collecting `targets` from the replays."""

    cluster: Cluster
    namespace: str
    database: Database
    replays: dict[str, Replay]
    targets: Mapping[str, tuple[str, ...]]
    release: str = "ohlcv"
    started_ms: dict[str, int] = field(default_factory=dict)

    def values(self, *, image: str | None = None) -> dict[str, Any]:
        urls = {name: replay.process.ccxt_urls for name, replay in self.replays.items()}
        values = self.cluster.chart_values(
            image=image,
            OHLCV_CCXT_URLS_BY_EXCHANGE=json.dumps(urls),
            **COLLECTOR_ENV,
        )
        values["crds"] = {"install": False}  # one CRD for the whole cluster, applied once
        return values

    def install(self, *, image: str | None = None) -> None:
        self.cluster.install_chart(
            release=self.release, namespace=self.namespace, values=self.values(image=image)
        )

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.cluster.kubectl(*args, "-n", self.namespace, check=check)

    def resource(self, name: str) -> dict[str, Any] | None:
        return self.cluster.get("ohlcvcollector", name, namespace=self.namespace)

    def wait_operator_ready(self, *, timeout: float = 120) -> str:
        [pod] = wait_for_pods_ready(
            self.cluster.control_plane,
            namespace=self.namespace,
            selector=OPERATOR_PODS,
            count=1,
            timeout=timeout,
        )
        return pod

    def wait_collectors_ready(
        self, exchange: str, *, count: int, timeout: float = 180
    ) -> list[str]:
        return wait_for_pods_ready(
            self.cluster.control_plane,
            namespace=self.namespace,
            selector=selector_string(exchange),
            count=count,
            timeout=timeout,
        )

    def printer_row(self, name: str) -> dict[str, str]:
        """The default `kubectl get ohlcvcollectors` columns of one resource."""
        out = self.kubectl("get", "ohlcvcollectors", name).stdout.splitlines()
        header, row = out[0].split(), out[1].split()
        return dict(zip(header, row, strict=False))

    def wait_healthy(self, name: str, *, symbols: int, timeout: float = 180) -> dict[str, str]:
        """Until `kubectl get ohlcvcollectors` shows every symbol healthy and Ready True."""
        row: dict[str, str] = {}

        def healthy() -> bool:
            nonlocal row
            row = self.printer_row(name)
            return row.get("HEALTHY") == f"{symbols}/{symbols}" and row.get("READY") == "True"

        wait_until(
            healthy,
            timeout=timeout,
            describe=f"{name} healthy in kubectl get ohlcvcollectors",
            details=lambda: f"{row}\n{self.describe(name)}",
        )
        return row

    def describe(self, name: str) -> str:
        """What a user would look at when something is wrong."""
        parts = [
            self.kubectl(
                "get", "ohlcvcollectors,deployments,pods", "-o", "wide", check=False
            ).stdout,
            json.dumps((self.resource(name) or {}).get("status"), indent=1),
        ]
        for pod in self.cluster.items("pods", namespace=self.namespace):
            pod_name = pod["metadata"]["name"]
            logs = self.kubectl("logs", pod_name, "--tail=15", check=False)
            parts.append(f"--- {pod_name}\n{logs.stdout}{logs.stderr}")
        return "\n".join(parts)

    def collecting(self, exchange: str) -> list[tuple[str, str]]:
        """(symbol, collector Pod) of every ProcessCache symbol record of `exchange` that was
        refreshed in the last three heartbeats and says it is running: a symbol collected
        twice shows up twice."""

        async def read() -> list[tuple[str, str]]:
            store = RedisHealth.from_url(self.cluster.redis_url)
            try:
                records = await store.active_records(window=timedelta(seconds=6))
            finally:
                await store.close()
            return sorted(
                (str(r["params"]["symbol"]), str(r["params"]["collector"]))
                for r in records
                if r.get("params", {}).get("type") == SYMBOL_TYPE
                and r["params"].get("exchange") == exchange
                and r.get("status") == "running"
            )

        return asyncio.run(read())

    def wait_shared(self, exchange: str, *, pods: list[str], timeout: float = 90) -> None:
        """Until every target symbol of `exchange` is collected by exactly one of `pods`."""
        seen: list[tuple[str, str]] = []

        def shared() -> bool:
            nonlocal seen
            seen = self.collecting(exchange)
            symbols = [symbol for symbol, _ in seen]
            return sorted(symbols) == sorted(self.targets[exchange]) and {
                pod for _, pod in seen
            } <= set(pods)

        wait_until(
            shared,
            timeout=timeout,
            describe=f"{exchange}: each symbol collected by exactly one of {pods}",
            details=lambda: str(seen),
        )

    def problems(self, exchange: str, *, since_ms: int | None = None) -> dict[str, list[str]]:
        """Every difference between the stored rows and what the replay served, per symbol,
        from the start of the backfill to two minutes before now (exchange time)."""
        replay = self.replays[exchange]
        window = collection_window(
            started_ms=since_ms or self.started_ms[exchange], stopped_ms=replay.now_ms(), days=1
        )
        found: dict[str, list[str]] = {}
        for symbol in self.targets[exchange]:
            check = Check(self.database, replay, symbol, window)
            found[symbol] = check.candles() + (check.trades() if symbol == "BTC/USDT" else [])
        return found

    def wait_complete(self, exchange: str, *, timeout: float = 120) -> None:
        """Until the database equals the ground truth for every symbol of `exchange`."""
        found: dict[str, list[str]] = {}

        def complete() -> bool:
            nonlocal found
            found = self.problems(exchange)
            return not any(found.values())

        wait_until(
            complete,
            timeout=timeout,
            describe=f"{exchange}: stored rows equal to the ground truth",
            details=lambda: (
                json.dumps({s: p[:5] for s, p in found.items()}, indent=1) + self.describe(exchange)
            ),
        )


@contextmanager
def installation(
    cluster: Cluster,
    *,
    namespace: str,
    dsn: str,
    targets: Mapping[str, tuple[str, ...]],
    replay_args: Mapping[str, tuple[str, ...]] = REPLAY_ARGS,
) -> Iterator[Installation]:
    """Targets in a fresh database, the replays, the Secrets and the chart; replays stopped
    at the end (the namespace fixture removes the rest)."""
    database = Database("postgres", dsn)
    init_db(database)
    for exchange, symbols in targets.items():
        for symbol in symbols:
            add_target(database, exchange, symbol, days=1)
    replays = {
        exchange: Replay(
            start_replay_process(
                exchange=exchange, args=replay_args[exchange], host=cluster.node_ip
            ),
            exchange,
        )
        for exchange in targets
    }
    try:
        cluster.kubectl("apply", "--server-side", "-f", str(CRD))
        cluster.database_secret(namespace=namespace, database=dsn.rsplit("/", 1)[1])
        cluster.redis_secret(namespace=namespace)
        yield Installation(
            cluster=cluster,
            namespace=namespace,
            database=database,
            replays=replays,
            targets=targets,
        )
    finally:
        for replay in replays.values():
            replay.process.stop()
            for stream in (replay.process.process.stdout, replay.process.process.stderr):
                if stream is not None:
                    stream.close()
