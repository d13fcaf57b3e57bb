"""The Helm chart charts/fullon-ohlcv, rendered and installed on a real control plane.

Covers: `helm lint --strict`; what `helm template` renders with the defaults and with every
optional part on; every rendered manifest accepted by a server-side dry run; the schema's
messages for bad values; install, upgrade (a changed value reaches the operator) and
uninstall (the CRD and the OhlcvCollectors stay); the operator ServiceAccount's permissions
checked with its own minted token; the operator Pod admitted under the restricted Pod
Security Standard; two exchanges autoscaled independently through their OhlcvCollectors' scale
subresource.
"""

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.harness.controlplane import ControlPlane
from tests.harness.tools import REPO_ROOT
from tests.harness.waiting import wait_until

pytestmark = pytest.mark.kubernetes

CHART = REPO_ROOT / "charts/fullon-ohlcv"
CRD_FILE = CHART / "files/crd-ohlcvcollectors.yaml"
CRD_NAME = "ohlcvcollectors.fullon.io"
MANIFESTS = Path(__file__).parent / "manifests"
ALL_OPTIONAL = MANIFESTS / "values-all-optional.yaml"
MONITORING_CRDS = MANIFESTS / "monitoring-crds.yaml"
KEDA_CRDS = MANIFESTS / "keda-crds.yaml"
RELEASE = "ohlcv"
COLLECTOR_LABELS = {
    "app.kubernetes.io/name": "fullon-ohlcv-collector",
    "app.kubernetes.io/managed-by": "ohlcv-operator",
}


def get_json(kube: ControlPlane, *args: str) -> Any:
    return json.loads(kube.kubectl("get", *args, "-o", "json").stdout)


def server_version(kube: ControlPlane) -> str:
    versions = json.loads(kube.kubectl("version", "-o", "json").stdout)
    return str(versions["serverVersion"]["gitVersion"])


def render(kube: ControlPlane, *args: str, namespace: str = "fullon") -> list[dict[str, Any]]:
    """`helm template` for the control plane's Kubernetes version; the documents it renders."""
    output = kube.helm(
        "template", RELEASE, str(CHART), "-n", namespace,
        "--kube-version", server_version(kube), *args,
    ).stdout  # fmt: skip
    return [doc for doc in yaml.safe_load_all(output) if doc]


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [doc] = [d for d in docs if d["kind"] == kind]
    return doc


def container_env(deployment: dict[str, Any]) -> dict[str, Any]:
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def install_crd(kube: ControlPlane) -> None:
    kube.kubectl("apply", "-f", str(CRD_FILE))
    kube.kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=60s")


def delete_crd(kube: ControlPlane) -> None:
    kube.kubectl("delete", "crd", CRD_NAME, "--ignore-not-found", "--wait", "--timeout=120s")


def install(kube: ControlPlane, namespace: str, *args: str, release: str = RELEASE) -> None:
    """Install the chart next to a CRD installed with kubectl (the CRD is cluster-wide)."""
    install_crd(kube)
    kube.helm("install", release, str(CHART), "-n", namespace, "--set", "crds.install=false", *args)


@pytest.fixture(scope="module")
def monitoring_crds(kube: ControlPlane) -> Iterator[None]:
    """The Prometheus Operator's and KEDA's kinds the optional parts render."""
    kube.kubectl("apply", "-f", str(MONITORING_CRDS), "-f", str(KEDA_CRDS))
    for crd in (
        *(
            f"{plural}.monitoring.coreos.com"
            for plural in ("servicemonitors", "podmonitors", "prometheusrules")
        ),
        "scaledobjects.keda.sh",
    ):
        kube.kubectl("wait", "--for=condition=Established", f"crd/{crd}", "--timeout=60s")
    yield
    kube.kubectl("delete", "-f", str(MONITORING_CRDS), "-f", str(KEDA_CRDS), "--wait=false")


# --- rendering ---------------------------------------------------------------------------


@pytest.mark.parametrize("values", [[], ["-f", str(ALL_OPTIONAL)]], ids=["defaults", "all-on"])
def test_lint_strict(kube: ControlPlane, values: list[str]) -> None:
    result = kube.helm("lint", "--strict", str(CHART), *values)
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout
    assert "[WARNING]" not in result.stdout
    assert "[ERROR]" not in result.stdout


