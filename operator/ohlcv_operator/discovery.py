"""Which OhlcvCollector resources discovery creates and prunes (pure).

Each resource's spec has one writer: whoever created it. In mode `create` the
operator creates a resource for every exchange that has targets and no resource
yet, and labels it as its own; it never touches a resource someone else created.
Pruning removes only the operator's own resources whose exchange lost its targets,
and only when enabled, since deleting a resource garbage-collects its collectors.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from ohlcv_operator.settings import DiscoveryMode
from ohlcv_operator.spec import resource_name_for


@dataclass(frozen=True, slots=True)
class ExistingResource:
    """An OhlcvCollector already in the namespace."""

    name: str
    exchange: str | None
    created_by_operator: bool


@dataclass(frozen=True, slots=True)
class DiscoveryPlan:
    """What one discovery round changes."""

    create: tuple[tuple[str, str], ...]  # (resource name, exchange)
    delete: tuple[str, ...]
    conflicts: tuple[str, ...]  # exchanges whose natural name is taken by another exchange


def plan_discovery(
    *,
    exchanges: Iterable[str],
    existing: Iterable[ExistingResource],
    mode: DiscoveryMode,
    prune: bool,
) -> DiscoveryPlan:
    """The creations and deletions that make the namespace match the database."""
    if mode is DiscoveryMode.OFF:
        return DiscoveryPlan(create=(), delete=(), conflicts=())
    wanted = sorted(set(exchanges))
    resources = list(existing)
    covered = {r.exchange for r in resources}
    taken = {r.name for r in resources}
    create, conflicts = [], []
    for exchange in wanted:
        if exchange in covered:
            continue
        name = resource_name_for(exchange)
        if name in taken:
            conflicts.append(exchange)
            continue
        create.append((name, exchange))
        taken.add(name)
    delete = tuple(
        sorted(
            r.name
            for r in resources
            if prune and r.created_by_operator and r.exchange not in wanted
        )
    )
    return DiscoveryPlan(create=tuple(create), delete=delete, conflicts=tuple(conflicts))
