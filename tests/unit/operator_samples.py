"""Sample health reports for the operator's pure tests (status and the health watch)."""

from typing import Any

from ohlcv_operator.health import SymbolReport


def report(symbol: str, **changes: Any) -> SymbolReport:
    """A healthy, streaming symbol's report, with `changes` applied."""
    values: dict[str, Any] = {
        "symbol": symbol,
        "status": "running",
        "message": "streaming",
        "stale": False,
        "backfilling": False,
        "lag_seconds": 4.0,
        "newest_candle": "2026-11-21T10:00:00Z",
    }
    return SymbolReport(**(values | changes))
