"""The status of an OhlcvCollector, computed from what the operator observed (pure).

Everything a person on call needs is in the status: the conditions say whether the
exchange is collecting and if not why, the summary strings feed the printer columns
of `kubectl get ohlcvcollectors`, and the health block lists the unhealthy symbols.
"""

import hashlib
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ohlcv_collector.core.formatting import format_lag
from ohlcv_operator.conditions import FALSE, TRUE, UNKNOWN, Condition, ConditionType, find, settle
from ohlcv_operator.health import HealthSnapshot, HealthSummary, Verdict, summarize
from ohlcv_operator.pods import PodFailure
from ohlcv_operator.spec import CollectorSpec, selector_string


@dataclass(frozen=True, slots=True)
class DeploymentState:
    """The parts of the collector Deployment's status that matter."""

    desired: int
    existing: int  # Pods that exist: the scale subresource's status.replicas
    ready: int
    updated: int
    observed_current: bool
    stuck: str | None = None  # the message of a ProgressDeadlineExceeded rollout


@dataclass(frozen=True, slots=True)
class Observation:
    """What the operator saw while reconciling one resource; errors say what failed."""

    name: str
    generation: int
    spec: CollectorSpec | None
    spec_error: str | None = None
    targets: list[str] | None = None
    targets_error: str | None = None
    deployment: DeploymentState | None = None
    deployment_error: str | None = None
    health: HealthSnapshot | None = None
    health_error: str | None = None
    pod_failures: tuple[PodFailure, ...] = ()


def targets_hash(symbols: list[str]) -> str:
    """A short, order-independent fingerprint of a target list, to spot changes."""
    return hashlib.sha256("\n".join(sorted(symbols)).encode()).hexdigest()[:16]


def _conditions(seen: Observation, health: HealthSummary | None) -> list[Condition]:
    paused = bool(seen.spec and seen.spec.paused)
    problem = seen.spec_error or seen.deployment_error
    if problem:
        reason = "InvalidSpec" if seen.spec_error else "ApplyFailed"
        stalled = Condition(ConditionType.STALLED, TRUE, reason, problem)
    elif seen.pod_failures:
        failures = "; ".join(f.describe() for f in seen.pod_failures[:3])
        stalled = Condition(ConditionType.STALLED, TRUE, seen.pod_failures[0].reason, failures)
    elif seen.deployment is not None and seen.deployment.stuck is not None:
        stalled = Condition(
            ConditionType.STALLED, TRUE, "ProgressDeadlineExceeded", seen.deployment.stuck
        )
    else:
        stalled = Condition(ConditionType.STALLED, FALSE, "NoErrors", "")
    if seen.targets is None:
        targets = Condition(
            ConditionType.TARGETS_FOUND, UNKNOWN, "DatabaseUnavailable", seen.targets_error or ""
        )
    elif not seen.targets:
        narrowed = " matching spec.symbols" if seen.spec and seen.spec.symbols else ""
        exchange = seen.spec.exchange if seen.spec else "?"
        targets = Condition(
            ConditionType.TARGETS_FOUND,
            FALSE,
            "NoTargets",
            f"no active symbols of {exchange}{narrowed} in the database",
        )
    else:
        targets = Condition(
            ConditionType.TARGETS_FOUND, TRUE, "TargetsFound", f"{len(seen.targets)} symbols"
        )
    deployment = seen.deployment
    if problem:
        reconciling = Condition(ConditionType.RECONCILING, FALSE, "Stalled", problem)
    elif deployment is None:
        reconciling = Condition(
            ConditionType.RECONCILING, TRUE, "Creating", "creating the collector Deployment"
        )
    elif (
        not deployment.observed_current
        or deployment.updated < deployment.desired
        or (deployment.ready < deployment.desired)
    ):
        reconciling = Condition(
            ConditionType.RECONCILING,
            TRUE,
            "Progressing",
            f"{deployment.ready}/{deployment.desired} collectors ready",
        )
    else:
        reconciling = Condition(ConditionType.RECONCILING, FALSE, "Reconciled", "")
    if paused:
        healthy = Condition(
            ConditionType.COLLECTORS_HEALTHY, UNKNOWN, "Paused", "collection is paused"
        )
    elif health is None:
        healthy = Condition(
            ConditionType.COLLECTORS_HEALTHY,
            UNKNOWN,
            "HealthUnavailable",
            seen.health_error or "no health records yet",
        )
    elif not health.verdicts:
        healthy = Condition(
            ConditionType.COLLECTORS_HEALTHY, UNKNOWN, "NoTargets", "no symbols to collect"
        )
    else:
        bad = [v for v in health.verdicts if v.verdict is not Verdict.HEALTHY]
        total = len(health.verdicts)
        if not bad:
            healthy = Condition(
                ConditionType.COLLECTORS_HEALTHY,
                TRUE,
                "AllSymbolsHealthy",
                f"{total}/{total} symbols healthy",
            )
        else:
            listed = "; ".join(f"{v.symbol}: {v.message}" for v in bad[:3])
            healthy = Condition(
                ConditionType.COLLECTORS_HEALTHY,
                FALSE,
                "SymbolsUnhealthy",
                f"{len(bad)} of {total} symbols unhealthy: {listed}",
            )
    blocking = [c for c in (stalled, reconciling) if c.status == TRUE]
    blocking += [c for c in (targets,) if c.status != TRUE]
    blocking += [c for c in (healthy,) if c.status != TRUE and not paused]
    if blocking:
        ready = Condition(ConditionType.READY, FALSE, blocking[0].reason, blocking[0].message)
    elif paused:
        ready = Condition(ConditionType.READY, TRUE, "Paused", "collection is paused")
    else:
        ready = Condition(ConditionType.READY, TRUE, "Collecting", healthy.message)
    return [ready, reconciling, stalled, targets, healthy]


