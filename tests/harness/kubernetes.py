"""Pytest fixtures for the test control plane: one per session, a namespace per test."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.controlplane import ControlPlane


@pytest.fixture(scope="session")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """The session's control plane, started once /readyz answers and controllers run."""
    plane = ControlPlane(directory=tmp_path_factory.mktemp("kube"))
    plane.start()
    yield plane
    plane.stop()


@pytest.fixture(scope="session")
def kubeconfig(kube: ControlPlane) -> Path:
    """An admin kubeconfig for the session's control plane."""
    return kube.admin_kubeconfig


@pytest.fixture
def namespace(kube: ControlPlane) -> Iterator[str]:
    """A namespace of one's own for a test, deleted afterwards without waiting."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    kube.kubectl("create", "namespace", name)
    yield name
    kube.kubectl("delete", "namespace", name, "--wait=false")
