"""Ground truth: exactly the closed candles and trades published by the clock, in its schema."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

from tests.replay_exchange import ground_truth
from tests.replay_exchange.exchange import ReplayConfig, ReplayExchange

START_NS = 1_795_297_269_519_000_000


def test_rows_stop_at_the_clock_and_mark_empty_minutes() -> None:
    exchange = ReplayExchange(config=ReplayConfig(exchange="kraken"), wall_start_ns=START_NS)
    moment = exchange.moment(wall_ns=START_NS)
    market = exchange.markets["BTC/USDC"]
    candles = ground_truth.rows(
        exchange="kraken", kind="candles_1m", market=market, horizon_ns=moment.now_ns
    )
    assert (
        int(candles[-1]["open_time_ms"]) + 60_000
        <= moment.now_ms
        < int(candles[-1]["open_time_ms"]) + 120_000
    )
    empty = [row for row in candles if row["empty"] == "true"]
    assert empty
    assert all(row["volume"] == "0" and row["trade_count"] == "0" for row in empty)
    assert set(candles[0]) == set(ground_truth.COLUMNS["candles_1m"])
    assert Decimal(candles[0]["close"]) == market.candles[0].close


def test_trade_rows_are_the_visible_trades_with_taker_sides() -> None:
    exchange = ReplayExchange(config=ReplayConfig(exchange="binance"), wall_start_ns=START_NS)
    moment = exchange.moment(wall_ns=START_NS)
    market = exchange.markets["BTC/USDT"]
    trades = ground_truth.rows(
        exchange="binance", kind="trades", market=market, horizon_ns=moment.now_ns
    )
    assert len(trades) == market.visible_trades(now_ns=moment.now_ns)
    assert trades[0] == {
        "exchange": "binance",
        "symbol": "BTC/USDT",
        "trade_id": str(market.trades[0].trade_id),
        "time_ms": str(market.trades[0].time_ms),
        "price": "61837.63",
        "amount": "0.02",
        "side": "sell",
    }
    aggs = ground_truth.rows(
        exchange="binance", kind="aggtrades", market=market, horizon_ns=moment.now_ns
    )
    assert sum(Decimal(a["amount"]) for a in aggs) == sum(Decimal(t["amount"]) for t in trades)


def test_files_are_written_per_market_and_kind_in_csv(tmp_path: Path) -> None:
    exchange = ReplayExchange(config=ReplayConfig(exchange="kraken"), wall_start_ns=START_NS)
    written = ground_truth.write_files(
        directory=tmp_path,
        exchange="kraken",
        kinds=exchange.venue.ground_truth_kinds,
        moment=exchange.moment(wall_ns=START_NS),
    )
    expected = [
        f"kraken_BTC-{quote}_{kind}.csv"
        for quote in ("USD", "USDC", "USDT")
        for kind in ("candles_1m", "trades")
    ]
    assert sorted(p.name for p in written) == sorted(expected)
    with (tmp_path / "kraken_BTC-USDT_trades.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    assert rows[0]["trade_id"] == "10218208"
    assert not list(tmp_path.glob("*.partial"))


def test_jsonl_has_one_object_per_row() -> None:
    rendered = ground_truth.render(table=[{"a": "1"}, {"a": "2"}], kind="trades", fmt="jsonl")
    assert [json.loads(line) for line in rendered.splitlines()] == [{"a": "1"}, {"a": "2"}]
