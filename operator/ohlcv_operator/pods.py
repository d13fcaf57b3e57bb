"""Why collector Pods are not running, read from their status (pure).

A Deployment only says how many replicas are ready; the reason they are not (the kernel
killed one for exceeding its memory limit, the image cannot be pulled, the process keeps
crashing) is in each Pod's container statuses. The operator reads them so that the
resource's status and Events name the cause, as `kubectl describe pod` would.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Waiting reasons of a container that will not start without someone changing something.
FAILING_WAITING_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)


@dataclass(frozen=True, slots=True)
class PodFailure:
    """One collector container that is failing, and why."""

    pod: str
    reason: str  # OOMKilled, CrashLoopBackOff, ImagePullBackOff, Unschedulable, ...
    message: str
    restarts: int

    def describe(self) -> str:
        restarted = f", restarted {self.restarts} times" if self.restarts else ""
        detail = f": {self.message}" if self.message else ""
        return f"pod {self.pod}: {self.reason}{detail}{restarted}"


def _container_failure(pod: str, container: Mapping[str, Any]) -> PodFailure | None:
    if container.get("ready"):
        return None
    state = container.get("state") or {}
    last = (container.get("lastState") or {}).get("terminated") or {}
    restarts = int(container.get("restartCount", 0))
    terminated = state.get("terminated") or {}
    waiting = state.get("waiting") or {}
    if terminated.get("reason") == "OOMKilled" or (
        waiting.get("reason") in FAILING_WAITING_REASONS and last.get("reason") == "OOMKilled"
    ):
        limit = "the container exceeded its memory limit and the kernel killed it"
        return PodFailure(pod=pod, reason="OOMKilled", message=limit, restarts=restarts)
    if waiting.get("reason") in FAILING_WAITING_REASONS:
        message = str(waiting.get("message") or "")
        if last.get("reason") or last.get("exitCode"):
            message = f"last exit {last.get('reason', '')} code {last.get('exitCode', '?')}"
            # The collector's last log line (terminationMessagePolicy FallbackToLogsOnError):
            # what it exited on, such as a database Secret without the database settings.
            said = str(last.get("message") or "").strip().splitlines()
            if said:
                message += f": {said[-1][:300]}"
        return PodFailure(
            pod=pod, reason=str(waiting["reason"]), message=message.strip(), restarts=restarts
        )
    return None


def pod_failures(pods: Iterable[Mapping[str, Any]]) -> list[PodFailure]:
    """Every failing collector container among `pods`, by Pod name (terminating Pods and
    containers that are merely starting are not failures)."""
    found: list[PodFailure] = []
    for pod in pods:
        metadata, status = pod.get("metadata") or {}, pod.get("status") or {}
        if metadata.get("deletionTimestamp"):
            continue
        name = str(metadata.get("name", "?"))
        for condition in status.get("conditions") or []:
            if (
                condition.get("type") == "PodScheduled"
                and condition.get("reason") == "Unschedulable"
            ):
                found.append(
                    PodFailure(
                        pod=name,
                        reason="Unschedulable",
                        message=str(condition.get("message", "")),
                        restarts=0,
                    )
                )
        for container in status.get("containerStatuses") or []:
            failure = _container_failure(name, container)
            if failure is not None:
                found.append(failure)
    return sorted(found, key=lambda f: f.pod)
