"""The test control plane is a real one: CRDs, controllers, garbage collection, RBAC, helm."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.harness.controlplane import ControlPlane
from tests.harness.tools import REPO_ROOT
from tests.harness.waiting import wait_until

pytestmark = pytest.mark.kubernetes

MANIFESTS = Path(__file__).parent / "manifests"


def get_json(kube: ControlPlane, *args: str) -> Any:
    return json.loads(kube.kubectl("get", *args, "-o", "json").stdout)


def pinned_go_version(module_dir: str, module: str) -> str:
    for line in (REPO_ROOT / "tests/toolchain" / module_dir / "go.mod").read_text().splitlines():
        fields = line.split()
        if fields[:1] == [module]:
            return fields[1]
        if fields[:2] == ["require", module]:
            return fields[2]
    raise AssertionError(f"{module} not required in {module_dir}/go.mod")


def test_server_and_client_are_the_pinned_release(kube: ControlPlane) -> None:
    pinned = pinned_go_version("kubernetes", "k8s.io/kubernetes")
    versions = json.loads(kube.kubectl("version", "-o", "json").stdout)
    assert versions["serverVersion"]["gitVersion"].startswith(pinned)
    assert versions["clientVersion"]["gitVersion"].startswith(pinned)


def test_crd_with_status_and_scale_subresources_and_printer_columns(
    kube: ControlPlane, namespace: str
) -> None:
    kube.kubectl("apply", "-f", str(MANIFESTS / "widgets-crd.yaml"))
    kube.kubectl(
        "wait", "--for=condition=Established", "crd/widgets.smoke.fullon.io", "--timeout=60s"
    )
    widget = {
        "apiVersion": "smoke.fullon.io/v1",
        "kind": "Widget",
        "metadata": {"name": "blue", "namespace": namespace},
        "spec": {"color": "blue"},
    }
    kube.kubectl("apply", "-f", "-", stdin=json.dumps(widget))
    assert get_json(kube, "widget", "blue", "-n", namespace)["spec"]["replicas"] == 1  # default

    kube.kubectl("scale", "widget/blue", "-n", namespace, "--replicas=3")
    assert get_json(kube, "wdg", "blue", "-n", namespace)["spec"]["replicas"] == 3

    status = {"status": {"replicas": 3, "selector": "app=blue", "phase": "Running"}}
    kube.kubectl(
        "patch", "widget", "blue", "-n", namespace, "--subresource=status", "--type=merge",
        "-p", json.dumps(status),
    )  # fmt: skip
    scale = json.loads(
        kube.kubectl(
            "get", "--raw", f"/apis/smoke.fullon.io/v1/namespaces/{namespace}/widgets/blue/scale"
        ).stdout
    )
    assert scale["kind"] == "Scale"
    assert scale["status"] == {"replicas": 3, "selector": "app=blue"}

    table = kube.kubectl("get", "widgets", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "COLOR", "REPLICAS", "PHASE", "AGE"]
    assert table[1].split()[:4] == ["blue", "blue", "3", "Running"]


def test_deployment_gets_replicaset_and_pods_and_is_garbage_collected_with_its_owner(
    kube: ControlPlane, namespace: str
) -> None:
    kube.kubectl("create", "configmap", "owner", "-n", namespace)
    owner_uid = get_json(kube, "configmap", "owner", "-n", namespace)["metadata"]["uid"]
    deployment = yaml.safe_load((MANIFESTS / "owned-deployment.yaml").read_text())
    deployment["metadata"]["namespace"] = namespace
    deployment["metadata"]["ownerReferences"][0]["uid"] = owner_uid
    kube.kubectl("apply", "-f", "-", stdin=json.dumps(deployment))

    def replicaset_with_two_pods() -> bool:
        sets = get_json(kube, "replicasets", "-n", namespace, "-l", "app=smoke")["items"]
        pods = get_json(kube, "pods", "-n", namespace, "-l", "app=smoke")["items"]
        return (
            len(sets) == 1
            and sets[0]["metadata"]["ownerReferences"][0]["name"] == "smoke"
            and len(pods) == 2
        )

    wait_until(
        replicaset_with_two_pods, timeout=60, describe="Deployment has a ReplicaSet with 2 Pods"
    )

    kube.kubectl("delete", "configmap", "owner", "-n", namespace)

    def all_collected() -> bool:
        left = get_json(kube, "deployments,replicasets,pods", "-n", namespace, "-l", "app=smoke")
        return not left["items"]

    wait_until(
        all_collected, timeout=90, describe="Deployment, ReplicaSet and Pods garbage-collected"
    )


def test_rbac_answers_differently_for_two_service_accounts(
    kube: ControlPlane, namespace: str
) -> None:
    for account in ("reader", "stranger"):
        kube.kubectl("create", "serviceaccount", account, "-n", namespace)
    kube.kubectl("create", "role", "configmap-reader", "-n", namespace,
                 "--verb=get,list,watch", "--resource=configmaps")  # fmt: skip
    kube.kubectl("create", "rolebinding", "reader", "-n", namespace,
                 "--role=configmap-reader", f"--serviceaccount={namespace}:reader")  # fmt: skip
    reader = kube.service_account_kubeconfig(namespace=namespace, name="reader")
    stranger = kube.service_account_kubeconfig(namespace=namespace, name="stranger")

    def can_i(kubeconfig: Path, *question: str) -> str:
        result = kube.kubectl("auth", "can-i", *question, "-n", namespace,
                              kubeconfig=kubeconfig, check=False)  # fmt: skip
        return result.stdout.strip()

    assert can_i(reader, "list", "configmaps") == "yes"
    assert can_i(reader, "delete", "configmaps") == "no"
    assert can_i(stranger, "list", "configmaps") == "no"

    whoami = json.loads(kube.kubectl("auth", "whoami", "-o", "json", kubeconfig=reader).stdout)
    assert whoami["status"]["userInfo"]["username"] == f"system:serviceaccount:{namespace}:reader"
    assert kube.kubectl("get", "configmaps", "-n", namespace, kubeconfig=reader).returncode == 0
    denied = kube.kubectl("get", "configmaps", "-n", namespace, kubeconfig=stranger, check=False)
    assert denied.returncode != 0
    assert "forbidden" in denied.stderr.lower()


def test_helm_installs_and_uninstalls_a_chart(
    kube: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    pinned = pinned_go_version("helm", "helm.sh/helm/v3")
    version = kube.helm("version", "--short").stdout
    assert re.match(rf"{re.escape(pinned)}\b", version), version

    chart = tmp_path / "smoke"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: smoke\nversion: 0.1.0\n")
    (chart / "templates" / "configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-settings\n"
        "data:\n  greeting: {{ .Values.greeting | quote }}\n"
    )
    kube.helm("install", "smoke", str(chart), "-n", namespace, "--set", "greeting=hello", "--wait")
    settings = get_json(kube, "configmap", "smoke-settings", "-n", namespace)
    assert settings["data"] == {"greeting": "hello"}

    kube.helm("uninstall", "smoke", "-n", namespace, "--wait")
    gone = kube.kubectl("get", "configmap", "smoke-settings", "-n", namespace, check=False)
    assert "NotFound" in gone.stderr
