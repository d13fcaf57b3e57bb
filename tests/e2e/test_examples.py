"""The GitOps examples in examples/: applied, rendered and evaluated as their users would.

Covers: examples/manifests applied to the real control plane after the CRD file; the chart
values of the Argo CD Applications and the Flux HelmRelease accepted by the chart's schema and
by the API server; the Argo CD ignoreDifferences on /spec/replicas that an autoscaler needs;
the Flux CRD policies; the argocd-cm snippet carrying the health check verbatim; and the Lua
health check run (on Lua 5.1, Argo CD's dialect) against sample OhlcvCollectors.
"""

import json
from collections.abc import Iterator
from typing import Any

import lupa.lua51  # type: ignore[import-untyped,import-not-found,unused-ignore]
import pytest
import yaml

from tests.harness.controlplane import ControlPlane
from tests.harness.tools import REPO_ROOT

pytestmark = pytest.mark.kubernetes

EXAMPLES = REPO_ROOT / "examples"
CHART = REPO_ROOT / "charts/fullon-ohlcv"
CRD_FILE = CHART / "files/crd-ohlcvcollectors.yaml"
CRD_NAME = "ohlcvcollectors.fullon.io"
HEALTH_LUA = EXAMPLES / "argocd/ohlcvcollector-health.lua"
HEALTH_KEY = "resource.customizations.health.fullon.io_OhlcvCollector"


def get_json(kube: ControlPlane, *args: str) -> Any:
    return json.loads(kube.kubectl("get", *args, "-o", "json").stdout)


def documents(path: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((EXAMPLES / path).read_text()) if doc]


def render_chart(kube: ControlPlane, values: dict[str, Any], namespace: str) -> str:
    versions = json.loads(kube.kubectl("version", "-o", "json").stdout)
    path = kube.directory / f"values-{namespace}.yaml"
    path.write_text(yaml.safe_dump(values))
    return kube.helm(
        "template", "fullon-ohlcv", str(CHART), "-n", namespace, "-f", str(path),
        "--kube-version", versions["serverVersion"]["gitVersion"],
    ).stdout  # fmt: skip


@pytest.fixture
def crd(kube: ControlPlane) -> None:
    kube.kubectl("apply", "-f", str(CRD_FILE))
    kube.kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=60s")


@pytest.fixture
def fullon_namespace(kube: ControlPlane) -> Iterator[str]:
    """The examples name their namespace, fullon; it is removed afterwards."""
    yield "fullon"
    kube.kubectl("delete", "namespace", "fullon", "--ignore-not-found", "--wait=false")


# --- plain manifests -------------------------------------------------------------------------


