"""BitMEX's JSON to the collector's models: ccxt's unified symbols derived from
/instrument/active, bins keyed by the minute they open, exact decimals, and what a 429 asks."""

import json
from decimal import Decimal

import pytest

from ohlcv_collector.backends.bitmex.rest import loads, take_token
from ohlcv_collector.backends.bitmex.stream import rows_of
from ohlcv_collector.backends.bitmex.wire import (
    candle_of,
    currency_code,
    error_message,
    iso_of,
    ms_of,
    newest_time,
    retry_after_of,
    trade_of,
    unified_symbol,
)
from ohlcv_collector.models import Side
from ohlcv_collector.ports import SymbolUnavailableError

D = Decimal
NOON = 1_577_880_000_000  # 2020-01-01T12:00:00Z


def instrument(**changes: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "symbol": "XBTUSD", "typ": "FFWCSX", "underlying": "XBT", "quoteCurrency": "USD",
        "settlCurrency": "XBt", "expiry": None, "state": "Open",
    }  # fmt: skip
    entry.update(changes)
    return entry


@pytest.mark.parametrize(
    ("changes", "symbol"),
    [
        ({}, "BTC/USD:BTC"),  # the inverse perpetual, settled in XBt (satoshi)
        ({"symbol": "XBTUSDT", "quoteCurrency": "USDT", "settlCurrency": "USDt"}, "BTC/USDT:USDT"),
        ({"symbol": "ETHUSD", "underlying": "ETH"}, "ETH/USD:BTC"),  # quanto, settled in XBT
        (
            {"symbol": "XBTZ20", "typ": "FFCCSX", "expiry": "2020-12-25T12:00:00.000Z"},
            "BTC/USD:BTC-201225",
        ),
        ({"symbol": "XBT_USDT", "typ": "IFXXXP", "quoteCurrency": "USDT"}, "BTC/USDT"),
        ({"symbol": ".BXBT", "typ": "MRCXXX"}, None),  # an index is not a market
        ({"underlying": None}, None),
    ],
)
def test_unified_symbols_are_derived_from_the_instrument(
    changes: dict[str, object], symbol: str | None
) -> None:
    assert unified_symbol(instrument(**changes)) == symbol


def test_currency_codes_follow_ccxt() -> None:
    assert [currency_code(c) for c in ("XBt", "XBT", "USDt", "ETH", None)] == [
        "BTC", "BTC", "USDT", "ETH", ""
    ]  # fmt: skip


def test_times_round_trip_exactly() -> None:
    assert ms_of("2020-01-01T12:00:00.000Z") == NOON
    assert ms_of("2020-01-01T12:00:00.123Z") == NOON + 123
    assert iso_of(NOON + 60_123) == "2020-01-01T12:01:00.123Z"
    assert ms_of(iso_of(NOON + 7)) == NOON + 7
    assert ms_of("yesterday") == -1
    assert ms_of(None) == -1


def test_a_bin_is_keyed_by_the_minute_it_opens_with_exact_values() -> None:
    """Recorded XBTUSD bin labelled 15:00: it holds 14:59-15:00, its open is the previous
    close and lies above its high."""
    row = loads(
        '{"timestamp": "2020-01-01T12:01:00.000Z", "symbol": "XBTUSD", "open": 6930,'
        ' "high": 6929.5, "low": 6928.5, "close": 6928.5, "trades": 180, "volume": 138999}'
    )
    candle = candle_of(row, exchange="bitmex", symbol="BTC/USD:BTC")
    assert candle.start == NOON
    assert (candle.open, candle.high, candle.low, candle.close, candle.volume) == (
        D(6930), D("6929.5"), D("6928.5"), D("6928.5"), D(138999)
    )  # fmt: skip
    assert str(candle.high) == "6929.5"
    assert candle.trades == 180


def test_a_malformed_bin_gets_values_validation_rejects() -> None:
    candle = candle_of({"timestamp": "nonsense", "open": "x"}, exchange="bitmex", symbol="S")
    assert candle.start == -1
    assert candle.open.is_nan()
    assert candle.close.is_nan()
    assert candle.trades is None
    assert candle_of(["not", "a", "row"], exchange="bitmex", symbol="S").volume.is_nan()


def test_a_trade_keeps_bitmex_id_side_and_exact_size() -> None:
    row = loads(
        '{"timestamp": "2020-01-01T12:00:00.001Z", "symbol": "XBTUSD", "side": "Sell",'
        ' "size": 33651, "price": 7173.5, "trdMatchID": "d1b2ab77-222f-0d69-bd37-d6a902260844"}'
    )
    trade = trade_of(row, exchange="bitmex", symbol="BTC/USD:BTC")
    assert trade.trade_id == "d1b2ab77-222f-0d69-bd37-d6a902260844"
    assert (trade.time, trade.price, trade.amount, trade.side) == (
        NOON + 1, D("7173.5"), D(33651), Side.SELL
    )  # fmt: skip
    assert trade_of({**row, "side": "Buy"}, exchange="bitmex", symbol="S").side == Side.BUY
    assert trade_of({}, exchange="bitmex", symbol="S").trade_id == ""


def test_a_429_asks_for_retry_after_else_until_the_bucket_resets() -> None:
    assert retry_after_of({"Retry-After": "3"}, now_s=100.0) == 3.0
    assert retry_after_of({"x-ratelimit-reset": "130"}, now_s=100.0) == 30.0
    assert retry_after_of({"X-RateLimit-Reset": "90"}, now_s=100.0) == 0.0
    assert retry_after_of({"Retry-After": "soon"}, now_s=100.0) is None
    assert retry_after_of({}, now_s=100.0) is None


def test_error_bodies_read_as_one_line() -> None:
    body = {
        "error": {"message": "Rate limit exceeded, retry in 2 seconds.", "name": "RateLimitError"}
    }
    assert error_message(body) == "RateLimitError: Rate limit exceeded, retry in 2 seconds."
    assert error_message(None) == "None"


def test_the_exchange_clock_is_the_newest_instrument_stamp() -> None:
    stamps = [{"timestamp": iso_of(NOON)}, {"timestamp": iso_of(NOON + 5)}, {"timestamp": None}]
    assert newest_time(stamps) == NOON + 5
    assert newest_time([]) is None


def test_pacing_waits_only_when_the_bucket_is_empty() -> None:
    assert take_token(tokens=30, elapsed_s=0, rate=0.5, capacity=30) == (0.0, 29)
    assert take_token(tokens=0, elapsed_s=0, rate=0.5, capacity=30) == (2.0, 0.0)
    assert take_token(tokens=0.5, elapsed_s=0.5, rate=0.5, capacity=30) == (0.5, 0.0)
    assert take_token(tokens=0, elapsed_s=3600, rate=0.5, capacity=30) == (0.0, 29)


def test_stream_frames_give_rows_of_their_table_only() -> None:
    insert = {"table": "trade", "action": "insert", "data": [{"trdMatchID": "a"}]}
    assert rows_of(insert, table="trade") == [{"trdMatchID": "a"}]
    assert rows_of({**insert, "action": "partial", "data": []}, table="trade") == []
    assert rows_of(insert, table="tradeBin1m") is None
    assert rows_of({"success": True, "subscribe": "trade:XBTUSD"}, table="trade") is None
    assert rows_of(json.loads('{"info": "Welcome"}'), table="trade") is None
    with pytest.raises(SymbolUnavailableError, match="Unknown or expired symbol"):
        rows_of({"status": 400, "error": "Unknown or expired symbol: XBTEUR"}, table="trade")
