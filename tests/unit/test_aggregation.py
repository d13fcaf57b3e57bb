"""Candles built from trades equal the exchange's own candles, minute for minute."""

import gzip
import json
from decimal import Decimal

import pytest

from ohlcv_collector.core.aggregation import MinuteAssembler, candles_from_trades, trade_order
from ohlcv_collector.models import MINUTE_MS, Candle, Side, TimeRange, Trade
from tests.replay_exchange.datasets import shared_data_dir

M = MINUTE_MS


def trade(trade_id: str, time: int, price: str, amount: str = "1") -> Trade:
    return Trade("kraken", "BTC/USDT", trade_id, time, Decimal(price), Decimal(amount), Side.BUY)


def test_kraken_trades_aggregate_to_krakens_own_candles() -> None:
    """The recorded Kraken XBT/USDT trades against Kraken's recorded 1m OHLC answer."""
    data = shared_data_dir() / "trades"
    raw_trades = json.loads((data / "kraken_XBTUSDT_rest_trades_20251110.json").read_text())
    trades = [
        Trade("kraken", "BTC/USDT", str(row[6]), round(float(row[2]) * 1000),
              Decimal(row[0]), Decimal(row[1]), Side.BUY if row[3] == "b" else Side.SELL)
        for row in raw_trades["result"]["XBTUSDT"]
    ]  # fmt: skip
    raw_ohlc = json.loads((data / "kraken_XBTUSDT_rest_ohlc1m_20251110.json").read_text())
    official = {int(row[0]) * 1000: row for row in raw_ohlc["result"]["XBTUSDT"] if int(row[7]) > 0}
    built = candles_from_trades(trades)[1:]  # the first minute's trades start mid-minute
    assert len(built) == 273
    for candle in built:
        row = official[candle.start]
        assert (candle.open, candle.high, candle.low, candle.close) == tuple(
            Decimal(v) for v in row[1:5]
        ), candle.start
        assert candle.volume == Decimal(row[6])
        assert candle.trades == int(row[7])


def test_binance_capture_minute_matches_published_aggregate() -> None:
    """23:55 of the Binance BTCUSDT capture: 61828.00 / 61860.80 / 61780.00 / 61782.25."""
    path = shared_data_dir() / "trades/binance_spot_ws/btcusdt_20240808.gz"
    trades = []
    with gzip.open(path, "rt") as lines:
        for line in lines:
            frame = json.loads(line.split(" ", 1)[1])
            data = frame.get("data", frame)
            if data.get("e") == "trade":
                trades.append(Trade("binance", "BTC/USDT", str(data["t"]), data["T"],
                                    Decimal(data["p"]), Decimal(data["q"])))  # fmt: skip
    minute = next(c for c in candles_from_trades(trades) if c.start % (3600 * 1000) == 55 * M)
    assert (minute.open, minute.high, minute.low, minute.close) == (
        Decimal("61828.00"), Decimal("61860.80"), Decimal("61780.00"), Decimal("61782.25"),
    )  # fmt: skip
    assert minute.volume == Decimal("15.07702")
    assert minute.trades == 1255


def test_order_is_time_then_numeric_id() -> None:
    trades = [trade("10", 5, "3"), trade("9", 5, "2"), trade("11", 4, "1")]
    assert [t.trade_id for t in sorted(trades, key=trade_order)] == ["11", "9", "10"]


def test_duplicates_and_disorder_do_not_change_the_candle() -> None:
    trades = [trade("1", 1_000, "10", "0.5"), trade("2", 2_000, "12"), trade("3", 59_000, "9")]
    expected = candles_from_trades(trades)
    assert candles_from_trades([*reversed(trades), trades[1], trades[0]]) == expected
    assert expected == [
        Candle("kraken", "BTC/USDT", 0, Decimal(10), Decimal(12), Decimal(9), Decimal(9),
               Decimal("2.5"), trades=3)
    ]  # fmt: skip


def test_minutes_without_trades_get_no_candle() -> None:
    candles = candles_from_trades([trade("1", 10, "5"), trade("2", 3 * M + 10, "6")])
    assert [c.start for c in candles] == [0, 3 * M]


def test_assembler_releases_only_whole_covered_minutes() -> None:
    assembler = MinuteAssembler()
    assembler.add([trade("1", 30_000, "1"), trade("2", M + 5, "2"), trade("3", 2 * M + 1, "3")])
    # coverage began mid-minute 0: minute 0 is incomplete and dropped, minute 1 released
    assert [c.start for c in assembler.release(TimeRange(M, 2 * M))] == [M]
    late = assembler.add([trade("4", M + 30, "4"), trade("5", 2 * M + 9, "5")])
    assert [t.trade_id for t in late] == ["4"]  # minute 1 was already released: repair it
    [minute_two] = assembler.release(TimeRange(2 * M, 3 * M))
    assert (minute_two.open, minute_two.close, minute_two.trades) == (Decimal(3), Decimal(5), 2)


@pytest.mark.parametrize("count", [1, 2, 1000])
def test_volume_is_an_exact_decimal_sum(count: int) -> None:
    trades = [trade(str(i), i, "100", "0.1") for i in range(count)]
    [candle] = candles_from_trades(trades)
    assert candle.volume == Decimal("0.1") * count
