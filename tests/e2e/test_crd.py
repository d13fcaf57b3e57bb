"""The OhlcvCollector CRD on a real API server: the contract, as a user meets it.

Covers: the CRD file itself (names, subresources, printer columns, a description on every
field, kept on helm uninstall); `kubectl explain`; defaults; validation messages from the
OpenAPI schema and the CEL rules (immutable exchange, at least one thing to collect); the
scale subresource; every status field surviving a status patch; the printer columns of
`kubectl get ohlcv` and `-o wide`; the `fullon` category.
"""

import json
from typing import Any

import pytest
import yaml

from tests.harness.controlplane import ControlPlane
from tests.harness.tools import REPO_ROOT
from tests.harness.waiting import wait_until

pytestmark = pytest.mark.kubernetes

CRD_FILE = REPO_ROOT / "charts/fullon-ohlcv/files/crd-ohlcvcollectors.yaml"
CRD_NAME = "ohlcvcollectors.fullon.io"

SAMPLE_STATUS: dict[str, Any] = {
    "observedGeneration": 1,
    "replicas": 2,
    "readyReplicas": 2,
    "selector": "app.kubernetes.io/name=fullon-ohlcv-collector,app.kubernetes.io/instance=binance",
    "targets": {"count": 40, "hash": "9f2c1e", "symbols": ["BTC/USDT", "ETH/USDT"]},
    "health": {
        "collectorsAlive": 2,
        "symbolsTotal": 40,
        "symbolsHealthy": 39,
        "symbolsStale": 1,
        "symbolsError": 0,
        "newestCandle": "2026-11-21T21:40:00Z",
        "worstLagSeconds": 75,
        "unhealthy": [{"symbol": "DOGE/USDT", "status": "stale", "message": "no trade for 75s"}],
    },
    "summary": {"replicas": "2/2", "healthy": "39/40", "lag": "75s"},
    "conditions": [
        {
            "type": "Ready",
            "status": "False",
            "reason": "SymbolsStale",
            "message": "1 of 40 symbols is stale",
            "lastTransitionTime": "2026-11-21T21:39:00Z",
            "observedGeneration": 1,
        },
        {
            "type": "Reconciling",
            "status": "False",
            "reason": "Reconciled",
            "message": "collector Deployment is up to date",
            "lastTransitionTime": "2026-11-21T21:30:00Z",
            "observedGeneration": 1,
        },
    ],
}


def get_json(kube: ControlPlane, *args: str) -> Any:
    return json.loads(kube.kubectl("get", *args, "-o", "json").stdout)


def install_crd(kube: ControlPlane) -> None:
    """Apply the CRD file the way the docs tell people without the chart to."""
    kube.kubectl("apply", "-f", str(CRD_FILE))
    kube.kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=60s")

    def published() -> bool:  # kubectl explain reads the OpenAPI document, updated a bit later
        return kube.kubectl("explain", "ohlcvcollectors.spec", check=False).returncode == 0

    wait_until(published, timeout=60, describe="the OhlcvCollector schema in the OpenAPI document")


def collector(namespace: str, name: str = "binance", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "fullon.io/v1alpha1",
        "kind": "OhlcvCollector",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"exchange": name, **spec},
    }


def create(kube: ControlPlane, body: dict[str, Any], *, check: bool = True) -> Any:
    return kube.kubectl("create", "-f", "-", stdin=json.dumps(body), check=check)


@pytest.fixture(scope="module")
def crd(kube: ControlPlane) -> dict[str, Any]:
    install_crd(kube)
    return dict(yaml.safe_load(CRD_FILE.read_text()))


def test_crd_file_declares_the_contract() -> None:
    crd = yaml.safe_load(CRD_FILE.read_text())
    assert crd["metadata"]["name"] == CRD_NAME
    # Kept by helm uninstall, and neither pruned nor deleted by Argo CD.
    assert crd["metadata"]["annotations"] == {
        "helm.sh/resource-policy": "keep",
        "argocd.argoproj.io/sync-options": "Prune=false,Delete=false",
    }
    spec = crd["spec"]
    assert spec["group"] == "fullon.io"
    assert spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": "OhlcvCollector",
        "listKind": "OhlcvCollectorList",
        "plural": "ohlcvcollectors",
        "singular": "ohlcvcollector",
        "shortNames": ["ohlcv"],
        "categories": ["fullon"],
    }
    [version] = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {
        "status": {},
        "scale": {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.selector",
        },
    }
    columns = [(c["name"], c.get("priority", 0)) for c in version["additionalPrinterColumns"]]
    assert columns == [
        ("Exchange", 0),
        ("Symbols", 0),
        ("Replicas", 0),
        ("Healthy", 0),
        ("Lag", 0),
        ("Ready", 0),
        ("Reason", 0),
        ("Age", 0),
        ("Paused", 1),
        ("Collectors", 1),
        ("Newest-Candle", 1),
    ]