def test_defaults_render_the_core_only(kube: ControlPlane) -> None:
    docs = render(kube)
    assert Counter(d["kind"] for d in docs) == {
        "CustomResourceDefinition": 1,
        "ServiceAccount": 2,
        "Role": 1,
        "RoleBinding": 1,
        "Service": 1,
        "Deployment": 1,
    }
    for doc in docs:
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "fullon-ohlcv", doc["kind"]
        assert labels["app.kubernetes.io/instance"] == RELEASE, doc["kind"]
        assert labels["app.kubernetes.io/managed-by"] == "Helm", doc["kind"]
        assert labels["app.kubernetes.io/version"] == "0.1.0", doc["kind"]
        assert labels["helm.sh/chart"] == "fullon-ohlcv-0.1.0", doc["kind"]
        if doc["kind"] != "CustomResourceDefinition":
            assert doc["metadata"]["namespace"] == "fullon", doc["kind"]

    crd = one(docs, "CustomResourceDefinition")
    from_file = yaml.safe_load(CRD_FILE.read_text())
    assert crd["spec"] == from_file["spec"]
    assert crd["metadata"]["annotations"] == {
        "helm.sh/resource-policy": "keep",
        "argocd.argoproj.io/sync-options": "Prune=false,Delete=false",
    }

    accounts = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ServiceAccount"}
    assert accounts["ohlcv-operator"]["automountServiceAccountToken"] is True
    assert accounts["ohlcv-collector"]["automountServiceAccountToken"] is False


def test_operator_deployment_follows_the_contract(kube: ControlPlane) -> None:
    deployment = one(render(kube), "Deployment")
    assert deployment["metadata"]["name"] == "ohlcv-operator"
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == "ohlcv-operator"
    [container] = pod["containers"]
    assert container["image"] == "ghcr.io/fullon-ohlcv/fullon-ohlcv:0.1.0"
    assert container["command"] == ["ohlcv-operator", "run"]
    assert container_env(deployment) == {
        "OPERATOR_NAMESPACE": {"fieldRef": {"fieldPath": "metadata.namespace"}},
        "POD_NAME": {"fieldRef": {"fieldPath": "metadata.name"}},
        "OHLCV_DISCOVERY_MODE": "create",
        "OHLCV_DISCOVERY_INTERVAL_SECONDS": "60",
        "OHLCV_PRUNE": "false",
        "OHLCV_COLLECTOR_IMAGE": "ghcr.io/fullon-ohlcv/fullon-ohlcv:0.1.0",
        "OHLCV_COLLECTOR_IMAGE_PULL_POLICY": "IfNotPresent",
        "OHLCV_COLLECTOR_RESOURCES": json.dumps(
            {"limits": {"memory": "768Mi"}, "requests": {"cpu": "100m", "memory": "384Mi"}},
            separators=(",", ":"),
        ),
        "OHLCV_COLLECTOR_ENV": "[]",
        "OHLCV_COLLECTOR_NODE_SELECTOR": "{}",
        "OHLCV_COLLECTOR_TOLERATIONS": "[]",
        "OHLCV_COLLECTOR_SERVICE_ACCOUNT": "ohlcv-collector",
        "OHLCV_COLLECTOR_POD": json.dumps(
            {
                "affinity": {},
                "imagePullSecrets": [],
                "podAnnotations": {},
                "podLabels": {},
                "priorityClassName": "",
                "topologySpreadConstraints": [],
            },
            separators=(",", ":"),
        ),
        "OHLCV_COLLECTOR_RUN_AS_USER": "10001",
        "OHLCV_COLLECTOR_TMP_SIZE_LIMIT": "64Mi",
        "OHLCV_DATABASE_SECRET": "fullon-db",
        "OHLCV_REDIS_SECRET": "fullon-redis",
        "ADMIN_MAIL": "admin@fullon",
        "OHLCV_OPERATOR_METRICS_PORT": "8080",
        "OHLCV_SCOPE": "namespace",
        "OHLCV_WATCH_NAMESPACES": "[]",
        "OHLCV_LEADER_LEASE_NAME": "ohlcv-operator",
        "OHLCV_RESYNC_SECONDS": "30",
        "OHLCV_HEALTH_POLL_SECONDS": "10",
        "OHLCV_STATUS_REFRESH_SECONDS": "300",
        "OHLCV_COLLECTOR_PROGRESS_DEADLINE_SECONDS": "600",
        "OHLCV_COLLECTOR_CONNECTION": json.dumps(
            {
                "env": [{"name": "DB_REQUIRED", "value": "true"}],
                "envFrom": [
                    {"secretRef": {"name": "fullon-db"}},
                    {"secretRef": {"name": "fullon-redis", "optional": True}},
                ],
                "volumeMounts": [],
                "volumes": [],
            },
            separators=(",", ":"),
        ),
        "DB_REQUIRED": "true",  # a Secret without the database settings is an error
    }
    assert container["envFrom"] == [
        {"secretRef": {"name": "fullon-db"}},
        {"secretRef": {"name": "fullon-redis", "optional": True}},
    ]
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert "readinessProbe" not in container  # an operator serves no traffic (kopf docs)

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert pod["volumes"][0]["name"] == "tmp"
    assert "emptyDir" in pod["volumes"][0]


