"""An exchange that serves only a window of its newest candles, whatever `since` asks for:
the part of a hole it cannot serve is reported unavailable, never covered as empty minutes.

Kraken serves its newest 720 candles, Hyperliquid its newest 5000 (and omits minutes without
trades). A gap at the start of an answer is told apart from quiet minutes by the answer
itself: a page counted from `since` ends within `limit` minutes of it; a window of the newest
candles reaches further.
"""

from decimal import Decimal

from ohlcv_collector.core.paging import CandlePager
from ohlcv_collector.models import MINUTE_MS, Candle, TimeRange

M = MINUTE_MS


def candle(minute: int) -> Candle:
    one = Decimal(1)
    return Candle("hyperliquid", "BTC/USDC:USDC", minute * M, one, one, one, one, one)


def newest_window(*, since: int, now: int, depth: int, quiet: set[int]) -> list[Candle]:
    """Hyperliquid's candleSnapshot: the newest `depth` minutes up to `now` (in progress),
    from `since` on, minutes without trades left out."""
    first = max(since // M, now - depth + 1)
    return [candle(m) for m in range(first, now + 1) if m not in quiet]


def test_a_hole_reaching_less_than_a_page_before_the_window_is_unavailable_not_empty() -> None:
    now, depth = 8000, 5000
    hole = TimeRange(2500 * M, now * M)  # 500 minutes older than the window serves
    pager = CandlePager(hole=hole, limit=depth, closed_before=now * M + 1)
    page = pager.receive(newest_window(since=hole.start, now=now, depth=depth, quiet=set()))
    assert page.unavailable == TimeRange(2500 * M, 3001 * M)
    assert page.covered == TimeRange(3001 * M, now * M)
    assert [c.start // M for c in page.store] == list(range(3001, now))


def test_quiet_minutes_at_the_start_of_a_page_from_since_are_empty_not_unavailable() -> None:
    now = 8000
    hole = TimeRange(6000 * M, now * M)  # inside the window: the answer counts from since
    pager = CandlePager(hole=hole, limit=5000, closed_before=now * M + 1)
    quiet = set(range(6000, 6010))
    page = pager.receive(newest_window(since=hole.start, now=now, depth=5000, quiet=quiet))
    assert page.unavailable is None
    assert page.covered == TimeRange(6000 * M, now * M)
    assert page.store[0].start // M == 6010
