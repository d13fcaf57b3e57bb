"""Streams are trusted only while connected, and only closed bars are stored."""

from decimal import Decimal

from ohlcv_collector.core.streams import CandleStreamTracker, TradeStreamTracker
from ohlcv_collector.models import MINUTE_MS, Candle, TimeRange, Trade

M = MINUTE_MS


def bar(minute: int, close: str) -> Candle:
    price = Decimal(close)
    return Candle("binance", "BTC/USDT", minute * M, price, price, price, price, Decimal(1))


def test_a_bar_is_stored_with_its_last_values_once_the_next_bar_starts() -> None:
    tracker = CandleStreamTracker()
    assert tracker.receive([bar(10, "1")]).store == []
    assert tracker.receive([bar(10, "2"), bar(10, "3")]).store == []
    step = tracker.receive([bar(11, "4")])
    assert step.store == [bar(10, "3")]  # final values, not the first update
    assert step.covered == TimeRange(10 * M, 11 * M)


def test_minutes_between_bars_of_one_connection_are_covered_without_candles() -> None:
    tracker = CandleStreamTracker()
    tracker.receive([bar(10, "1")])
    step = tracker.receive([bar(14, "2")])  # Kraken sends no bar for minutes without trades
    assert step.store == [bar(10, "1")]
    assert step.covered == TimeRange(10 * M, 14 * M)


def test_a_snapshot_of_several_bars_stores_all_but_the_newest() -> None:
    tracker = CandleStreamTracker()
    step = tracker.receive([bar(1, "1"), bar(2, "2"), bar(3, "3")])
    assert step.store == [bar(1, "1"), bar(2, "2")]
    assert step.covered == TimeRange(1 * M, 3 * M)


def test_an_update_to_a_closed_bar_is_reported_late_for_repair() -> None:
    tracker = CandleStreamTracker()
    tracker.receive([bar(1, "1"), bar(2, "2")])
    step = tracker.receive([bar(1, "9")])
    assert step.late == [bar(1, "9")]
    assert step.store == []


def test_after_a_reconnect_the_down_time_stays_uncovered() -> None:
    tracker = CandleStreamTracker()
    tracker.receive([bar(1, "1"), bar(2, "2")])
    tracker.reset()
    step = tracker.receive([bar(7, "7"), bar(8, "8")])
    assert step.covered == TimeRange(7 * M, 8 * M)  # minutes 2..6 are left to the REST repair
    assert step.store == [bar(7, "7")]


def trade(trade_id: int, time: int) -> Trade:
    return Trade("kraken", "BTC/USD", str(trade_id), time, Decimal(1), Decimal(1))


def test_trade_coverage_starts_after_the_first_trade_and_lags_the_newest() -> None:
    tracker = TradeStreamTracker(reorder_grace_ms=1_000)
    first = tracker.receive([trade(1, 10_000), trade(2, 10_500)])
    assert first.covered is None  # nothing is 1 s older than the newest trade yet
    second = tracker.receive([trade(3, 15_000)])
    assert second.covered == TimeRange(10_001, 14_000)
    third = tracker.receive([trade(4, 12_000), trade(5, 20_000)])  # one late, one new
    assert third.covered == TimeRange(14_000, 19_000)
    assert [t.trade_id for t in third.store] == ["4", "5"]
    assert tracker.connection_coverage == TimeRange(10_001, 19_000)


def test_trade_coverage_restarts_on_a_new_connection() -> None:
    tracker = TradeStreamTracker(reorder_grace_ms=0)
    tracker.receive([trade(1, 1_000), trade(2, 5_000)])
    tracker.reset()
    assert tracker.connection_coverage is None
    step = tracker.receive([trade(3, 9_000), trade(4, 9_500)])
    assert step.covered == TimeRange(9_001, 9_500)  # 5_000..9_001 is a hole to repair


def test_a_jump_in_consecutive_trade_ids_is_reported_and_uncovered() -> None:
    tracker = TradeStreamTracker(reorder_grace_ms=0)
    tracker.receive([trade(i, 1_000 + i) for i in range(1, 30)])
    step = tracker.receive([trade(31, 2_000)])  # 30 was lost
    assert step.gap
    assert step.covered is None
    assert tracker.connection_coverage is None  # the range around the loss is left to repair
    after = tracker.receive([trade(32, 2_100), trade(33, 2_200)])
    assert not after.gap


def test_duplicates_and_late_trades_are_not_gaps() -> None:
    tracker = TradeStreamTracker(reorder_grace_ms=0)
    tracker.receive([trade(i, 1_000 + i) for i in range(1, 30)])
    assert not tracker.receive([trade(29, 1_029), trade(30, 1_030), trade(28, 1_028)]).gap


def test_exchanges_whose_ids_are_not_consecutive_are_not_judged_by_them() -> None:
    tracker = TradeStreamTracker(reorder_grace_ms=0)
    tracker.receive([trade(i * 7, 1_000 + i) for i in range(1, 30)])  # ids step by 7
    assert not tracker.receive([trade(500, 2_000)]).gap
