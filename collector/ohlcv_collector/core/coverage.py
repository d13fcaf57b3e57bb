"""Coverage arithmetic: which parts of a series are stored completely, and which are holes.

Backfill, restart resume, reconnect repair and hole repair are one operation on this
algebra: the holes of a series are its collection window minus its coverage, and each
hole is fetched over REST. Only whole minutes matter for candles, so callers align
ranges to minutes before asking.
"""

from collections.abc import Iterable

from ohlcv_collector.models import DAY_MS, MINUTE_MS, TimeRange, floor_minute


def merge(ranges: Iterable[TimeRange]) -> list[TimeRange]:
    """Sorted, non-overlapping ranges covering the same instants; touching ranges join."""
    merged: list[TimeRange] = []
    for current in sorted(r for r in ranges if not r.empty):
        if merged and current.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = TimeRange(last.start, max(last.end, current.end))
        else:
            merged.append(current)
    return merged


def holes(*, window: TimeRange, covered: Iterable[TimeRange]) -> list[TimeRange]:
    """The parts of `window` that no covered range includes, oldest first."""
    found: list[TimeRange] = []
    cursor = window.start
    for part in merge(covered):
        if part.end <= cursor:
            continue
        if part.start >= window.end:
            break
        if part.start > cursor:
            found.append(TimeRange(cursor, part.start))
        cursor = max(cursor, part.end)
    if cursor < window.end:
        found.append(TimeRange(cursor, window.end))
    return found


def covered_duration(*, window: TimeRange, covered: Iterable[TimeRange]) -> int:
    """Milliseconds of `window` that are covered."""
    return window.duration - sum(hole.duration for hole in holes(window=window, covered=covered))


def minute_window(*, start: int, end: int) -> TimeRange:
    """The whole minutes between two instants: from the minute holding `start` to the one
    holding `end`, excluding the latter, which has not closed yet."""
    return TimeRange(floor_minute(start), max(floor_minute(start), floor_minute(end)))


def exchange_clock(*, clock: int, covered: Iterable[TimeRange]) -> int:
    """The exchange's time: `clock`, or later when the exchange already served data past it.

    Coverage never runs ahead of the exchange (REST serves up to its clock, streams up to
    their newest row), so a clock behind it is the local clock running late; the
    fullon_exchange backend and `status` have only the local clock.
    """
    return max(clock, max((r.end for r in covered), default=clock))


def lag_ms(*, now: int, newest_candle: int | None, covered_until: int | None) -> int | None:
    """How far stored candles trail `now`: the time since the later of the newest candle's
    end and the end of the candle coverage, None before either exists.

    Exchanges such as Hyperliquid serve no candle for a minute without trades, and covered
    minutes without a candle are known-empty, so the data is current up to the coverage's
    end; measuring from the newest candle alone would call a quiet market a lagging
    collector (stale-lag threshold, Lagging alert, lag-based autoscaling).
    """
    candle_end = None if newest_candle is None else newest_candle + MINUTE_MS
    ends = [end for end in (candle_end, covered_until) if end is not None]
    return max(0, now - max(ends)) if ends else None


def collection_window(*, now: int, end: int, days: int) -> TimeRange:
    """The `days` before the exchange's current minute, up to `end`: what a target's
    `backtest` asks to keep complete.

    The start follows the minute holding `now`, not `end`: whether the newest closed minute
    is left to a stream (an end a minute earlier) is the collector's choice, which `status`
    cannot see, and must not move the start, or `status` counts the minute before the
    collector's first backfill as a hole until the next minute begins.
    """
    start = floor_minute(now) - max(days, 0) * DAY_MS
    return TimeRange(start, max(start, end))


def since_first(
    covered: list[TimeRange], *, end: int, first_stored: int | None = None
) -> TimeRange:
    """From where the series' history starts to `end`: the window of a series whose history
    starts where collection began (trades), empty when `end` is not past that start.

    It starts at the first covered instant, or at `first_stored`, the oldest row stored,
    when that is earlier: a stream whose connection drops within its first batches stores
    rows before it has proved any range, and the trades between those rows and the next
    connection's coverage are a hole like any other (bench B1 lost them for good).

    A stream's coverage runs into the current minute, past the closed minutes a repair
    ends at, so a series first collected this minute has nothing to repair yet.
    """
    starts = [covered[0].start] if covered else []
    if first_stored is not None:
        starts.append(first_stored)
    start = min(starts, default=end)
    return TimeRange(start, max(start, end))


def whole_minutes(window: TimeRange) -> TimeRange:
    """The part of `window` made of whole minutes (empty when it holds none)."""
    start = floor_minute(window.start + MINUTE_MS - 1)
    return TimeRange(start, max(start, floor_minute(window.end)))


def minutes(window: TimeRange) -> range:
    """Start of each whole minute in `window`."""
    whole = whole_minutes(window)
    return range(whole.start, whole.end, MINUTE_MS)
