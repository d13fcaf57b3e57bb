"""Prometheus metrics of the operator, served with /healthz on its metrics port."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

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
