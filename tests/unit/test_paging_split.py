"""A hole cut for pagers side by side: together they store what one pager stores, with no
more requests, whatever the hole's length, the page size and the number of pagers."""

import itertools

import pytest

from ohlcv_collector.core.coverage import merge
from ohlcv_collector.core.paging import CandlePager, split_candle_hole
from ohlcv_collector.models import MINUTE_MS, TimeRange
from tests.unit.test_paging import CandleExchange, fill

M = MINUTE_MS


@pytest.mark.parametrize(
    ("start", "minutes", "limit", "parts"),
    list(itertools.product((0, 7), (1, 2, 5, 12, 13, 40), (2, 3, 5, 8), (1, 2, 3, 4, 9))),
)
def test_the_parts_are_whole_pages_that_tile_the_hole(
    start: int, minutes: int, limit: int, parts: int
) -> None:
    hole = TimeRange(start * M, (start + minutes) * M)
    split = split_candle_hole(hole, limit=limit, parts=parts)
    assert 1 <= len(split) <= parts
    assert (split[0].start, split[-1].end) == (hole.start, hole.end)
    assert all(a.end == b.start for a, b in itertools.pairwise(split))
    assert all(not part.empty for part in split)
    assert all(part.duration % ((limit - 1) * M) == 0 for part in split[:-1])
    assert all(part.duration == split[0].duration for part in split[:-1])


def test_an_empty_hole_has_no_parts() -> None:
    assert split_candle_hole(TimeRange(5 * M, 5 * M), limit=1000, parts=4) == []


@pytest.mark.parametrize("now", [1, 2, 999, 1000, 1001, 2997, 2998, 4000, 8641])
@pytest.mark.parametrize("parts", [1, 2, 4])
@pytest.mark.parametrize("closed", [False, True])
def test_pagers_side_by_side_store_what_one_pager_stores_with_no_more_requests(
    now: int, parts: int, closed: bool
) -> None:
    """As the collector does it: one page, then the rest cut into parts."""
    hole = TimeRange(0, (now + 1) * M)
    closed_before = now * M + 5_000 if closed else None
    alone = CandleExchange(first=0, now=now)
    expected = fill(CandlePager(hole=hole, limit=1000, closed_before=closed_before), alone)

    exchange = CandleExchange(first=0, now=now)
    first = CandlePager(hole=hole, limit=1000, closed_before=closed_before)
    page = first.receive(exchange.klines(hole.start, first.limit))
    stored, covered = [c.start // M for c in page.store], [page.covered] if page.covered else []
    if first.next_since() is not None:
        for part in split_candle_hole(TimeRange(first.cursor, hole.end), limit=1000, parts=parts):
            got = fill(CandlePager(hole=part, limit=1000, closed_before=closed_before), exchange)
            stored, covered = stored + got[0], covered + got[1]
    assert (sorted(stored), merge(covered), []) == expected
    assert len(stored) == len(set(stored))
    assert exchange.calls <= alone.calls
