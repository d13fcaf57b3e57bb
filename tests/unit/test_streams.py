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


def test_older_bars_of_a_connections_first_batch_are_left_to_the_repair() -> None:
    tracker = CandleStreamTracker()
    # ccxt hands over bars the previous connection received but nobody read: bar 1 and 2
    # may hold stale values, only bar 3 surely came over this connection.
    step = tracker.receive([bar(1, "1"), bar(2, "2"), bar(3, "3")])
    assert step.store == []
    assert step.covered is None
    step = tracker.receive([bar(4, "4")])
    assert step.store == [bar(3, "3")]
    assert step.covered == TimeRange(3 * M, 4 * M)


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
    assert step.covered is None  # minutes 2..7 are left to the REST repair
    assert step.store == []
    step = tracker.receive([bar(9, "9")])
    assert step.covered == TimeRange(8 * M, 9 * M)
    assert step.store == [bar(8, "8")]


def trade(trade_id: int, time: int) -> Trade:
    return Trade("kraken", "BTC/USD", str(trade_id), time, Decimal(1), Decimal(1))


def test_trade_coverage_starts_after_the_first_batch_and_lags_the_newest() -> None:
    tracker = TradeStreamTracker(reorder_grace_ms=1_000)
    first = tracker.receive([trade(1, 10_000), trade(2, 10_500)])
    assert first.covered is None  # the first batch proves nothing before its newest trade
    assert [t.trade_id for t in first.store] == ["1", "2"]
    second = tracker.receive([trade(3, 15_000)])
    assert second.covered == TimeRange(10_501, 14_000)
    third = tracker.receive([trade(4, 12_000), trade(5, 20_000)])  # one late, one new
    assert third.covered == TimeRange(14_000, 19_000)
    assert [t.trade_id for t in third.store] == ["4", "5"]
    assert tracker.connection_coverage == TimeRange(10_501, 19_000)


def test_trades_lost_inside_a_first_batch_joining_two_connections_stay_uncovered() -> None:
    tracker = TradeStreamTracker(reorder_grace_ms=0)
    tracker.receive([trade(i, 1_000 + i) for i in range(1, 30)])
    tracker.reset()  # the connection dropped; 30..32 were sent while it was down
    # ccxt hands the unread 29..29 of the old connection over with the new one's 33..35
    first = tracker.receive([trade(29, 1_029), trade(33, 1_033), trade(35, 1_035)])
    assert first.covered is None
    assert not first.gap  # the jump is the reconnect, already left to the repair
    later = tracker.receive([trade(36, 1_036), trade(37, 1_037)])
    assert later.covered == TimeRange(1_036, 1_037)  # never 1_030..1_032
    assert tracker.receive([trade(39, 1_039)]).gap  # judged by ids again after it


def test_trade_coverage_restarts_on_a_new_connection() -> None:
    tracker = TradeStreamTracker(reorder_grace_ms=0)
    tracker.receive([trade(1, 1_000), trade(2, 5_000)])
    tracker.reset()
    assert tracker.connection_coverage is None
    step = tracker.receive([trade(3, 9_000), trade(4, 9_500)])
    assert step.covered is None  # 5_000..9_501 is a hole to repair
    step = tracker.receive([trade(5, 9_800)])
    assert step.covered == TimeRange(9_501, 9_800)


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
