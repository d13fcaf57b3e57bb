"""The replay clock: which recorded moment each market is at, and what "now" is on the exchange.

Served times are recorded times plus a per-market offset, chosen so that the market's replay
start position is wall-clock now when the server starts; the offset is a whole number of minutes,
so candle boundaries stay where the exchange put them. The exchange clock then advances `speed`
recorded seconds per wall second, and every market moves with it. One offset per market lets
recordings from different years (Binance.US 2023, Binance spot 2024) be live side by side.

Clients must take the exchange's time (Binance /api/v3/time, Kraken /0/public/Time) and not their
own when `speed` is not 1: the replay runs ahead of the wall clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from tests.replay_exchange.models import NS_PER_MS, minute_floor

_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True, slots=True)
class ReplayClock:
    """Wall time to exchange time: both start equal, then the exchange runs `speed` times faster."""

    wall_start_ns: int
    speed: float = 1.0

    def now_ns(self, *, wall_ns: int) -> int:
        return self.wall_start_ns + int((wall_ns - self.wall_start_ns) * self.speed)

    def now_ms(self, *, wall_ns: int) -> int:
        return self.now_ns(wall_ns=wall_ns) // NS_PER_MS


def replay_offset_ms(
    *,
    first_ms: int,
    end_ms: int,
    served_start_ms: int,
    history_ms: int,
    start_ms: int | None = None,
) -> int:
    """The offset that puts a market's start position at `served_start_ms`.

    The start position is `start_ms` when given (a recorded time), else `history_ms` into the
    recording but never past its middle, so that every market has both history to backfill and
    data left to stream. It is clamped into the recording.
    """
    span = end_ms - first_ms
    position = start_ms if start_ms is not None else first_ms + min(history_ms, span // 2)
    position = min(max(position, first_ms), end_ms)
    return minute_floor(served_start_ms) - minute_floor(position)


def parse_duration_ms(text: str) -> int:
    """'90m', '6h', '1d', '45s' or a bare number of seconds, as milliseconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if match is None:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90m, 6h, 1d)")
    number, unit = match.groups()
    return int(float(number) * _UNITS_S[unit or "s"] * 1000)


def parse_instant_ms(text: str) -> int:
    """An ISO 8601 time (UTC unless it says otherwise) as epoch milliseconds."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def iso_utc(*, ns: int, digits: int) -> str:
    """RFC 3339 UTC time with `digits` fractional digits, truncated (Kraken WS v2 style)."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if digits == 0:
        return base + "Z"
    return f"{base}.{fraction:09d}"[: len(base) + 1 + digits] + "Z"
