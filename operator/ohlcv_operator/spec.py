"""The OhlcvCollector resource as typed values, and the names derived from it.

The CRD's schema rejects most bad input at the API server; this parse is the second
line, for what a schema cannot know (an exchange ccxt does not have) and for objects
written before a schema change.
"""

from dataclasses import dataclass
from typing import Any

GROUP = "fullon.io"
VERSION = "v1alpha1"
PLURAL = "ohlcvcollectors"
KIND = "OhlcvCollector"
API_VERSION = f"{GROUP}/{VERSION}"
FIELD_MANAGER = "ohlcv-operator"
CREATED_BY_LABEL = "fullon.io/created-by"
CREATED_BY_OPERATOR = "ohlcv-operator"
EXCHANGE_LABEL = "fullon.io/exchange"
COLLECTOR_APP = "fullon-ohlcv-collector"


class SpecError(ValueError):
    """The resource asks for something the operator cannot do."""


@dataclass(frozen=True, slots=True)
class CollectorSpec:
    """What one OhlcvCollector asks for (`.spec`), with the CRD's defaults applied."""

    exchange: str
    replicas: int = 1
    paused: bool = False
    symbols: tuple[str, ...] = ()
    candles: bool = True
    trades: bool = True
    backfill_days: int | None = None
    image: str | None = None
    image_pull_policy: str | None = None
    resources: dict[str, Any] | None = None
    env: tuple[dict[str, Any], ...] = ()
    node_selector: dict[str, str] | None = None
    tolerations: tuple[dict[str, Any], ...] | None = None
    pod: dict[str, Any] | None = None


# Pod fields a resource may set (camelCase, as in its spec): a resource's value replaces the
# operator's default, except the annotations and labels, which are merged key by key.
POD_FIELDS = (
    "imagePullSecrets",
    "affinity",
    "topologySpreadConstraints",
    "priorityClassName",
    "podAnnotations",
    "podLabels",
)


def parse_spec(spec: dict[str, Any], *, known_exchanges: frozenset[str]) -> CollectorSpec:
    """Typed spec of a resource; raises SpecError saying what is wrong."""
    exchange = spec.get("exchange")
    if not isinstance(exchange, str) or not exchange:
        raise SpecError("spec.exchange is required")
    if exchange not in known_exchanges:
        raise SpecError(f"unknown exchange {exchange!r}: ccxt has no exchange of that id")
    replicas = spec.get("replicas", 1)
    if not isinstance(replicas, int) or replicas < 0:
        raise SpecError(f"spec.replicas must be a whole number >= 0, not {replicas!r}")
    collect = spec.get("collect") or {}
    candles, trades = bool(collect.get("candles", True)), bool(collect.get("trades", True))
    if not (candles or trades):
        raise SpecError("spec.collect must collect candles, trades or both")
    tolerations = spec.get("tolerations")
    return CollectorSpec(
        exchange=exchange,
        replicas=replicas,
        paused=bool(spec.get("paused", False)),
        symbols=tuple(sorted(set(spec.get("symbols") or ()))),
        candles=candles,
        trades=trades,
        backfill_days=collect.get("backfillDays"),
        image=spec.get("image"),
        image_pull_policy=spec.get("imagePullPolicy"),
        resources=spec.get("resources"),
        env=tuple(spec.get("env") or ()),
        node_selector=spec.get("nodeSelector"),
        tolerations=tuple(tolerations) if tolerations is not None else None,
        pod={key: spec[key] for key in POD_FIELDS if spec.get(key) is not None} or None,
    )


def deployment_name(resource_name: str) -> str:
    """The collector Deployment of a resource."""
    return f"{resource_name}-collector"


def selector_labels(resource_name: str) -> dict[str, str]:
    """Labels that select a resource's collector pods (also the scale selector)."""
    return {"app.kubernetes.io/name": COLLECTOR_APP, "app.kubernetes.io/instance": resource_name}


def selector_string(resource_name: str) -> str:
    """The selector as the scale subresource reports it (`.status.selector`)."""
    return ",".join(f"{key}={value}" for key, value in selector_labels(resource_name).items())


def resource_name_for(exchange: str) -> str:
    """The name of the resource the operator creates for an exchange (DNS-1123 safe)."""
    return exchange.lower().replace("_", "-")
