"""Day-two operations on the real node, each judged on the data: scaling by hand and by an
autoscaler, Pods deleted, an upgrade to a new image tag, and uninstalling.

After every change, each symbol is collected by exactly one collector Pod (seen in their
ProcessCache records in Redis) and the database equals what the replay served, row for
row, from the first backfill to two minutes before the check: no hole, no duplicate.
"""

import json
from collections.abc import Iterator

import pytest

from ohlcv_collector.core.sharding import owner
from tests.harness.cluster import Cluster
from tests.harness.waiting import wait_until
from tests.node.scene import Installation, installation

EXCHANGE = "binance"
TARGETS = {EXCHANGE: ("BTC/USD", "BTC/USDC", "BTC/USDT")}


@pytest.fixture
def collecting(
    cluster: Cluster, cluster_namespace: str, postgres_dsn: str
) -> Iterator[Installation]:
    """The chart installed and collecting Binance's targets with one healthy collector Pod."""
    with installation(
        cluster, namespace=cluster_namespace, dsn=postgres_dsn, targets=TARGETS
    ) as scene:
        scene.install()
        scene.wait_operator_ready()
        scene.wait_collectors_ready(EXCHANGE, count=1)
        scene.started_ms[EXCHANGE] = scene.replays[EXCHANGE].now_ms()
        scene.wait_healthy(EXCHANGE, symbols=3)
        yield scene


def settle_and_check(scene: Installation, *, replicas: int) -> list[str]:
    """Wait for `replicas` Ready Pods sharing the symbols, let two exchange minutes pass
    and check the data; returns the Pods."""
    pods = scene.wait_collectors_ready(EXCHANGE, count=replicas)
    scene.wait_shared(EXCHANGE, pods=pods)
    replay = scene.replays[EXCHANGE]
    replay.wait_exchange_ms(replay.now_ms() + 2 * 60_000, timeout=60)
    scene.wait_complete(EXCHANGE)
    return pods


def test_kubectl_scale_splits_the_symbols_over_three_pods_with_no_hole(
    collecting: Installation,
) -> None:
    collecting.kubectl("scale", "ohlcvcollector", EXCHANGE, "--replicas=3")
    pods = settle_and_check(collecting, replicas=3)
    # Each symbol on the Pod that rendezvous hashing gives it among the three (all three
    # symbols may hash to one Pod: a 1-in-9 chance with random Pod names).
    expected = [(symbol, owner(symbol=symbol, members=pods)) for symbol in TARGETS[EXCHANGE]]
    assert collecting.collecting(EXCHANGE) == sorted(expected)
    row = collecting.wait_healthy(EXCHANGE, symbols=3)
    assert row["REPLICAS"] == "3/3"
    deployment = collecting.cluster.get(
        "deployment", f"{EXCHANGE}-collector", namespace=collecting.namespace
    )
    assert deployment is not None
    assert deployment["spec"]["replicas"] == 3
    assert len(pods) == 3


def test_an_autoscaler_on_the_scale_subresource_runs_three_pods_with_no_hole(
    collecting: Installation,
) -> None:
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": EXCHANGE, "namespace": collecting.namespace},
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "fullon.io/v1alpha1",
                "kind": "OhlcvCollector",
                "name": EXCHANGE,
            },
            "minReplicas": 3,
            "maxReplicas": 4,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
        },
    }
    collecting.cluster.kubectl("apply", "-f", "-", stdin=json.dumps(hpa))
    settle_and_check(collecting, replicas=3)
    resource = collecting.resource(EXCHANGE)
    assert resource is not None
    assert resource["spec"]["replicas"] == 3  # written by the autoscaler, not the operator


def test_deleted_collector_and_operator_pods_are_replaced_with_no_hole(
    collecting: Installation,
) -> None:
    [collector] = collecting.wait_collectors_ready(EXCHANGE, count=1)
    operator = collecting.wait_operator_ready()
    collecting.kubectl("delete", "pod", collector, "--wait=false")
    collecting.kubectl("delete", "pod", operator, "--wait=false")
    wait_until(
        lambda: collecting.wait_operator_ready() != operator,
        timeout=120,
        describe="a new operator Pod Ready",
    )
    [replacement] = settle_and_check(collecting, replicas=1)
    assert replacement != collector
    collecting.wait_healthy(EXCHANGE, symbols=3)


def test_helm_upgrade_to_a_new_image_tag_rolls_the_collectors_with_no_hole(
    collecting: Installation,
) -> None:
    cluster = collecting.cluster
    upgraded = f"{cluster.image}-upgraded"
    cluster.node.tag_image(source=cluster.image, target=upgraded)
    [before] = collecting.wait_collectors_ready(EXCHANGE, count=1)
    collecting.install(image=upgraded)

    def rolled() -> bool:
        pods = collecting.cluster.items("pods", namespace=collecting.namespace)
        images = {p["spec"]["containers"][0]["image"] for p in pods}
        return images == {upgraded}

    wait_until(rolled, timeout=180, describe="every Pod running the upgraded tag")
    [after] = settle_and_check(collecting, replicas=1)
    assert after != before
    collecting.wait_healthy(EXCHANGE, symbols=3)


def test_after_helm_uninstall_the_resources_delete_within_a_minute(
    collecting: Installation,
) -> None:
    collecting.cluster.helm("uninstall", collecting.release, "-n", collecting.namespace, "--wait")
    resource = collecting.resource(EXCHANGE)
    assert resource is not None  # the CRD and the resources stay: the data's owner decides
    assert resource["metadata"].get("finalizers", []) == []
    deleted = collecting.kubectl(
        "delete", "ohlcvcollectors", "--all", "--wait=true", "--timeout=60s"
    )
    assert deleted.returncode == 0
    wait_until(
        lambda: collecting.cluster.items("deployments", namespace=collecting.namespace) == [],
        timeout=60,
        describe="the collector Deployment garbage-collected with its resource",
    )


def test_a_collector_over_its_memory_limit_is_oom_killed_and_the_status_says_so(
    collecting: Installation,
) -> None:
    tight = {"requests": {"memory": "40Mi"}, "limits": {"memory": "40Mi"}}
    collecting.kubectl(
        "patch", "ohlcvcollector", EXCHANGE, "--type=merge",
        "-p", json.dumps({"spec": {"resources": tight}}),
    )  # fmt: skip
    stalled: dict[str, str] = {}

    def oom_killed() -> bool:
        resource = collecting.resource(EXCHANGE) or {}
        for condition in resource.get("status", {}).get("conditions", []):
            if condition["type"] == "Stalled":
                stalled.update(condition)
        return stalled.get("status") == "True" and stalled.get("reason") == "OOMKilled"

    wait_until(
        oom_killed,
        timeout=120,
        describe="Stalled=True with reason OOMKilled",
        details=lambda: f"{stalled}\n{collecting.describe(EXCHANGE)}",
    )
    assert "exceeded its memory limit" in stalled["message"]
    assert collecting.printer_row(EXCHANGE)["READY"] == "False"
    events = json.loads(
        collecting.kubectl(
            "get", "events.events.k8s.io", "-o", "json",
            "--field-selector", f"regarding.name={EXCHANGE}",
        ).stdout
    )["items"]  # fmt: skip
    assert ("Warning", "OOMKilled") in [(e["type"], e["reason"]) for e in events]
