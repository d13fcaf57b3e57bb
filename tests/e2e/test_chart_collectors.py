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

from tests.e2e.operator_harness import OperatorProcess, StartOperator, get, wait_until
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
def operator(
    kube: ControlPlane, start_operator: StartOperator, tmp_path: Path
) -> Iterator[OperatorProcess]:
    env = operator_env(kube, VALUES, tmp_path)
    pod_settings = settings_of(
        env,
        "OHLCV_DISCOVERY_MODE",
        "OHLCV_COLLECTOR_POD",
        "OHLCV_COLLECTOR_RUN_AS_USER",
        "OHLCV_COLLECTOR_TMP_SIZE_LIMIT",
    )
    with start_operator(**pod_settings) as process:
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


CNPG_VALUES: dict[str, Any] = {
    "discovery": {"mode": "off"},
    "database": {
        "secretName": "pg-app",
        "secretKeys": {"uri": "uri"},
        "ohlcvName": "app",
        "tls": {"sslMode": "verify-full", "caSecretName": "pg-ca"},
    },
    "redis": {
        "secretName": "redis-acl",
        "secretKeys": {"host": "host", "username": "user", "password": "password"},
        "tls": {"enabled": True, "caSecretName": "redis-ca"},
    },
}


@pytest.fixture
def cnpg_operator(
    kube: ControlPlane, start_operator: StartOperator, tmp_path: Path
) -> Iterator[OperatorProcess]:
    env = operator_env(kube, CNPG_VALUES, tmp_path)
    connection = settings_of(env, "OHLCV_DISCOVERY_MODE", "OHLCV_COLLECTOR_CONNECTION")
    with start_operator(**connection) as process:
        yield process


def secret_ref(name: str, key: str, *, optional: bool = False) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": name, "key": key}
    if optional:
        ref["optional"] = True
    return {"secretKeyRef": ref}


def test_a_cloudnativepg_secret_with_tls_reaches_operator_and_collectors(
    kube: ControlPlane, namespace: str, cnpg_operator: OperatorProcess, tmp_path: Path
) -> None:
    apply_collector(kube, namespace, "binance")
    pod = collector_pod(kube, namespace, "binance", cnpg_operator)["spec"]
    [container] = pod["containers"]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    expected = {
        "DB_REQUIRED": "true",
        "DB_URI": secret_ref("pg-app", "uri"),
        "DB_OHLCV_NAME": "app",
        "DB_SSLMODE": "verify-full",
        "DB_SSLROOTCERT": "/etc/fullon/tls/postgres/ca.crt",
        "REDIS_HOST": secret_ref("redis-acl", "host", optional=True),
        "REDIS_USERNAME": secret_ref("redis-acl", "user", optional=True),
        "REDIS_PASSWORD": secret_ref("redis-acl", "password", optional=True),
        "REDIS_SSL": "true",
        "REDIS_SSL_CA_CERTS": "/etc/fullon/tls/redis/ca.crt",
    }
    assert {name: env.get(name) for name in expected} == expected
    assert "envFrom" not in container or container["envFrom"] == []  # no CNPG keys as env
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["postgres-ca"]["secret"]["secretName"] == "pg-ca"
    assert volumes["redis-ca"]["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["postgres-ca"] == {
        "name": "postgres-ca",
        "mountPath": "/etc/fullon/tls/postgres",
        "readOnly": True,
    }
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"

    # The operator's own container reads the Secrets the same way.
    rendered = operator_env(kube, CNPG_VALUES, tmp_path)
    assert rendered["DB_SSLROOTCERT"] == "/etc/fullon/tls/postgres/ca.crt"
    assert rendered["DB_REQUIRED"] == "true"


def test_a_rollout_restart_for_a_rotated_secret_survives_the_operator(
    kube: ControlPlane, namespace: str, operator: OperatorProcess
) -> None:
    """README: a rotated Secret reaches the collectors with `kubectl rollout restart`; the
    operator's next apply keeps the restart (it owns only its own fields)."""
    apply_collector(kube, namespace, "binance")
    collector_pod(kube, namespace, "binance", operator)
    kube.kubectl(
        "rollout", "restart", "deployment", "-n", namespace,
        "-l", "app.kubernetes.io/name=fullon-ohlcv-collector",
    )  # fmt: skip
    restarted = get(kube, "deployment", "binance-collector", namespace)
    assert restarted is not None
    stamp = restarted["spec"]["template"]["metadata"]["annotations"][
        "kubectl.kubernetes.io/restartedAt"
    ]
    apply_collector(kube, namespace, "binance", symbols=["BTC/USDT"])  # the operator re-applies

    def reapplied() -> bool:
        deployment = get(kube, "deployment", "binance-collector", namespace) or {}
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        return "BTC/USDT" in container["args"]

    wait_until(reapplied, what="the operator applies the new symbols", operator=operator)
    after = get(kube, "deployment", "binance-collector", namespace)
    assert after is not None
    annotations = after["spec"]["template"]["metadata"]["annotations"]
    assert annotations["kubectl.kubernetes.io/restartedAt"] == stamp
    assert annotations["team.example.com/owner"] == "market-data"
