"""`make demo`: the operator at work on a real single-node cluster, on this machine.

It starts what a user's cluster and fullon installation would have (PostgreSQL with the
fullon_orm tables, Redis, a Kubernetes control plane and a node running containerd), replay
exchanges serving recorded Binance, Kraken, Hyperliquid and BitMEX data, and then does what a
user does: targets in the database, the two Secrets, `helm install` with the image built from
this tree. The operator Pod turns the targets into OhlcvCollector resources and collector
Deployments; their Pods fill PostgreSQL and report health to Redis.

Every few seconds it shows `kubectl get ohlcvcollectors` and, per symbol, the rows stored
and the newest candle with its lag on the exchange's clock (`ohlcv-collector status`).
Everything runs inside the network namespace `make demo` made (tests/harness/netns.py):
nothing listens outside it, and Ctrl-C (or the end of DEMO_SECONDS) stops and removes it all.

    python -m examples.demo [SECONDS]   # inside the namespace; `make demo` does it
"""

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.harness.cluster import Cluster, require_node_address, single_node_cluster
from tests.harness.services import PostgresServer
from tests.harness.tools import VENV_BIN
from tests.integration.collector_harness import Check, collection_window
from tests.node.scene import Installation, installation

NAMESPACE = "fullon"
# Markets whose recordings outlast any demo at real time: three weeks of candles, BitMEX's
# 1,000 recorded bins (half of them ahead), and Kraken's BTC/USDT trades over seven hours
# (Binance's and BitMEX's trade captures last minutes, too short: their markets would go quiet
# during a demo; the node and integration tests collect them).
TARGETS = {
    "binance": ("BTC/USD", "BTC/USDC"),
    "kraken": ("BTC/USDT", "BTC/USD"),
    "hyperliquid": ("BTC/USDC:USDC",),  # a perpetual swap
    "bitmex": ("BTC/USD:BTC",),  # XBTUSD, inverse perpetual; the collector's built-in backend
}
REPLAY_ARGS = {
    "binance": ("--speed", "1"),
    "kraken": ("--speed", "1", "--history", "10h"),
    "hyperliquid": ("--speed", "1"),
    "bitmex": ("--speed", "1"),
}
REFRESH_SECONDS = 5


