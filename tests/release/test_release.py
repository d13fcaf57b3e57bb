"""Releases: `make chart`, the release workflow, and an install from the packaged chart.

The version lives in pyproject.toml only: `make chart` stamps it into the packaged chart
(version, appVersion, the CRD's label), the workflow refuses a tag that names another one,
and actionlint (built from its Go module by `make tools`) checks every workflow. The package
is pushed to a real OCI registry on loopback and installed from there, as the README says.
"""

import json
import os
import subprocess
import tarfile
import tomllib
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.harness.controlplane import ControlPlane
from tests.harness.tools import REPO_ROOT, VENV_BIN, ServerProcess, free_port, tool

WORKFLOWS = REPO_ROOT / ".github/workflows"
RELEASE = WORKFLOWS / "release.yaml"
CHART = REPO_ROOT / "charts/fullon-ohlcv"
VERSION = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]


def package(out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`make chart`'s script, with the suite's helm, into `out`."""
    return subprocess.run(
        ["bash", str(REPO_ROOT / "charts/package.sh"), str(out)],
        env={**os.environ, "HELM": str(tool("helm")), **env},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def packaged(archive: Path, member: str) -> Any:
    with tarfile.open(archive) as tar:
        extracted = tar.extractfile(f"fullon-ohlcv/{member}")
        assert extracted is not None
        return yaml.safe_load(extracted.read())


def test_every_workflow_passes_actionlint(tmp_path: Path) -> None:
    workflows = sorted(WORKFLOWS.glob("*.y*ml"))
    assert RELEASE in workflows
    result = subprocess.run(
        [str(tool("actionlint")), *map(str, workflows)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The same check fails on a real mistake (an output no step defines).
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        RELEASE.read_text().replace("needs.version.outputs.version", "needs.version.outputs.vers")
    )
    result = subprocess.run([str(tool("actionlint")), str(broken)], capture_output=True, text=True)
    assert result.returncode == 1
    assert 'property "vers" is not defined' in result.stdout


def test_the_chart_package_carries_the_one_version(tmp_path: Path) -> None:
    result = package(tmp_path)
    assert result.returncode == 0, result.stderr
    archive = tmp_path / f"fullon-ohlcv-{VERSION}.tgz"
    assert f"chart: {archive}" in result.stdout
    chart = packaged(archive, "Chart.yaml")
    assert (chart["version"], chart["appVersion"]) == (VERSION, VERSION)
    crd = packaged(archive, "files/crd-ohlcvcollectors.yaml")
    assert crd["metadata"]["labels"]["app.kubernetes.io/version"] == VERSION
    # The tree agrees, so an install from git is the same release as the package.
    tree = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert (tree["version"], tree["appVersion"]) == (VERSION, VERSION)
    tree_crd = yaml.safe_load((CHART / "files/crd-ohlcvcollectors.yaml").read_text())
    assert tree_crd["metadata"]["labels"]["app.kubernetes.io/version"] == VERSION


def test_a_tag_naming_another_version_is_refused(tmp_path: Path) -> None:
    result = package(tmp_path, EXPECT_VERSION="9.9.9")
    assert result.returncode == 1
    assert f"the tag asks for version 9.9.9 but pyproject.toml says {VERSION}" in result.stderr
    assert list(tmp_path.iterdir()) == []


def version_step() -> str:
    workflow = yaml.safe_load(RELEASE.read_text())
    [step] = [s for s in workflow["jobs"]["version"]["steps"] if s.get("id") == "version"]
    return str(step["run"])


@pytest.mark.parametrize(
    ("tag", "code"), [(f"v{VERSION}", 0), ("v9.9.9", 1)], ids=["matching", "other"]
)
def test_the_workflow_checks_the_tag_against_pyproject(tmp_path: Path, tag: str, code: int) -> None:
    output = tmp_path / "output"
    output.touch()
    result = subprocess.run(
        ["bash", "-e", "-c", version_step()],
        cwd=REPO_ROOT, capture_output=True, text=True,
        env={**os.environ, "TAG": tag, "OWNER": "Fullon-OHLCV", "GITHUB_OUTPUT": str(output)},
    )  # fmt: skip
    assert result.returncode == code, result.stdout + result.stderr
    if code == 0:
        assert output.read_text().splitlines() == [f"version={VERSION}", "owner=fullon-ohlcv"]
    else:
        assert f"tag v9.9.9 does not match pyproject.toml version {VERSION}" in result.stdout


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    """An OCI registry on loopback (go-containerregistry's); its host:port."""
    port = free_port()
    server = ServerProcess(
        name="registry",
        argv=[str(tool("registry")), "-port", str(port)],
        log=tmp_path / "registry.log",
    )

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    server.wait_until(ready=answers, timeout=30, what="answering /v2/")
    yield f"127.0.0.1:{port}"
    server.stop()


@pytest.mark.kubernetes
def test_push_and_install_from_the_oci_registry(
    kube: ControlPlane, namespace: str, tmp_path: Path, registry: str
) -> None:
    """What the release workflow pushes and the README installs: `helm push` of the
    package to an OCI registry, then `helm pull --untar` for the CRD and `helm install
    oci://...` (plain HTTP here, on loopback)."""
    assert package(tmp_path / "dist").returncode == 0
    archive = tmp_path / "dist" / f"fullon-ohlcv-{VERSION}.tgz"
    pushed = kube.helm("push", str(archive), f"oci://{registry}/charts", "--plain-http")
    assert f"Pushed: {registry}/charts/fullon-ohlcv:{VERSION}" in pushed.stdout + pushed.stderr
    chart = f"oci://{registry}/charts/fullon-ohlcv"
    kube.helm(
        "pull", chart, "--version", VERSION, "--plain-http", "--untar",
        "--untardir", str(tmp_path / "pulled"),
    )  # fmt: skip
    crd = tmp_path / "pulled/fullon-ohlcv/files/crd-ohlcvcollectors.yaml"
    kube.kubectl("apply", "--server-side", "-f", str(crd))
    kube.kubectl(
        "wait", "--for=condition=Established", "crd/ohlcvcollectors.fullon.io", "--timeout=60s"
    )
    kube.helm(
        "install", "ohlcv", chart, "--version", VERSION, "--plain-http", "-n", namespace,
        "--set", "crds.install=false",
    )  # fmt: skip
    deployment = json.loads(
        kube.kubectl("get", "deployment", "ohlcv-operator", "-n", namespace, "-o", "json").stdout
    )
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"ghcr.io/fullon-ohlcv/fullon-ohlcv:{VERSION}"
    releases = json.loads(kube.helm("list", "-n", namespace, "-o", "json").stdout)
    assert [(r["chart"], r["app_version"]) for r in releases] == [
        (f"fullon-ohlcv-{VERSION}", VERSION)
    ]
    labels = json.loads(
        kube.kubectl("get", "crd", "ohlcvcollectors.fullon.io", "-o", "json").stdout
    )
    assert labels["metadata"]["labels"]["app.kubernetes.io/version"] == VERSION
    kube.helm("uninstall", "ohlcv", "-n", namespace)


def test_actionlint_comes_from_the_pinned_go_module() -> None:
    go_mod = (REPO_ROOT / "tests/toolchain/actionlint/go.mod").read_text()
    pinned = next(
        line.split()[1] for line in go_mod.splitlines() if "github.com/rhysd/actionlint " in line
    )
    version = subprocess.run(
        [str(VENV_BIN / "actionlint"), "-version"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[0]
    assert version == pinned
