"""Why collector Pods fail, read from their status, and how it reaches the resource's status."""

from typing import Any

import pytest

from ohlcv_operator.conditions import find
from ohlcv_operator.pods import FAILING_WAITING_REASONS, PodFailure, pod_failures
from ohlcv_operator.status import transitions
from tests.unit.test_operator_status import observe, status_of


def pod(name: str, *containers: dict[str, Any], **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "status": {"containerStatuses": list(containers), **status},
    }


def container(*, ready: bool = False, restarts: int = 0, **state: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"name": "collector", "ready": ready, "restartCount": restarts}
    found.update(state)
    return found


OOM_LAST = {"terminated": {"reason": "OOMKilled", "exitCode": 137}}


def test_a_ready_or_starting_container_is_no_failure() -> None:
    running = container(ready=True, state={"running": {}})
    starting = container(state={"running": {}})
    creating = container(state={"waiting": {"reason": "ContainerCreating"}})
    assert pod_failures([pod("a", running), pod("b", starting), pod("c", creating)]) == []


def test_a_container_killed_for_its_memory_limit_is_reported_as_oomkilled() -> None:
    now = container(state={"terminated": {"reason": "OOMKilled", "exitCode": 137}})
    looping = container(
        restarts=3, state={"waiting": {"reason": "CrashLoopBackOff"}}, lastState=OOM_LAST
    )
    failures = pod_failures([pod("b", looping), pod("a", now)])
    assert [(f.pod, f.reason, f.restarts) for f in failures] == [
        ("a", "OOMKilled", 0),
        ("b", "OOMKilled", 3),
    ]
    assert failures[1].describe() == (
        "pod b: OOMKilled: the container exceeded its memory limit and the kernel killed it,"
        " restarted 3 times"
    )


def test_a_recovered_container_is_not_a_failure_even_after_an_oom_kill() -> None:
    recovered = container(ready=True, restarts=1, state={"running": {}}, lastState=OOM_LAST)
    assert pod_failures([pod("a", recovered)]) == []


@pytest.mark.parametrize("reason", sorted(FAILING_WAITING_REASONS))
def test_every_failing_waiting_reason_is_reported(reason: str) -> None:
    waiting = container(state={"waiting": {"reason": reason, "message": "details"}})
    assert pod_failures([pod("a", waiting)]) == [
        PodFailure(pod="a", reason=reason, message="details", restarts=0)
    ]


def test_a_crash_loop_names_the_last_exit() -> None:
    looping = container(
        restarts=5,
        state={"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
        lastState={"terminated": {"reason": "Error", "exitCode": 1}},
    )
    [failure] = pod_failures([pod("a", looping)])
    assert (
        failure.describe() == "pod a: CrashLoopBackOff: last exit Error code 1, restarted 5 times"
    )


def test_a_crash_loop_says_what_the_collector_exited_on() -> None:
    said = "starting\nohlcv-collector: error: invalid DatabaseSettings: DB_REQUIRED is set\n"
    looping = container(
        restarts=2,
        state={"waiting": {"reason": "CrashLoopBackOff"}},
        lastState={"terminated": {"reason": "Error", "exitCode": 1, "message": said}},
    )
    [failure] = pod_failures([pod("a", looping)])
    assert failure.message == (
        "last exit Error code 1: ohlcv-collector: error: invalid DatabaseSettings:"
        " DB_REQUIRED is set"
    )


def test_unschedulable_and_terminating_pods() -> None:
    pending = pod(
        "a",
        conditions=[
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
             "message": "0/1 nodes are available: 1 Insufficient memory."}
        ],
    )  # fmt: skip
    leaving = pod("b", container(state={"waiting": {"reason": "CrashLoopBackOff"}}))
    leaving["metadata"]["deletionTimestamp"] = "2026-11-27T00:00:00Z"
    assert pod_failures([pending, leaving]) == [
        PodFailure(
            pod="a",
            reason="Unschedulable",
            message="0/1 nodes are available: 1 Insufficient memory.",
            restarts=0,
        )
    ]


def test_failing_pods_stall_the_resource_with_the_reason_and_an_event() -> None:
    oom = PodFailure(pod="binance-collector-x", reason="OOMKilled", message="killed", restarts=2)
    healthy = status_of(observe())
    stalled = status_of(observe(pod_failures=(oom,)), previous=healthy, now="T2")
    found = find(stalled["conditions"], "Stalled")
    assert found is not None
    assert (found["status"], found["reason"]) == ("True", "OOMKilled")
    assert found["message"] == "pod binance-collector-x: OOMKilled: killed, restarted 2 times"
    ready = find(stalled["conditions"], "Ready")
    assert ready is not None
    assert (ready["status"], ready["reason"]) == ("False", "OOMKilled")
    assert ("Warning", "OOMKilled", found["message"]) in transitions(before=healthy, after=stalled)
    recovered = status_of(observe(), previous=stalled, now="T3")
    assert ("Normal", "NoErrors", "Stalled is False") in transitions(
        before=stalled, after=recovered
    )
