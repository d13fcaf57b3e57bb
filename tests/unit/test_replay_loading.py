"""Loading recorded files: format detection, market inference, exact numbers, merging.

Covers every format of ../shared/data/README.md sections 1 and 2, as shipped and as copies under
other names (any file in a documented format must be replayable, not only the shipped ones).
"""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

import pytest

from tests.replay_exchange.datasets import DataSpec, default_specs, load_markets, shared_data_dir
from tests.replay_exchange.loading import detect_kind, load_file
from tests.replay_exchange.models import SourceKind

DATA = shared_data_dir()


@pytest.mark.parametrize(
    ("relative", "kind", "symbol", "trades", "candles"),
    [
        (
            "candles_1m/binanceus_BTCUSD_1m_20230301_20230321.csv",
            SourceKind.CANDLE_CSV,
            "BTC/USD",
            0,
            30240,
        ),
        (
            "candles_1m/binanceus_BTCUSDC_1m_20230301_20230321.csv",
            SourceKind.CANDLE_CSV,
            "BTC/USDC",
            0,
            30240,
        ),
        (
            "candles_1m/kraken_XBTUSDC_1m_ohlcvt_20230301_20230321.csv",
            SourceKind.KRAKEN_OHLCVT_CSV,
            "BTC/USDC",
            0,
            15719,
        ),
        (
            "candles_1m/kraken_XBTUSD_1m_fromtrades_20230301_20230321.csv",
            SourceKind.CANDLE_CSV,
            "BTC/USD",
            0,
            30180,
        ),
        (
            "candles_1m/kraken_XBTUSDT_1m_fromtrades_20230301_20230321.csv",
            SourceKind.CANDLE_CSV,
            "BTC/USDT",
            0,
            20442,
        ),
        (
            "trades/kraken_XBTUSDT_rest_trades_20251110.json",
            SourceKind.KRAKEN_TRADES_JSON,
            "BTC/USDT",
            1000,
            0,
        ),
        (
            "trades/kraken_XBTUSDT_rest_ohlc1m_20251110.json",
            SourceKind.KRAKEN_OHLC_JSON,
            "BTC/USDT",
            0,
            720,
        ),
        (
            "trades/binance_spot_ws/btcusdt_20240808.gz",
            SourceKind.BINANCE_WS_CAPTURE,
            "BTC/USDT",
            9757,
            0,
        ),
    ],
)
def test_shipped_files_load_with_their_documented_row_counts(
    relative: str, kind: SourceKind, symbol: str, trades: int, candles: int
) -> None:
    (series,) = load_file(DATA / relative)
    assert (series.kind, series.symbol) == (kind, symbol)
    assert (len(series.trades), len(series.candles)) == (trades, candles)


def test_the_in_progress_row_of_a_recorded_ohlc_body_is_not_a_final_candle() -> None:
    (series,) = load_file(DATA / "trades/kraken_XBTUSDT_rest_ohlc1m_20251110.json")
    # 721 rows were recorded; the last (00:17) was still open at `last` = 00:16.
    assert series.candles[-1].open_ms == 1762820160 * 1000


def test_float_artefacts_become_the_eight_decimals_the_exchange_sent() -> None:
    (series,) = load_file(DATA / "candles_1m/kraken_XBTUSD_1m_fromtrades_20230301_20230321.csv")
    assert series.candles[0].volume == Decimal("0.26833390")  # recorded as 0.26833389999999996


def test_kraken_trade_times_keep_their_sub_millisecond_digits() -> None:
    (series,) = load_file(DATA / "trades/kraken_XBTUSDT_rest_trades_20251110.json")
    first = series.trades[0]
    assert (first.trade_id, first.time_ns, first.side, first.order_type) == (
        10218208,
        1762795433971744500,
        "buy",
        "limit",
    )


def test_binance_capture_trades_have_contiguous_ids_and_taker_sides() -> None:
    (series,) = load_file(DATA / "trades/binance_spot_ws/btcusdt_20240809.gz")
    ids = [t.trade_id for t in series.trades]
    assert ids == list(range(3735693016, 3735703163))
    first = series.trades[0]
    assert (first.time_ms, first.price, first.side) == (1723161601437, Decimal("61685.99"), "sell")
    assert {t.side for t in series.trades} == {"buy", "sell"}


def test_a_copy_under_any_name_is_detected_by_content(tmp_path: Path) -> None:
    source = DATA / "candles_1m/kraken_XBTUSDC_1m_ohlcvt_20230301_20230321.csv"
    copy = tmp_path / "whatever.txt"
    copy.write_text("".join(source.read_text().splitlines(keepends=True)[:30]))
    (series,) = load_file(copy, symbol="BTC/USDC")
    assert series.kind is SourceKind.KRAKEN_OHLCVT_CSV
    assert len(series.candles) == 30


def test_a_file_without_a_market_in_name_or_content_needs_one(tmp_path: Path) -> None:
    copy = tmp_path / "candles.csv"
    copy.write_text(
        "open_time,open,high,low,close,volume\n2023-03-01 00:00:00+00:00,1,2,0.5,1.5,3\n"
    )
    with pytest.raises(ValueError, match="SYMBOL=PATH"):
        load_file(copy)
    (series,) = load_file(copy, symbol="ETH/USDT")
    assert series.symbol == "ETH/USDT"


def test_capture_lines_are_read_whatever_the_symbol_field_says(tmp_path: Path) -> None:
    capture = tmp_path / "ethusdt.gz"
    trade = '{"e":"trade","E":2,"s":"ETHUSDT","t":7,"p":"1.5","q":"2","T":1,"m":false,"M":true}'
    frame = f'{{"stream":"ethusdt@trade","data":{trade}}}'
    with gzip.open(capture, "wt") as handle:
        handle.write(f'123 {frame}\n124 {{"stream":"ethusdt@bookTicker","data":{{}}}}\n')
    (series,) = load_file(capture)
    assert series.symbol == "ETH/USDT"
    assert [(t.trade_id, t.side, t.price) for t in series.trades] == [(7, "buy", Decimal("1.5"))]


def test_detection_refuses_files_in_no_documented_format() -> None:
    with pytest.raises(ValueError, match="documented format"):
        detect_kind(head=b"hello,world\n", name="notes.csv")


def test_data_spec_accepts_a_symbol_prefix() -> None:
    assert DataSpec.parse("eth/usdt=/tmp/x.csv") == DataSpec(Path("/tmp/x.csv"), "ETH/USDT")
    assert DataSpec.parse("/tmp/a=b.csv") == DataSpec(Path("/tmp/a=b.csv"))


def test_the_two_capture_days_merge_into_one_market() -> None:
    markets = load_markets(default_specs("binance"))
    assert sorted(markets) == ["BTC/USD", "BTC/USDC", "BTC/USDT"]
    btc_usdt = markets["BTC/USDT"]
    assert len(btc_usdt.trades) == 9757 + 10147
    assert not markets["BTC/USD"].has_trades
