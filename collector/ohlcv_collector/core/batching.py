"""When a buffered writer writes, and how much it writes at once.

Rows are cheapest to store in large batches, but a row that waits in memory is a row
that a crash loses and that readers cannot see yet. A writer therefore writes as soon
as it holds `max_rows`, or as soon as its oldest row has waited `max_seconds`, and
stops accepting rows while its buffer is full (backpressure) instead of dropping any.
"""

from collections.abc import Iterable


def has_room(*, buffered_rows: int, incoming_rows: int, capacity: int) -> bool:
    """True when `incoming_rows` fit in the buffer.

    An empty buffer takes a batch of any size, so a batch larger than the whole buffer
    is delayed until the buffer drains, never refused.
    """
    return buffered_rows == 0 or buffered_rows + incoming_rows <= capacity


def seconds_until_flush(
    *, buffered_rows: int, oldest_age: float, max_rows: int, max_seconds: float, forced: bool
) -> float | None:
    """Seconds until the buffer is due to be written: 0 when due now, None when empty.

    `oldest_age` is how long the oldest buffered row has waited; `forced` means someone
    asked for everything to be written now (a flush or a shutdown).
    """
    if buffered_rows == 0:
        return None
    if forced or buffered_rows >= max_rows:
        return 0.0
    return max(0.0, max_seconds - oldest_age)


def batches_to_combine(sizes: Iterable[int], *, max_rows: int) -> int:
    """How many of the oldest batches (of these sizes, oldest first) to write in one call.

    Batches are never split, because each carries coverage that must be stored with its
    rows; so the first batch is always taken, even when it alone exceeds `max_rows`.
    """
    count = total = 0
    for size in sizes:
        if count and total + size > max_rows:
            break
        count += 1
        total += size
    return count
