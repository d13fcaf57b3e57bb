"""The image `make image` built from the Dockerfile, run as Pods on the real node.

Each check runs in a Pod with the restricted security context the chart gives the operator
(non-root 10001, read-only root filesystem, no capabilities): the two entry points answer,
the virtual environment holds exactly the pinned dependencies and no installer, and ccxt's
bytecode is precompiled hash-based and unchecked, so Python loads it on a read-only root
instead of compiling ccxt at every start.
"""

import json
from pathlib import Path

import pytest

from tests.harness.cluster import Cluster
from tests.harness.tools import REPO_ROOT
from tests.harness.waiting import wait_until

VERSION = "0.1.0"
IMAGE_CONTEXT = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def run_in_image(cluster: Cluster, namespace: str, *argv: str) -> tuple[str, int]:
    """Run `argv` in a Pod of the project's image; its output and exit code."""
    name = f"run-{abs(hash(argv)) % 10**8}"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "containers": [
                {
                    "name": "main",
                    "image": cluster.image,
                    "imagePullPolicy": "Never",
                    "command": list(argv),
                    "securityContext": IMAGE_CONTEXT,
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                }
            ],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
    }
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(pod))
    finished: dict[str, object] = {}

    def done() -> bool:
        found = cluster.get("pod", name, namespace=namespace) or {}
        statuses = found.get("status", {}).get("containerStatuses") or [{}]
        finished.update(statuses[0].get("state", {}).get("terminated") or {})
        return bool(finished)

    wait_until(done, timeout=90, describe=f"pod {name} finished")
    logs = cluster.kubectl("logs", name, "-n", namespace).stdout
    cluster.kubectl("delete", "pod", name, "-n", namespace, "--wait=false")
    return logs, int(str(finished["exitCode"]))


@pytest.mark.parametrize("command", ["ohlcv-operator", "ohlcv-collector"])
def test_both_entry_points_run_as_the_non_root_user(
    cluster: Cluster, cluster_namespace: str, command: str
) -> None:
    version, code = run_in_image(cluster, cluster_namespace, command, "--version")
    assert (version.strip(), code) == (f"{command} {VERSION}", 0)
    helped, code = run_in_image(cluster, cluster_namespace, command, "--help")
    assert code == 0, helped
    assert helped.startswith(f"usage: {command}")
    user, code = run_in_image(cluster, cluster_namespace, "id", "-u")
    assert (user.strip(), code) == ("10001", 0)


def test_environment_holds_exactly_the_pinned_dependencies(
    cluster: Cluster, cluster_namespace: str
) -> None:
    script = (
        "import importlib.metadata as m, json, shutil; "
        "print(json.dumps({'installed': {d.metadata['Name'].lower().replace('_', '-'): d.version "
        "for d in m.distributions()}, 'pip': shutil.which('pip')}))"
    )
    out, code = run_in_image(cluster, cluster_namespace, "python", "-c", script)
    assert code == 0, out
    found = json.loads(out)
    installed = found["installed"]
    pins = {}
    for line in (REPO_ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split(";")[0].split("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    assert installed.pop("fullon-ohlcv-operator") == VERSION
    # The base's own Python packages (Debian's pip, setuptools, wheel) live outside the
    # virtual environment, which is the only site the entry points import from.
    unpinned = {name: v for name, v in installed.items() if pins.get(name) != v}
    assert unpinned == {}
    assert {"ccxt", "kopf", "asyncpg", "redis"} <= set(installed)
    assert not {"pip", "setuptools", "wheel", "pytest", "mypy", "ruff"} & set(installed)
    assert found["pip"] is None or not found["pip"].startswith("/opt/ohlcv")


def test_ccxt_bytecode_is_precompiled_and_used_on_a_read_only_root(
    cluster: Cluster, cluster_namespace: str
) -> None:
    script = """
import importlib.util, json, pathlib, sys
import ccxt
package = pathlib.Path(ccxt.__file__).parent
tag = sys.implementation.cache_tag
missing, checked, total = [], [], 0
for source in package.rglob("*.py"):
    total += 1
    compiled = source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"
    if not compiled.is_file():
        missing.append(str(source))
    elif int.from_bytes(compiled.read_bytes()[4:8], "little") != 0b01:
        checked.append(str(compiled))
print(json.dumps({"total": total, "missing": missing[:5], "checked": checked[:5],
                  "init": str(package / "__pycache__" / f"__init__.{tag}.pyc")}))
"""
    out, code = run_in_image(cluster, cluster_namespace, "python", "-c", script)
    assert code == 0, out
    found = json.loads(out)
    assert found["total"] > 100
    assert (found["missing"], found["checked"]) == ([], [])  # PEP 552: unchecked hash
    verbose, code = run_in_image(cluster, cluster_namespace, "python", "-v", "-c", "import ccxt")
    assert code == 0, verbose[-2000:]
    assert f"# code object from '{found['init']}'" in verbose
    assert Path(found["init"]).parts[:3] == ("/", "opt", "ohlcv")
