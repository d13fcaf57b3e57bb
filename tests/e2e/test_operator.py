"""The operator against a real control plane, PostgreSQL and Redis.

Collector pods never run here (there is no kubelet), so collector health is written to
Redis the way collectors write it; everything else is the real thing.
"""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.operator_harness import (
    CRD,
    OperatorProcess,
    StartOperator,
    add_target,
    condition,
    discover_binance,
    events,
    get,
    remove_target,
    running_operator,
    wait_condition,
    wait_reconciles,
    wait_until,
    write_health,
)
from tests.harness.controlplane import ControlPlane
from tests.harness.tools import REPO_ROOT

pytestmark = [pytest.mark.kubernetes, pytest.mark.postgres, pytest.mark.redis]


def test_database_targets_become_a_resource_and_a_deployment_that_follow_changes(
    kube: ControlPlane, namespace: str, postgres_dsn: str, redis_url: str, operator: OperatorProcess
) -> None:
    discover_binance(kube, namespace=namespace, dsn=postgres_dsn, operator=operator)
    resource = get(kube, "ohlcvcollector", "binance", namespace)
    assert resource is not None
    assert resource["metadata"]["labels"]["fullon.io/created-by"] == "ohlcv-operator"
    assert resource["spec"]["exchange"] == "binance"
    deployment = get(kube, "deployment", "binance-collector", namespace)
    assert deployment is not None
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["run", "--exchange", "binance"]
    owner = deployment["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["uid"]) == ("OhlcvCollector", resource["metadata"]["uid"])
    managers = {m["manager"] for m in deployment["metadata"]["managedFields"]}
    assert "ohlcv-operator" in managers

    def targets() -> int:
        found = get(kube, "ohlcv", "binance", namespace) or {}
        return int(((found.get("status") or {}).get("targets") or {}).get("count", -1))

    wait_until(lambda: targets() == 1, what="status counts 1 target", operator=operator)
    add_target(postgres_dsn, exchange="binance", symbol="ETH/USDT")
    wait_until(lambda: targets() == 2, what="a new symbol shows in status", operator=operator)
    remove_target(postgres_dsn, exchange="binance", symbol="BTC/USDT")
    wait_until(lambda: targets() == 1, what="a removed symbol leaves status", operator=operator)
    assert "TargetsChanged" in events(kube, namespace, "binance")

    kube.kubectl("scale", "ohlcvcollector/binance", "-n", namespace, "--replicas=3")

    def deployment_replicas() -> int:
        return int(
            (get(kube, "deployment", "binance-collector", namespace) or {})["spec"]["replicas"]
        )

    wait_until(
        lambda: deployment_replicas() == 3,
        what="scale carried to the Deployment",
        operator=operator,
    )
    wait_until(
        lambda: "Scaled" in events(kube, namespace, "binance"),
        what="a Scaled event",
        operator=operator,
    )
    scaled = get(kube, "ohlcv", "binance", namespace)
    assert scaled is not None
    assert scaled["spec"]["replicas"] == 3

    remove_target(postgres_dsn, exchange="binance", symbol="ETH/USDT")  # or discovery recreates it
    wait_until(lambda: targets() == 0, what="no targets left", operator=operator)
    kube.kubectl("delete", "ohlcvcollector", "binance", "-n", namespace)
    wait_until(
        lambda: get(kube, "deployment", "binance-collector", namespace) is None,
        what="the Deployment is garbage-collected with its resource",
        operator=operator,
        timeout=90,
    )


def test_collector_health_turns_into_status_and_printer_columns(
    kube: ControlPlane, namespace: str, postgres_dsn: str, redis_url: str, operator: OperatorProcess
) -> None:
    for symbol in ("BTC/USDT", "ETH/USDT", "SOL/USDT"):
        add_target(postgres_dsn, exchange="binance", symbol=symbol)
    write_health(
        redis_url,
        exchange="binance",
        symbols={
            "BTC/USDT": ("streaming", "streaming", 4.0),
            "ETH/USDT": ("error", "error: BadSymbol: binance does not list ETH/USDT", 4.0),
        },
    )

    def health() -> dict[str, Any]:
        found = get(kube, "ohlcv", "binance", namespace) or {}
        return dict((found.get("status") or {}).get("health") or {})

    wait_until(
        lambda: health().get("symbolsTotal") == 3, what="health in status", operator=operator
    )
    block = health()
    assert (block["symbolsHealthy"], block["symbolsError"], block["symbolsStale"]) == (1, 1, 1)
    assert block["collectorsAlive"] == 1
    unhealthy = {u["symbol"]: (u["status"], u["message"]) for u in block["unhealthy"]}
    assert unhealthy["ETH/USDT"] == ("error", "error: BadSymbol: binance does not list ETH/USDT")
    assert unhealthy["SOL/USDT"][0] == "stale"
    resource = get(kube, "ohlcv", "binance", namespace)
    assert condition(resource, "CollectorsHealthy") == ("False", "SymbolsUnhealthy")
    assert condition(resource, "Ready") == ("False", "Progressing")  # no kubelet: never ready
    table = kube.kubectl("get", "ohlcvcollectors", "-n", namespace).stdout.splitlines()
    assert table[0].split() == [
        "NAME",
        "EXCHANGE",
        "SYMBOLS",
        "REPLICAS",
        "HEALTHY",
        "LAG",
        "READY",
        "REASON",
        "AGE",
    ]
    assert table[1].split()[:8] == [
        "binance",
        "binance",
        "3",
        "0/1",
        "1/3",
        "4s",
        "False",
        "Progressing",
    ]
    assert "SymbolsUnhealthy" in events(kube, namespace, "binance")


def test_a_restarted_operator_changes_nothing_that_is_right(
    kube: ControlPlane, namespace: str, postgres_dsn: str, redis_url: str, tmp_path: Path
) -> None:
    kube.kubectl("apply", "--server-side", "-f", str(CRD))
    add_target(postgres_dsn, exchange="kraken", symbol="BTC/USD")
    write_health(redis_url, exchange="kraken", symbols={"BTC/USD": ("streaming", "streaming", 2.0)})
    settings = {
        "kubeconfig": kube.admin_kubeconfig,
        "namespace": namespace,
        "dsn": postgres_dsn,
        "redis_url": redis_url,
    }
    with running_operator(**settings, log=tmp_path / "first.log") as first:  # type: ignore[arg-type]
        wait_condition(
            kube,
            first,
            name="kraken",
            namespace=namespace,
            kind="TargetsFound",
            expected=("True", "TargetsFound"),
            what="first operator settled",
        )
        wait_reconciles(first, count=first.reconciles() + 2)  # two resyncs with nothing to do
    versions = {
        kind: (get(kube, kind, name, namespace) or {})["metadata"]["resourceVersion"]
        for kind, name in (("ohlcv", "kraken"), ("deployment", "kraken-collector"))
    }
    with running_operator(**settings, log=tmp_path / "second.log") as second:  # type: ignore[arg-type]
        wait_reconciles(second, count=4)  # startup, discovery and several resyncs
        assert second.process.poll() is None, second.log_tail()
    after = {
        kind: (get(kube, kind, name, namespace) or {})["metadata"]["resourceVersion"]
        for kind, name in (("ohlcv", "kraken"), ("deployment", "kraken-collector"))
    }
    assert after == versions
    listed = json.loads(kube.kubectl("get", "ohlcv", "-n", namespace, "-o", "json").stdout)
    assert [item["metadata"]["name"] for item in listed["items"]] == ["kraken"]


def test_gitops_mode_creates_nothing_and_keeps_the_spec_of_git_resources(
    kube: ControlPlane, namespace: str, postgres_dsn: str, start_operator: StartOperator
) -> None:
    add_target(postgres_dsn, exchange="binance", symbol="BTC/USDT")
    add_target(postgres_dsn, exchange="kraken", symbol="BTC/USD")
    declared: dict[str, Any] = {
        "apiVersion": "fullon.io/v1alpha1",
        "kind": "OhlcvCollector",
        "metadata": {"name": "spot-kraken", "namespace": namespace},
        "spec": {
            "exchange": "kraken",
            "replicas": 2,
            "symbols": ["BTC/USD"],
            "collect": {"trades": False},
        },
    }
    kube.kubectl(
        "apply", "--server-side", "--field-manager=argocd", "-f", "-", stdin=json.dumps(declared)
    )
    unknown = {
        **declared,
        "metadata": {"name": "typo", "namespace": namespace},
        "spec": {"exchange": "krakken"},
    }
    kube.kubectl("apply", "-f", "-", stdin=json.dumps(unknown))
    with start_operator(discovery_mode="off") as operator:
        wait_condition(
            kube,
            operator,
            name="spot-kraken",
            namespace=namespace,
            kind="TargetsFound",
            expected=("True", "TargetsFound"),
            what="git resource reconciled",
        )
        wait_condition(
            kube,
            operator,
            name="typo",
            namespace=namespace,
            kind="Stalled",
            expected=("True", "InvalidSpec"),
            what="unknown exchange stalled",
        )
        # Two rounds of both resources, and of discovery in mode off.
        wait_reconciles(operator, count=operator.reconciles() + 4)
        names = json.loads(kube.kubectl("get", "ohlcv", "-n", namespace, "-o", "json").stdout)
        assert sorted(i["metadata"]["name"] for i in names["items"]) == ["spot-kraken", "typo"]
        resource = get(kube, "ohlcv", "spot-kraken", namespace)
        assert resource is not None
        assert resource["spec"] == {
            **declared["spec"],
            "paused": False,
            "collect": {"candles": True, "trades": False},
        }
        spec_owners = {
            m["manager"]
            for m in resource["metadata"]["managedFields"]
            if "f:spec" in json.dumps(m.get("fieldsV1", {}))
        }
        assert spec_owners == {"argocd"}
        deployment = get(kube, "deployment", "spot-kraken-collector", namespace)
        assert deployment is not None
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        assert container["args"] == [
            "run",
            "--exchange",
            "kraken",
            "--symbols",
            "BTC/USD",
            "--no-trades",
        ]
        assert deployment["spec"]["replicas"] == 2
        typo = get(kube, "ohlcv", "typo", namespace)
        stalled = next(c for c in typo["status"]["conditions"] if c["type"] == "Stalled")  # type: ignore[index]
        assert "unknown exchange 'krakken'" in stalled["message"]
        assert get(kube, "deployment", "typo-collector", namespace) is None
        assert "InvalidSpec" in events(kube, namespace, "typo")


def test_an_autoscaler_drives_the_collectors_through_the_scale_subresource(
    kube: ControlPlane, namespace: str, postgres_dsn: str, redis_url: str, operator: OperatorProcess
) -> None:
    discover_binance(kube, namespace=namespace, dsn=postgres_dsn, operator=operator)
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "binance", "namespace": namespace},
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "fullon.io/v1alpha1",
                "kind": "OhlcvCollector",
                "name": "binance",
            },
            "minReplicas": 3,
            "maxReplicas": 5,
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
    kube.kubectl("apply", "-f", "-", stdin=json.dumps(hpa))

    def scaled() -> bool:
        resource = get(kube, "ohlcv", "binance", namespace) or {}
        deployment = get(kube, "deployment", "binance-collector", namespace) or {}
        return bool(
            resource.get("spec", {}).get("replicas") == 3
            and deployment.get("spec", {}).get("replicas") == 3
        )

    wait_until(
        scaled,
        what="the HPA raised replicas to its minimum and the operator followed",
        operator=operator,
        timeout=90,
    )


