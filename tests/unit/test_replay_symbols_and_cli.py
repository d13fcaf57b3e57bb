"""Market naming across exchanges, and the command line turned into a run configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.replay_exchange.cli import config_from, parser
from tests.replay_exchange.datasets import DataSpec
from tests.replay_exchange.symbols import (
    binance_id,
    kraken_names,
    parse_market_id,
    symbol_from_filename,
)


@pytest.mark.parametrize(
    ("market_id", "symbol"),
    [
        ("XBTUSDC", "BTC/USDC"),
        ("XXBTZUSD", "BTC/USD"),
        ("btcusdt", "BTC/USDT"),
        ("BTC-USD", "BTC/USD"),
        ("ETHBTC", "ETH/BTC"),
    ],
)
def test_exchange_ids_read_as_unified_symbols(market_id: str, symbol: str) -> None:
    assert parse_market_id(market_id) == symbol


def test_file_names_name_their_market() -> None:
    assert symbol_from_filename("kraken_XBTUSDT_rest_trades_20251110.json") == "BTC/USDT"
    assert symbol_from_filename("binanceus_BTCUSD_1m_20230301_20230321.csv") == "BTC/USD"
    assert symbol_from_filename("candles.csv") is None


def test_kraken_names_legacy_and_new_pairs_differently() -> None:
    legacy, new = kraken_names("BTC/USD"), kraken_names("BTC/USDT")
    assert (legacy.pair_id, legacy.altname, legacy.wsname) == ("XXBTZUSD", "XBTUSD", "XBT/USD")
    assert (new.pair_id, new.altname, new.ws_v2_symbol, new.pair_decimals) == (
        "XBTUSDT",
        "XBTUSDT",
        "BTC/USDT",
        1,
    )
    assert binance_id("BTC/USDT") == "BTCUSDT"


def test_flags_become_a_configuration() -> None:
    arguments = parser().parse_args(
        [
            "--exchange", "kraken", "--data", "BTC/EUR=x.csv", "--speed", "5", "--history", "2h",
            "--ws-close-every", "30", "--rate-limits", "--kraken-max-counter", "4",
            "--delist", "btc/usd@90", "--ws-duplicate-every", "10", "--ground-truth-dir", "/tmp/gt",
        ]
    )  # fmt: skip
    config = config_from(arguments)
    assert config.data == (DataSpec(Path("x.csv"), "BTC/EUR"),)
    assert (config.speed, config.history_ms, config.ground_truth_dir) == (
        5,
        7_200_000,
        Path("/tmp/gt"),
    )
    faults = config.faults
    assert (faults.ws_close_every_s, faults.rate_limits, faults.limits.kraken_max_counter) == (
        30,
        True,
        4,
    )
    assert (faults.delistings, faults.ws_duplicate_every, faults.http_5xx_every_s) == (
        (("BTC/USD", 90.0),),
        10,
        None,
    )


def test_everything_is_off_by_default() -> None:
    faults = config_from(parser().parse_args(["--exchange", "binance"])).faults
    assert faults.as_json() == {
        **faults.as_json(),
        "ws_close_every_s": None,
        "rate_limits": False,
        "delistings": [],
    }
    assert not any(
        value for key, value in faults.as_json().items() if key.endswith(("_every", "_every_s"))
    )
