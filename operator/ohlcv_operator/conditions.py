"""Status conditions the way kstatus and `kubectl wait` expect them.

A condition's lastTransitionTime records when its status last flipped, so it is kept
from the previous status unless the status itself changes; a new reason or message
alone does not move it.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

TRUE, FALSE, UNKNOWN = "True", "False", "Unknown"


class ConditionType(StrEnum):
    """The conditions of an OhlcvCollector's status, named once: Ready, Reconciling and
    Stalled as kstatus reads them, and two that say what Ready waits for."""

    READY = "Ready"
    RECONCILING = "Reconciling"
    STALLED = "Stalled"
    TARGETS_FOUND = "TargetsFound"
    COLLECTORS_HEALTHY = "CollectorsHealthy"


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition as computed now, before transition times are settled."""

    type: str
    status: str
    reason: str
    message: str


def settle(
    *,
    computed: list[Condition],
    previous: list[dict[str, Any]] | None,
    generation: int,
    now: str,
) -> list[dict[str, Any]]:
    """Conditions for the status: the computed ones with their transition times settled."""
    before = {c.get("type"): c for c in previous or [] if isinstance(c, dict)}
    settled = []
    for condition in computed:
        old = before.get(condition.type)
        unchanged = old is not None and old.get("status") == condition.status
        settled.append(
            {
                "type": condition.type,
                "status": condition.status,
                "reason": condition.reason,
                "message": condition.message,
                "lastTransitionTime": old.get("lastTransitionTime", now)
                if unchanged and old
                else now,
                "observedGeneration": generation,
            }
        )
    return settled


def find(conditions: list[dict[str, Any]] | None, kind: str) -> dict[str, Any] | None:
    """The condition of type `kind`, if present."""
    return next((c for c in conditions or [] if c.get("type") == kind), None)