def test_the_operator_does_its_whole_job_as_the_charts_service_account(
    kube: ControlPlane,
    namespace: str,
    postgres_dsn: str,
    redis_url: str,
    start_operator: StartOperator,
) -> None:
    chart = REPO_ROOT / "charts/fullon-ohlcv"
    kube.helm("install", "ohlcv", str(chart), "-n", namespace, "--set", "crds.install=false")
    token = kube.service_account_kubeconfig(namespace=namespace, name="ohlcv-operator")
    add_target(postgres_dsn, exchange="binance", symbol="BTC/USDT")
    write_health(redis_url, exchange="binance", symbols={"BTC/USDT": ("streaming", "streaming", 3)})
    with start_operator(kubeconfig=token) as operator:
        wait_condition(
            kube,
            operator,
            name="binance",
            namespace=namespace,
            kind="CollectorsHealthy",
            expected=("True", "AllSymbolsHealthy"),
            what="discovery, Deployment and status done under the chart's Role",
        )
        assert get(kube, "deployment", "binance-collector", namespace) is not None
        assert "Created" in events(kube, namespace, "binance")
        # A whole-word 403 or "Forbidden": digits inside a timestamp are not an answer.
        refused = re.compile(r"\b403\b|forbidden", re.IGNORECASE)
        forbidden = [line for line in operator.log.read_text().splitlines() if refused.search(line)]
        assert forbidden == []
    for verb, resource in (("get", "secrets"), ("create", "pods"), ("delete", "deployments")):
        answer = kube.kubectl(
            "auth", "can-i", verb, resource, "-n", namespace, kubeconfig=token, check=False
        ).stdout.strip()
        assert answer == "no", (verb, resource)


def test_resources_carry_no_finalizer_and_an_old_kopf_finalizer_is_removed(
    kube: ControlPlane, operator: OperatorProcess, namespace: str, postgres_dsn: str
) -> None:
    """Nothing must hold a resource once the operator is gone: the operator adds no
    finalizer, and frees resources an earlier version (a kopf timer) left one on."""
    legacy = {
        "apiVersion": "fullon.io/v1alpha1",
        "kind": "OhlcvCollector",
        "metadata": {
            "name": "kraken",
            "namespace": namespace,
            "finalizers": ["kopf.zalando.org/KopfFinalizerMarker"],
        },
        "spec": {"exchange": "kraken"},
    }
    kube.kubectl("apply", "-f", "-", stdin=json.dumps(legacy))
    add_target(postgres_dsn, exchange="binance", symbol="BTC/USDT")
    wait_until(
        lambda: all(
            (get(kube, "ohlcv", name, namespace) or {"metadata": {"finalizers": [1]}})[
                "metadata"
            ].get("finalizers", [])
            == []
            for name in ("kraken", "binance")
        ),
        what="no finalizer on the discovered and the legacy resource",
        operator=operator,
    )
    assert condition(get(kube, "ohlcv", "kraken", namespace), "Reconciling") is not None
