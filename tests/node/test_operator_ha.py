"""Two operator Pods on the real node: one leads, the other takes over when its Pod dies.

The chart runs `operator.replicas: 2` with its PodDisruptionBudget; the leader's process is
killed with SIGKILL from the node, as the kernel's OOM killer would (no Lease released), and
a new operator process must take the Lease over once it runs out and go on reconciling. That
is the standby Pod, or the killed Pod's own container, which the kubelet restarts at once and
which then races the standby for the expired Lease (CI saw it win).
"""

import os
import signal
import time
from pathlib import Path

from tests.harness.cluster import Cluster
from tests.harness.node import wait_for_pods_ready
from tests.harness.waiting import wait_until
from tests.node.scene import OPERATOR_PODS, installation

EXCHANGE = "binance"
LEASE = "ohlcv-operator"
LEASE_SECONDS, RETRY_SECONDS = 15, 5  # the operator's defaults


def operator_process(pod: str) -> int:
    """The node's PID of the operator process of Pod `pod` (its POD_NAME)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
            command = (proc / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if f"POD_NAME={pod}".encode() in environ and b"ohlcv-operator" in command:
            found.append(int(proc.name))
    [pid] = found
    return pid


def test_two_operator_pods_one_leads_and_a_new_leader_takes_over_from_a_killed_one(
    cluster: Cluster, cluster_namespace: str, postgres_dsn: str
) -> None:
    with installation(
        cluster, namespace=cluster_namespace, dsn=postgres_dsn, targets={EXCHANGE: ("BTC/USDT",)}
    ) as scene:
        values = scene.values()
        values["operator"]["replicas"] = 2
        values["operator"]["updateStrategy"] = "RollingUpdate"
        cluster.install_chart(release=scene.release, namespace=cluster_namespace, values=values)
        pods = wait_for_pods_ready(
            cluster.control_plane,
            namespace=cluster_namespace,
            selector=OPERATOR_PODS,
            count=2,
            timeout=180,
        )

        def identity() -> str:
            lease = cluster.get("lease", LEASE, namespace=cluster_namespace) or {}
            return str((lease.get("spec") or {}).get("holderIdentity") or "")

        def holder() -> str:
            return identity().rsplit("_", 1)[0]

        wait_until(lambda: holder() in pods, timeout=60, describe="one operator Pod leads")
        leader, killed = holder(), identity()
        [standby] = [pod for pod in pods if pod != leader]
        scene.wait_collectors_ready(EXCHANGE, count=1)
        scene.wait_healthy(EXCHANGE, symbols=1)
        budget = cluster.get("pdb", LEASE, namespace=cluster_namespace) or {}
        assert budget["spec"]["maxUnavailable"] == 1
        wait_until(
            lambda: (
                (cluster.get("pdb", LEASE, namespace=cluster_namespace) or {})
                .get("status", {})
                .get("disruptionsAllowed")
                == 1
            ),
            timeout=60,
            describe="a drain may evict one operator Pod",
        )
        standby_log = scene.kubectl("logs", standby).stdout
        assert "created OhlcvCollector" not in standby_log

        os.kill(operator_process(leader), signal.SIGKILL)
        started = time.monotonic()
        wait_until(
            lambda: holder() in pods and identity() != killed,
            timeout=LEASE_SECONDS + 2 * RETRY_SECONDS + 10,
            describe="a new operator process took the Lease over",
            details=lambda: (
                f"{cluster.get('lease', LEASE, namespace=cluster_namespace)}\n"
                + scene.describe(EXCHANGE)
            ),
        )
        assert time.monotonic() - started > RETRY_SECONDS  # it waited for the lease to run out
        scene.kubectl("scale", f"ohlcvcollector/{EXCHANGE}", "--replicas=2")
        scene.wait_collectors_ready(EXCHANGE, count=2)
        wait_until(
            lambda: scene.printer_row(EXCHANGE).get("REPLICAS") == "2/2",
            timeout=90,
            describe="the new leader carried the scale to the status",
            details=lambda: scene.describe(EXCHANGE),
        )
        resources = cluster.items("ohlcvcollectors", namespace=cluster_namespace)
        assert [r["metadata"]["name"] for r in resources] == [EXCHANGE]
