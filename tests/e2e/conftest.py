"""The operator set-up the e2e tests share: the CRD, and the operator run as the admin.

One place for it, so each test file says only how its operator differs (its settings),
not how an operator is started.
"""

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from tests.e2e.operator_harness import CRD, OperatorProcess, StartOperator, running_operator
from tests.harness.controlplane import ControlPlane


@pytest.fixture
def crd(kube: ControlPlane) -> None:
    """The OhlcvCollector CRD, Established: resources applied before that are refused."""
    kube.kubectl("apply", "--server-side", "-f", str(CRD))
    kube.kubectl(
        "wait", "--for=condition=Established", "crd/ohlcvcollectors.fullon.io", "--timeout=60s"
    )


@pytest.fixture
def start_operator(
    kube: ControlPlane, crd: None, namespace: str, postgres_dsn: str, redis_url: str, tmp_path: Path
) -> StartOperator:
    """`start_operator(**settings)`: running_operator with the admin kubeconfig (or the
    `kubeconfig` given, such as a ServiceAccount's), this test's namespace, database and
    Redis, its log in tmp_path/operator.log, and `settings` (the OHLCV_* variables in
    keyword form, such as discovery_mode="off")."""

    def start(
        *, kubeconfig: Path | None = None, **settings: str
    ) -> AbstractContextManager[OperatorProcess]:
        return running_operator(
            kubeconfig=kubeconfig or kube.admin_kubeconfig,
            namespace=namespace,
            dsn=postgres_dsn,
            redis_url=redis_url,
            log=tmp_path / "operator.log",
            **settings,
        )

    return start


@pytest.fixture
def operator(start_operator: StartOperator) -> Iterator[OperatorProcess]:
    """The operator with its default settings, running for the whole test."""
    with start_operator() as process:
        yield process
