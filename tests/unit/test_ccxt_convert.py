"""ccxt's parsed numbers and rows to the collector's models: exact decimals, NaN for what is
missing or damaged (validation then rejects the row with a reason)."""

from decimal import Decimal

import pytest

from ohlcv_collector.backends.ccxt import convert
from ohlcv_collector.backends.ccxt.client import build_exchange
from ohlcv_collector.backends.ccxt.convert import (
    candle_of,
    candles_of,
    decimal_of,
    trade_decimal_of,
    trade_of,
)
from ohlcv_collector.models import Candle, Side

TRADE = {"id": "12345", "timestamp": 1677628800123, "price": "23144.78000000",
         "amount": "0.00150000", "side": "sell"}  # fmt: skip


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (23144.78, "23144.78"),  # the exchange's decimal string, not the float's binary value
        (0.1, "0.1"),
        (3.912156, "3.912156"),
        (1e-08, "1E-8"),
        (42, "42"),
        ("0.00012000", "0.00012000"),  # strings keep their digits
        ("123456789012345678901234567890.12345000", "123456789012345678901234567890.12345000"),
    ],
)
def test_numbers_become_the_exchanges_exact_decimals(value: object, expected: str) -> None:
    assert decimal_of(value) == Decimal(expected)
    assert str(decimal_of(value)) == expected


@pytest.mark.parametrize("value", [None, True, False, "abc", "", "sNaN", [1], float("nan")])
def test_missing_or_damaged_numbers_become_nan(value: object) -> None:
    assert decimal_of(value).is_nan()


def test_trades_share_the_decimals_of_numbers_seen_before() -> None:
    first = trade_of(TRADE, exchange="binance", symbol="BTC/USD")
    again = trade_of(dict(TRADE), exchange="binance", symbol="BTC/USD")
    assert first == again
    assert first.price is again.price
    assert first.amount is again.amount


@pytest.mark.parametrize("value", [None, "abc", [1], {"p": 1}, float("nan")])
def test_a_trades_missing_or_damaged_number_is_nan_not_shared(value: object) -> None:
    assert trade_decimal_of(value).is_nan()


def test_the_memo_of_trade_numbers_stays_within_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(convert, "_TRADE_NUMBERS_KEPT", 100)
    monkeypatch.setattr(convert, "_TRADE_NUMBERS", {})
    values = [f"{i}.25000000" for i in range(1_000)]
    assert [trade_decimal_of(v) for v in values] == [Decimal(f"{i}.25") for i in range(1_000)]
    assert 0 < len(convert._TRADE_NUMBERS) <= 100


def test_a_ccxt_candle_row_becomes_a_candle() -> None:
    candle = candle_of([1677628800000, 23144.78, 23152.48, 23133.11, 23143.72, 3.912156],
                       exchange="binance", symbol="BTC/USD")  # fmt: skip
    assert (candle.exchange, candle.symbol, candle.start) == ("binance", "BTC/USD", 1677628800000)
    assert (candle.open, candle.high, candle.low, candle.close, candle.volume) == (
        Decimal("23144.78"), Decimal("23152.48"), Decimal("23133.11"), Decimal("23143.72"),
        Decimal("3.912156"),
    )  # fmt: skip


async def test_a_binance_kline_keeps_the_exchanges_digits_through_ccxt() -> None:
    """The collector's ccxt gives numbers as the exchange wrote them, so nothing is lost
    to a float on the way (a float keeps 17 digits), and the candle is the one the named
    constructor builds."""
    exchange = build_exchange(exchange_id="binance", options={}, urls={})
    try:
        kline = [1677628800000, "23144.78000000", "23152.48000000", "23133.11000000",
                 "23143.72000000", "12345678901.12345678", 1677628859999, "90545.7", 120,
                 "1.9", "43970.1", "0"]  # fmt: skip
        candle = candle_of(exchange.parse_ohlcv(kline), exchange="binance", symbol="BTC/USD")
    finally:
        await exchange.close()
    assert candle == Candle(
        exchange="binance", symbol="BTC/USD", start=1677628800000,
        open=Decimal("23144.78000000"), high=Decimal("23152.48000000"),
        low=Decimal("23133.11000000"), close=Decimal("23143.72000000"),
        volume=Decimal("12345678901.12345678"), trades=None, timeframe="1m",
    )  # fmt: skip
    assert [str(value) for value in candle[3:8]] == [
        "23144.78000000", "23152.48000000", "23133.11000000", "23143.72000000",
        "12345678901.12345678",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "row", [[1677628800000, 1.0, 2.0], "not a row", None, ["start", 1.0, 1.0, 1.0, 1.0, 1.0]]
)
def test_a_short_or_damaged_candle_row_gives_values_validation_rejects(row: object) -> None:
    candle = candle_of(row, exchange="binance", symbol="BTC/USD")
    assert candle.start == -1 or candle.volume.is_nan()


KLINE = [1677628800000, "23144.78000000", "23152.48000000", "23133.11000000", "23143.72000000",
         "12345678901.12345678901234567890"]  # fmt: skip


def same(candles: list[Candle], expected: list[Candle]) -> bool:
    """Equal, NaN included (NaN equals nothing, itself neither)."""
    return [repr(c) for c in candles] == [repr(c) for c in expected]


@pytest.mark.parametrize(
    "damage",
    [
        [],  # a sound page, converted in one pass
        [[1677628920000, 23144.78, 23152.48, 23133.11, 23143.72, 0.1]],  # floats: exact reprs
        [[1677628920000, "23144.78", None, "1", "1", "1"]],  # a missing number: NaN
        [[1677628920000, "abc", "1", "1", "1", "sNaN"]],  # damaged numbers: NaN, sNaN kept
        [[1677628920000.0, "1", "1", "1", "1", "1"]],  # a float time: -1
        [[1677628920000, "1", "1"]],  # a short row
        [[1677628920000, "1", "1", "1", "1", "1", "extra"]],  # a long one
        ["not a row"],
    ],
)
def test_a_page_converts_as_its_rows_do_one_by_one(damage: list[object]) -> None:
    """A damaged row anywhere in a page gives every row the result of `candle_of`."""
    page = [KLINE, [1677628860000, *KLINE[1:]], *damage]
    candles = candles_of(page, exchange="binance", symbol="BTC/USD")
    assert same(candles, [candle_of(row, exchange="binance", symbol="BTC/USD") for row in page])
    assert str(candles[0].volume) == "12345678901.12345678901234567890"  # no rounding
    if damage and isinstance(damage[0], list) and type(damage[0][1]) is float:
        assert candles[-1].open == Decimal("23144.78")  # not the float's binary expansion


def test_a_ccxt_trade_becomes_a_trade() -> None:
    trade = trade_of(TRADE, exchange="binance", symbol="BTC/USD")
    assert (trade.trade_id, trade.time, trade.price, trade.amount, trade.side) == (
        "12345", 1677628800123, Decimal("23144.78"), Decimal("0.0015"), Side.SELL,
    )  # fmt: skip
