"""Reconciling one OhlcvCollector: observe, apply the Deployment, write the status.

Level-based: every trigger (the resource changed, the operator started, the resync
timer fired) runs the same function, which reads the current state and converges on
it. The Deployment is applied only when the live one differs from the desired one (an
unchanged apply still counts as a write), and the status is written only when it
differs, so a resync of a settled resource writes nothing.
"""

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ohlcv_operator import metrics
from ohlcv_operator.desired import desired_deployment
from ohlcv_operator.drift import already_applied
from ohlcv_operator.health import HealthFingerprint, fingerprint
from ohlcv_operator.kube import KubeClient, KubeError
from ohlcv_operator.pods import pod_failures
from ohlcv_operator.settings import OperatorSettings
from ohlcv_operator.sources import Sources
from ohlcv_operator.spec import (
    API_VERSION,
    KIND,
    CollectorSpec,
    SpecError,
    parse_spec,
    selector_string,
)
from ohlcv_operator.status import (
    Change,
    DeploymentState,
    Observation,
    classify_change,
    compute_status,
    transitions,
)

log = logging.getLogger("ohlcv_operator.reconcile")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def deployment_state(deployment: dict[str, Any]) -> DeploymentState:
    """What the operator needs from a Deployment's status (the deployment controller's
    ProgressDeadlineExceeded is how Kubernetes itself says a rollout is stuck)."""
    status = deployment.get("status") or {}
    generation = (deployment.get("metadata") or {}).get("generation", 0)
    progressing: dict[str, Any] = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "Progressing"), {}
    )
    stuck = progressing.get("reason") == "ProgressDeadlineExceeded"
    return DeploymentState(
        desired=int((deployment.get("spec") or {}).get("replicas", 0)),
        existing=int(status.get("replicas", 0)),
        ready=int(status.get("readyReplicas", 0)),
        updated=int(status.get("updatedReplicas", 0)),
        observed_current=int(status.get("observedGeneration", 0)) >= int(generation),
        stuck=str(progressing.get("message") or "the rollout made no progress") if stuck else None,
    )


@dataclass(frozen=True, slots=True)
class JudgedHealth:
    """The health a resource's last reconcile judged (None: Redis could not be read)."""

    namespace: str
    name: str
    exchange: str
    fingerprint: HealthFingerprint | None


