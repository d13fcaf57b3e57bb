"""The chart's collector values, through the real operator, into the collector Deployments.

The chart is rendered, the operator container's literal environment is handed to a real
`ohlcv-operator` running against the test control plane, and the Deployments it creates are
read back from the API server: what a user sets in values (or in one OhlcvCollector's spec)
is what the collector Pods get.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.operator_harness import CRD, OperatorProcess, get, running_operator, wait_until
from tests.harness.controlplane import ControlPlane
from tests.harness.tools import REPO_ROOT

pytestmark = [pytest.mark.kubernetes, pytest.mark.postgres, pytest.mark.redis]

CHART = REPO_ROOT / "charts/fullon-ohlcv"
ZONE_SPREAD = {
    "maxSkew": 1,
    "topologyKey": "topology.kubernetes.io/zone",
    "whenUnsatisfiable": "ScheduleAnyway",
    "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "fullon-ohlcv-collector"}},
}
POOL_AFFINITY = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["data"]}]}
            ]
        }
    }
}
VALUES: dict[str, Any] = {
    "imagePullSecrets": [{"name": "regcred"}],
    "discovery": {"mode": "off"},
    "collector": {
        "affinity": POOL_AFFINITY,
        "topologySpreadConstraints": [ZONE_SPREAD],
        "priorityClassName": "market-data",
        "podAnnotations": {"team.example.com/owner": "market-data"},
        "podLabels": {"team": "market-data", "tier": "collectors"},
        "runAsUser": None,  # OpenShift restricted-v2 assigns the UID
        "tmpSizeLimit": "128Mi",
    },
}


def operator_env(kube: ControlPlane, values: dict[str, Any], directory: Path) -> dict[str, str]:
    """The literal OHLCV_* variables the chart gives the operator container."""
    path = directory / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    rendered = kube.helm("template", "ohlcv", str(CHART), "-f", str(path)).stdout
    [deployment] = [
        d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "Deployment"
    ]  # fmt: skip
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def settings_of(env: dict[str, str], *keys: str) -> dict[str, str]:
    """running_operator's keyword form (OHLCV_COLLECTOR_POD -> collector_pod) of `keys`."""
    return {key.removeprefix("OHLCV_").lower(): env[key] for key in keys}


@pytest.fixture
def crd(kube: ControlPlane) -> None:
    kube.kubectl("apply", "--server-side", "-f", str(CRD))
    kube.kubectl(
        "wait", "--for=condition=Established", "crd/ohlcvcollectors.fullon.io", "--timeout=60s"
    )


@pytest.fixture
def operator(
    kube: ControlPlane, crd: None, namespace: str, postgres_dsn: str, redis_url: str, tmp_path: Path
) -> Iterator[OperatorProcess]:
    env = operator_env(kube, VALUES, tmp_path)
    pod_settings = settings_of(
        env,
        "OHLCV_DISCOVERY_MODE",
        "OHLCV_COLLECTOR_POD",
        "OHLCV_COLLECTOR_RUN_AS_USER",
        "OHLCV_COLLECTOR_TMP_SIZE_LIMIT",
    )
    with running_operator(
        kubeconfig=kube.admin_kubeconfig,
        namespace=namespace,
        dsn=postgres_dsn,
        redis_url=redis_url,
        log=tmp_path / "operator.log",
        **pod_settings,
    ) as process:
        yield process


def apply_collector(kube: ControlPlane, namespace: str, name: str, **spec: Any) -> None:
    body = {
        "apiVersion": "fullon.io/v1alpha1",
        "kind": "OhlcvCollector",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"exchange": name, **spec},
    }
    kube.kubectl("apply", "-f", "-", stdin=json.dumps(body))


def collector_pod(
    kube: ControlPlane, namespace: str, name: str, operator: OperatorProcess
) -> dict[str, Any]:
    """The Pod template of a resource's collector Deployment, once the operator made it."""
    wait_until(
        lambda: get(kube, "deployment", f"{name}-collector", namespace) is not None,
        what=f"the operator creates {name}-collector",
        operator=operator,
    )
    deployment = get(kube, "deployment", f"{name}-collector", namespace)
    assert deployment is not None
    template: dict[str, Any] = deployment["spec"]["template"]
    return template


def test_chart_values_and_resource_fields_reach_the_collector_pods(
    kube: ControlPlane, namespace: str, operator: OperatorProcess
) -> None:
    apply_collector(kube, namespace, "binance")
    own_spread = {**ZONE_SPREAD, "topologyKey": "kubernetes.io/hostname"}
    apply_collector(
        kube, namespace, "kraken",
        imagePullSecrets=[{"name": "kraken-registry"}],
        topologySpreadConstraints=[own_spread],
        priorityClassName="best-effort-data",
        podAnnotations={"kraken.example.com/note": "own"},
        podLabels={"tier": "kraken", "app.kubernetes.io/name": "not-the-selector"},
    )  # fmt: skip

    defaults = collector_pod(kube, namespace, "binance", operator)
    pod = defaults["spec"]
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["affinity"] == POOL_AFFINITY
    assert pod["topologySpreadConstraints"] == [ZONE_SPREAD]
    assert pod["priorityClassName"] == "market-data"
    assert defaults["metadata"]["annotations"] == {"team.example.com/owner": "market-data"}
    labels = defaults["metadata"]["labels"]
    assert (labels["team"], labels["tier"]) == ("market-data", "collectors")
    # No UID of its own: the platform's policy assigns one; the rest stays restricted.
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    [tmp] = [v for v in pod["volumes"] if v["name"] == "tmp"]
    assert tmp["emptyDir"] == {"sizeLimit": "128Mi"}

    own = collector_pod(kube, namespace, "kraken", operator)
    pod = own["spec"]
    assert pod["imagePullSecrets"] == [{"name": "kraken-registry"}]
    assert pod["affinity"] == POOL_AFFINITY  # not set on the resource: the chart's
    assert pod["topologySpreadConstraints"] == [own_spread]
    assert pod["priorityClassName"] == "best-effort-data"
    assert own["metadata"]["annotations"] == {
        "team.example.com/owner": "market-data",
        "kraken.example.com/note": "own",
    }
    labels = own["metadata"]["labels"]
    assert (labels["team"], labels["tier"]) == ("market-data", "kraken")
    assert labels["app.kubernetes.io/name"] == "fullon-ohlcv-collector"  # the selector wins
