"""Whether a live Deployment already is what the operator would apply, as pure functions.

A server-side apply of an unchanged manifest changes nothing, but kube-apiserver still
counts it as a write; the operator re-applied every resource on each resync and health
reconcile. Comparing first lets a settled resource cost one read instead of a write.

Comparing values alone cannot see a field the operator set before and has dropped since
(an affinity removed from the resource): the live object still carries it, and only an
apply under the same field manager removes it. So every manifest carries a digest of
itself in an annotation (`stamped`): a live object with the same digest was last applied
with exactly this intent, and the values then tell whether anyone changed them since.
"""

import hashlib
import json
from collections.abc import Mapping
from typing import Any

INTENT_ANNOTATION = "fullon.io/intent"


def stamped(manifest: dict[str, Any]) -> dict[str, Any]:
    """`manifest` with the digest of its own content in the intent annotation."""
    digest = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:16]
    metadata = manifest["metadata"]
    annotations = {**metadata.get("annotations", {}), INTENT_ANNOTATION: digest}
    return {**manifest, "metadata": {**metadata, "annotations": annotations}}


def already_applied(*, live: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """True when every field `desired` sets has the same value in `live`.

    Maps are compared as subsets: the live object carries more (server defaults, status,
    managedFields, other managers' labels). Lists compare element by element at the same
    length. An empty desired value ({}, [], None) matches a missing one: the API server
    omits empty fields. A value the server normalises (cpu "0.5" stored as "500m") differs,
    so the caller applies as it would without this check: a wasted write, never a missed one.
    """
    return _covers(live, desired)


def _covers(live: Any, desired: Any) -> bool:
    if isinstance(desired, Mapping):
        if not isinstance(live, Mapping):
            return False
        return all(
            _covers(live[key], value) if key in live else _empty(value)
            for key, value in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(live) == len(desired)
            and all(_covers(have, want) for have, want in zip(live, desired, strict=True))
        )
    return bool(live == desired)


def _empty(value: Any) -> bool:
    return value is None or value == {} or value == []
