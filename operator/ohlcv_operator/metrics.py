"""Prometheus metrics of the operator, served with /healthz on its metrics port.

The per-exchange gauges go away with their resource (`forget`): a deleted OhlcvCollector
must not keep its last figures, or an alert on them would fire forever.
"""

import contextlib
import platform

from prometheus_client import (
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)

from ohlcv_operator import __version__

REGISTRY = CollectorRegistry(auto_describe=True)
# process_* (CPU, memory, open files, start time) and python_info, as every exporter has.
REGISTRY.register(PROCESS_COLLECTOR)
REGISTRY.register(PLATFORM_COLLECTOR)

BUILD_INFO = Gauge(
    "ohlcv_operator_build_info",
    "Always 1; the labels say which operator runs (joins on version in dashboards).",
    ("version", "python"),
    registry=REGISTRY,
)
BUILD_INFO.labels(version=__version__, python=platform.python_version()).set(1)

RECONCILES = Counter(
    "ohlcv_operator_reconciles", "Reconciles of OhlcvCollector resources.", registry=REGISTRY
)
RECONCILE_ERRORS = Counter(
    "ohlcv_operator_reconcile_errors",
    "Reconciles that failed with an unexpected error (retried at the next trigger).",
    registry=REGISTRY,
)
RECONCILE_SECONDS = Histogram(
    "ohlcv_operator_reconcile_seconds",
    "Time to reconcile one resource.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
DISCOVERY_ERRORS = Counter(
    "ohlcv_operator_discovery_errors", "Discovery rounds that failed.", registry=REGISTRY
)
HEALTH_POLLS = Counter(
    "ohlcv_operator_health_polls",
    "Rounds of the health watch that read every resource's health from Redis.",
    registry=REGISTRY,
)
HEALTH_POLL_ERRORS = Counter(
    "ohlcv_operator_health_poll_errors",
    "Rounds of the health watch that failed (retried at the next round).",
    registry=REGISTRY,
)
TARGETS = Gauge(
    "ohlcv_operator_targets",
    "Target symbols in the database, by exchange.",
    ("exchange",),
    registry=REGISTRY,
)
SYMBOLS_HEALTHY = Gauge(
    "ohlcv_operator_symbols_healthy",
    "Healthy symbols, by exchange.",
    ("exchange",),
    registry=REGISTRY,
)
SYMBOLS_UNHEALTHY = Gauge(
    "ohlcv_operator_symbols_unhealthy",
    "Stale or failing symbols, by exchange.",
    ("exchange",),
    registry=REGISTRY,
)
SYMBOLS_PAUSED = Gauge(
    "ohlcv_operator_symbols_paused",
    "Symbols of a paused resource (spec.paused): not collected on purpose, not unhealthy.",
    ("exchange",),
    registry=REGISTRY,
)
PER_EXCHANGE = (TARGETS, SYMBOLS_HEALTHY, SYMBOLS_UNHEALTHY, SYMBOLS_PAUSED)


def forget(exchange: str) -> None:
    """Drop every per-exchange figure of `exchange` (its resource was deleted)."""
    for gauge in PER_EXCHANGE:
        with contextlib.suppress(KeyError):
            gauge.remove(exchange)
