"""The operator with fullon's derivatives exchanges: Hyperliquid targets mixing a perpetual swap
(ccxt `BTC/USDC:USDC`) and a spot pair (`BTC/USDC`), and BitMEX's inverse perpetual
(`BTC/USD:BTC`, BitMEX's XBTUSD), become one OhlcvCollector resource per exchange whose status
and `kubectl get ohlcvcollectors` row count its symbols and their health.

Real control plane, PostgreSQL and Redis; collector Pods never run here (no kubelet), so the
health records are written the way collectors write them (operator_harness.write_health).
"""

from typing import Any

import pytest

from tests.e2e.operator_harness import OperatorProcess, add_target, get, wait_until, write_health
from tests.harness.controlplane import ControlPlane

pytestmark = [pytest.mark.kubernetes, pytest.mark.postgres, pytest.mark.redis]

# exchange -> symbol -> lag in seconds; the row shows the largest lag
TARGETS = {
    "hyperliquid": {"BTC/USDC:USDC": 3.0, "BTC/USDC": 5.0},
    "bitmex": {"BTC/USD:BTC": 4.0},
}


def test_swap_and_spot_targets_become_one_resource_per_exchange_with_their_health(
    kube: ControlPlane, namespace: str, postgres_dsn: str, redis_url: str, operator: OperatorProcess
) -> None:
    for exchange, symbols in TARGETS.items():
        for symbol in symbols:
            add_target(postgres_dsn, exchange=exchange, symbol=symbol)
    for exchange in TARGETS:
        wait_until(
            lambda exchange=exchange: (
                get(kube, "deployment", f"{exchange}-collector", namespace) is not None
            ),
            what=f"discovery created the {exchange} resource and its Deployment",
            operator=operator,
        )
        deployment = get(kube, "deployment", f"{exchange}-collector", namespace)
        assert deployment is not None
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        assert container["args"] == ["run", "--exchange", exchange]
    for exchange, symbols in TARGETS.items():
        write_health(
            redis_url,
            exchange=exchange,
            symbols={symbol: ("streaming", "streaming", lag) for symbol, lag in symbols.items()},
        )

    def health(exchange: str) -> dict[str, Any]:
        found = get(kube, "ohlcv", exchange, namespace) or {}
        return dict((found.get("status") or {}).get("health") or {})

    for exchange, symbols in TARGETS.items():
        count = len(symbols)
        wait_until(
            lambda exchange=exchange, count=count: health(exchange).get("symbolsHealthy") == count,
            what=f"{exchange} health in status",
            operator=operator,
        )
        block = health(exchange)
        assert (block["symbolsTotal"], block["symbolsError"], block["symbolsStale"]) == (
            count,
            0,
            0,
        )
    table = kube.kubectl("get", "ohlcvcollectors", "-n", namespace).stdout.splitlines()
    rows = [dict(zip(table[0].split(), line.split(), strict=False)) for line in table[1:]]
    shown = {row["NAME"]: row for row in rows}
    assert set(shown) == set(TARGETS), table
    for exchange, symbols in TARGETS.items():
        row, count = shown[exchange], len(symbols)
        assert (row["EXCHANGE"], row["SYMBOLS"], row["HEALTHY"], row["LAG"]) == (
            exchange,
            str(count),
            f"{count}/{count}",
            f"{max(symbols.values()):.0f}s",
        ), table
