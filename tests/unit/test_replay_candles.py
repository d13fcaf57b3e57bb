"""Candles built from trades, as the exchanges build them, checked against their own candles.

The Kraken pair is the exact-match recording of the data README (section 5.2): Kraken's own 1m
OHLC for the same hours as 1000 recorded trades. Binance aggregates come from the README too.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

from tests.replay_exchange.candles import (
    aggregate_trades,
    candles_from_trades,
    fill_empty_minutes,
)
from tests.replay_exchange.datasets import shared_data_dir
from tests.replay_exchange.kraken import payloads as kraken_payloads
from tests.replay_exchange.loading import load_file
from tests.replay_exchange.models import Candle, Trade

DATA = shared_data_dir()
KRAKEN_TRADES = DATA / "trades/kraken_XBTUSDT_rest_trades_20251110.json"
KRAKEN_OHLC = DATA / "trades/kraken_XBTUSDT_rest_ohlc1m_20251110.json"


def test_candles_from_kraken_trades_are_kraken_ohlc_rows_to_the_character() -> None:
    (trades,) = load_file(KRAKEN_TRADES)
    (recorded,) = load_file(KRAKEN_OHLC)
    built = {c.open_ms: c for c in candles_from_trades(trades.trades)}
    official = {c.open_ms: c for c in recorded.candles}
    # 17:23 is partial (the trade recording starts mid-minute); 17:24 to 00:13 are complete.
    minutes = sorted(m for m in built if m > min(built))
    assert len(minutes) == 410
    for minute in minutes:
        ours = kraken_payloads.ohlc_row(candle=built[minute], pair_decimals=1)
        theirs = kraken_payloads.ohlc_row(candle=official[minute], pair_decimals=1)
        assert ours == theirs, minute


def test_empty_minutes_repeat_the_previous_close_with_nothing_traded() -> None:
    (trades,) = load_file(KRAKEN_TRADES)
    built = candles_from_trades(trades.trades)
    empty = [c for c in built if c.is_empty]
    assert len(empty) == len(built) - len({t.time_ms // 60_000 for t in trades.trades})
    for candle in empty:
        previous = next(c for c in built if c.open_ms == candle.open_ms - 60_000)
        assert candle.open == candle.high == candle.low == candle.close == previous.close
        assert (candle.volume, candle.trade_count) == (Decimal(0), 0)


def test_binance_minutes_match_the_readme_aggregates() -> None:
    (day,) = load_file(DATA / "trades/binance_spot_ws/btcusdt_20240808.gz")
    candle = next(c for c in candles_from_trades(day.trades) if c.open_ms == 1723161300000)  # 23:55
    assert (candle.open, candle.high, candle.low, candle.close) == (
        Decimal("61828.00"),
        Decimal("61860.80"),
        Decimal("61780.00"),
        Decimal("61782.25"),
    )
    assert (candle.volume, candle.trade_count) == (Decimal("15.07702"), 1255)


def test_aggregate_trades_keep_every_fill_in_their_own_id_space() -> None:
    (day,) = load_file(DATA / "trades/binance_spot_ws/btcusdt_20240808.gz")
    aggs = aggregate_trades(day.trades)
    assert [a.agg_id for a in aggs] == list(range(1, len(aggs) + 1))
    assert sum(a.amount for a in aggs) == sum(t.amount for t in day.trades)
    assert aggs[0].first_trade_id == day.trades[0].trade_id
    assert all(a.last_trade_id + 1 == b.first_trade_id for a, b in itertools.pairwise(aggs))
    assert len(aggs) < len(day.trades)


def test_one_run_of_fills_at_one_price_time_and_side_is_one_aggregate() -> None:
    def fill(trade_id: int, price: str, side: str = "buy", time_ns: int = 5) -> Trade:
        return Trade(trade_id, time_ns, Decimal(price), Decimal(1), side)  # type: ignore[arg-type]

    aggs = aggregate_trades([fill(1, "10"), fill(2, "10"), fill(3, "11"), fill(4, "11", "sell")])
    assert [(a.first_trade_id, a.last_trade_id, a.amount) for a in aggs] == [
        (1, 2, Decimal(2)),
        (3, 3, Decimal(1)),
        (4, 4, Decimal(1)),
    ]


def test_filling_restores_every_missing_minute_between_candles() -> None:
    def candle(open_ms: int, close: str) -> Candle:
        price = Decimal(close)
        return Candle(open_ms, price, price, price, price, Decimal(1), 1)

    filled = fill_empty_minutes([candle(0, "5"), candle(180_000, "7")])
    assert [(c.open_ms, c.close, c.is_empty) for c in filled] == [
        (0, Decimal(5), False),
        (60_000, Decimal(5), True),
        (120_000, Decimal(5), True),
        (180_000, Decimal(7), False),
    ]
