"""Market assembly and visibility: what the exchange has published at a given instant.

Covers which source wins for each minute, the in-progress candle (from trades, and from a
candle-only recording), the visible prefixes, and the time shift.
"""

from __future__ import annotations

from decimal import Decimal

from tests.replay_exchange.datasets import shared_data_dir
from tests.replay_exchange.loading import load_file
from tests.replay_exchange.markets import Market, assemble_market
from tests.replay_exchange.models import MINUTE_MS as MINUTE
from tests.replay_exchange.models import NS_PER_MS, Candle, RecordedSeries, SourceKind, Trade

DATA = shared_data_dir()


def kraken_btc_usdt() -> Market:
    series = [
        *load_file(DATA / "trades/kraken_XBTUSDT_rest_trades_20251110.json"),
        *load_file(DATA / "trades/kraken_XBTUSDT_rest_ohlc1m_20251110.json"),
    ]
    return assemble_market(symbol="BTC/USDT", series=series)


def trade(trade_id: int, second: float, price: str) -> Trade:
    return Trade(trade_id, int(second * 1e9), Decimal(price), Decimal("0.5"), "buy")


def candle(minute: int, close: str, volume: str = "1") -> Candle:
    price = Decimal(close)
    return Candle(minute * MINUTE, price, price, price, price, Decimal(volume), 2)


def test_candle_file_fills_the_minutes_before_the_trades_and_the_partial_first_one() -> None:
    market = kraken_btc_usdt()
    (recorded,) = load_file(DATA / "trades/kraken_XBTUSDT_rest_ohlc1m_20251110.json")
    by_minute = {c.open_ms: c for c in recorded.candles}
    first_trade_minute = market.trades[0].time_ms // MINUTE * MINUTE
    assert market.first_ms == recorded.candles[0].open_ms
    assert (
        market.candles[market.candle_index(open_ms=first_trade_minute)]
        == by_minute[first_trade_minute]
    )
    assert market.live_from_ms == first_trade_minute + MINUTE
    assert [c.open_ms for c in market.candles] == list(
        range(market.first_ms, market.end_ms, MINUTE)
    )


def test_in_progress_candle_aggregates_only_the_trades_so_far() -> None:
    series = RecordedSeries(
        "ETH/USDT",
        SourceKind.KRAKEN_TRADES_JSON,
        "t",
        (trade(1, 60.5, "10"), trade(2, 61, "12"), trade(3, 62, "11")),
    )
    market = assemble_market(symbol="ETH/USDT", series=[series])
    partial = market.in_progress(now_ns=int(61.5e9))
    assert partial is not None
    assert (partial.open, partial.high, partial.close, partial.volume, partial.trade_count) == (
        Decimal(10),
        Decimal(12),
        Decimal(12),
        Decimal(1),
        2,
    )
    assert market.visible_trades(now_ns=int(61e9)) == 2
    assert market.final_candles(now_ms=119_999) == 0
    assert market.final_candles(now_ms=120_000) == 1


def test_a_minute_without_trades_yet_shows_the_previous_close() -> None:
    trades = (trade(1, 60.5, "10"), trade(2, 185, "12"))
    market = assemble_market(
        symbol="ETH/USDT",
        series=[RecordedSeries("ETH/USDT", SourceKind.KRAKEN_TRADES_JSON, "t", trades)],
    )
    waiting = market.in_progress(now_ns=int(130e9))
    assert waiting is not None
    assert (waiting.open_ms, waiting.close, waiting.volume) == (120_000, Decimal(10), Decimal(0))


def test_candle_only_markets_show_the_recorded_minute_and_never_invent_trades() -> None:
    series = RecordedSeries(
        "BTC/USD", SourceKind.CANDLE_CSV, "c", candles=(candle(1, "5"), candle(3, "7"))
    )
    market = assemble_market(symbol="BTC/USD", series=[series])
    assert not market.has_trades
    assert market.agg_trades == ()
    assert market.in_progress(now_ns=(3 * MINUTE + 10) * NS_PER_MS) == candle(3, "7")
    assert market.in_progress(now_ns=4 * MINUTE * NS_PER_MS) is None  # the recording has ended
    gap = market.in_progress(now_ns=2 * MINUTE * NS_PER_MS)
    assert gap is not None
    assert gap.is_empty
    assert gap.close == Decimal(5)


def test_visible_candles_end_with_the_one_in_progress() -> None:
    series = RecordedSeries(
        "BTC/USD", SourceKind.CANDLE_CSV, "c", candles=tuple(candle(m, str(m)) for m in range(10))
    )
    market = assemble_market(symbol="BTC/USD", series=[series])
    now_ns = (4 * MINUTE + 1) * NS_PER_MS
    assert market.visible_candle_count(now_ns=now_ns) == 5
    rows = market.candle_slice(now_ns=now_ns, start=2, stop=10)
    assert [(c.open_ms // MINUTE, closed) for c, closed in rows] == [
        (2, True),
        (3, True),
        (4, False),
    ]


def test_shifting_moves_every_time_and_nothing_else() -> None:
    market = kraken_btc_usdt()
    moved = market.shifted(offset_ms=10 * MINUTE)
    assert moved.first_ms == market.first_ms + 10 * MINUTE
    assert moved.trades[5].time_ns == market.trades[5].time_ns + 10 * MINUTE * NS_PER_MS
    assert moved.trades[5].price == market.trades[5].price
    assert moved.live_from_ms == (market.live_from_ms or 0) + 10 * MINUTE
    assert market.shifted(offset_ms=10 * MINUTE) is moved