def undocumented_fields(schema: dict[str, Any], path: str) -> list[str]:
    """Every field of a structural schema that lacks a description (kubectl explain shows it).

    metadata is the exception: the API server documents ObjectMeta and allows nothing there.
    """
    missing = [] if schema.get("description") else [path]
    for name, child in schema.get("properties", {}).items():
        if path == "ohlcvcollector" and name == "metadata":
            continue
        missing += undocumented_fields(child, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        missing += undocumented_fields(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        missing += undocumented_fields(schema["additionalProperties"], f"{path}{{}}")
    return missing


def test_every_field_has_a_description() -> None:
    crd = yaml.safe_load(CRD_FILE.read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert undocumented_fields(schema, "ohlcvcollector") == []
    status = schema["properties"]["status"]["properties"]
    assert set(status) == {
        "observedGeneration",
        "replicas",
        "readyReplicas",
        "desiredReplicas",
        "selector",
        "targets",
        "health",
        "summary",
        "conditions",
    }


def test_kubectl_explain_documents_the_fields(kube: ControlPlane, crd: dict[str, Any]) -> None:
    collect = kube.kubectl("explain", "ohlcvcollectors.spec.collect").stdout
    assert "GROUP:      fullon.io" in collect
    assert "What to collect for every symbol of the exchange." in collect
    assert "Collect closed 1-minute candles" in collect
    assert "Collect individual trades" in collect
    assert "backfillDays\t<integer>" in collect

    conditions = kube.kubectl("explain", "ohlcv.status.conditions.status").stdout
    assert "True, False or Unknown." in conditions
    assert "ENUM:" in conditions

    exchange = kube.kubectl("explain", "ohlcvcollectors.spec.exchange").stdout
    assert "Immutable: create a new OhlcvCollector" in exchange


def test_a_minimal_collector_gets_the_defaults(
    kube: ControlPlane, crd: dict[str, Any], namespace: str
) -> None:
    create(kube, collector(namespace))
    spec = get_json(kube, "ohlcvcollector", "binance", "-n", namespace)["spec"]
    assert spec == {
        "exchange": "binance",
        "replicas": 1,
        "paused": False,
        "collect": {"candles": True, "trades": True},
    }


def test_every_spec_field_is_stored_as_given(
    kube: ControlPlane, crd: dict[str, Any], namespace: str
) -> None:
    body = collector(
        namespace,
        name="kraken",
        replicas=3,
        paused=True,
        symbols=["BTC/USD", "ETH/USD"],
        collect={"candles": False, "trades": True, "backfillDays": 30},
        image="registry.example.com/fullon/collector:0.2.0",
        imagePullPolicy="Always",
        resources={"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": 2}},
        env=[
            {"name": "OHLCV_BATCH_MAX_ROWS", "value": "1000"},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        ],
        nodeSelector={"kubernetes.io/arch": "arm64"},
        tolerations=[
            {"key": "dedicated", "operator": "Equal", "value": "fullon", "effect": "NoSchedule"},
            {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60},
        ],
    )
    create(kube, body)
    stored = get_json(kube, "ohlcvcollector", "kraken", "-n", namespace)["spec"]
    assert stored == body["spec"]


INVALID = [
    pytest.param(
        {"replicas": -1},
        "spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or "
        "equal to 0",
        id="negative-replicas",
    ),
    pytest.param(
        {"replicas": 101},
        "spec.replicas in body should be less than or equal to 100",
        id="too-many-replicas",
    ),
    pytest.param(
        {"collect": {"candles": False, "trades": False}},
        "spec.collect: Invalid value: collect needs at least one of candles or trades set to true",
        id="nothing-to-collect",
    ),
    pytest.param(
        {"exchange": "Binance!"},
        'spec.exchange: Invalid value: "Binance!": spec.exchange in body should match '
        "'^[a-z0-9][a-z0-9_-]{0,62}$'",
        id="bad-exchange",
    ),
    pytest.param(
        {"collect": {"backfillDays": 0}},
        "spec.collect.backfillDays in body should be greater than or equal to 1",
        id="no-backfill-days",
    ),
    pytest.param(
        {"imagePullPolicy": "Sometimes"},
        'spec.imagePullPolicy: Unsupported value: "Sometimes": supported values: "Always", '
        '"IfNotPresent", "Never"',
        id="bad-pull-policy",
    ),
    pytest.param(
        {"symbols": ["BTC/USDT", "BTC/USDT"]},
        'spec.symbols[1]: Duplicate value: "BTC/USDT"',
        id="duplicate-symbol",
    ),
    pytest.param(
        {"symbols": ["X" * 65]},
        "spec.symbols[0]: Too long: may not be more than 64 bytes",
        id="symbol-too-long",
    ),
    pytest.param(
        {"replica": 2},
        'unknown field "spec.replica"',
        id="unknown-field",
    ),
]


@pytest.mark.parametrize(("spec", "message"), INVALID)
def test_invalid_collectors_are_rejected_with_a_clear_message(
    kube: ControlPlane, crd: dict[str, Any], namespace: str, spec: dict[str, Any], message: str
) -> None:
    body = collector(namespace, name="bad")
    body["spec"].update(spec)
    result = create(kube, body, check=False)
    assert result.returncode != 0
    assert message in result.stderr
    absent = kube.kubectl("get", "ohlcvcollector", "bad", "-n", namespace, check=False)
    assert "NotFound" in absent.stderr


def test_exchange_is_immutable(kube: ControlPlane, crd: dict[str, Any], namespace: str) -> None:
    create(kube, collector(namespace))
    result = kube.kubectl(
        "patch", "ohlcvcollector", "binance", "-n", namespace, "--type=merge",
        "-p", '{"spec": {"exchange": "kraken"}}', check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "exchange is immutable; create a new OhlcvCollector instead" in result.stderr
    # Everything else stays editable.
    kube.kubectl(
        "patch", "ohlcvcollector", "binance", "-n", namespace, "--type=merge",
        "-p", '{"spec": {"paused": true}}',
    )  # fmt: skip
    spec = get_json(kube, "ohlcvcollector", "binance", "-n", namespace)["spec"]
    assert (spec["exchange"], spec["paused"]) == ("binance", True)


def test_scale_subresource(kube: ControlPlane, crd: dict[str, Any], namespace: str) -> None:
    create(kube, collector(namespace))
    kube.kubectl("scale", "ohlcvcollector/binance", "-n", namespace, "--replicas=3")
    assert get_json(kube, "ohlcv", "binance", "-n", namespace)["spec"]["replicas"] == 3

    status = {"status": {"replicas": 3, "selector": SAMPLE_STATUS["selector"]}}
    kube.kubectl(
        "patch", "ohlcvcollector", "binance", "-n", namespace, "--subresource=status",
        "--type=merge", "-p", json.dumps(status),
    )  # fmt: skip
    scale = json.loads(
        kube.kubectl(
            "get", "--raw",
            f"/apis/fullon.io/v1alpha1/namespaces/{namespace}/ohlcvcollectors/binance/scale",
        ).stdout
    )  # fmt: skip
    assert scale["kind"] == "Scale"
    assert scale["spec"] == {"replicas": 3}
    assert scale["status"] == {"replicas": 3, "selector": SAMPLE_STATUS["selector"]}

    refused = kube.kubectl(
        "scale", "ohlcvcollector/binance", "-n", namespace, "--replicas=101", check=False
    )
    assert refused.returncode != 0
    assert "less than or equal to 100" in refused.stderr


def test_every_status_field_survives_a_status_patch(
    kube: ControlPlane, crd: dict[str, Any], namespace: str
) -> None:
    create(kube, collector(namespace))
    kube.kubectl(
        "patch", "ohlcvcollector", "binance", "-n", namespace, "--subresource=status",
        "--type=merge", "-p", json.dumps({"status": SAMPLE_STATUS}),
    )  # fmt: skip
    stored = get_json(kube, "ohlcvcollector", "binance", "-n", namespace)
    assert stored["status"] == SAMPLE_STATUS  # nothing pruned: every field is declared
    # The main resource ignores status, the status subresource ignores spec.
    assert stored["spec"]["replicas"] == 1

    bad = kube.kubectl(
        "patch", "ohlcvcollector", "binance", "-n", namespace, "--subresource=status",
        "--type=merge", "-p", '{"status": {"conditions": [{"type": "Ready", "status": "Yes"}]}}',
        check=False,
    )  # fmt: skip
    assert bad.returncode != 0
    assert 'Unsupported value: "Yes"' in bad.stderr


def test_printer_columns(kube: ControlPlane, crd: dict[str, Any], namespace: str) -> None:
    create(kube, collector(namespace))
    kube.kubectl(
        "patch", "ohlcvcollector", "binance", "-n", namespace, "--subresource=status",
        "--type=merge", "-p", json.dumps({"status": SAMPLE_STATUS}),
    )  # fmt: skip

    header, row = kube.kubectl("get", "ohlcv", "-n", namespace).stdout.splitlines()
    assert header.split() == [
        "NAME", "EXCHANGE", "SYMBOLS", "REPLICAS", "HEALTHY", "LAG", "READY", "REASON", "AGE",
    ]  # fmt: skip
    assert row.split()[:8] == [
        "binance", "binance", "40", "2/2", "39/40", "75s", "False", "SymbolsStale",
    ]  # fmt: skip

    header, row = kube.kubectl("get", "ohlcv", "-n", namespace, "-o", "wide").stdout.splitlines()
    assert header.split()[9:] == ["PAUSED", "COLLECTORS", "NEWEST-CANDLE"]
    assert row.split()[9:] == ["false", "2", "2026-11-21T21:40:00Z"]


def test_the_fullon_category_lists_collectors(
    kube: ControlPlane, crd: dict[str, Any], namespace: str
) -> None:
    create(kube, collector(namespace))
    names = kube.kubectl("get", "fullon", "-n", namespace, "-o", "name").stdout.split()
    assert names == ["ohlcvcollector.fullon.io/binance"]
