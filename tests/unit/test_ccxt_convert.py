"""ccxt's parsed numbers and rows to the collector's models: exact decimals, NaN for what is
missing or damaged (validation then rejects the row with a reason), and a bounded memo."""

from decimal import Decimal

import pytest

from ohlcv_collector.backends.ccxt import convert
from ohlcv_collector.backends.ccxt.convert import candle_of, decimal_of, trade_of
from ohlcv_collector.models import Side


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (23144.78, "23144.78"),  # the exchange's decimal string, not the float's binary value
        (0.1, "0.1"),
        (3.912156, "3.912156"),
        (1e-08, "1E-8"),
        (42, "42"),
        ("0.00012000", "0.00012000"),  # strings keep their digits
    ],
)
def test_numbers_become_the_exchanges_exact_decimals(value: object, expected: str) -> None:
    assert decimal_of(value) == Decimal(expected)
    assert str(decimal_of(value)) == str(Decimal(expected))


@pytest.mark.parametrize("value", [None, True, False, "abc", "", [1], float("nan")])
def test_missing_or_damaged_numbers_become_nan(value: object) -> None:
    assert decimal_of(value).is_nan()


def test_a_repeated_float_gives_the_same_decimal_each_time() -> None:
    first, again = decimal_of(27350.5), decimal_of(27350.5)
    assert first == again == Decimal("27350.5")


def test_the_memo_of_decimals_stays_within_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(convert, "_DECIMALS_KEPT", 100)
    monkeypatch.setattr(convert, "_DECIMALS", {})
    values = [i + 0.25 for i in range(1_000)]
    decimals = [decimal_of(v) for v in values]
    assert decimals == [Decimal(f"{i}.25") for i in range(1_000)]
    assert 0 < len(convert._DECIMALS) <= 100


def test_a_ccxt_candle_row_becomes_a_candle() -> None:
    candle = candle_of([1677628800000, 23144.78, 23152.48, 23133.11, 23143.72, 3.912156],
                       exchange="binance", symbol="BTC/USD")  # fmt: skip
    assert (candle.exchange, candle.symbol, candle.start) == ("binance", "BTC/USD", 1677628800000)
    assert (candle.open, candle.high, candle.low, candle.close, candle.volume) == (
        Decimal("23144.78"), Decimal("23152.48"), Decimal("23133.11"), Decimal("23143.72"),
        Decimal("3.912156"),
    )  # fmt: skip


@pytest.mark.parametrize(
    "row", [[1677628800000, 1.0, 2.0], "not a row", None, ["start", 1.0, 1.0, 1.0, 1.0, 1.0]]
)
def test_a_short_or_damaged_candle_row_gives_values_validation_rejects(row: object) -> None:
    candle = candle_of(row, exchange="binance", symbol="BTC/USD")
    assert candle.start == -1 or candle.volume.is_nan()


def test_a_ccxt_trade_becomes_a_trade() -> None:
    row = {"id": "12345", "timestamp": 1677628800123, "price": 23144.78, "amount": 0.0015,
           "side": "sell"}  # fmt: skip
    trade = trade_of(row, exchange="binance", symbol="BTC/USD")
    assert (trade.trade_id, trade.time, trade.price, trade.amount, trade.side) == (
        "12345", 1677628800123, Decimal("23144.78"), Decimal("0.0015"), Side.SELL,
    )  # fmt: skip
