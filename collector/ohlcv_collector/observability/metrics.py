"""Prometheus metrics of a collector process, served on /metrics.

Labels are the exchange and the symbol: a handful of series per symbol, which stays
small for the few hundred symbols an exchange's collectors carry.
"""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

_SERIES = ("exchange", "symbol")

CANDLES_STORED = Counter(
    "ohlcv_collector_candles_stored",
    "Closed 1m candles handed to storage (duplicates of stored rows included).",
    _SERIES,
    registry=REGISTRY,
)
TRADES_STORED = Counter(
    "ohlcv_collector_trades_stored",
    "Trades handed to storage (duplicates of stored rows included).",
    _SERIES,
    registry=REGISTRY,
)
ROWS_REJECTED = Counter(
    "ohlcv_collector_rows_rejected",
    "Rows from the exchange that failed validation and were not stored.",
    (*_SERIES, "kind"),
    registry=REGISTRY,
)
LAG_SECONDS = Gauge(
    "ohlcv_collector_lag_seconds",
    "Seconds between the exchange's clock and the end of the newest stored candle or of the"
    " candle coverage, whichever is later (covered minutes without a candle had no trades).",
    _SERIES,
    registry=REGISTRY,
)
BACKFILL_PROGRESS = Gauge(
    "ohlcv_collector_backfill_progress_ratio",
    "Share of the collection window that is stored completely (0 to 1).",
    _SERIES,
    registry=REGISTRY,
)
BACKFILL_ETA_SECONDS = Gauge(
    "ohlcv_collector_backfill_eta_seconds",
    "Estimated seconds until the backfill completes (-1 while unknown).",
    _SERIES,
    registry=REGISTRY,
)
RECONNECTS = Counter(
    "ohlcv_collector_stream_reconnects",
    "WebSocket stream interruptions followed by a reconnect.",
    (*_SERIES, "stream"),
    registry=REGISTRY,
)
RATE_LIMIT_WAITS = Counter(
    "ohlcv_collector_rate_limit_waits",
    "Times the exchange refused a request for its rate limit and the collector waited.",
    ("exchange",),
    registry=REGISTRY,
)
RATE_LIMIT_WAIT_SECONDS = Counter(
    "ohlcv_collector_rate_limit_wait_seconds",
    "Seconds spent waiting after rate-limit refusals.",
    ("exchange",),
    registry=REGISTRY,
)
REQUEST_ERRORS = Counter(
    "ohlcv_collector_request_errors",
    "Failed exchange requests, by error class.",
    ("exchange", "error"),
    registry=REGISTRY,
)
BATCH_LATENCY = Histogram(
    "ohlcv_collector_batch_write_seconds",
    "Time to write one batch to storage.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
BUFFERED_ROWS = Gauge(
    "ohlcv_collector_buffered_rows",
    "Rows waiting in memory to be written.",
    registry=REGISTRY,
)
WRITE_FAILURES = Counter(
    "ohlcv_collector_write_failures",
    "Batch writes that failed and were retried.",
    registry=REGISTRY,
)
SYMBOL_PHASE = Gauge(
    "ohlcv_collector_symbol_phase",
    "1 for the phase each symbol is in (error: the logs and health say why), 0 for the others.",
    (*_SERIES, "phase"),
    registry=REGISTRY,
)
SYMBOLS = Gauge(
    "ohlcv_collector_symbols",
    "Symbols this process collects, by phase.",
    ("exchange", "phase"),
    registry=REGISTRY,
)