def test_image_pull_secrets_in_the_usual_form_reach_operator_and_collectors(
    kube: ControlPlane,
) -> None:
    deployment = one(
        render(
            kube, "--set", "imagePullSecrets[0].name=regcred", "--set", "imagePullSecrets[1]=old"
        ),
        "Deployment",
    )
    expected = [{"name": "regcred"}, {"name": "old"}]  # a bare name is still accepted
    assert deployment["spec"]["template"]["spec"]["imagePullSecrets"] == expected
    collector_pod = json.loads(container_env(deployment)["OHLCV_COLLECTOR_POD"])
    assert collector_pod["imagePullSecrets"] == expected


def test_redis_is_optional(kube: ControlPlane) -> None:
    deployment = one(render(kube, "--set", "redis.secretName="), "Deployment")
    assert "OHLCV_REDIS_SECRET" not in container_env(deployment)
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["envFrom"] == [{"secretRef": {"name": "fullon-db"}}]


DIGEST = "sha256:" + "ab" * 32
IMAGES = [
    pytest.param([], "ghcr.io/fullon-ohlcv/fullon-ohlcv:0.1.0", id="appVersion"),
    pytest.param(["--set", "image.tag=0.1.1"], "ghcr.io/fullon-ohlcv/fullon-ohlcv:0.1.1", id="tag"),
    pytest.param(
        ["--set", f"image.digest={DIGEST}"],
        f"ghcr.io/fullon-ohlcv/fullon-ohlcv@{DIGEST}",
        id="digest",
    ),
    pytest.param(
        ["--set", f"image.digest={DIGEST}", "--set", "collector.image.tag=0.2.0"],
        "ghcr.io/fullon-ohlcv/fullon-ohlcv:0.2.0",
        id="own-tag-drops-operator-digest",
    ),
    pytest.param(
        ["--set", "collector.image.repository=registry.example.com/collector"],
        "registry.example.com/collector:0.1.0",
        id="own-repository",
    ),
]


@pytest.mark.parametrize(("values", "collector_image"), IMAGES)
def test_collectors_use_the_operator_image_unless_told(
    kube: ControlPlane, values: list[str], collector_image: str
) -> None:
    deployment = one(render(kube, *values), "Deployment")
    assert container_env(deployment)["OHLCV_COLLECTOR_IMAGE"] == collector_image


def role_rules(docs: list[dict[str, Any]]) -> dict[str, list[str]]:
    rules = one(docs, "Role")["rules"]
    return {
        f"{resource}.{rule['apiGroups'][0]}"
        + "".join(f"/{name}" for name in rule.get("resourceNames", [])): sorted(rule["verbs"])
        for rule in rules
        for resource in rule["resources"]
    }


def test_role_grants_exactly_what_the_operator_uses(kube: ControlPlane) -> None:
    assert role_rules(render(kube)) == {
        "ohlcvcollectors.fullon.io": ["create", "get", "list", "patch", "watch"],
        "ohlcvcollectors/status.fullon.io": ["patch"],
        # blockOwnerDeletion under OwnerReferencesPermissionEnforcement (OpenShift)
        "ohlcvcollectors/finalizers.fullon.io": ["update"],
        "deployments.apps": ["create", "get", "list", "patch", "watch"],
        "events.": ["create"],
        "events.events.k8s.io": ["create"],
        "pods.": ["list"],  # read-only: why collector Pods fail
        # leader election: create cannot be narrowed to a name, the rest is one Lease's
        "leases.coordination.k8s.io": ["create"],
        "leases.coordination.k8s.io/ohlcv-operator": ["get", "update"],
    }
    gitops = role_rules(render(kube, "--set", "discovery.mode=off"))
    assert gitops["ohlcvcollectors.fullon.io"] == ["get", "list", "patch", "watch"]
    pruning = role_rules(render(kube, "--set", "discovery.prune=true"))
    assert "delete" in pruning["ohlcvcollectors.fullon.io"]
    assert "delete" not in pruning["deployments.apps"]


