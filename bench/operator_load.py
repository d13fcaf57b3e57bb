"""The operator (B5) against the test control plane (etcd, kube-apiserver, controllers),
PostgreSQL and Redis, with N exchanges' worth of targets in the database.

Measured: time from the operator's start until every exchange has its Deployment and a filled
status; the API server's requests on the operator's resources per resource per idle minute
(from kube-apiserver's own `apiserver_request_total`, so nothing is estimated); time from a
collector's health change in Redis to the resource's status showing it, with the operator's
default intervals; the operator's peak RSS. No kubelet runs, so health records are written the
way collectors write them (tests/e2e/operator_harness.py).

ccxt knows a fixed set of exchanges and the operator refuses others, so N is capped at that
set's size; the JSON says how many resources were really made.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from typing import Any

import ccxt
import redis
from prometheus_client.parser import text_string_to_metric_families

from bench.lab import Lab
from bench.measure import peak_rss_mb
from ohlcv_collector.backends.targets import SqlTargetEditor
from ohlcv_operator.spec import deployment_name
from tests.e2e.operator_harness import CRD, running_operator, write_health
from tests.harness.controlplane import ControlPlane
from tests.harness.waiting import wait_until_async

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE", "APPLY"})
RESOURCES = frozenset({"ohlcvcollectors", "deployments"})
# The operator's own defaults (ohlcv_operator.settings), not the tests' short intervals.
DEFAULTS = {"resync_seconds": "30", "discovery_interval_seconds": "60"}


def requests_by_verb(kube: ControlPlane) -> Counter[str]:
    """kube-apiserver's request counters for the operator's resources, summed by verb."""
    text = kube.kubectl("get", "--raw", "/metrics").stdout
    counts: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        if family.name != "apiserver_request":
            continue
        for sample in family.samples:
            labels = sample.labels
            if sample.name.endswith("_total") and labels.get("resource") in RESOURCES:
                counts[labels.get("verb", "?")] += int(sample.value)
    return counts


def listed(kube: ControlPlane, kind: str, namespace: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(
        kube.kubectl("get", kind, "-n", namespace, "-o", "json").stdout
    )["items"]
    return items


async def one(lab: Lab, kube: ControlPlane, *, exchanges: int, idle: float, run: int
              ) -> dict[str, Any]:  # fmt: skip
    names = sorted(ccxt.exchanges)[:exchanges]
    namespace = f"bench-{run}"
    kube.kubectl("create", "namespace", namespace)
    dsn = await lab.database()
    editor = SqlTargetEditor(dsn, user_mail="admin@fullon")
    try:
        await editor.init_schema()
        for name in names:
            await editor.add(exchange=name, symbol="BTC/USDT")
    finally:
        await editor.close()
    redis_url = lab.redis_url  # the operator reads database 0 (REDIS_DB unset)
    await asyncio.to_thread(redis.Redis(port=lab.redis_port).flushdb)
    began = time.monotonic()
    with running_operator(kubeconfig=kube.admin_kubeconfig, namespace=namespace, dsn=dsn,
                          redis_url=redis_url, log=lab.directory / f"operator-{run}.log",
                          **DEFAULTS) as operator:  # fmt: skip

        def converged() -> bool:
            deployments = listed(kube, "deployments", namespace)
            resources = listed(kube, "ohlcvcollectors", namespace)
            filled = [r for r in resources if "targets" in (r.get("status") or {})]
            return len(deployments) == len(names) and len(filled) == len(names)

        await _until(converged, within=300, what="every Deployment and status", log=operator)
        converged_s = time.monotonic() - began

        def settled() -> bool:
            """The controller manager has caught up (ReplicaSets and Pods made, Deployment
            status final) and each status shows it: what is written after this is idle."""
            deployments = {d["metadata"]["name"]: d for d in listed(kube, "deployments", namespace)}
            for resource in listed(kube, "ohlcvcollectors", namespace):
                deployment = deployments.get(deployment_name(resource["metadata"]["name"]))
                if deployment is None:
                    return False
                status = deployment.get("status") or {}
                if (status.get("observedGeneration") != deployment["metadata"]["generation"]
                        or status.get("replicas", 0) != deployment["spec"]["replicas"]
                        or (resource.get("status") or {}).get("replicas", 0)
                        != status.get("replicas", 0)):  # fmt: skip
                    return False
            return True

        await _until(settled, within=300, what="Deployments and statuses settled", log=operator)
        before, idle_began = requests_by_verb(kube), time.monotonic()
        await asyncio.sleep(idle)
        after, idle_s = requests_by_verb(kube), time.monotonic() - idle_began
        delta = after - before
        writes = sum(n for verb, n in delta.items() if verb in WRITES)
        reads = sum(n for verb, n in delta.items() if verb not in WRITES)
        per = len(names) * idle_s / 60

        def healthy_summary() -> str:
            resource = next(r for r in listed(kube, "ohlcvcollectors", namespace)
                            if r["spec"]["exchange"] == names[0])  # fmt: skip
            return str(((resource.get("status") or {}).get("summary") or {}).get("healthy"))

        # written now, not before the idle minute: a record older than the heartbeat timeout
        # is judged stale, never healthy
        await asyncio.to_thread(write_health, redis_url, exchange=names[0],
                                symbols={"BTC/USDT": ("streaming", "ok", 1.0)})  # fmt: skip
        await _until(lambda: healthy_summary() == "1/1", within=120, what="healthy", log=operator)
        await asyncio.to_thread(write_health, redis_url, exchange=names[0],
                                symbols={"BTC/USDT": ("error", "boom", 1.0)})  # fmt: skip
        changed = time.monotonic()
        await _until(lambda: healthy_summary() == "0/1", within=120, what="unhealthy shown",
                     log=operator)  # fmt: skip
        health_s = time.monotonic() - changed
        peak = peak_rss_mb(operator.process.pid)
    kube.kubectl("delete", "namespace", namespace, "--wait=false")
    return {
        "exchanges_asked": exchanges,
        "resources": len(names),
        "seconds_to_all_deployments_and_status": round(converged_s, 2),
        "idle_seconds": round(idle_s, 1),
        "idle_writes_per_resource_per_minute": round(writes / per, 3),
        "idle_reads_per_resource_per_minute": round(reads / per, 3),
        "idle_requests_by_verb": dict(delta),
        "seconds_health_change_to_status": round(health_s, 2),
        "operator_peak_rss_mb": peak,
    }


async def _until(check: Any, *, within: float, what: str, log: Any) -> None:
    """Poll a blocking `check` (kubectl) off the event loop."""
    await wait_until_async(lambda: asyncio.to_thread(check), timeout=within, describe=what,
                           interval=0.5, details=log.log_tail)  # fmt: skip


async def b5(lab: Lab, plan: Any) -> dict[str, Any]:
    (lab.directory / "kube").mkdir()
    kube = ControlPlane(directory=lab.directory / "kube")
    await asyncio.to_thread(kube.start)
    try:
        kube.kubectl("apply", "--server-side", "-f", str(CRD))
        kube.kubectl("wait", "--for=condition=Established", "crd/ohlcvcollectors.fullon.io",
                     "--timeout=60s")  # fmt: skip
        runs = [
            await one(lab, kube, exchanges=n, idle=plan.b5_idle, run=i + 1)
            for i, n in enumerate(plan.b5_exchanges)
        ]
    finally:
        await asyncio.to_thread(kube.stop)
    return {"runs": runs, "ccxt_exchanges": len(ccxt.exchanges),
            "goal": "no idle writes; health to status < 30 s; peak RSS < 150 MB at 50"}  # fmt: skip
