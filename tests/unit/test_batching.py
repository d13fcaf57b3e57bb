"""When a buffered writer writes and how much: room in the buffer, due time, batch grouping."""

import pytest

from ohlcv_collector.core.batching import batches_to_combine, has_room, seconds_until_flush


@pytest.mark.parametrize(
    ("buffered", "incoming", "room"),
    [(0, 10, True), (90, 10, True), (91, 10, False), (0, 500, True), (1, 500, False)],
)
def test_buffer_room(buffered: int, incoming: int, room: bool) -> None:
    assert has_room(buffered_rows=buffered, incoming_rows=incoming, capacity=100) is room


def due(*, rows: int, age: float, forced: bool = False) -> float | None:
    return seconds_until_flush(
        buffered_rows=rows, oldest_age=age, max_rows=100, max_seconds=1.0, forced=forced
    )


def test_empty_buffer_is_never_due() -> None:
    assert due(rows=0, age=0.0) is None
    assert due(rows=0, age=5.0, forced=True) is None


def test_due_when_full_enough_or_old_enough_or_forced() -> None:
    assert due(rows=100, age=0.0) == 0.0
    assert due(rows=1, age=1.0) == 0.0
    assert due(rows=1, age=3.0) == 0.0
    assert due(rows=1, age=0.0, forced=True) == 0.0


def test_otherwise_due_when_the_oldest_row_turns_max_seconds_old() -> None:
    assert due(rows=99, age=0.25) == pytest.approx(0.75)


@pytest.mark.parametrize(
    ("sizes", "count"),
    [([], 0), ([30, 30, 30, 30], 3), ([100, 1], 1), ([250, 1], 1), ([1, 250], 1),
     ([50, 50], 2), ([60, 50, 10], 1)],
)  # fmt: skip
def test_batches_combined_up_to_max_rows_without_splitting(sizes: list[int], count: int) -> None:
    assert batches_to_combine(sizes, max_rows=100) == count
