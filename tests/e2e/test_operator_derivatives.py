"""The operator with a derivatives exchange: Hyperliquid targets mixing a perpetual swap
(ccxt `BTC/USDC:USDC`) and a spot pair (`BTC/USDC`) become an OhlcvCollector resource whose
status and `kubectl get ohlcvcollectors` row count both symbols and their health.

Real control plane, PostgreSQL and Redis; collector Pods never run here (no kubelet), so the
health records are written the way collectors write them (operator_harness.write_health).
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.operator_harness import (
    CRD,
    OperatorProcess,
    add_target,
    get,
    running_operator,
    wait_until,
    write_health,
)
from tests.harness.controlplane import ControlPlane

pytestmark = [pytest.mark.kubernetes, pytest.mark.postgres, pytest.mark.redis]

EXCHANGE = "hyperliquid"
SYMBOLS = {"BTC/USDC:USDC": 3.0, "BTC/USDC": 5.0}  # symbol -> lag in seconds


@pytest.fixture
def operator(
    kube: ControlPlane, namespace: str, postgres_dsn: str, redis_url: str, tmp_path: Path
) -> Iterator[OperatorProcess]:
    kube.kubectl("apply", "--server-side", "-f", str(CRD))
    kube.kubectl(
        "wait", "--for=condition=Established", "crd/ohlcvcollectors.fullon.io", "--timeout=60s"
    )
    with running_operator(
        kubeconfig=kube.admin_kubeconfig,
        namespace=namespace,
        dsn=postgres_dsn,
        redis_url=redis_url,
        log=tmp_path / "operator.log",
    ) as process:
        yield process


def test_swap_and_spot_targets_become_one_resource_with_their_health(
    kube: ControlPlane, namespace: str, postgres_dsn: str, redis_url: str, operator: OperatorProcess
) -> None:
    for symbol in SYMBOLS:
        add_target(postgres_dsn, exchange=EXCHANGE, symbol=symbol)
    wait_until(
        lambda: get(kube, "deployment", f"{EXCHANGE}-collector", namespace) is not None,
        what="discovery created the resource and its Deployment",
        operator=operator,
    )
    deployment = get(kube, "deployment", f"{EXCHANGE}-collector", namespace)
    assert deployment is not None
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["run", "--exchange", EXCHANGE]
    write_health(
        redis_url,
        exchange=EXCHANGE,
        symbols={symbol: ("streaming", "streaming", lag) for symbol, lag in SYMBOLS.items()},
    )

    def health() -> dict[str, Any]:
        found = get(kube, "ohlcv", EXCHANGE, namespace) or {}
        return dict((found.get("status") or {}).get("health") or {})

    wait_until(
        lambda: health().get("symbolsHealthy") == 2, what="health in status", operator=operator
    )
    block = health()
    assert (block["symbolsTotal"], block["symbolsError"], block["symbolsStale"]) == (2, 0, 0)
    table = kube.kubectl("get", "ohlcvcollectors", "-n", namespace).stdout.splitlines()
    row = dict(zip(table[0].split(), table[1].split(), strict=False))
    assert (row["NAME"], row["EXCHANGE"], row["SYMBOLS"], row["HEALTHY"], row["LAG"]) == (
        EXCHANGE,
        EXCHANGE,
        "2",
        "2/2",
        "5s",
    )
