"""Which joined fullon_orm rows become collection targets, and which are refused and why."""

from dataclasses import replace

import pytest

from ohlcv_collector.core.targets import (
    SymbolParts,
    TargetRow,
    parse_backtest_days,
    parse_exchange,
    parse_symbol,
    parse_updateframe,
    select_targets,
    symbol_parts,
)
from ohlcv_collector.models import Target

BTC = TargetRow(
    symbol_id=1,
    exchange="binance",
    account="binance1",
    symbol="BTC/USDT",
    backtest=30,
    updateframe="1h",
    only_ticker=False,
    user_active=True,
    account_active=True,
)
BTC_TARGET = Target(exchange="binance", symbol="BTC/USDT", backtest_days=30, updateframe="1h")


def test_a_sound_row_becomes_a_target_with_its_days_and_updateframe() -> None:
    row = replace(BTC, backtest=365, updateframe="1d")
    targets, rejected = select_targets(rows=[row], exchange="binance")
    assert targets == [replace(BTC_TARGET, backtest_days=365, updateframe="1d")]
    assert rejected == []


def test_the_exchange_is_the_catalog_name_never_the_account_label() -> None:
    row = replace(BTC, account="my main account")
    assert select_targets(rows=[row], exchange="binance")[0] == [BTC_TARGET]
    assert select_targets(rows=[row], exchange="binance1")[0] == []
    assert select_targets(rows=[row], exchange="my main account")[0] == []


def test_only_the_asked_exchange_is_returned_and_none_means_all_sorted() -> None:
    rows = [
        replace(BTC, symbol_id=3, exchange="kraken", symbol="BTC/USD"),
        replace(BTC, symbol_id=2, symbol="ETH/USDT"),
        BTC,
    ]
    kraken = Target(exchange="kraken", symbol="BTC/USD", backtest_days=30, updateframe="1h")
    eth = replace(BTC_TARGET, symbol="ETH/USDT")
    assert select_targets(rows=rows, exchange="kraken")[0] == [kraken]
    assert select_targets(rows=rows, exchange=None)[0] == [BTC_TARGET, eth, kraken]
    assert select_targets(rows=rows, exchange="bitmex")[0] == []


@pytest.mark.parametrize(
    "change",
    [
        {"user_active": False},
        {"user_active": 0},
        {"account_active": False},
        {"account_active": 0},
        {"symbol_active": False},
        {"symbol_active": 0},
        {"only_ticker": True},
        {"only_ticker": 1},
    ],
    ids=lambda change: "=".join(map(str, next(iter(change.items())))),
)
def test_inactive_or_ticker_only_rows_are_left_out_without_complaint(
    change: dict[str, object],
) -> None:
    assert select_targets(rows=[replace(BTC, **change)], exchange="binance") == ([], [])


@pytest.mark.parametrize(
    "change",
    [
        {"symbol_active": None},  # the legacy symbols table has no active column
        {"symbol_active": True},
        {"symbol_active": 1},
        {"user_active": 1, "account_active": 1, "only_ticker": 0},  # SQLite's booleans
        {"user_active": None, "account_active": None, "only_ticker": None},  # NULL: defaults
    ],
)
def test_active_rows_in_every_boolean_spelling_are_collected(change: dict[str, object]) -> None:
    assert select_targets(rows=[replace(BTC, **change)], exchange="binance") == ([BTC_TARGET], [])


def test_two_accounts_on_one_exchange_yield_one_target_per_symbol() -> None:
    second = replace(BTC, account="binance2")
    assert select_targets(rows=[BTC, second], exchange="binance") == ([BTC_TARGET], [])


