"""The operator's metrics as Prometheus scrapes them, against a real control plane.

A paused OhlcvCollector reports its symbols as paused, not unhealthy (so the chart's
OhlcvCollectorSymbolsUnhealthy alert stays quiet); a deleted one leaves no series behind;
build and process metrics are there for dashboards; /healthz says whether the operator
still hears the API server.
"""

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.operator_harness import (
    CRD,
    OperatorProcess,
    StartOperator,
    add_target,
    get,
    wait_until,
    write_health,
)
from tests.harness.controlplane import ControlPlane

pytestmark = [pytest.mark.kubernetes, pytest.mark.postgres, pytest.mark.redis]

SYMBOLS = ("BTC/USDT", "ETH/USDT")


@pytest.fixture
def operator(start_operator: StartOperator) -> Iterator[OperatorProcess]:
    with start_operator(discovery_mode="off") as process:
        yield process


def scrape(operator: OperatorProcess) -> dict[str, float]:
    """The samples of /metrics: 'name{labels}' -> value."""
    url = f"http://127.0.0.1:{operator.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            samples[series] = float(value)
    return samples


def apply_binance(kube: ControlPlane, namespace: str, *, paused: bool) -> None:
    body: dict[str, Any] = {
        "apiVersion": "fullon.io/v1alpha1",
        "kind": "OhlcvCollector",
        "metadata": {"name": "binance", "namespace": namespace},
        "spec": {"exchange": "binance", "paused": paused},
    }
    kube.kubectl("apply", "-f", "-", stdin=json.dumps(body))


def test_paused_symbols_are_paused_not_unhealthy_and_a_deleted_resource_leaves_no_series(
    kube: ControlPlane, namespace: str, postgres_dsn: str, redis_url: str, operator: OperatorProcess
) -> None:
    for symbol in SYMBOLS:
        add_target(postgres_dsn, exchange="binance", symbol=symbol)
    # What a collector stopped by the pause left: a stale record for one symbol, none for
    # the other (both would be "stale" for a running resource).
    write_health(redis_url, exchange="binance", symbols={"BTC/USDT": ("streaming", "ok", 900.0)})
    apply_binance(kube, namespace, paused=True)

    def health() -> dict[str, Any]:
        found = get(kube, "ohlcv", "binance", namespace) or {}
        return dict((found.get("status") or {}).get("health") or {})

    wait_until(lambda: health().get("symbolsPaused") == 2, what="paused", operator=operator)
    block = health()
    assert (block["symbolsStale"], block["symbolsError"], block["unhealthy"]) == (0, 0, [])
    samples = scrape(operator)
    assert samples['ohlcv_operator_symbols_paused{exchange="binance"}'] == 2
    # The chart's OhlcvCollectorSymbolsUnhealthy alert is `... symbols_unhealthy > 0`.
    assert samples['ohlcv_operator_symbols_unhealthy{exchange="binance"}'] == 0

    # Resumed, the same records are a problem again: the pause, not the data, silenced it.
    apply_binance(kube, namespace, paused=False)
    wait_until(
        lambda: scrape(operator).get('ohlcv_operator_symbols_unhealthy{exchange="binance"}') == 2,
        what="unhealthy once resumed",
        operator=operator,
    )
    assert scrape(operator)['ohlcv_operator_symbols_paused{exchange="binance"}'] == 0

    kube.kubectl("delete", "ohlcvcollector", "binance", "-n", namespace, "--wait=true")
    wait_until(
        lambda: not [s for s in scrape(operator) if 'exchange="binance"' in s],
        what="every series of the deleted resource gone",
        operator=operator,
    )


def test_build_and_process_metrics(operator: OperatorProcess) -> None:
    wait_until(lambda: bool(scrape_or_empty(operator)), what="/metrics", operator=operator)
    samples = scrape(operator)
    [build] = [s for s in samples if s.startswith("ohlcv_operator_build_info{")]
    assert 'version="' in build
    assert 'python="' in build
    assert samples[build] == 1
    assert samples["process_resident_memory_bytes"] > 10_000_000
    assert samples["process_start_time_seconds"] > 1_700_000_000
    assert any(s.startswith("python_info{") for s in samples)


def scrape_or_empty(operator: OperatorProcess) -> dict[str, float]:
    try:
        return scrape(operator)
    except (urllib.error.URLError, ConnectionError):
        return {}


def healthz(operator: OperatorProcess) -> tuple[int, dict[str, Any]]:
    url = f"http://127.0.0.1:{operator.metrics_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except (urllib.error.URLError, ConnectionError):
        return 0, {}


def test_liveness_fails_while_the_api_refuses_the_operator_and_recovers(
    kube: ControlPlane, namespace: str, start_operator: StartOperator
) -> None:
    """The operator runs as the chart's ServiceAccount; taking its RoleBinding away stops
    its watches and lists (403): /healthz must fail, so the kubelet restarts it, and pass
    again once the API answers."""
    chart = CRD.parent.parent
    kube.helm("install", "ohlcv", str(chart), "-n", namespace, "--set", "crds.install=false")
    token = kube.service_account_kubeconfig(namespace=namespace, name="ohlcv-operator")
    binding = json.loads(
        kube.kubectl("get", "rolebinding", "ohlcv-operator", "-n", namespace, "-o", "json").stdout
    )
    with start_operator(kubeconfig=token, liveness_seconds="6") as operator:
        wait_until(lambda: healthz(operator)[0] == 200, what="alive", operator=operator)
        kube.kubectl("delete", "rolebinding", "ohlcv-operator", "-n", namespace)
        wait_until(
            lambda: healthz(operator)[0] == 503, what="not alive", operator=operator, timeout=60
        )
        [reason] = healthz(operator)[1]["reasons"]
        assert reason.startswith("no answer from the Kubernetes API for ")
        for key in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
            binding["metadata"].pop(key, None)
        kube.kubectl("apply", "-f", "-", stdin=json.dumps(binding))
        wait_until(lambda: healthz(operator)[0] == 200, what="alive again", operator=operator)
