"""How times and lags are written for people: one spelling for every table and status.

`ohlcv-collector status`, the health records the operator turns into its status, and the
operator's printer columns show the same quantities; written by one function each, they
read the same wherever a user meets them.
"""

from datetime import UTC, datetime

# Largest unit first; a unit is used from two of it up, so "90m" rather than "1h".
_LAG_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60))


def format_lag(seconds: float | None) -> str:
    """A lag in whole units: 4s, 119s, 2m, 2h, 5d, or - when unknown."""
    if seconds is None:
        return "-"
    whole = int(seconds)
    for unit, size in _LAG_UNITS:
        if whole >= size * 2:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def format_utc(at: datetime) -> str:
    """A time in UTC to the second, as 2026-01-02T03:04:00Z."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_utc_ms(instant: int) -> str:
    """An epoch-millisecond time in UTC to the second, as 2026-01-02T03:04:00Z."""
    return format_utc(datetime.fromtimestamp(instant / 1000, UTC))