def compute_status(
    *, seen: Observation, previous: dict[str, Any] | None, now: str, stale_lag_seconds: int
) -> dict[str, Any]:
    """The whole `.status` for what was observed."""
    previous = previous or {}
    health = None
    if seen.health is not None and seen.targets is not None:
        health = summarize(
            snapshot=seen.health,
            targets=seen.targets,
            stale_lag_seconds=stale_lag_seconds,
            paused=bool(seen.spec and seen.spec.paused),
        )
    deployment = seen.deployment
    desired = deployment.desired if deployment else 0
    ready = deployment.ready if deployment else 0
    status: dict[str, Any] = {
        "observedGeneration": seen.generation,
        "replicas": deployment.existing if deployment else 0,
        "readyReplicas": ready,
        "desiredReplicas": desired,
        "selector": selector_string(seen.name),
        "summary": {
            "replicas": f"{ready}/{desired}",
            "healthy": f"{health.count(Verdict.HEALTHY)}/{len(health.verdicts)}" if health else "-",
            "lag": format_lag(health.worst_lag_seconds if health else None),
        },
        "conditions": settle(
            computed=_conditions(seen, health),
            previous=previous.get("conditions"),
            generation=seen.generation,
            now=now,
        ),
    }
    if seen.targets is not None:
        status["targets"] = {
            "count": len(seen.targets),
            "hash": targets_hash(seen.targets),
            "symbols": sorted(seen.targets)[:1000],
        }
    elif "targets" in previous:
        status["targets"] = previous["targets"]  # keep the last known while the DB is down
    if health is not None:
        status["health"] = health.as_status()
    return status


# Figures that move with every collector heartbeat: (block, field) of the status.
HEARTBEAT_FIGURES = (("summary", "lag"), ("health", "worstLagSeconds"), ("health", "newestCandle"))


class Change(Enum):
    """How a newly computed status differs from the stored one."""

    NONE = "none"
    FIGURES = "figures"  # only the heartbeat figures moved
    MEANINGFUL = "meaningful"  # a verdict, a count, a condition or a target changed


def _without_figures(status: dict[str, Any]) -> dict[str, Any]:
    stripped = dict(status)
    for block, key in HEARTBEAT_FIGURES:
        if isinstance(stripped.get(block), dict):
            stripped[block] = {k: v for k, v in stripped[block].items() if k != key}
    return stripped


def classify_change(*, before: dict[str, Any] | None, after: dict[str, Any]) -> Change:
    """Whether writing `after` over `before` tells anyone something new.

    A lag figure changes on every heartbeat; writing each one would cost an API write per
    resource per resync and wake every watcher (GitOps tools, dashboards) for nothing. The
    verdicts computed from the lag (stale or healthy) are meaningful and written at once.
    """
    if before == after:
        return Change.NONE
    if before is None or _without_figures(before) != _without_figures(after):
        return Change.MEANINGFUL
    return Change.FIGURES


def transitions(
    *, before: dict[str, Any] | None, after: dict[str, Any]
) -> list[tuple[str, str, str]]:
    """Events worth recording between two statuses: (type, reason, message)."""
    before = before or {}
    events: list[tuple[str, str, str]] = []
    old_targets, new_targets = before.get("targets", {}), after.get("targets", {})
    if new_targets and old_targets.get("hash") != new_targets.get("hash"):
        events.append(
            (
                "Normal",
                "TargetsChanged",
                f"{new_targets.get('count')} symbols (was {old_targets.get('count', 0)})",
            )
        )
    old_desired, new_desired = before.get("desiredReplicas"), after.get("desiredReplicas")
    if old_desired is not None and new_desired is not None and old_desired != new_desired:
        events.append(
            ("Normal", "Scaled", f"collectors scaled from {old_desired} to {new_desired}")
        )
    # The conditions whose flips become Events.
    watched = (ConditionType.COLLECTORS_HEALTHY, ConditionType.STALLED, ConditionType.TARGETS_FOUND)
    for kind in watched:
        old, new = find(before.get("conditions"), kind), find(after.get("conditions"), kind)
        if new is None or (old is not None and old.get("status") == new.get("status")):
            continue
        warning = new["status"] == (TRUE if kind is ConditionType.STALLED else FALSE)
        if old is None and not warning:
            continue  # a first status that is fine is not news
        message = new["message"] or f"{kind} is {new['status']}"
        events.append(("Warning" if warning else "Normal", new["reason"], message))
    return events
