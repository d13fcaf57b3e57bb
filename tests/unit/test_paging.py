"""REST paging stores every closed candle and trade once, and never an unfinished bar."""

from decimal import Decimal

from ohlcv_collector.core.coverage import merge
from ohlcv_collector.core.paging import TRADE_WINDOW_MS, CandlePager, TradePager
from ohlcv_collector.models import MINUTE_MS, Candle, TimeRange, Trade

M = MINUTE_MS


def candle(minute: int) -> Candle:
    one = Decimal(1)
    return Candle("binance", "BTC/USDT", minute * M, one, one, one, one, one)


class CandleExchange:
    """Serves minutes [first, now] like Binance klines: the bar at `now` is in progress.

    With `last`, the market's data stops there (a halt, the end of a recording): minutes
    [first, last] are served, all closed once the clock `now` is past `last`.
    """

    def __init__(
        self, *, first: int, now: int, depth: int | None = None, last: int | None = None
    ) -> None:
        self.first, self.now, self.depth, self.calls = first, now, depth, 0
        self.last = now if last is None else last

    def klines(self, since: int, limit: int) -> list[Candle]:
        self.calls += 1
        oldest = self.first if self.depth is None else max(self.first, self.now - self.depth + 1)
        start = max(since // M, oldest)
        return [candle(m) for m in range(start, min(start + limit, self.last + 1))]


def fill(
    pager: CandlePager, exchange: CandleExchange
) -> tuple[list[int], list[TimeRange], list[TimeRange]]:
    stored: list[int] = []
    covered: list[TimeRange] = []
    unavailable: list[TimeRange] = []
    while (since := pager.next_since()) is not None:
        page = pager.receive(exchange.klines(since, pager.limit))
        stored += [c.start // M for c in page.store]
        covered += [page.covered] if page.covered else []
        unavailable += [page.unavailable] if page.unavailable else []
    return stored, merge(covered), unavailable


def test_backfill_to_now_stores_every_closed_bar_once_and_not_the_open_one() -> None:
    exchange = CandleExchange(first=0, now=2500)
    pager = CandlePager(hole=TimeRange(0, 10_000 * M), limit=1000)
    stored, covered, unavailable = fill(pager, exchange)
    assert stored == list(range(2500))  # minute 2500 is still in progress
    assert covered == [TimeRange(0, 2500 * M)]
    assert unavailable == []
    assert pager.progress() == 1.0
    assert exchange.calls <= 5  # 1000 per page, plus the closing requests


def test_bounded_repair_stops_at_the_hole_end() -> None:
    exchange = CandleExchange(first=0, now=5000)
    stored, covered, _ = fill(CandlePager(hole=TimeRange(100 * M, 250 * M), limit=1000), exchange)
    assert stored == list(range(100, 250))
    assert covered == [TimeRange(100 * M, 250 * M)]
    assert exchange.calls == 1


def test_page_ending_exactly_at_the_hole_end_is_confirmed_by_the_next_page() -> None:
    exchange = CandleExchange(first=0, now=5000)
    stored, covered, _ = fill(CandlePager(hole=TimeRange(0, 1000 * M), limit=1000), exchange)
    assert stored == list(range(1000))
    assert covered == [TimeRange(0, 1000 * M)]


def test_shallow_history_is_reported_unavailable_not_empty() -> None:
    """Kraken serves only its newest 720 candles whatever `since` asks for."""
    exchange = CandleExchange(first=0, now=5000, depth=720)
    stored, covered, unavailable = fill(
        CandlePager(hole=TimeRange(0, 9999 * M), limit=720), exchange
    )
    assert unavailable == [TimeRange(0, 4281 * M)]
    assert stored == list(range(4281, 5000))
    assert covered == [TimeRange(4281 * M, 5000 * M)]


def test_gaps_shorter_than_a_page_are_known_empty_minutes() -> None:
    """Exchanges that omit minutes without trades (Coinbase, Kraken files) leave holes."""
    rows = [candle(m) for m in (0, 1, 5, 6)]
    pager = CandlePager(hole=TimeRange(0, 6 * M), limit=1000)
    page = pager.receive(rows)
    assert [c.start // M for c in page.store] == [0, 1, 5]
    assert page.covered == TimeRange(0, 6 * M)
    assert pager.next_since() is None


def test_an_empty_answer_ends_the_pager_without_claiming_coverage() -> None:
    pager = CandlePager(hole=TimeRange(0, 10 * M), limit=1000)
    page = pager.receive([])
    assert (page.store, page.covered, pager.next_since()) == ([], None, None)


def test_the_last_bar_of_a_market_whose_data_stopped_is_stored_and_what_follows_is_empty() -> None:
    """The replay's Binance BTC/USDT recording ends, and the collector started after its
    end: no later bar ever proves the last one closed, but the exchange's clock does."""
    exchange = CandleExchange(first=0, now=60, last=11)
    pager = CandlePager(hole=TimeRange(0, 60 * M), limit=1000, closed_before=60 * M + 5_000)
    stored, covered, unavailable = fill(pager, exchange)
    assert stored == list(range(12))
    assert covered == [TimeRange(0, 60 * M)]
    assert unavailable == []
    assert pager.progress() == 1.0


def test_later_repairs_of_a_market_whose_data_stopped_cover_the_new_minutes() -> None:
    exchange = CandleExchange(first=0, now=3000, last=11)
    pager = CandlePager(hole=TimeRange(60 * M, 2500 * M), limit=1000, closed_before=2500 * M)
    stored, covered, _ = fill(pager, exchange)
    assert stored == []
    assert covered == [TimeRange(60 * M, 2500 * M)]  # a page's reach at a time: 3 requests
    assert exchange.calls == 3


def test_without_the_exchanges_clock_only_a_later_bar_proves_one_closed() -> None:
    exchange = CandleExchange(first=0, now=60, last=11)
    stored, covered, _ = fill(CandlePager(hole=TimeRange(0, 60 * M), limit=1000), exchange)
    assert stored == list(range(11))
    assert covered == [TimeRange(0, 11 * M)]
    empty = CandlePager(hole=TimeRange(20 * M, 60 * M), limit=1000)
    assert fill(empty, exchange)[:2] == ([], [])


def test_the_clock_proves_nothing_about_the_bar_in_progress_or_the_minutes_ahead() -> None:
    exchange = CandleExchange(first=0, now=100)  # bar 100 is in progress at 100:30
    pager = CandlePager(hole=TimeRange(0, 200 * M), limit=1000, closed_before=100 * M + 30_000)
    stored, covered, _ = fill(pager, exchange)
    assert stored == list(range(100))
    assert covered == [TimeRange(0, 100 * M)]
    quiet = CandleExchange(first=0, now=100, last=90)  # nothing since minute 90
    pager = CandlePager(hole=TimeRange(80 * M, 200 * M), limit=1000, closed_before=100 * M)
    stored, covered, _ = fill(pager, quiet)
    assert stored == list(range(80, 91))
    assert covered == [TimeRange(80 * M, 100 * M)]  # not past the clock


def trade(trade_id: int, time: int) -> Trade:
    return Trade("kraken", "BTC/USD", str(trade_id), time, Decimal(1), Decimal(1))


class TradeExchange:
    """Serves trades after `since` (ms), oldest first, `limit` at a time, at most one hour."""

    def __init__(self, trades: list[Trade], *, window: int | None = TRADE_WINDOW_MS) -> None:
        self.trades, self.window, self.calls = trades, window, 0

    def fetch(self, since: int, limit: int) -> list[Trade]:
        self.calls += 1
        end = since + self.window if self.window else None
        return [t for t in self.trades if t.time >= since and (end is None or t.time < end)][:limit]


def fill_trades(pager: TradePager, exchange: TradeExchange) -> tuple[list[Trade], list[TimeRange]]:
    stored: list[Trade] = []
    covered: list[TimeRange] = []
    while (since := pager.next_since()) is not None:
        page = pager.receive(exchange.fetch(since, pager.limit))
        stored += page.store
        covered += [page.covered] if page.covered else []
    return stored, merge(covered)


def test_trades_sharing_a_timestamp_across_pages_are_all_taken_once() -> None:
    trades = [trade(i, 1_000 + (i // 7) * 10) for i in range(100)]  # 7 trades per timestamp
    exchange = TradeExchange(trades)
    stored, covered = fill_trades(TradePager(hole=TimeRange(0, 5_000), limit=10), exchange)
    assert [t.trade_id for t in stored] == [str(i) for i in range(100)]
    assert covered == [TimeRange(0, 5_000)]


def test_sparse_trades_step_over_empty_hours() -> None:
    hour = TRADE_WINDOW_MS
    trades = [trade(1, 10), trade(2, 5 * hour + 3), trade(3, 9 * hour)]
    stored, covered = fill_trades(
        TradePager(hole=TimeRange(0, 8 * hour), limit=1000), TradeExchange(trades)
    )
    assert [t.trade_id for t in stored] == ["1", "2"]
    assert covered == [TimeRange(0, 8 * hour)]


def test_trades_without_a_window_reach_the_end_quickly() -> None:
    """Kraken answers `since` with everything after it; the exchange's clock bounds the hole."""
    trades = [trade(i, i * 1_000) for i in range(1, 50)]
    exchange = TradeExchange(trades, window=None)
    stored, covered = fill_trades(TradePager(hole=TimeRange(0, 30_500), limit=1000), exchange)
    assert [t.time for t in stored] == [i * 1_000 for i in range(1, 31)]
    assert covered == [TimeRange(0, 30_500)]
    assert exchange.calls == 1


def test_a_full_page_within_one_instant_is_reported_as_stuck_and_skipped() -> None:
    trades = [trade(i, 1_000) for i in range(20)] + [trade(99, 5_000)]
    pager = TradePager(hole=TimeRange(1_000, 9_000), limit=10)
    first = pager.receive(TradeExchange(trades).fetch(1_000, 10))
    assert len(first.store) == 10
    second = pager.receive(TradeExchange(trades).fetch(1_000, 10))
    assert second.stuck_at == 1_000  # the remaining 10 trades of that instant can't be paged
    assert pager.next_since() == 2_000