def test_one_active_account_is_enough_and_no_active_account_means_no_target() -> None:
    inactive = replace(BTC, account="binance2", account_active=False)
    assert select_targets(rows=[inactive, BTC], exchange="binance")[0] == [BTC_TARGET]
    assert (
        select_targets(rows=[inactive, replace(BTC, account_active=False)], exchange=None)[0] == []
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"backtest": None}, "backtest None is not a whole number of days"),
        ({"backtest": "thirty"}, "backtest 'thirty' is not a whole number of days"),
        ({"backtest": 30.5}, "backtest 30.5 is not a whole number of days"),
        ({"backtest": True}, "backtest True is not a whole number of days"),
        ({"backtest": -1}, "backtest -1 is not between 0 and 32767 days"),
        ({"backtest": 40_000}, "backtest 40000 is not between 0 and 32767 days"),
        ({"updateframe": None}, "updateframe None is not a timeframe"),
        ({"updateframe": ""}, "updateframe '' is not a timeframe"),
        ({"updateframe": "1x"}, "updateframe '1x' is not a timeframe"),
        ({"updateframe": "0m"}, "updateframe '0m' is not a timeframe"),
        ({"updateframe": "hourly"}, "updateframe 'hourly' is not a timeframe"),
        ({"updateframe": "1 h"}, "updateframe '1 h' is not a timeframe"),
        ({"symbol": ""}, "symbol is empty ('')"),
        ({"symbol": None}, "symbol is empty (None)"),
        ({"symbol": "BTC USDT"}, "symbol 'BTC USDT' is not in ccxt's unified form"),
        ({"symbol": " BTC/USDT"}, "symbol ' BTC/USDT' is not in ccxt's unified form"),
        ({"symbol": "BTC/"}, "symbol 'BTC/' is not in ccxt's unified form"),
        ({"symbol": "/USDT"}, "symbol '/USDT' is not in ccxt's unified form"),
        ({"symbol": "BTC/USDT:"}, "symbol 'BTC/USDT:' is not in ccxt's unified form"),
        ({"symbol": "BTC/USDT/ETH"}, "symbol 'BTC/USDT/ETH' is not in ccxt's unified form"),
        ({"only_ticker": "no"}, "only_ticker 'no' is not a boolean"),
        ({"account_active": 2}, "exchanges.active 2 is not a boolean"),
        ({"user_active": "yes"}, "users.active 'yes' is not a boolean"),
        ({"symbol_active": "t"}, "symbols.active 't' is not a boolean"),
    ],
)
def test_a_bad_row_is_refused_with_its_reason_and_the_others_still_collected(
    change: dict[str, object], reason: str
) -> None:
    bad = replace(BTC, symbol_id=7, **({"symbol": "ETH/USDT"} | change))
    targets, rejected = select_targets(rows=[bad, BTC], exchange="binance")
    assert targets == [BTC_TARGET]
    assert [item.row for item in rejected] == [bad]
    assert rejected[0].reason.startswith(reason)
    assert (
        rejected[0]
        .describe()
        .startswith(f"symbols row 7 (binance {bad.symbol!r}, account 'binance1') is skipped:")
    )


def test_an_empty_exchange_name_is_refused() -> None:
    bad = replace(BTC, exchange="")
    targets, rejected = select_targets(rows=[bad], exchange=None)
    assert targets == []
    assert rejected[0].reason == "exchange name '' is empty or contains whitespace"


def test_a_bad_row_reached_through_two_accounts_is_reported_once() -> None:
    bad = replace(BTC, backtest=None)
    _, rejected = select_targets(rows=[bad, replace(bad, account="binance2")], exchange=None)
    assert len(rejected) == 1


def test_a_symbol_refused_through_one_account_but_sound_through_another_is_collected() -> None:
    garbled_account = replace(BTC, account="binance2", account_active="maybe")
    assert select_targets(rows=[garbled_account, BTC], exchange="binance") == ([BTC_TARGET], [])


def test_bad_rows_that_would_not_be_collected_anyway_are_not_reported() -> None:
    rows = [
        replace(BTC, backtest=None, only_ticker=True),
        replace(BTC, backtest=None, account_active=False),
        replace(BTC, backtest=None, exchange="kraken"),
    ]
    assert select_targets(rows=rows, exchange="binance") == ([], [])


@pytest.mark.parametrize(
    "symbol",
    ["BTC/USDT", "SPX", "BTC/USD:BTC", "BTC/USDC:USDC", "BTC/USDT:USDT-240628", "1000PEPE/USDC"],
)
def test_ccxt_unified_symbols_are_accepted(symbol: str) -> None:
    assert parse_symbol(symbol) == symbol


@pytest.mark.parametrize("timeframe", ["1s", "1m", "15m", "4h", "12h", "1d", "1w", "1M", "1y"])
def test_ccxt_timeframes_are_accepted(timeframe: str) -> None:
    assert parse_updateframe(timeframe) == timeframe


def test_the_parsers_refuse_what_the_command_line_must_not_store() -> None:
    with pytest.raises(ValueError, match="not in ccxt's unified form"):
        parse_symbol("BTC-USDT ")
    with pytest.raises(ValueError, match="not a timeframe"):
        parse_updateframe("90")
    with pytest.raises(ValueError, match="between 0 and 32767"):
        parse_backtest_days(-3)
    with pytest.raises(ValueError, match="contains whitespace"):
        parse_exchange("binance us")
    assert parse_backtest_days(0) == 0
    assert parse_exchange("binanceusdm") == "binanceusdm"


@pytest.mark.parametrize(
    ("symbol", "parts"),
    [
        ("BTC/USDT", SymbolParts(base="BTC", quote="USDT", futures=False)),
        ("BTC/USD:BTC", SymbolParts(base="BTC", quote="USD", futures=True)),
        ("ETH/USDT:USDT-240628", SymbolParts(base="ETH", quote="USDT", futures=True)),
        ("SPX", SymbolParts(base="SPX", quote=None, futures=False)),
    ],
)
def test_symbol_parts_fill_the_base_quote_and_futures_columns(
    symbol: str, parts: SymbolParts
) -> None:
    assert symbol_parts(symbol) == parts
