"""What "offered" means in every trade scenario's table: the trades the replay served during
the window, read from its ground truth and its clock, so that a run that takes everything it
is offered shows so in the same row (before, a whole-run average stood next to a window's
rate, and the two could not be compared)."""

import pytest

from bench.measure import Window, offered_per_second

STARTED_MS = 1_000_000.0  # the replay's clock started then (wall = exchange time at start)


def window(*, wall_start_s: float, wall_end_s: float) -> Window:
    seconds = wall_end_s - wall_start_s
    return Window(count=0, seconds=seconds, cpu={}, wall_start=wall_start_s,
                  wall_end=wall_end_s)  # fmt: skip


def test_counts_the_trades_served_in_the_window_on_the_replays_clock() -> None:
    # At speed 2, wall seconds 1,010 to 1,020 are exchange seconds 1,020 to 1,040.
    times = [1_015_000, 1_020_000, 1_030_000, 1_039_999, 1_040_000, 1_050_000]
    served = list(enumerate(times, start=1))
    rate = offered_per_second(
        served, window=window(wall_start_s=1_010, wall_end_s=1_020),
        stats={"started_ms": STARTED_MS, "speed": 2.0}, symbols=1,
    )  # fmt: skip
    assert rate == pytest.approx(3 / 10)  # 1,020,000 to 1,039,999: start in, end out


def test_every_symbol_serves_the_same_recording() -> None:
    served = [(i, 1_000_500 + 100 * i) for i in range(50)]
    one, many = (
        offered_per_second(served, window=window(wall_start_s=1_000, wall_end_s=1_010),
                           stats={"started_ms": STARTED_MS, "speed": 1.0}, symbols=symbols)
        for symbols in (1, 500)
    )  # fmt: skip
    assert one == pytest.approx(5.0)
    assert many == pytest.approx(500 * one)


def test_nothing_served_in_the_window_is_no_offer() -> None:
    stats = {"started_ms": STARTED_MS, "speed": 4.0}
    empty = window(wall_start_s=1_100, wall_end_s=1_160)
    assert offered_per_second([(1, 1_000_001)], window=empty, stats=stats, symbols=100) == 0.0
