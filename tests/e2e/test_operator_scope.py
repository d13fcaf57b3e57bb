"""Where the operator watches: its namespace, a list of namespaces, or the whole cluster.

Each mode is installed with the real chart on the real API server and asked with
`kubectl auth can-i` as the operator's own ServiceAccount; the operator itself then runs
under that account in mode `namespaces` and reconciles a resource in another namespace.
"""

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.operator_harness import (
    StartOperator,
    add_target,
    get,
    running_operator,
    wait_until,
)
from tests.harness.controlplane import ControlPlane
from tests.harness.tools import REPO_ROOT

pytestmark = [pytest.mark.kubernetes, pytest.mark.postgres, pytest.mark.redis]

CHART = REPO_ROOT / "charts/fullon-ohlcv"
ACCOUNT = "ohlcv-operator"


@pytest.fixture
def others(kube: ControlPlane) -> Iterator[tuple[str, str]]:
    """Two more namespaces: one the operator is told to watch, one it is not."""
    names = (f"t-{uuid.uuid4().hex[:10]}", f"t-{uuid.uuid4().hex[:10]}")
    for name in names:
        kube.kubectl("create", "namespace", name)
    yield names
    for name in names:
        kube.kubectl("delete", "namespace", name, "--wait=false")


def in_namespace(resource: dict[str, Any], namespace: str) -> dict[str, Any]:
    return {**resource, "metadata": {**resource["metadata"], "namespace": namespace}}


def helm(kube: ControlPlane, verb: str, namespace: str, *values: str) -> str:
    """`helm install/upgrade` of the chart (the CRD applied apart); its NOTES, one line."""
    settings = [arg for value in values for arg in ("--set", value)]
    args = [verb, "ohlcv", str(CHART), "-n", namespace, "--set", "crds.install=false"]
    return " ".join(kube.helm(*args, *settings).stdout.split())


def test_each_scope_grants_exactly_the_namespaces_it_watches(
    kube: ControlPlane,
    namespace: str,
    others: tuple[str, str],
    postgres_dsn: str,
    redis_url: str,
    tmp_path: Path,
    start_operator: StartOperator,
) -> None:
    watched, unwatched = others
    notes = helm(
        kube,
        "install",
        namespace,
        "operator.scope.mode=namespaces",
        f"operator.scope.namespaces={{{watched}}}",
    )
    token = kube.service_account_kubeconfig(namespace=namespace, name=ACCOUNT)

    def can_i(verb: str, resource: str, where: str) -> str:
        resource, _, subresource = resource.partition(" ")
        extra = [f"--subresource={subresource}"] if subresource else []
        answer = kube.kubectl(
            "auth", "can-i", verb, resource, *extra, "-n", where, kubeconfig=token, check=False
        )
        return answer.stdout.strip()

    def answers(where: str) -> dict[str, str]:
        questions = [
            ("list", "ohlcvcollectors.fullon.io"),
            ("patch", "ohlcvcollectors.fullon.io status"),
            ("create", "deployments.apps"),
            ("list", "pods"),
            ("create", "events.events.k8s.io"),
            ("update", f"leases.coordination.k8s.io/{ACCOUNT}"),
        ]
        return {f"{verb} {resource}": can_i(verb, resource, where) for verb, resource in questions}

    everything = dict.fromkeys(answers(namespace), "yes")
    no_lease = {**everything, f"update leases.coordination.k8s.io/{ACCOUNT}": "no"}
    nothing = dict.fromkeys(everything, "no")
    assert f"watches OhlcvCollectors in {namespace}, {watched} (a Role in each)" in notes
    assert "owned by whoever applied it without Helm" in notes
    assert (answers(namespace), answers(watched), answers(unwatched)) == (
        everything,
        no_lease,
        nothing,
    )
    listed = kube.kubectl("get", "ohlcv", "-A", kubeconfig=token, check=False)
    assert re.search(r"forbidden", listed.stderr, re.IGNORECASE), listed.stderr

    # The operator under that account reconciles a resource in the other namespace.
    add_target(postgres_dsn, exchange="kraken", symbol="BTC/USD")
    resource = {
        "apiVersion": "fullon.io/v1alpha1",
        "kind": "OhlcvCollector",
        "metadata": {"name": "kraken"},
        "spec": {"exchange": "kraken"},
    }
    kube.kubectl("apply", "-f", "-", stdin=json.dumps(in_namespace(resource, watched)))

    def reconciled(where: str) -> bool:
        status = (get(kube, "ohlcv", "kraken", where) or {}).get("status") or {}
        conditions = {c["type"]: c["status"] for c in status.get("conditions", [])}
        return conditions.get("TargetsFound") == "True"

    with start_operator(
        kubeconfig=token,
        discovery_mode="off",
        scope="namespaces",
        watch_namespaces=json.dumps([watched]),
    ) as operator:
        wait_until(
            lambda: reconciled(watched),
            what="the resource in the other namespace reconciled",
            operator=operator,
        )
        assert get(kube, "deployment", "kraken-collector", watched) is not None
        refused = re.compile(r"\b403\b|forbidden", re.IGNORECASE)
        assert [
            line for line in operator.log.read_text().splitlines() if refused.search(line)
        ] == []

    try:
        notes = helm(kube, "upgrade", namespace, "operator.scope.mode=cluster")
        assert f"watches OhlcvCollectors in every namespace (ClusterRole {ACCOUNT}-" in notes
        assert (answers(namespace), answers(watched), answers(unwatched)) == (
            everything,
            no_lease,
            no_lease,
        )
        assert kube.kubectl("get", "ohlcv", "-A", kubeconfig=token).returncode == 0
        kube.kubectl("apply", "-f", "-", stdin=json.dumps(in_namespace(resource, unwatched)))
        with running_operator(
            kubeconfig=token,
            namespace=namespace,
            dsn=postgres_dsn,
            redis_url=redis_url,
            log=tmp_path / "cluster.log",
            discovery_mode="off",
            scope="cluster",
        ) as operator:
            wait_until(
                lambda: reconciled(unwatched),
                what="a resource of any namespace reconciled",
                operator=operator,
            )
            assert get(kube, "deployment", "kraken-collector", unwatched) is not None
        notes = helm(kube, "upgrade", namespace, "operator.scope.mode=namespace")
        assert f"watches OhlcvCollectors in {namespace} only" in notes
        assert (answers(namespace), answers(watched), answers(unwatched)) == (
            everything,
            nothing,
            nothing,
        )
    finally:
        kube.helm("uninstall", "ohlcv", "-n", namespace)  # its ClusterRole outlives namespaces