@contextmanager
def postgres_for_pods(node_ip: str) -> Iterator[PostgresServer]:
    server = PostgresServer.reachable_from_pods(node_ip)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def symbol_table(scene: Installation) -> str:
    """Rows stored, newest candle and lag per target symbol."""
    url = scene.database.url
    status = subprocess.run(
        [str(VENV_BIN / "ohlcv-collector"), "status", "-o", "json",
         "--targets-url", url, "--storage-url", url],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    reports = json.loads(status.stdout) if status.returncode == 0 else []
    rows = [("EXCHANGE", "SYMBOL", "CANDLES", "TRADES", "NEWEST-CANDLE", "LAG", "HOLES")]
    for report in reports:
        exchange, symbol = report["exchange"], report["symbol"]
        lag = report["lag_seconds"]
        rows.append(
            (
                exchange,
                symbol,
                str(scene.database.count("ohlcv_candles", exchange, symbol)),
                str(scene.database.count("ohlcv_trades", exchange, symbol)),
                report["newest_candle"] or "-",
                "-" if lag is None else f"{lag:.0f}s",
                str(report["holes"]),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def show(cluster: Cluster, scene: Installation, elapsed: float) -> None:
    print(f"== after {elapsed:.0f} s", flush=True)
    listed = cluster.kubectl("get", "ohlcvcollectors", "-n", NAMESPACE, check=False)
    print(listed.stdout or listed.stderr, end="")
    print(symbol_table(scene), flush=True)


def final_report(scene: Installation) -> dict[str, Any]:
    """Per exchange and symbol: what was stored against what the exchange served, from the
    first backfill to two minutes before the end."""
    report: dict[str, Any] = {}
    for exchange, symbols in scene.targets.items():
        replay = scene.replays[exchange]
        window = collection_window(
            started_ms=scene.started_ms[exchange], stopped_ms=replay.now_ms(), days=1
        )
        for symbol in symbols:
            check = Check(scene.database, replay, symbol, window)
            candle_problems = check.candles()
            served = [
                r
                for r in check.candle_truth
                if window.start <= int(r["open_time_ms"]) < window.end and r["empty"] != "true"
            ]
            trade_problems = check.trades()
            report[f"{exchange} {symbol}"] = {
                "candles_served": len(served),
                "candles_stored": scene.database.count("ohlcv_candles", exchange, symbol),
                "candles_missing": sum(p.startswith("missing candle") for p in candle_problems),
                "candle_problems": len(candle_problems),
                "trades_stored": scene.database.count("ohlcv_trades", exchange, symbol),
                "trades_missing": sum(
                    int(p.split()[0]) for p in trade_problems if "trades missing" in p
                ),
                "trades_duplicated": sum(" stored " in p and "times" in p for p in trade_problems),
                "trade_problems": len(trade_problems),
            }
    return report


def pod_start_to_ready(cluster: Cluster, name: str) -> str:
    """How long the Pod took from creation to Ready (the API's one-second timestamps)."""
    pod = cluster.get("pod", name, namespace=NAMESPACE) or {}
    created = pod.get("metadata", {}).get("creationTimestamp")
    ready = [
        c["lastTransitionTime"]
        for c in pod.get("status", {}).get("conditions", [])
        if c["type"] == "Ready" and c["status"] == "True"
    ]
    if not created or not ready:
        return "Ready"
    seconds = (_parse(ready[0]) - _parse(created)).total_seconds()
    return f"Ready {seconds:.0f} s after it was created"


def _parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def print_commands(cluster: Cluster, *, dsn: str) -> None:
    enter = f"nsenter --net=/run/netns/{os.environ.get('OHLCV_NETNS', '?')} --"
    config = cluster.control_plane.admin_kubeconfig
    kubectl = f"{enter} {VENV_BIN / 'kubectl'} --kubeconfig {config} -n {NAMESPACE}"
    collector = f"{enter} {VENV_BIN / 'ohlcv-collector'}"
    print(
        f"""== the cluster is up (kubeconfig {config}); try in another terminal, as root:
  {kubectl} get ohlcvcollectors,pods
  {kubectl} scale ohlcvcollector binance --replicas=2
  {kubectl} logs deploy/binance-collector
  {collector} targets add --exchange kraken --symbol BTC/USDC --targets-url {dsn}""",
        flush=True,
    )


def run(seconds: float | None) -> int:
    node_ip = require_node_address()
    work = Path(tempfile.mkdtemp(prefix="ohlcv-demo-"))
    try:
        return _run(seconds, node_ip=node_ip, work=work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(seconds: float | None, *, node_ip: str, work: Path) -> int:
    started = time.monotonic()
    with (
        postgres_for_pods(node_ip) as postgres,
        single_node_cluster(directory=work, postgres=postgres, node_ip=node_ip) as cluster,
    ):
        print(f"== node Ready after {time.monotonic() - started:.1f} s", flush=True)
        dsn = postgres.dsn(database=asyncio.run(postgres.create_database()))
        cluster.kubectl("create", "namespace", NAMESPACE)
        with installation(
            cluster, namespace=NAMESPACE, dsn=dsn, targets=TARGETS, replay_args=REPLAY_ARGS
        ) as scene:
            scene.install()
            print_commands(cluster, dsn=dsn)
            for exchange in TARGETS:
                [pod] = scene.wait_collectors_ready(exchange, count=1, timeout=300)
                scene.started_ms[exchange] = scene.replays[exchange].now_ms()
                print(f"== {exchange}: {pod} {pod_start_to_ready(cluster, pod)}", flush=True)
            while seconds is None or time.monotonic() - started < seconds:
                show(cluster, scene, time.monotonic() - started)
                time.sleep(REFRESH_SECONDS)
            show(cluster, scene, time.monotonic() - started)
            print("== report: stored rows against the exchanges' ground truth")
            print(json.dumps(final_report(scene), indent=1), flush=True)
    return 0


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] else None
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # TERM ends it as Ctrl-C does
    try:
        sys.exit(run(seconds))
    except KeyboardInterrupt:
        print("== stopped; everything the demo started is removed", flush=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
