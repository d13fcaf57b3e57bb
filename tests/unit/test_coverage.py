"""Coverage arithmetic decides what gets downloaded: every hole once, nothing twice."""

import itertools

import pytest

from ohlcv_collector.core.coverage import (
    collection_window,
    covered_duration,
    exchange_clock,
    holes,
    lag_ms,
    merge,
    minute_window,
    minutes,
    since_first,
)
from ohlcv_collector.models import MINUTE_MS, TimeRange

M = MINUTE_MS


def r(start: int, end: int) -> TimeRange:
    return TimeRange(start * M, end * M)


def test_range_rejects_negative_length() -> None:
    with pytest.raises(ValueError, match="ends before it starts"):
        TimeRange(10, 5)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ([], []),
        ([r(0, 1)], [r(0, 1)]),
        ([r(3, 4), r(0, 1)], [r(0, 1), r(3, 4)]),  # sorted
        ([r(0, 2), r(2, 4)], [r(0, 4)]),  # touching ranges join
        ([r(0, 3), r(1, 2)], [r(0, 3)]),  # contained
        ([r(0, 2), r(1, 5), r(7, 8)], [r(0, 5), r(7, 8)]),  # overlapping
        ([r(2, 2), r(0, 1)], [r(0, 1)]),  # empty ranges vanish
    ],
)
def test_merge(given: list[TimeRange], expected: list[TimeRange]) -> None:
    assert merge(given) == expected


def test_merge_is_independent_of_order() -> None:
    ranges = [r(0, 2), r(5, 6), r(1, 3), r(6, 9), r(12, 13)]
    results = {tuple(merge(p)) for p in itertools.permutations(ranges)}
    assert results == {(r(0, 3), r(5, 9), r(12, 13))}


@pytest.mark.parametrize(
    ("covered", "expected"),
    [
        ([], [r(0, 10)]),  # nothing stored: the whole window
        ([r(0, 10)], []),  # complete
        ([r(-5, 20)], []),  # coverage beyond the window
        ([r(0, 4)], [r(4, 10)]),  # resume after a restart
        ([r(6, 10)], [r(0, 6)]),  # older history missing
        ([r(0, 3), r(5, 7)], [r(3, 5), r(7, 10)]),  # holes in the middle and at the end
        ([r(12, 15)], [r(0, 10)]),  # coverage after the window
        ([r(5, 7), r(0, 3)], [r(3, 5), r(7, 10)]),  # unsorted input
    ],
)
def test_holes(covered: list[TimeRange], expected: list[TimeRange]) -> None:
    assert holes(window=r(0, 10), covered=covered) == expected


def test_holes_and_coverage_partition_the_window() -> None:
    window = r(0, 100)
    covered = [r(3, 9), r(20, 21), r(50, 120), r(8, 12)]
    gaps = holes(window=window, covered=covered)
    assert covered_duration(window=window, covered=covered) + sum(g.duration for g in gaps) == (
        window.duration
    )
    assert merge([*gaps, *covered]) == [r(0, 120)]


def test_minute_window_excludes_the_minute_in_progress() -> None:
    assert minute_window(start=90_000, end=5 * M + 1) == r(1, 5)
    assert minute_window(start=5 * M, end=5 * M + 30_000) == r(5, 5)  # nothing closed yet


def test_exchange_clock_is_never_behind_what_was_covered() -> None:
    assert exchange_clock(clock=5 * M, covered=[]) == 5 * M
    assert exchange_clock(clock=5 * M, covered=[r(0, 3), r(7, 9)]) == 9 * M
    assert exchange_clock(clock=12 * M, covered=[r(0, 3), r(7, 9)]) == 12 * M


def test_the_collection_window_is_the_days_before_the_current_minute() -> None:
    now = 3 * 1440 * M + 30_000  # half a minute into the current one
    assert collection_window(now=now, end=3 * 1440 * M, days=2) == r(1440, 3 * 1440)
    assert collection_window(now=now, end=3 * 1440 * M, days=0) == r(3 * 1440, 3 * 1440)
    assert collection_window(now=now, end=3 * 1440 * M, days=-1) == r(3 * 1440, 3 * 1440)


def test_leaving_the_newest_bar_to_the_stream_moves_the_end_not_the_start() -> None:
    """The collector's first pass takes the newest closed bar over REST (no stream proves
    its time yet); `status` always leaves it to the stream. Both count the same window
    start, so what the backfill stored leaves `status` no hole at the start."""
    now = 3 * 1440 * M + 30_000
    backfilled = collection_window(now=now, end=3 * 1440 * M, days=2)
    as_status_sees_it = collection_window(now=now, end=3 * 1440 * M - M, days=2)
    assert as_status_sees_it == r(1440, 3 * 1440 - 1)
    assert holes(window=as_status_sees_it, covered=[backfilled]) == []


def test_since_first_runs_from_the_first_covered_instant_to_the_end() -> None:
    assert since_first([r(3, 4), r(6, 9)], end=8 * M) == r(3, 8)
    assert since_first([], end=8 * M) == r(8, 8)


def test_since_first_starts_at_rows_stored_before_the_first_covered_instant() -> None:
    # A connection dropped within its first batches: its trades (from minute 2) are stored,
    # the next connection proved minute 5 on; minutes 2 to 5 are the window's start.
    assert since_first([r(5, 9)], end=8 * M, first_stored=2 * M + 7) == TimeRange(2 * M + 7, 8 * M)
    assert holes(
        window=since_first([r(5, 9)], end=8 * M, first_stored=2 * M), covered=[r(5, 9)]
    ) == [r(2, 5)]
    # rows stored inside the coverage change nothing; nothing covered yet starts at them
    assert since_first([r(3, 9)], end=8 * M, first_stored=4 * M) == r(3, 8)
    assert since_first([], end=8 * M, first_stored=6 * M) == r(6, 8)


def test_since_first_is_empty_when_coverage_starts_after_the_end() -> None:
    # A trade stream first proving this minute, while the repair ends at the last closed one.
    started = 10 * M + 12_080
    assert since_first([TimeRange(started, 11 * M)], end=10 * M) == TimeRange(started, started)


def test_minutes_lists_whole_minutes_only() -> None:
    assert list(minutes(r(0, 3))) == [0, M, 2 * M]
    assert list(minutes(TimeRange(30_000, 3 * M))) == [M, 2 * M]  # partial first minute
    assert list(minutes(TimeRange(0, 3 * M - 1))) == [0, M]  # partial last minute
    assert list(minutes(r(4, 4))) == []


def test_quiet_minutes_inside_the_coverage_are_no_lag() -> None:
    # The newest trade was at minute 10; minutes 11-14 had none, so the exchange served no
    # candle, but they are covered (known-empty): the data is current to minute 15.
    assert lag_ms(now=15 * M + 20_000, newest_candle=10 * M, covered_until=15 * M) == 20_000


def test_lag_runs_from_the_newest_candle_when_coverage_is_behind_it() -> None:
    # A streamed candle is stored before the repair covering its minute.
    assert lag_ms(now=20 * M, newest_candle=12 * M, covered_until=5 * M) == 7 * M


def test_lag_without_a_candle_runs_from_the_coverage_end() -> None:
    assert lag_ms(now=20 * M, newest_candle=None, covered_until=18 * M) == 2 * M


def test_lag_is_unknown_before_anything_is_stored() -> None:
    assert lag_ms(now=20 * M, newest_candle=None, covered_until=None) is None


def test_lag_is_never_negative() -> None:
    # The local clock running behind data the exchange already served.
    assert lag_ms(now=3 * M, newest_candle=4 * M, covered_until=6 * M) == 0
