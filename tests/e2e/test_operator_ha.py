"""Several operator replicas on the real control plane: one acts, the others take over.

Each operator is a real `ohlcv-operator run` process; the Lease, the resources, their
Deployments and their status are the API server's. The leader is killed with SIGKILL at the
moment it has created a resource and not yet its Deployment, the worst place to die.
"""

import json
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.operator_harness import (
    CRD,
    OperatorProcess,
    add_target,
    get,
    running_operator,
    wait_until,
)
from tests.harness.controlplane import ControlPlane

pytestmark = [pytest.mark.kubernetes, pytest.mark.postgres, pytest.mark.redis]

LEASE = "ohlcv-operator"
LEASE_SECONDS, RETRY_SECONDS = 6, 1  # operator_harness's settings


def holder(kube: ControlPlane, namespace: str) -> str:
    """The pod name of the Lease's holder ('' when none)."""
    lease = get(kube, "lease", LEASE, namespace) or {}
    identity = str((lease.get("spec") or {}).get("holderIdentity") or "")
    return identity.rsplit("_", 1)[0]


def counter(operator: OperatorProcess, name: str) -> float:
    """A counter of the operator's /metrics."""
    url = f"http://127.0.0.1:{operator.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    [value] = [line.split()[1] for line in text.splitlines() if line.startswith(f"{name} ")]
    return float(value)


def targets_count(kube: ControlPlane, name: str, namespace: str) -> int:
    found = get(kube, "ohlcv", name, namespace) or {}
    return int(((found.get("status") or {}).get("targets") or {}).get("count", -1))


def test_one_of_two_operators_acts_and_the_other_takes_over_when_it_is_killed(
    kube: ControlPlane, namespace: str, postgres_dsn: str, redis_url: str, tmp_path: Path
) -> None:
    kube.kubectl("apply", "--server-side", "-f", str(CRD))
    add_target(postgres_dsn, exchange="binance", symbol="BTC/USDT")
    add_target(postgres_dsn, exchange="kraken", symbol="BTC/USD")
    common = {
        "kubeconfig": kube.admin_kubeconfig,
        "namespace": namespace,
        "dsn": postgres_dsn,
        "redis_url": redis_url,
    }
    with (
        running_operator(**common, log=tmp_path / "a.log", pod_name="operator-a") as a,  # type: ignore[arg-type]
        running_operator(**common, log=tmp_path / "b.log", pod_name="operator-b") as b,  # type: ignore[arg-type]
    ):
        replicas = {"operator-a": a, "operator-b": b}
        wait_until(
            lambda: holder(kube, namespace) in replicas, what="one operator leads", operator=a
        )
        leader_name = holder(kube, namespace)
        leader = replicas.pop(leader_name)
        [(standby_name, standby)] = replicas.items()
        for name in ("binance", "kraken"):
            wait_until(
                lambda name=name: targets_count(kube, name, namespace) == 1,
                what=f"the leader reconciled {name}",
                operator=leader,
            )
        wait_until(
            lambda: "Initial authentication has finished" in standby.log.read_text(),
            what="the standby is up",
            operator=standby,
        )
        assert "created OhlcvCollector" not in standby.log.read_text()
        assert counter(standby, "ohlcv_operator_reconciles_total") == 0

        add_target(postgres_dsn, exchange="binance", symbol="ETH/USDT")
        add_target(postgres_dsn, exchange="bybit", symbol="BTC/USDT")
        wait_until(
            lambda: "created OhlcvCollector bybit" in leader.log.read_text(),
            what="the leader created the new exchange's resource",
            operator=leader,
        )
        leader.process.kill()
        killed = time.monotonic()
        wait_until(
            lambda: holder(kube, namespace) == standby_name,
            what="the standby took the Lease over",
            operator=standby,
        )
        took_over = time.monotonic() - killed
        # The standby waits for the lease to run out on its own clock (counted from the last
        # renewal it saw, up to a retry before the kill), reading once a retry; slack for a
        # busy host.
        assert (
            LEASE_SECONDS - 2 * RETRY_SECONDS < took_over < LEASE_SECONDS + 2 * RETRY_SECONDS + 5
        ), took_over

        wait_until(
            lambda: get(kube, "deployment", "bybit-collector", namespace) is not None,
            what="the new leader finished the interrupted work",
            operator=standby,
        )
        wait_until(
            lambda: (
                targets_count(kube, "bybit", namespace) == 1
                and targets_count(kube, "binance", namespace) == 2
            ),
            what="every change made around the kill reached the status",
            operator=standby,
        )
        listed = json.loads(kube.kubectl("get", "ohlcv", "-n", namespace, "-o", "json").stdout)
        assert sorted(i["metadata"]["name"] for i in listed["items"]) == [
            "binance",
            "bybit",
            "kraken",
        ]
        assert counter(standby, "ohlcv_operator_discovery_errors_total") == 0
        assert counter(standby, "ohlcv_operator_reconcile_errors_total") == 0
        for replica in (leader, standby):
            assert "AlreadyExists" not in replica.log.read_text()
        lease = get(kube, "lease", LEASE, namespace) or {}
        assert lease["spec"]["leaseTransitions"] == 1

        # A clean stop hands the Lease over at once: a third replica takes it in a retry.
        with running_operator(**common, log=tmp_path / "c.log", pod_name="operator-c") as c:  # type: ignore[arg-type]
            wait_until(
                lambda: "Initial authentication has finished" in c.log.read_text(),
                what="the third replica started",
                operator=c,
                timeout=30,
            )
            standby.stop()
            stopped = time.monotonic()
            wait_until(
                lambda: holder(kube, namespace) == "operator-c",
                what="the released Lease taken over",
                operator=c,
            )
            assert time.monotonic() - stopped < RETRY_SECONDS + 3
