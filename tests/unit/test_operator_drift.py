"""drift.already_applied and drift.stamped: when the operator may skip applying a Deployment."""

import copy
from typing import Any

from ohlcv_operator.desired import desired_deployment
from ohlcv_operator.drift import INTENT_ANNOTATION, already_applied, stamped
from ohlcv_operator.settings import OperatorSettings
from ohlcv_operator.spec import parse_spec


def manifest(**spec: Any) -> dict[str, Any]:
    return desired_deployment(
        name="binance",
        namespace="fullon",
        uid="uid-1",
        spec=parse_spec({"exchange": "binance", **spec}, known_exchanges=frozenset({"binance"})),
        settings=OperatorSettings(collector_image="ohlcv:1"),
    )


def as_stored(desired: dict[str, Any]) -> dict[str, Any]:
    """`desired` the way the API server returns it: defaults filled in, status and
    managedFields added, another manager's label, and empty fields left out."""
    live = copy.deepcopy(desired)
    live["metadata"] |= {"uid": "d-1", "resourceVersion": "7", "generation": 2}
    live["metadata"]["managedFields"] = [{"manager": "ohlcv-operator", "operation": "Apply"}]
    live["metadata"]["labels"]["team"] = "data"
    live["spec"]["revisionHistoryLimit"] = 10
    pod = live["spec"]["template"]["spec"]
    pod["dnsPolicy"] = "ClusterFirst"
    [container] = pod["containers"]
    container["terminationMessagePath"] = "/dev/termination-log"
    container["startupProbe"]["httpGet"]["scheme"] = "HTTP"
    for key in [k for k, v in pod.items() if v in ({}, [])]:
        del pod[key]
    live["status"] = {"replicas": 1, "readyReplicas": 1, "observedGeneration": 2}
    return live


def container(live: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = live["spec"]["template"]["spec"]["containers"]
    return containers[0]


def test_the_same_object_is_applied() -> None:
    desired = manifest()
    assert already_applied(live=copy.deepcopy(desired), desired=desired)


def test_defaults_status_and_other_managers_fields_are_not_a_difference() -> None:
    desired = manifest()
    assert desired["spec"]["template"]["spec"]["tolerations"] == []  # omitted when stored
    assert already_applied(live=as_stored(desired), desired=desired)


def test_a_scalar_changed_deep_in_the_container_is_a_difference() -> None:
    desired = manifest()
    live = as_stored(desired)
    container(live)["image"] = "ohlcv:hacked"
    assert not already_applied(live=live, desired=desired)
    live = as_stored(desired)
    container(live)["securityContext"]["readOnlyRootFilesystem"] = False
    assert not already_applied(live=live, desired=desired)


def test_a_list_of_another_length_is_a_difference() -> None:
    desired = manifest()
    live = as_stored(desired)
    container(live)["env"].append({"name": "EXTRA", "value": "1"})
    assert not already_applied(live=live, desired=desired)
    live = as_stored(desired)
    container(live)["args"].pop()
    assert not already_applied(live=live, desired=desired)


def test_a_changed_list_element_is_a_difference() -> None:
    desired = manifest()
    live = as_stored(desired)
    container(live)["args"][-1] = "kraken"
    assert not already_applied(live=live, desired=desired)
    live = as_stored(desired)
    container(live)["env"][0]["value"] = "changed"
    assert not already_applied(live=live, desired=desired)


def test_a_field_missing_from_the_live_object_is_a_difference() -> None:
    desired = manifest()
    live = as_stored(desired)
    del container(live)["readinessProbe"]
    assert not already_applied(live=live, desired=desired)
    live = as_stored(desired)
    live["metadata"]["annotations"].clear()
    assert not already_applied(live=live, desired=desired)


def test_a_value_the_server_normalised_is_applied_again() -> None:
    desired = manifest(resources={"requests": {"cpu": "0.5"}})
    live = as_stored(desired)
    container(live)["resources"]["requests"]["cpu"] = "500m"
    assert not already_applied(live=live, desired=desired)


def test_an_empty_desired_object_is_always_applied() -> None:
    assert already_applied(live={"spec": {"replicas": 1}}, desired={})
    assert already_applied(live={}, desired={"spec": {}, "items": [], "note": None})
    assert not already_applied(live={"spec": {"replicas": 1}}, desired={"spec": {"replicas": 2}})


def test_a_type_change_is_a_difference() -> None:
    assert not already_applied(live={"a": "x"}, desired={"a": {"b": 1}})
    assert not already_applied(live={"a": {"b": 1}}, desired={"a": [{"b": 1}]})
    assert not already_applied(live={"a": [1]}, desired={"a": [{"b": 1}]})
    assert not already_applied(live={"a": 1}, desired={"a": None})


def test_a_field_the_operator_dropped_since_its_last_apply_is_applied() -> None:
    """The live object still has the affinity the resource no longer asks for; only an
    apply removes it, and the intent digest is what tells."""
    term = {"key": "disk", "operator": "In", "values": ["ssd"]}
    preferred = [{"weight": 1, "preference": {"matchExpressions": [term]}}]
    affinity = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": preferred}}
    before = manifest(affinity=affinity)
    after = manifest()
    live = as_stored(before)
    assert live["spec"]["template"]["spec"]["affinity"] == affinity
    assert not already_applied(live=live, desired=after)
    assert already_applied(live=as_stored(after), desired=after)


def test_the_intent_digest_follows_every_change_of_the_manifest() -> None:
    one, same, other = manifest(), manifest(), manifest(replicas=2)
    digest = one["metadata"]["annotations"][INTENT_ANNOTATION]
    assert len(digest) == 16
    assert same["metadata"]["annotations"][INTENT_ANNOTATION] == digest
    assert other["metadata"]["annotations"][INTENT_ANNOTATION] != digest
    bare = {"metadata": {"name": "x", "annotations": {"owner": "data"}}}
    marked = stamped(bare)
    assert marked["metadata"]["annotations"]["owner"] == "data"
    assert bare == {"metadata": {"name": "x", "annotations": {"owner": "data"}}}  # a copy
