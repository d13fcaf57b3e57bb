"""The replay clock: offsets that keep minutes aligned, start positions, speed, time formats."""

from __future__ import annotations

import pytest

from tests.replay_exchange.clock import (
    ReplayClock,
    iso_utc,
    parse_duration_ms,
    parse_instant_ms,
    replay_offset_ms,
)

DAY = 86_400_000


def test_exchange_time_starts_at_wall_time_and_runs_speed_times_faster() -> None:
    clock = ReplayClock(wall_start_ns=1_000_000_000_000, speed=60)
    assert clock.now_ns(wall_ns=1_000_000_000_000) == 1_000_000_000_000
    assert clock.now_ms(wall_ns=1_000_000_000_000 + 1_000_000_000) == 1_000_000 + 60_000


def test_offset_is_whole_minutes_and_lands_the_start_position_on_now() -> None:
    served_start = 1_795_297_269_519
    offset = replay_offset_ms(
        first_ms=0, end_ms=21 * DAY, served_start_ms=served_start, history_ms=DAY
    )
    assert offset % 60_000 == 0
    assert (served_start - offset) // 60_000 * 60_000 == DAY  # recorded position: one day in


def test_history_never_goes_past_the_middle_of_a_short_recording() -> None:
    offset = replay_offset_ms(first_ms=0, end_ms=11 * 60_000, served_start_ms=DAY, history_ms=DAY)
    assert DAY - offset == 5 * 60_000


def test_an_explicit_start_is_clamped_into_the_recording() -> None:
    offset = replay_offset_ms(
        first_ms=DAY, end_ms=2 * DAY, served_start_ms=10 * DAY, history_ms=0, start_ms=0
    )
    assert 10 * DAY - offset == DAY


@pytest.mark.parametrize(
    ("text", "ms"), [("90m", 5_400_000), ("6h", 21_600_000), ("1d", DAY), ("45", 45_000)]
)
def test_durations(text: str, ms: int) -> None:
    assert parse_duration_ms(text) == ms


def test_bad_durations_are_refused() -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration_ms("soon")


def test_instants_default_to_utc() -> None:
    assert (
        parse_instant_ms("2023-03-01T00:00:00")
        == parse_instant_ms("2023-03-01T00:00:00Z")
        == 1677628800000
    )


def test_rfc3339_text_is_truncated_not_rounded() -> None:
    assert iso_utc(ns=1762820035982277754, digits=6) == "2025-11-11T00:13:55.982277Z"
    assert iso_utc(ns=1762820035982277754, digits=9) == "2025-11-11T00:13:55.982277754Z"
    assert iso_utc(ns=1762820035982277754, digits=0) == "2025-11-11T00:13:55Z"