def test_manifests_apply_to_the_control_plane(
    kube: ControlPlane, crd: None, fullon_namespace: str
) -> None:
    applied = kube.kubectl("apply", "-f", str(EXAMPLES / "manifests")).stdout
    assert "namespace/fullon created" in applied
    assert "ohlcvcollector.fullon.io/binance created" in applied
    ns = fullon_namespace

    labels = get_json(kube, "namespace", ns)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"

    database = get_json(kube, "secret", "fullon-db", "-n", ns)["data"]
    assert set(database) == {
        "DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD", "DB_NAME", "DB_OHLCV_NAME",
    }  # fmt: skip
    redis = get_json(kube, "secret", "fullon-redis", "-n", ns)["data"]
    assert set(redis) == {"REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "REDIS_DB"}
    # The Secrets are the ones the chart refers to by default.
    chart_values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert chart_values["database"]["secretName"] == "fullon-db"
    assert chart_values["redis"]["secretName"] == "fullon-redis"

    binance = get_json(kube, "ohlcvcollector", "binance", "-n", ns)["spec"]
    assert binance == {
        "exchange": "binance",
        "replicas": 1,
        "paused": False,
        "collect": {"candles": True, "trades": True},
    }
    kraken = get_json(kube, "ohlcvcollector", "kraken", "-n", ns)["spec"]
    assert kraken["symbols"] == ["BTC/USD", "ETH/USD", "SOL/USD"]
    assert kraken["replicas"] == 2
    assert kraken["collect"]["backfillDays"] == 30

    table = kube.kubectl("get", "ohlcv", "-n", ns).stdout.splitlines()
    assert [row.split()[:2] for row in table[1:]] == [["binance", "binance"], ["kraken", "kraken"]]

    # Declarative: a second apply leaves the collectors alone (Secrets written through
    # stringData always report "configured" with client-side apply).
    again = kube.kubectl("apply", "-f", str(EXAMPLES / "manifests")).stdout.splitlines()
    assert "ohlcvcollector.fullon.io/binance unchanged" in again
    assert "ohlcvcollector.fullon.io/kraken unchanged" in again


# --- Argo CD ---------------------------------------------------------------------------------


def test_argocd_chart_application_values_install_cleanly(
    kube: ControlPlane, namespace: str
) -> None:
    chart_app, _ = documents("argocd/application.yaml")
    source = chart_app["spec"]["source"]
    assert (REPO_ROOT / source["path"] / "Chart.yaml").is_file()
    assert "ServerSideApply=true" in chart_app["spec"]["syncPolicy"]["syncOptions"]

    values = source["helm"]["valuesObject"]
    rendered = render_chart(kube, values, namespace)
    docs = [doc for doc in yaml.safe_load_all(rendered) if doc]
    targets = {
        d["spec"]["scaleTargetRef"]["name"] for d in docs if d["kind"] == "HorizontalPodAutoscaler"
    }
    assert targets == set(values["autoscaling"]["exchanges"]) == {"binance", "kraken"}
    # Only the kinds the API server knows (no monitoring CRDs here) go to the dry run.
    core = [d for d in docs if not d["apiVersion"].startswith("monitoring.coreos.com/")]
    stream = "---\n".join(yaml.safe_dump(d) for d in core)
    kube.kubectl("apply", "--dry-run=server", "-f", "-", stdin=stream)


def ignores_replicas(ignored: list[dict[str, Any]], name: str) -> bool:
    """Whether Argo CD's ignoreDifferences covers /spec/replicas of OhlcvCollector `name`."""
    return any(
        (rule.get("group"), rule.get("kind")) == ("fullon.io", "OhlcvCollector")
        and rule.get("name", name) == name
        and "/spec/replicas" in rule.get("jsonPointers", [])
        for rule in ignored
    )


def test_argocd_collectors_application_ignores_autoscaled_replicas() -> None:
    chart_app, collectors_app = documents("argocd/application.yaml")
    autoscaled = chart_app["spec"]["source"]["helm"]["valuesObject"]["autoscaling"]["exchanges"]
    assert chart_app["spec"]["source"]["helm"]["valuesObject"]["discovery"]["mode"] == "off"

    spec = collectors_app["spec"]
    assert spec["source"]["path"] == "examples/manifests"
    include = spec["source"]["directory"]["include"]
    included = sorted(p.name for p in (EXAMPLES / "manifests").glob(include))
    assert included == ["ohlcvcollector-binance.yaml", "ohlcvcollector-kraken.yaml"]
    # Every autoscaled exchange that git declares, and any autoscaled later.
    declared = {documents(f"manifests/{name}")[0]["metadata"]["name"] for name in included}
    assert set(autoscaled) <= declared
    for name in [*autoscaled, "an-exchange-autoscaled-later"]:
        assert ignores_replicas(spec["ignoreDifferences"], name), name
    assert "RespectIgnoreDifferences=true" in spec["syncPolicy"]["syncOptions"]
    # binance leaves replicas out of git altogether.
    [binance] = documents("manifests/ohlcvcollector-binance.yaml")
    assert "replicas" not in binance["spec"]


def test_a_gitops_apply_keeps_the_replicas_an_autoscaler_set(
    kube: ControlPlane, crd: None, namespace: str
) -> None:
    """What the examples rely on, on the real API server: a GitOps controller applying
    server-side and forcing conflicts (Flux's kustomize-controller, Argo CD with
    ServerSideApply) leaves
    spec.replicas to the autoscaler when its manifest does not set it; a manifest that sets it
    (kraken's) takes it back, which is why Argo CD ignores /spec/replicas."""

    def gitops_apply(name: str) -> None:
        [manifest] = documents(f"manifests/ohlcvcollector-{name}.yaml")
        manifest["metadata"]["namespace"] = namespace
        kube.kubectl(
            "apply", "--server-side", "--force-conflicts", "--field-manager=gitops", "-f", "-",
            stdin=json.dumps(manifest),
        )  # fmt: skip

    for name in ("binance", "kraken"):
        gitops_apply(name)
        # What the HPA controller does: write spec.replicas through the scale subresource.
        kube.kubectl("scale", "ohlcvcollector", name, "-n", namespace, "--replicas=4")
        gitops_apply(name)
    replicas = {
        name: get_json(kube, "ohlcvcollector", name, "-n", namespace)["spec"]["replicas"]
        for name in ("binance", "kraken")
    }
    assert replicas == {"binance": 4, "kraken": 2}


def test_argocd_cm_carries_the_health_check_verbatim(kube: ControlPlane) -> None:
    [configmap] = documents("argocd/argocd-cm.yaml")
    assert configmap["data"][HEALTH_KEY] == HEALTH_LUA.read_text()
    kube.kubectl("create", "namespace", "argocd")
    try:
        kube.kubectl("apply", "-f", str(EXAMPLES / "argocd/argocd-cm.yaml"))
        stored = get_json(kube, "configmap", "argocd-cm", "-n", "argocd")
        assert stored["data"][HEALTH_KEY] == HEALTH_LUA.read_text()
    finally:
        kube.kubectl("delete", "namespace", "argocd", "--wait=false")


def condition(kind: str, status: str, reason: str = "", message: str = "") -> dict[str, str]:
    return {"type": kind, "status": status, "reason": reason, "message": message}


def sample(
    *conditions: dict[str, str], generation: int = 1, observed: int | None = 1, paused: bool = False
) -> dict[str, Any]:
    status: dict[str, Any] = {"conditions": list(conditions)}
    if observed is not None:
        status["observedGeneration"] = observed
    return {
        "apiVersion": "fullon.io/v1alpha1",
        "kind": "OhlcvCollector",
        "metadata": {"name": "binance", "generation": generation},
        "spec": {"exchange": "binance", "replicas": 2, "paused": paused},
        "status": status,
    }


HEALTH_CASES = [
    pytest.param(
        {
            "apiVersion": "fullon.io/v1alpha1",
            "kind": "OhlcvCollector",
            "metadata": {"name": "binance", "generation": 1},
            "spec": {"exchange": "binance"},
        },
        "Progressing",
        "Waiting for the operator to report status",
        id="no-status-yet",
    ),
    pytest.param(
        sample(
            condition("Ready", "True", "CollectorsHealthy", "40/40 symbols healthy"),
            condition("Reconciling", "False", "Reconciled"),
            condition("Stalled", "False"),
        ),
        "Healthy",
        "40/40 symbols healthy",
        id="ready",
    ),
    pytest.param(
        sample(
            condition("Ready", "False", "RollingOut"),
            condition("Reconciling", "True", "RollingOut", "1 of 2 collectors updated"),
        ),
        "Progressing",
        "1 of 2 collectors updated",
        id="reconciling",
    ),
    pytest.param(
        sample(
            condition("Ready", "False", "DeploymentFailed"),
            condition("Reconciling", "True", "RollingOut"),
            condition("Stalled", "True", "DeploymentFailed", "ProgressDeadlineExceeded"),
        ),
        "Degraded",
        "ProgressDeadlineExceeded",
        id="stalled-wins",
    ),
    pytest.param(
        sample(
            condition("Ready", "False", "SymbolsStale", "11/12 symbols healthy"),
            condition("Reconciling", "False", "Reconciled"),
        ),
        "Degraded",
        "11/12 symbols healthy",
        id="not-ready",
    ),
    pytest.param(
        sample(condition("Ready", "False", "NoTargets")),
        "Degraded",
        "NoTargets",
        id="reason-when-no-message",
    ),
    pytest.param(
        sample(condition("Ready", "True", "CollectorsHealthy"), generation=3, observed=2),
        "Progressing",
        "Waiting for the operator to observe generation 3",
        id="stale-generation",
    ),
    pytest.param(
        sample(condition("Ready", "True", "CollectorsHealthy"), generation=2, observed=None),
        "Progressing",
        "Waiting for the operator to observe generation 2",
        id="no-observed-generation",
    ),
    pytest.param(
        sample(condition("Ready", "False", "Paused"), paused=True),
        "Suspended",
        "Paused: the collectors are scaled to zero",
        id="paused",
    ),
    pytest.param(
        sample(condition("Ready", "Unknown", "Starting")),
        "Progressing",
        "Starting",
        id="unknown",
    ),
]


def run_health_check(obj: dict[str, Any]) -> dict[str, str]:
    """Run the Lua as Argo CD does: `obj` is a global table, the chunk returns the health."""
    lua = lupa.lua51.LuaRuntime()
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(HEALTH_LUA.read_text())
    return {str(key): str(value) for key, value in result.items()}


@pytest.mark.parametrize(("obj", "status", "message"), HEALTH_CASES)
def test_argocd_health_check(obj: dict[str, Any], status: str, message: str) -> None:
    assert run_health_check(obj) == {"status": status, "message": message}


# --- Flux ------------------------------------------------------------------------------------


def test_flux_helmrelease(kube: ControlPlane, namespace: str, crd: None) -> None:
    source, release = documents("flux/helmrelease.yaml")
    assert release["apiVersion"] == "helm.toolkit.fluxcd.io/v2"
    spec = release["spec"]
    assert spec["install"]["crds"] == "CreateReplace"
    assert spec["upgrade"]["crds"] == "CreateReplace"
    ref = spec["chartRef"]
    assert (ref["kind"], ref["name"], ref["namespace"]) == (
        source["kind"], source["metadata"]["name"], source["metadata"]["namespace"],
    )  # fmt: skip
    assert source["spec"]["url"].endswith("/fullon-ohlcv")

    rendered = render_chart(kube, spec["values"], namespace)
    docs = [doc for doc in yaml.safe_load_all(rendered) if doc]
    kinds = {d["kind"] for d in docs}
    assert {"NetworkPolicy", "ServiceMonitor", "PodMonitor", "PrometheusRule"} <= kinds
    # Discovery creates the OhlcvCollectors: Flux owns none of them, so nothing but the
    # autoscalers writes spec.replicas of the autoscaled exchanges.
    assert spec["values"]["discovery"]["mode"] == "create"
    assert "OhlcvCollector" not in kinds
    hpas = {
        d["spec"]["scaleTargetRef"]["name"]: d
        for d in docs
        if d["kind"] == "HorizontalPodAutoscaler"
    }
    assert set(hpas) == set(spec["values"]["autoscaling"]["exchanges"]) == {"binance", "kraken"}
    assert hpas["kraken"]["spec"]["maxReplicas"] == 3
    assert "ohlcv_operator_targets" in json.dumps(hpas["binance"]["spec"]["metrics"])
    core = [d for d in docs if not d["apiVersion"].startswith("monitoring.coreos.com/")]
    stream = "---\n".join(yaml.safe_dump(d) for d in core)
    kube.kubectl("apply", "--dry-run=server", "-f", "-", stdin=stream)