class Reconciler:
    """Reconciles OhlcvCollectors, one at a time each (a resource's namespace is its own)."""

    def __init__(
        self,
        *,
        kube: KubeClient,
        sources: Sources,
        settings: OperatorSettings,
        known_exchanges: frozenset[str],
    ) -> None:
        self._kube = kube
        self._sources = sources
        self._settings = settings
        self._known = known_exchanges
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        # When each resource's heartbeat figures were last written (or first seen).
        self._figures_at: dict[str, float] = {}
        # The exchange each resource reported metrics for, to drop them when it is deleted.
        self._exchanges: dict[str, str] = {}
        # The health each resource's status last judged, for the health watch.
        self._judged: dict[str, JudgedHealth] = {}

    def judged(self) -> list[JudgedHealth]:
        """The health last judged for each resource with a valid spec (health_watch.py
        reconciles those whose health has changed since)."""
        return list(self._judged.values())

    async def reconcile(self, *, namespace: str, name: str) -> None:
        """Bring one resource's Deployment and status in line with what is observed."""
        async with self._locks[f"{namespace}/{name}"]:
            started = time.monotonic()
            try:
                await self._reconcile(namespace=namespace, name=name)
            except Exception:
                metrics.RECONCILE_ERRORS.inc()
                log.exception("reconciling %s/%s failed", namespace, name)
                raise
            finally:
                metrics.RECONCILES.inc()
                metrics.RECONCILE_SECONDS.observe(time.monotonic() - started)

    async def _reconcile(self, *, namespace: str, name: str) -> None:
        ref = f"{namespace}/{name}"
        body = await self._kube.collector(namespace=namespace, name=name)
        if body is None or body["metadata"].get("deletionTimestamp"):
            # Gone: its Deployment is garbage-collected with it, its metrics end here.
            if ref in self._exchanges:
                metrics.forget(self._exchanges.pop(ref))
            self._figures_at.pop(ref, None)
            self._judged.pop(ref, None)
            return
        metadata = body["metadata"]
        seen, created = await self._observe(body)
        previous = body.get("status")
        status = compute_status(
            seen=seen,
            previous=previous,
            now=_now(),
            stale_lag_seconds=self._settings.stale_lag_seconds,
        )
        if self._worth_writing(ref=ref, change=classify_change(before=previous, after=status)):
            await self._kube.replace_status(namespace=namespace, name=name, status=status)
        else:
            status = previous or status  # what the resource keeps saying
        events = transitions(before=previous, after=status)
        if created:
            events.insert(
                0,
                ("Normal", "Created", f"created Deployment for {seen.spec and seen.spec.exchange}"),
            )
        for kind, reason, message in events:
            await self._event(body, kind=kind, reason=reason, message=message)
        exchange = seen.spec.exchange if seen.spec else metadata["name"]
        self._exchanges[ref] = exchange
        self._remember_health(namespace=namespace, name=name, seen=seen)
        if seen.targets is not None:
            metrics.TARGETS.labels(exchange=exchange).set(len(seen.targets))
        health = status.get("health") or {}
        metrics.SYMBOLS_HEALTHY.labels(exchange=exchange).set(health.get("symbolsHealthy", 0))
        metrics.SYMBOLS_UNHEALTHY.labels(exchange=exchange).set(
            health.get("symbolsStale", 0) + health.get("symbolsError", 0)
        )
        metrics.SYMBOLS_PAUSED.labels(exchange=exchange).set(health.get("symbolsPaused", 0))

    def _remember_health(self, *, namespace: str, name: str, seen: Observation) -> None:
        """Remember the health judged, once the status saying it is written."""
        ref = f"{namespace}/{name}"
        if seen.spec is None:
            self._judged.pop(ref, None)  # nothing is collected: no health to watch
            return
        judged = None
        if seen.health is not None:
            judged = fingerprint(
                snapshot=seen.health, stale_lag_seconds=self._settings.stale_lag_seconds
            )
        self._judged[ref] = JudgedHealth(namespace, name, seen.spec.exchange, judged)

    def _worth_writing(self, *, ref: str, change: Change) -> bool:
        """Write meaningful changes at once, moved lag figures once per status_refresh_seconds."""
        now = time.monotonic()
        if change is Change.FIGURES:
            since = now - self._figures_at.setdefault(ref, now)
            if since < self._settings.status_refresh_seconds:
                return False
        if change is not Change.NONE:
            self._figures_at[ref] = now
        return change is not Change.NONE

    async def _observe(self, body: dict[str, Any]) -> tuple[Observation, bool]:
        metadata = body["metadata"]
        name, generation = metadata["name"], int(metadata.get("generation", 1))
        try:
            spec: CollectorSpec | None = parse_spec(
                body.get("spec") or {}, known_exchanges=self._known
            )
        except SpecError as error:
            return Observation(
                name=name, generation=generation, spec=None, spec_error=str(error)
            ), False
        assert spec is not None
        fields: dict[str, Any] = {}
        created = False
        manifest = desired_deployment(
            name=name,
            namespace=metadata["namespace"],
            uid=metadata["uid"],
            spec=spec,
            settings=self._settings,
        )
        try:
            where = manifest["metadata"]
            live = await self._kube.deployment(namespace=where["namespace"], name=where["name"])
            if live is not None and already_applied(live=live, desired=manifest):
                applied = live  # an apply would change nothing, yet count as a write
            else:
                applied, created = await self._kube.apply(manifest)
            fields["deployment"] = deployment_state(applied)
            pods = await self._kube.list_pods(
                namespace=metadata["namespace"], selector=selector_string(name)
            )
            fields["pod_failures"] = tuple(pod_failures(pods))
        except KubeError as error:
            if error.transient:
                raise  # retried by the next trigger; a passing outage is not Stalled
            fields["deployment_error"] = f"applying the collector Deployment failed: {error}"
        try:
            fields["targets"] = await self._sources.target_symbols(
                exchange=spec.exchange, allowed=spec.symbols
            )
        except Exception as error:  # an unreadable database is a condition, not a crash
            fields["targets_error"] = f"reading targets failed: {error}"
        try:
            fields["health"] = await self._sources.health(exchange=spec.exchange)
        except Exception as error:
            fields["health_error"] = f"reading health from Redis failed: {error}"
        return Observation(name=name, generation=generation, spec=spec, **fields), created

    async def _event(self, body: dict[str, Any], *, kind: str, reason: str, message: str) -> None:
        metadata = body["metadata"]
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        event = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {
                "name": f"{metadata['name']}.{time.time_ns():x}",
                "namespace": metadata["namespace"],
            },
            "eventTime": now,
            "reportingController": "fullon.io/ohlcv-operator",
            "reportingInstance": self._settings.pod_name,
            "action": "Reconcile",
            "reason": reason,
            "note": message[:1024],
            "type": kind,
            "regarding": {
                "apiVersion": API_VERSION,
                "kind": KIND,
                "name": metadata["name"],
                "namespace": metadata["namespace"],
                "uid": metadata["uid"],
            },
        }
        try:
            await self._kube.post_event(namespace=metadata["namespace"], event=event)
        except KubeError as error:
            log.warning("could not record event %s: %s", reason, error)
