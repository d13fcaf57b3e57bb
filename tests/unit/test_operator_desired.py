"""The collector Deployment follows the resource and the operator's defaults, hardened."""

from typing import Any

import pytest

from ohlcv_operator.desired import collector_args, desired_deployment
from ohlcv_operator.settings import OperatorSettings
from ohlcv_operator.spec import CollectorSpec, SpecError, parse_spec, selector_string

KNOWN = frozenset({"binance", "kraken"})


def settings(**values: Any) -> OperatorSettings:
    return OperatorSettings.model_validate({"database_secret": "fullon-db", **values})


def deployment(spec: CollectorSpec, **values: Any) -> dict[str, Any]:
    return desired_deployment(
        name="binance", namespace="ohlcv", uid="uid-1", spec=spec, settings=settings(**values)
    )


def container(manifest: dict[str, Any]) -> dict[str, Any]:
    [only] = manifest["spec"]["template"]["spec"]["containers"]
    assert isinstance(only, dict)
    return only


def test_spec_defaults_match_the_crd() -> None:
    spec = parse_spec({"exchange": "binance"}, known_exchanges=KNOWN)
    assert spec == CollectorSpec(exchange="binance")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "spec.exchange is required"),
        ({"exchange": "nosuch"}, "unknown exchange 'nosuch'"),
        ({"exchange": "binance", "replicas": -1}, "spec.replicas must be"),
        ({"exchange": "binance", "collect": {"candles": False, "trades": False}}, "must collect"),
    ],
)
def test_bad_specs_are_explained(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_spec(spec, known_exchanges=KNOWN)


def test_deployment_runs_the_collector_for_the_exchange_owned_by_the_resource() -> None:
    manifest = deployment(CollectorSpec(exchange="binance", replicas=3))
    assert manifest["metadata"]["name"] == "binance-collector"
    [owner] = manifest["metadata"]["ownerReferences"]
    assert owner == {
        "apiVersion": "fullon.io/v1alpha1",
        "kind": "OhlcvCollector",
        "name": "binance",
        "uid": "uid-1",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert manifest["spec"]["replicas"] == 3
    assert container(manifest)["command"] == ["ohlcv-collector"]
    assert container(manifest)["args"] == ["run", "--exchange", "binance"]
    selector = manifest["spec"]["selector"]["matchLabels"]
    assert manifest["spec"]["template"]["metadata"]["labels"].items() >= selector.items()
    assert selector_string("binance") == ",".join(f"{k}={v}" for k, v in selector.items())


def test_paused_scales_to_zero() -> None:
    assert (
        deployment(CollectorSpec(exchange="binance", replicas=4, paused=True))["spec"]["replicas"]
        == 0
    )


def test_collect_options_become_collector_flags() -> None:
    spec = CollectorSpec(
        exchange="kraken", symbols=("BTC/USD", "ETH/USD"), trades=False, backfill_days=90
    )
    assert collector_args(spec) == [
        "run",
        "--exchange",
        "kraken",
        "--symbols",
        "BTC/USD,ETH/USD",
        "--no-trades",
        "--backfill-days",
        "90",
    ]


def test_credentials_come_from_secret_references_only() -> None:
    manifest = deployment(CollectorSpec(exchange="binance"), redis_secret="fullon-redis")
    assert container(manifest)["envFrom"] == [
        {"secretRef": {"name": "fullon-db"}},
        {"secretRef": {"name": "fullon-redis", "optional": True}},
    ]
    names = {variable["name"] for variable in container(manifest)["env"]}
    assert not names & {"DB_PASSWORD", "REDIS_PASSWORD", "DB_HOST"}
    instance = next(v for v in container(manifest)["env"] if v["name"] == "OHLCV_INSTANCE")
    assert instance["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_pod_is_hardened_for_restricted_pod_security() -> None:
    manifest = deployment(CollectorSpec(exchange="binance"))
    pod = manifest["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    security = container(manifest)["securityContext"]
    assert security == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert {"name": "tmp", "mountPath": "/tmp"} in container(manifest)["volumeMounts"]
    probes = {
        k: v["httpGet"]["path"] for k, v in container(manifest).items() if k.endswith("Probe")
    }
    assert probes == {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    assert container(manifest)["ports"] == [
        {"name": "http", "containerPort": 8080, "protocol": "TCP"}
    ]


def test_resource_overrides_beat_operator_defaults() -> None:
    defaults = {
        "collector_image": "registry/ohlcv:1",
        "collector_env": [{"name": "LOG", "value": "info"}, {"name": "KEEP", "value": "1"}],
        "collector_node_selector": {"pool": "general"},
        "collector_tolerations": [{"key": "a", "operator": "Exists"}],
    }
    plain = deployment(CollectorSpec(exchange="binance"), **defaults)
    assert container(plain)["image"] == "registry/ohlcv:1"
    assert plain["spec"]["template"]["spec"]["nodeSelector"] == {"pool": "general"}
    spec = CollectorSpec(
        exchange="binance",
        image="registry/ohlcv:2",
        env=({"name": "LOG", "value": "debug"},),
        resources={"requests": {"cpu": "1"}},
        node_selector={"pool": "data"},
        tolerations=(),
    )
    custom = deployment(spec, **defaults)
    env = {v["name"]: v.get("value") for v in container(custom)["env"]}
    assert (env["LOG"], env["KEEP"]) == ("debug", "1")
    assert container(custom)["image"] == "registry/ohlcv:2"
    assert container(custom)["resources"] == {"requests": {"cpu": "1"}}
    assert custom["spec"]["template"]["spec"]["nodeSelector"] == {"pool": "data"}
    assert custom["spec"]["template"]["spec"]["tolerations"] == []


def test_pod_fields_from_the_chart_and_the_resource() -> None:
    defaults = {
        "collector_pod": {
            "imagePullSecrets": [{"name": "regcred"}],
            "affinity": {"nodeAffinity": {"a": 1}},
            "priorityClassName": "market-data",
            "podAnnotations": {"owner": "data", "note": "chart"},
            "podLabels": {"team": "data"},
        }
    }
    plain = deployment(CollectorSpec(exchange="binance"), **defaults)["spec"]["template"]
    assert plain["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    assert plain["spec"]["priorityClassName"] == "market-data"
    assert "topologySpreadConstraints" not in plain["spec"]
    assert plain["metadata"]["annotations"] == {"owner": "data", "note": "chart"}
    assert plain["metadata"]["labels"]["team"] == "data"

    own = {
        "imagePullSecrets": [{"name": "mine"}],
        "podAnnotations": {"note": "resource"},
        "podLabels": {"app.kubernetes.io/instance": "other", "tier": "x"},
    }
    spec = parse_spec({"exchange": "binance", **own}, known_exchanges=KNOWN)
    custom = deployment(spec, **defaults)["spec"]["template"]
    assert custom["spec"]["imagePullSecrets"] == [{"name": "mine"}]
    assert custom["spec"]["affinity"] == {"nodeAffinity": {"a": 1}}
    assert custom["metadata"]["annotations"] == {"owner": "data", "note": "resource"}
    labels = custom["metadata"]["labels"]
    assert (labels["team"], labels["tier"]) == ("data", "x")
    assert labels["app.kubernetes.io/instance"] == "binance"  # the selector is not for sale


def test_uid_left_to_the_platform_and_tmp_limited() -> None:
    pod = deployment(CollectorSpec(exchange="binance"))["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]
    pod = deployment(
        CollectorSpec(exchange="binance"),
        collector_run_as_user=None,
        collector_tmp_size_limit="1Gi",
    )["spec"]["template"]["spec"]
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}]