def test_every_optional_part_renders(kube: ControlPlane) -> None:
    docs = render(kube, "-f", str(ALL_OPTIONAL))
    assert Counter(d["kind"] for d in docs) == {
        "CustomResourceDefinition": 1,
        "ServiceAccount": 2,
        "Role": 1,
        "RoleBinding": 1,
        "Service": 1,
        "Deployment": 1,
        "ServiceMonitor": 1,
        "PodMonitor": 1,
        "PrometheusRule": 1,
        "PodDisruptionBudget": 1,
        "NetworkPolicy": 2,
        "HorizontalPodAutoscaler": 2,  # binance and kraken
        "ScaledObject": 1,  # bitmex asked for KEDA
    }
    assert all(d["metadata"]["labels"]["team"] == "market-data" for d in docs)

    deployment = one(docs, "Deployment")
    env = container_env(deployment)
    assert env["OHLCV_COLLECTOR_IMAGE"] == "registry.example.com:5000/fullon/collector:0.1.1"
    assert env["OHLCV_PRUNE"] == "true"
    assert json.loads(env["OHLCV_COLLECTOR_ENV"])[1] == {
        "name": "NODE_NAME",
        "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}},
    }
    assert json.loads(env["OHLCV_COLLECTOR_TOLERATIONS"])[0]["key"] == "dedicated"
    assert env["LOG_LEVEL"] == "DEBUG"
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "ghcr.io/fullon-ohlcv/fullon-ohlcv:0.1.0-rc.1"

    service = one(docs, "Service")
    monitor = one(docs, "ServiceMonitor")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert monitor["metadata"]["labels"]["release"] == "prometheus"

    podmonitor = one(docs, "PodMonitor")
    assert podmonitor["spec"]["selector"]["matchLabels"] == COLLECTOR_LABELS
    assert podmonitor["spec"]["podMetricsEndpoints"][0]["port"] == "http"
    assert one(docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == COLLECTOR_LABELS
    assert one(docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == "25%"

    [group] = one(docs, "PrometheusRule")["spec"]["groups"]
    alerts = {rule["alert"]: rule for rule in group["rules"]}
    assert set(alerts) == {
        "OhlcvCollectorLagging",
        "OhlcvCollectorSymbolsUnhealthy",
        "OhlcvOperatorErrors",
        "OhlcvOperatorDown",
        "OhlcvCollectorRateLimited",
    }
    assert "ohlcv_collector_lag_seconds" in alerts["OhlcvCollectorLagging"]["expr"]
    assert "> 600" in alerts["OhlcvCollectorLagging"]["expr"]
    assert "{{ $labels.exchange }}" in alerts["OhlcvCollectorLagging"]["annotations"]["summary"]

    policies = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "NetworkPolicy"}
    collectors = policies["ohlcv-collectors"]
    assert collectors["podSelector"]["matchLabels"] == COLLECTOR_LABELS
    egress_ports = {p["port"] for rule in collectors["egress"] for p in rule["ports"]}
    assert egress_ports == {53, 443, 5432, 6379}
    assert {"ipBlock": {"cidr": "0.0.0.0/0"}} in collectors["egress"][1]["to"]
    operator_ports = {p["port"] for r in policies["ohlcv-operator"]["egress"] for p in r["ports"]}
    assert operator_ports == {53, 443, 6443, 5432, 6379}

    hpas = {
        d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "HorizontalPodAutoscaler"
    }
    binance, kraken = hpas["ohlcv-binance"], hpas["ohlcv-kraken"]
    assert binance["scaleTargetRef"] == {
        "apiVersion": "fullon.io/v1alpha1",
        "kind": "OhlcvCollector",
        "name": "binance",
    }
    assert (binance["minReplicas"], binance["maxReplicas"]) == (2, 6)  # own min, default max
    assert (kraken["minReplicas"], kraken["maxReplicas"]) == (1, 6)  # the defaults
    assert kraken["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 600
    cpu, symbols, lag = binance["metrics"]
    assert cpu["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    assert symbols["external"] == {
        "metric": {
            "name": "ohlcv_operator_targets",
            "selector": {"matchLabels": {"namespace": "fullon", "exchange": "binance"}},
        },
        "target": {"type": "AverageValue", "averageValue": "50"},
    }
    assert lag["external"]["metric"]["name"] == "ohlcv_collector_lag_seconds"
    assert lag["external"]["target"] == {"type": "Value", "value": "300"}
    assert [m["type"] for m in kraken["metrics"]] == ["Resource"]

    keda = one(docs, "ScaledObject")["spec"]
    assert keda["scaleTargetRef"]["name"] == "bitmex"
    [trigger] = keda["triggers"]  # cpuUtilization 0 for bitmex: no CPU trigger
    assert trigger["metadata"] == {
        "serverAddress": "http://prometheus-operated.monitoring.svc:9090",
        "query": 'sum(ohlcv_operator_targets{namespace="fullon",exchange="bitmex"})',
        "threshold": "20",
    }


def test_crds_install_false_renders_no_crd(kube: ControlPlane) -> None:
    kinds = {d["kind"] for d in render(kube, "--set", "crds.install=false")}
    assert "CustomResourceDefinition" not in kinds
    assert "Deployment" in kinds


@pytest.mark.parametrize("values", [[], ["-f", str(ALL_OPTIONAL)]], ids=["defaults", "all-on"])
def test_every_rendered_manifest_passes_a_server_side_dry_run(
    kube: ControlPlane, namespace: str, monitoring_crds: None, values: list[str]
) -> None:
    docs = render(kube, *values, namespace=namespace)
    stream = "---\n".join(yaml.safe_dump(doc) for doc in docs)
    result = kube.kubectl("apply", "--dry-run=server", "-f", "-", stdin=stream)
    accepted = [line for line in result.stdout.splitlines() if "(server dry run)" in line]
    assert len(accepted) == len(docs), result.stdout


SCHEMA_REJECTIONS = [
    pytest.param(
        ["--set", "discovery.mode=sometimes"],
        "at '/discovery/mode': value must be one of 'create', 'off'",
        id="bad-discovery-mode",
    ),
    pytest.param(
        ["--set", "autoscaling.defaults.minReplicas=-1"],
        "at '/autoscaling/defaults/minReplicas': minimum: got -1, want 1",
        id="negative-replicas",
    ),
    pytest.param(
        ["--set", "autoscaling.exchanges.Binance.minReplicas=2"],
        "invalid propertyName 'Binance'",
        id="autoscaled-name-not-a-resource-name",
    ),
    pytest.param(
        ["--set", "autoscaling.exchanges.binance.cpuUtilization=0"],
        "autoscaling of binance: nothing to scale on",
        id="autoscaling-on-nothing",
    ),
    pytest.param(
        [
            "--set",
            "autoscaling.exchanges.binance.symbolsPerReplica=5"
            ",autoscaling.exchanges.binance.keda.enabled=true",
        ],
        "autoscaling of binance: keda.serverAddress (the Prometheus KEDA queries) is needed",
        id="keda-without-prometheus",
    ),
    pytest.param(
        ["--set", "operater.updateStrategy=Recreate"],
        "additional properties 'operater' not allowed",
        id="unknown-key",
    ),
    pytest.param(
        ["--set", "collector.imagePullPolicy=Always"],
        "at '/collector': additional properties 'imagePullPolicy' not allowed",
        id="misplaced-key",
    ),
    pytest.param(
        ["--set", "database.secretName="],
        "at '/database/secretName': minLength: got 0, want 1",
        id="no-database-secret",
    ),
    pytest.param(
        ["--set", "collector.resources.limits.memory=lots"],
        "at '/collector/resources/limits/memory': 'lots' does not match pattern",
        id="bad-quantity",
    ),
    pytest.param(
        ["--set", "image.pullPolicy=Sometimes"],
        "at '/image/pullPolicy': value must be one of 'Always', 'IfNotPresent', 'Never'",
        id="bad-pull-policy",
    ),
    pytest.param(
        ["--set", "operator.healthPollSeconds=0"],
        "at '/operator/healthPollSeconds': minimum: got 0, want 1",
        id="health-poll-of-zero",
    ),
    pytest.param(
        [
            "--set",
            "autoscaling.exchanges.kraken.minReplicas=5,autoscaling.exchanges.kraken.maxReplicas=2",
        ],
        "autoscaling of kraken: minReplicas (5) must not exceed maxReplicas (2)",
        id="min-above-max",
    ),
    pytest.param(
        ["--set", "metrics.prometheusRule.collectorLag.for=soon"],
        "at '/metrics/prometheusRule/collectorLag/for': 'soon' does not match pattern",
        id="bad-duration",
    ),
    pytest.param(
        ["--set", "database.secretKeys.dbname=dbname"],
        "at '/database/secretKeys': additional properties 'dbname' not allowed",
        id="unknown-database-setting",
    ),
    pytest.param(
        ["--set", "database.tls.sslMode=verify"],
        "at '/database/tls/sslMode': value must be one of",
        id="bad-sslmode",
    ),
]


@pytest.mark.parametrize(("values", "message"), SCHEMA_REJECTIONS)
def test_bad_values_fail_with_a_clear_message(
    kube: ControlPlane, values: list[str], message: str
) -> None:
    result = kube.helm(
        "template", RELEASE, str(CHART), "--kube-version", server_version(kube), *values,
        check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert message in result.stderr
    assert result.stdout == ""


# --- installed on the control plane ----------------------------------------------------------


def test_install_upgrade_and_uninstall(kube: ControlPlane, namespace: str) -> None:
    delete_crd(kube)  # the release must create it, and own it
    try:
        notes = kube.helm("install", RELEASE, str(CHART), "-n", namespace).stdout
        assert f'the database Secret "fullon-db" does not exist in {namespace}' in notes
        assert f"kubectl -n {namespace} get ohlcvcollectors" in notes
        assert f"kubectl -n {namespace} rollout status deployment/ohlcv-operator" in notes
        kube.kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=60s")
        crd = get_json(kube, "crd", CRD_NAME)
        assert crd["metadata"]["annotations"]["meta.helm.sh/release-name"] == RELEASE
        assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"

        deployment = get_json(kube, "deployment", "ohlcv-operator", "-n", namespace)
        env = container_env(deployment)
        assert env["OHLCV_DISCOVERY_MODE"] == "create"
        assert env["OHLCV_COLLECTOR_IMAGE"] == "ghcr.io/fullon-ohlcv/fullon-ohlcv:0.1.0"
        collector = {
            "apiVersion": "fullon.io/v1alpha1",
            "kind": "OhlcvCollector",
            "metadata": {"name": "binance", "namespace": namespace},
            "spec": {"exchange": "binance"},
        }
        kube.kubectl("apply", "-f", "-", stdin=json.dumps(collector))

        kube.kubectl("create", "secret", "generic", "fullon-db", "-n", namespace)
        notes = kube.helm(
            "upgrade", RELEASE, str(CHART), "-n", namespace,
            "--set", "discovery.mode=off", "--set", "collector.image.tag=0.2.0",
        ).stdout  # fmt: skip
        assert "database Secret" not in notes
        assert "Discovery is off: declare each exchange yourself" in notes
        deployment = get_json(kube, "deployment", "ohlcv-operator", "-n", namespace)
        env = container_env(deployment)
        assert env["OHLCV_DISCOVERY_MODE"] == "off"
        assert env["OHLCV_COLLECTOR_IMAGE"] == "ghcr.io/fullon-ohlcv/fullon-ohlcv:0.2.0"
        assert deployment["metadata"]["generation"] == 2
        role = get_json(kube, "role", "ohlcv-operator", "-n", namespace)
        assert "create" not in role["rules"][0]["verbs"]  # no discovery, no create

        def rolled_out() -> bool:  # the changed Pod template gives a second ReplicaSet
            sets = get_json(kube, "replicasets", "-n", namespace)["items"]
            images = [container_env(s).get("OHLCV_COLLECTOR_IMAGE") for s in sets]
            return len(sets) == 2 and "ghcr.io/fullon-ohlcv/fullon-ohlcv:0.2.0" in images

        wait_until(rolled_out, timeout=60, describe="a ReplicaSet with the upgraded Pod template")
        history = json.loads(kube.helm("history", RELEASE, "-n", namespace, "-o", "json").stdout)
        assert [h["status"] for h in history] == ["superseded", "deployed"]

        kube.helm("uninstall", RELEASE, "-n", namespace, "--wait")
        left = get_json(kube, "deployments,roles,rolebindings,serviceaccounts", "-n", namespace)
        assert not [
            item["metadata"]["name"]
            for item in left["items"]
            if item["metadata"].get("labels", {}).get("app.kubernetes.io/instance") == RELEASE
        ]
        # The CRD is kept, and with it every OhlcvCollector.
        assert get_json(kube, "crd", CRD_NAME)["metadata"]["name"] == CRD_NAME
        kept = get_json(kube, "ohlcvcollector", "binance", "-n", namespace)
        assert kept["spec"]["exchange"] == "binance"
    finally:
        kube.helm("uninstall", RELEASE, "-n", namespace, check=False)
        delete_crd(kube)  # no release owns it any more: leave the cluster as we found it


def test_operator_service_account_has_least_privilege(kube: ControlPlane, namespace: str) -> None:
    install(kube, namespace)
    operator = kube.service_account_kubeconfig(namespace=namespace, name="ohlcv-operator")

    def can_i(*question: str, kubeconfig: Path = operator, where: str = namespace) -> str:
        result = kube.kubectl(
            "auth", "can-i", *question, "-n", where, kubeconfig=kubeconfig, check=False
        )
        return result.stdout.strip()

    allowed = [
        *(
            (verb, "ohlcvcollectors.fullon.io")
            for verb in ("get", "list", "watch", "create", "patch")
        ),
        ("patch", "ohlcvcollectors.fullon.io", "--subresource=status"),
        *((verb, "deployments.apps") for verb in ("get", "list", "watch", "create", "patch")),
        ("update", "ohlcvcollectors.fullon.io", "--subresource=finalizers"),
        ("create", "events"),
        ("create", "events.events.k8s.io"),
        ("list", "pods"),  # read-only: why collector Pods fail
        ("create", "leases.coordination.k8s.io"),  # leader election, on one Lease only:
        ("get", "leases.coordination.k8s.io/ohlcv-operator"),
        ("update", "leases.coordination.k8s.io/ohlcv-operator"),
    ]
    denied = [
        ("delete", "ohlcvcollectors.fullon.io"),  # pruning is off
        ("update", "ohlcvcollectors.fullon.io"),  # every write is a patch
        ("update", "ohlcvcollectors.fullon.io", "--subresource=status"),
        ("get", "pods"),
        ("patch", "events"),
        ("delete", "deployments.apps"),
        ("update", "deployments.apps"),
        ("get", "secrets"),
        ("watch", "pods"),
        ("create", "pods"),
        ("delete", "pods"),
        ("list", "configmaps"),
        ("update", "leases.coordination.k8s.io/kube-scheduler"),
        ("list", "leases.coordination.k8s.io"),
        ("create", "roles.rbac.authorization.k8s.io"),
    ]
    assert {q: can_i(*q) for q in allowed} == dict.fromkeys(allowed, "yes")
    assert {q: can_i(*q) for q in denied} == dict.fromkeys(denied, "no")
    assert can_i("list", "ohlcvcollectors.fullon.io", where="default") == "no"
    assert can_i("list", "customresourcedefinitions.apiextensions.k8s.io") == "no"
    assert can_i("list", "namespaces") == "no"

    # The token really works for what the operator reads.
    listed = kube.kubectl("get", "ohlcvcollectors", "-n", namespace, kubeconfig=operator)
    assert listed.returncode == 0

    kube.helm("upgrade", RELEASE, str(CHART), "-n", namespace, "--reuse-values",
              "--set", "discovery.prune=true")  # fmt: skip
    assert can_i("delete", "ohlcvcollectors.fullon.io") == "yes"

    # The collectors' account may do nothing and mounts no token.
    account = get_json(kube, "serviceaccount", "ohlcv-collector", "-n", namespace)
    assert account["automountServiceAccountToken"] is False
    collector = kube.service_account_kubeconfig(namespace=namespace, name="ohlcv-collector")
    assert can_i("list", "ohlcvcollectors.fullon.io", kubeconfig=collector) == "no"
    assert can_i("get", "secrets", kubeconfig=collector) == "no"


def replicaset_events(kube: ControlPlane, namespace: str, release: str) -> list[dict[str, Any]]:
    events = get_json(kube, "events", "-n", namespace)["items"]
    return [
        e
        for e in events
        if e["involvedObject"]["kind"] == "ReplicaSet"
        and e["involvedObject"]["name"].startswith(f"{release}-operator-")
    ]


def test_operator_pod_passes_restricted_pod_security(kube: ControlPlane, namespace: str) -> None:
    kube.kubectl(
        "label", "namespace", namespace,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/enforce-version=latest",
    )  # fmt: skip
    install(kube, namespace)
    selector = "app.kubernetes.io/instance=ohlcv,app.kubernetes.io/component=operator"

    def pod_created() -> bool:
        return bool(get_json(kube, "pods", "-n", namespace, "-l", selector)["items"])

    wait_until(
        pod_created,
        timeout=60,
        describe="the operator's ReplicaSet creates a Pod under restricted Pod Security",
        details=lambda: json.dumps(replicaset_events(kube, namespace, RELEASE), indent=1),
    )
    reasons = {e["reason"] for e in replicaset_events(kube, namespace, RELEASE)}
    assert "FailedCreate" not in reasons

    # The same check fails for a Pod that is not restricted: admission is really on.
    kube.helm(
        "install", "weak", str(CHART), "-n", namespace, "--set", "crds.install=false",
        "--set", "operator.securityContext.allowPrivilegeEscalation=true",
    )  # fmt: skip

    def refused() -> bool:
        events = replicaset_events(kube, namespace, "weak")
        return any(
            e["reason"] == "FailedCreate" and "violates PodSecurity" in e["message"] for e in events
        )

    wait_until(
        refused, timeout=60, describe="the weakened Pod is refused by Pod Security admission"
    )


def test_two_exchanges_scale_independently_through_their_scale_subresources(
    kube: ControlPlane, namespace: str
) -> None:
    """The controller manager's HPA controller reads each OhlcvCollector's /scale and writes
    spec.replicas; each exchange follows its own autoscaler and nothing else."""
    install(
        kube, namespace,
        "--set", "autoscaling.exchanges.binance.minReplicas=2",
        "--set", "autoscaling.exchanges.kraken.minReplicas=3",
        "--set", "autoscaling.exchanges.kraken.maxReplicas=5",
    )  # fmt: skip
    for exchange in ("binance", "kraken", "bitmex"):  # bitmex: not autoscaled
        collector = {
            "apiVersion": "fullon.io/v1alpha1",
            "kind": "OhlcvCollector",
            "metadata": {"name": exchange, "namespace": namespace},
            "spec": {"exchange": exchange, "replicas": 1},
        }
        kube.kubectl("apply", "-f", "-", stdin=json.dumps(collector))
        status = {"status": {"replicas": 1, "selector": f"fullon.io/exchange={exchange}"}}
        kube.kubectl(
            "patch", "ohlcvcollector", exchange, "-n", namespace, "--subresource=status",
            "--type=merge", "-p", json.dumps(status),
        )  # fmt: skip

    def scale(exchange: str) -> int:
        return int(
            get_json(kube, "ohlcvcollector", exchange, "-n", namespace, "--subresource=scale")[
                "spec"
            ]["replicas"]
        )

    def replicas() -> dict[str, int]:
        return {exchange: scale(exchange) for exchange in ("binance", "kraken", "bitmex")}

    def hpa_state() -> str:
        return kube.kubectl("describe", "hpa", "-n", namespace, check=False).stdout

    wait_until(
        lambda: replicas() == {"binance": 2, "kraken": 3, "bitmex": 1},
        timeout=120, describe="each HPA scales its own exchange to its minimum", details=hpa_state,
    )  # fmt: skip
    for name in ("ohlcv-binance", "ohlcv-kraken"):
        hpa = get_json(kube, "hpa", name, "-n", namespace)
        able = {c["type"]: c for c in hpa["status"]["conditions"]}["AbleToScale"]
        assert able["status"] == "True", able

    notes = kube.helm("get", "notes", RELEASE, "-n", namespace).stdout
    assert "binance: 2..4 replicas, HorizontalPodAutoscaler ohlcv-binance" in notes
    assert "kraken: 3..5 replicas, HorizontalPodAutoscaler ohlcv-kraken" in notes

    # Raising one exchange's floor moves that exchange only.
    kube.helm(
        "upgrade", RELEASE, str(CHART), "-n", namespace, "--set", "crds.install=false",
        "--set", "autoscaling.exchanges.binance.minReplicas=2",
        "--set", "autoscaling.exchanges.kraken.minReplicas=5",
        "--set", "autoscaling.exchanges.kraken.maxReplicas=5",
    )  # fmt: skip
    wait_until(
        lambda: replicas()["kraken"] == 5,
        timeout=120,
        describe="kraken scaled to 5",
        details=hpa_state,
    )
    assert replicas() == {"binance": 2, "kraken": 5, "bitmex": 1}
