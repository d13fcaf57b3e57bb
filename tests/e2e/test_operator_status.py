"""Status semantics on the real control plane: what `.status` says, and how often it is written.

The collectors' health records change on every heartbeat (the lag figure moves with the
clock); the status must not follow each of those, only what a person or a tool would act
on. A Deployment that never becomes ready, and an API server that fails for a while, must
each be told apart: the first is Stalled, the second is retried and leaves no mark.
"""

import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.operator_harness import (
    OperatorProcess,
    StartOperator,
    add_target,
    condition,
    discover_binance,
    events,
    get,
    running_operator,
    wait_condition,
    wait_reconciles,
    wait_until,
    write_health,
)
from tests.harness import waiting
from tests.harness.controlplane import ControlPlane
from tests.harness.tools import free_port, tool

pytestmark = [pytest.mark.kubernetes, pytest.mark.postgres, pytest.mark.redis]


class Watch:
    """`kubectl get --watch` on one resource: every version the API server stored."""

    def __init__(self, kube: ControlPlane, *, kind: str, name: str, namespace: str) -> None:
        self._process = subprocess.Popen(
            [
                str(tool("kubectl")),
                f"--kubeconfig={kube.admin_kubeconfig}",
                "get",
                kind,
                name,
                "-n",
                namespace,
                "--watch",
                "--output-watch-events",
                "-o",
                "json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self._process.stdout is not None
        self._stdout = self._process.stdout
        self._output = b""
        # The watch starts with the version stored now (an ADDED event): once that is seen,
        # the watch is established and every later write is counted.
        os.set_blocking(self._stdout.fileno(), False)
        waiting.wait_until(
            self._events,
            timeout=30,
            describe=f"kubectl watching {kind}/{name}: its current version",
        )
        os.set_blocking(self._stdout.fileno(), True)

    def _events(self) -> list[dict[str, Any]]:
        """The whole events printed so far (a partly printed one is left for later)."""
        self._output += self._stdout.read() or b""
        return self._decoded()

    def _decoded(self) -> list[dict[str, Any]]:
        text, decoder, found, at = self._output.decode(errors="replace"), json.JSONDecoder(), [], 0
        while at < len(text):
            if text[at].isspace():
                at += 1
                continue
            try:
                event, at = decoder.raw_decode(text, at)
            except ValueError:
                break
            found.append(event)
        return found

    def stop(self) -> list[dict[str, Any]]:
        """End the watch; the objects of its MODIFIED events, in order."""
        self._process.terminate()
        rest, _ = self._process.communicate(timeout=10)
        self._output += rest
        return [e["object"] for e in self._decoded() if e.get("type") == "MODIFIED"]


class Heartbeats:
    """Health records rewritten every `every` seconds with a lag that moves, as collectors do."""

    def __init__(
        self, redis_url: str, *, exchange: str, symbols: dict[str, str], every: float = 1.0
    ) -> None:
        self._redis_url, self._exchange, self._every = redis_url, exchange, every
        self.phases = dict(symbols)  # symbol -> phase; "error" makes it unhealthy
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        beat = 0
        while not self._stop.is_set():
            beat += 1
            write_health(
                self._redis_url,
                exchange=self._exchange,
                symbols={
                    symbol: (phase, phase, float(3 + beat % 40))
                    for symbol, phase in self.phases.items()
                },
            )
            self._stop.wait(self._every)

    def __enter__(self) -> "Heartbeats":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def status_writes_while_idle(
    kube: ControlPlane, operator: OperatorProcess, *, namespace: str, name: str, resyncs: int
) -> list[dict[str, Any]]:
    """The versions of resource `name` stored during `resyncs` reconciles of it in which
    nothing but the collectors' heartbeats changes (after two reconciles that let whatever
    came with the last change, such as the Pod count, be written first)."""
    wait_reconciles(operator, count=operator.reconciles() + 2)
    watch = Watch(kube, kind="ohlcv", name=name, namespace=namespace)
    wait_reconciles(operator, count=operator.reconciles() + resyncs)
    return watch.stop()


def test_status_is_written_on_a_change_of_verdict_not_on_every_heartbeat(
    kube: ControlPlane, namespace: str, postgres_dsn: str, redis_url: str, operator: OperatorProcess
) -> None:
    for symbol in ("BTC/USDT", "ETH/USDT"):
        add_target(postgres_dsn, exchange="binance", symbol=symbol)
    beats = {"BTC/USDT": "streaming", "ETH/USDT": "streaming"}
    with Heartbeats(redis_url, exchange="binance", symbols=beats) as heartbeats:
        wait_condition(
            kube,
            operator,
            name="binance",
            namespace=namespace,
            kind="CollectorsHealthy",
            expected=("True", "AllSymbolsHealthy"),
            what="both symbols healthy",
        )
        # Resyncs run every 2 s and the lag moves every second: six resyncs, about 12 s.
        idle = status_writes_while_idle(
            kube, operator, namespace=namespace, name="binance", resyncs=6
        )
        assert [o["status"]["health"].get("worstLagSeconds") for o in idle] == []
        heartbeats.phases["ETH/USDT"] = "error"
        wait_condition(
            kube,
            operator,
            name="binance",
            namespace=namespace,
            kind="CollectorsHealthy",
            expected=("False", "SymbolsUnhealthy"),
            what="a failing symbol is written at once",
            timeout=15,
        )


def deployment_writes(kube: ControlPlane) -> int:
    """kube-apiserver's count of applies and patches of Deployments (not their status, which
    the deployment controller updates): what the operator would spend on an unchanged one."""
    text = kube.kubectl("get", "--raw", "/metrics").stdout
    return sum(
        int(sample.value)
        for family in text_string_to_metric_families(text)
        if family.name == "apiserver_request"
        for sample in family.samples
        if sample.name.endswith("_total")
        and sample.labels.get("resource") == "deployments"
        and not sample.labels.get("subresource")
        and sample.labels.get("verb") in {"APPLY", "PATCH"}
    )


def test_a_settled_deployment_costs_no_write_and_a_field_changed_by_hand_is_put_back(
    kube: ControlPlane, namespace: str, postgres_dsn: str, operator: OperatorProcess
) -> None:
    discover_binance(kube, namespace=namespace, dsn=postgres_dsn, operator=operator)
    wait_condition(
        kube,
        operator,
        name="binance",
        namespace=namespace,
        kind="TargetsFound",
        expected=("True", "TargetsFound"),
        what="the resource settled",
    )
    wait_reconciles(operator, count=operator.reconciles() + 2)
    before, began = deployment_writes(kube), time.monotonic()
    wait_reconciles(operator, count=operator.reconciles() + 5)  # resyncs every 2 s
    idle = time.monotonic() - began
    assert deployment_writes(kube) == before
    print(f"Deployment writes while idle: 0 in {idle:.1f} s")

    def image() -> str:
        deployment = get(kube, "deployment", "binance-collector", namespace) or {}
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        return str(container["image"])

    desired = image()
    kube.kubectl(
        "set", "image", "deployment/binance-collector", "collector=busybox:drifted", "-n", namespace
    )
    wait_until(lambda: image() == desired, what="the image put back", operator=operator)
    wait_reconciles(operator, count=operator.reconciles() + 3)
    assert deployment_writes(kube) == before + 2  # kubectl's patch and the one apply undoing it


def health_polls(operator: OperatorProcess, *, count: int) -> None:
    """Until `operator`'s health watch has finished `count` more rounds."""
    target = operator.counter("ohlcv_operator_health_polls") + count
    wait_until(
        lambda: operator.counter("ohlcv_operator_health_polls") >= target,
        what=f"{count} more health polls",
        operator=operator,
    )


def test_a_health_change_shows_between_resyncs_and_unchanged_health_costs_no_request(
    kube: ControlPlane,
    namespace: str,
    postgres_dsn: str,
    redis_url: str,
    start_operator: StartOperator,
) -> None:
    """The resync runs every 300 s here, so only the health watch (every 0.5 s) can bring a
    change to the status in time; while the heartbeats only move the lag, it must neither
    reconcile nor write."""
    for symbol in ("BTC/USDT", "ETH/USDT"):
        add_target(postgres_dsn, exchange="binance", symbol=symbol)
    beats = {"BTC/USDT": "streaming", "ETH/USDT": "streaming"}
    with (
        start_operator(resync_seconds="300", health_poll_seconds="0.5") as operator,
        Heartbeats(redis_url, exchange="binance", symbols=beats) as heartbeats,
    ):
        wait_condition(
            kube,
            operator,
            name="binance",
            namespace=namespace,
            kind="CollectorsHealthy",
            expected=("True", "AllSymbolsHealthy"),
            what="both symbols healthy",
        )

        def settled() -> bool:  # what came with the Deployment (its Pod count) is written
            before = operator.reconciles()
            health_polls(operator, count=2)
            return operator.reconciles() == before

        wait_until(settled, what="no reconcile for two health polls", operator=operator)
        reconciles = operator.reconciles()
        watch = Watch(kube, kind="ohlcv", name="binance", namespace=namespace)
        health_polls(operator, count=20)  # over three minutes of the default 10 s polls
        assert watch.stop() == []
        assert operator.reconciles() == reconciles  # no reconcile, so no API request of its own
        heartbeats.phases["ETH/USDT"] = "error"
        write_health(
            redis_url,
            exchange="binance",
            symbols={
                "BTC/USDT": ("streaming", "streaming", 3.0),
                "ETH/USDT": ("error", "error", 3.0),
            },
        )
        changed = time.monotonic()
        wait_condition(
            kube,
            operator,
            name="binance",
            namespace=namespace,
            kind="CollectorsHealthy",
            expected=("False", "SymbolsUnhealthy"),
            what="the failing symbol in the status long before the next resync",
            timeout=15,
        )
        print(f"health change to status: {time.monotonic() - changed:.2f} s (resync 300 s)")


def test_failed_health_polls_are_counted_and_the_watch_keeps_polling(
    kube: ControlPlane, crd: None, namespace: str, postgres_dsn: str, tmp_path: Path
) -> None:
    """Redis refuses every connection: each poll fails, is logged and counted, and the next
    one still runs (so health shows again once Redis is back); the status says why health is
    unknown."""
    add_target(postgres_dsn, exchange="binance", symbol="BTC/USDT")
    with running_operator(
        kubeconfig=kube.admin_kubeconfig,
        namespace=namespace,
        dsn=postgres_dsn,
        redis_url=f"redis://127.0.0.1:{free_port()}",
        log=tmp_path / "operator.log",
        health_poll_seconds="0.5",
    ) as operator:
        wait_condition(
            kube,
            operator,
            name="binance",
            namespace=namespace,
            kind="CollectorsHealthy",
            expected=("Unknown", "HealthUnavailable"),
            what="the status says health cannot be read",
        )
        errors = "ohlcv_operator_health_poll_errors"
        wait_until(lambda: operator.counter(errors) >= 1, what="a failed poll", operator=operator)
        polls, failed = operator.counter("ohlcv_operator_health_polls"), operator.counter(errors)
        wait_until(
            lambda: operator.counter(errors) >= failed + 3,
            what="three more failed health polls",
            operator=operator,
        )
        assert operator.counter("ohlcv_operator_health_polls") == polls  # none got through
        assert operator.process.poll() is None
        assert "health poll failed" in operator.log.read_text()


def test_the_scale_subresource_counts_existing_pods_and_a_stuck_rollout_is_stalled(
    kube: ControlPlane, namespace: str, postgres_dsn: str, start_operator: StartOperator
) -> None:
    """No kubelet runs here: the ReplicaSet creates the Pod, which never becomes ready, so
    the Deployment exceeds its progress deadline (shortened to 5 s for the test)."""
    add_target(postgres_dsn, exchange="binance", symbol="BTC/USDT")
    with start_operator(collector_progress_deadline_seconds="5") as operator:

        def scale() -> dict[str, Any]:
            found = kube.kubectl(
                "get",
                "ohlcv",
                "binance",
                "-n",
                namespace,
                "--subresource=scale",
                "-o",
                "json",
                check=False,
            )
            return json.loads(found.stdout).get("status", {}) if found.returncode == 0 else {}

        wait_until(
            lambda: scale().get("replicas") == 1,
            what="the scale subresource counts the Pod that exists",
            operator=operator,
        )
        resource = get(kube, "ohlcv", "binance", namespace) or {}
        assert (resource["status"]["replicas"], resource["status"]["readyReplicas"]) == (1, 0)
        assert scale()["selector"] == (
            "app.kubernetes.io/name=fullon-ohlcv-collector,app.kubernetes.io/instance=binance"
        )
        wait_condition(
            kube,
            operator,
            name="binance",
            namespace=namespace,
            kind="Stalled",
            expected=("True", "ProgressDeadlineExceeded"),
            what="the stuck rollout is Stalled",
        )
        stalled = get(kube, "ohlcv", "binance", namespace) or {}
        [message] = [
            c["message"] for c in stalled["status"]["conditions"] if c["type"] == "Stalled"
        ]
        assert "has timed out progressing" in message
        assert condition(stalled, "Ready") == ("False", "ProgressDeadlineExceeded")
        table = kube.kubectl("get", "ohlcv", "-n", namespace).stdout.splitlines()
        assert table[0].split()[6:8] == ["READY", "REASON"]
        assert table[1].split()[6:8] == ["False", "ProgressDeadlineExceeded"]
        warnings = events(kube, namespace, "binance", event_type="Warning")
        assert "ProgressDeadlineExceeded" in warnings


def test_an_api_server_failing_for_a_while_is_retried_and_never_stalls_the_resource(
    kube: ControlPlane, namespace: str, postgres_dsn: str, redis_url: str, operator: OperatorProcess
) -> None:
    """A validating webhook that cannot be reached makes the real API server answer 500 to
    every write of a Deployment, as during a webhook's own restart."""
    add_target(postgres_dsn, exchange="binance", symbol="BTC/USDT")
    wait_until(
        lambda: (
            condition(get(kube, "ohlcv", "binance", namespace), "Stalled") == ("False", "NoErrors")
        ),
        what="the resource settled",
        operator=operator,
    )
    webhook = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": f"unreachable-{namespace}"},
        "webhooks": [
            {
                "name": "unreachable.fullon.io",
                "clientConfig": {"url": f"https://127.0.0.1:{free_port()}/validate"},
                "rules": [
                    {
                        "apiGroups": ["apps"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["deployments"],
                    }
                ],
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 2,
            }
        ],
    }
    kube.kubectl("apply", "-f", "-", stdin=json.dumps(webhook))
    try:
        watch = Watch(kube, kind="ohlcv", name="binance", namespace=namespace)
        failed = operator.counter("ohlcv_operator_reconcile_errors")
        kube.kubectl("scale", "ohlcv/binance", "-n", namespace, "--replicas=2")
        # The reconcile of the scale and a resync's, each failing after all its attempts.
        wait_until(
            lambda: operator.counter("ohlcv_operator_reconcile_errors") >= failed + 2,
            what="two reconciles failed with every attempt refused",
            operator=operator,
        )
        during = watch.stop()
    finally:
        kube.kubectl("delete", "validatingwebhookconfiguration", f"unreachable-{namespace}")
    stalled = [condition(o, "Stalled") for o in during]
    assert [found for found in stalled if found != ("False", "NoErrors")] == []
    assert "failed calling webhook" in operator.log.read_text()  # the API server did fail
    wait_until(
        lambda: (
            (get(kube, "deployment", "binance-collector", namespace) or {})["spec"]["replicas"] == 2
        ),
        what="the scale reached the Deployment once the webhook was gone",
        operator=operator,
    )
