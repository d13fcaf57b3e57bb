"""Invalid rows from an exchange are rejected with a reason; the rest is kept."""

import itertools
from decimal import Decimal

import pytest

from ohlcv_collector.core import validation
from ohlcv_collector.core.validation import candle_problem, partition, trade_problem
from ohlcv_collector.models import MINUTE_MS, Candle, Trade

D = Decimal


def candle(**changes: object) -> Candle:
    values: dict[str, object] = {
        "exchange": "binance", "symbol": "BTC/USDT", "start": 60 * MINUTE_MS,
        "open": D(10), "high": D(12), "low": D(9), "close": D(11), "volume": D(3),
    }  # fmt: skip
    values.update(changes)
    return Candle(**values)  # type: ignore[arg-type]


def trade(**changes: object) -> Trade:
    values: dict[str, object] = {
        "exchange": "kraken", "symbol": "BTC/USD", "trade_id": "7", "time": 1_700_000_000_000,
        "price": D("40000.1"), "amount": D("0.0123"),
    }  # fmt: skip
    values.update(changes)
    return Trade(**values)  # type: ignore[arg-type]


def test_sound_rows_pass() -> None:
    assert candle_problem(candle()) is None
    assert candle_problem(candle(volume=D(0), open=D(5), high=D(5), low=D(5), close=D(5))) is None
    assert trade_problem(trade()) is None


def test_an_open_at_the_previous_close_outside_the_range_is_sound() -> None:
    """BitMEX opens a bin at the previous bin's close (recorded XBTUSD 2020-04-11: open 6930,
    high 6929.5): the exchange's own values, stored as served."""
    bin_ = candle(open=D(6930), high=D("6929.5"), low=D("6928.5"), close=D("6928.5"))
    assert candle_problem(bin_) is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"open": D("NaN")}, "open is not a finite number"),
        ({"volume": D("Infinity")}, "volume is not a finite number"),
        ({"close": D(0)}, "close is not positive"),
        ({"low": D(-1)}, "low is not positive"),
        ({"volume": D(-1)}, "volume is negative"),
        ({"high": D("10.5")}, "high 10.5 is below close or low"),
        ({"low": D("11.5"), "high": D(12)}, "low 11.5 is above close"),
        ({"start": 60 * MINUTE_MS + 1}, "not on a minute boundary"),
        ({"trades": -2}, "trade count is negative"),
    ],
)
def test_bad_candles_are_named(changes: dict[str, object], reason: str) -> None:
    problem = candle_problem(candle(**changes))
    assert problem is not None
    assert reason in problem


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"trade_id": ""}, "trade has no id"),
        ({"price": D("NaN")}, "price is not a finite number"),
        ({"price": D(0)}, "price is not positive"),
        ({"amount": D("-0.1")}, "amount is not positive"),
        ({"amount": D(0)}, "amount is not positive"),
        ({"time": 0}, "time is not a valid epoch"),
    ],
)
def test_bad_trades_are_named(changes: dict[str, object], reason: str) -> None:
    problem = trade_problem(trade(**changes))
    assert problem is not None
    assert reason in problem


def test_partition_keeps_the_sound_rows_in_order() -> None:
    rows = [trade(trade_id="1"), trade(trade_id="2", price=D(-1)), trade(trade_id="3")]
    sound, rejected = partition(rows, problem=trade_problem)
    assert [t.trade_id for t in sound] == ["1", "3"]
    assert [(r.row, r.reason) for r in rejected] == [(rows[1], "price is not positive (-1)")]


GRID = (D("NaN"), D("-Infinity"), D(-1), D(0), D(1), D(2), D(3))


def test_the_quick_verdict_and_the_reasons_agree_on_every_candle_of_a_grid() -> None:
    """The hot path's one-expression check accepts exactly the candles that no rule names a
    reason for (every ordering of open, high, low, close and volume over a grid)."""
    seen = {True: 0, False: 0}
    for o, h, low, c, v in itertools.product(GRID, repeat=5):
        for start, trades in ((0, None), (MINUTE_MS + 1, None), (0, -1), (0, 4)):
            row = candle(open=o, high=h, low=low, close=c, volume=v, start=start, trades=trades)
            sound = validation._sound_candle(row)
            assert sound == (validation._candle_reason(row) is None), row
            seen[sound] += 1
    assert seen[True] > 0
    assert seen[False] > 0


def test_the_quick_verdict_and_the_reasons_agree_on_every_trade_of_a_grid() -> None:
    for price, amount in itertools.product(GRID, repeat=2):
        for trade_id, time in (("7", 1), ("", 1), ("7", 0), ("7", -5)):
            row = trade(price=price, amount=amount, trade_id=trade_id, time=time)
            named = (
                not trade_id or not price.is_finite() or not amount.is_finite()
                or price <= 0 or amount <= 0 or time <= 0
            )  # fmt: skip
            assert (trade_problem(row) is None) == (not named), row
