"""``ohlcv-collector status``: per-symbol completeness read from the database alone."""

import json
import time
from pathlib import Path

import pytest

from ohlcv_collector.models import MINUTE_MS, now_ms
from tests.integration.collector_harness import (
    BACKENDS,
    Database,
    Lab,
    add_target,
    init_db,
    must,
    ohlcv,
    wait_backfilled,
)

COLLECTED = ("BTC/USD", "BTC/USDC")


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
def test_status_shows_newest_candle_lag_backfill_and_holes_per_symbol(
    database: Database, tmp_path: Path
) -> None:
    """After a collector ran (at the speed of the wall clock, which the status command
    uses) two symbols are complete and current; a target never collected shows nothing
    stored, no progress and one hole; the table and the JSON say the same."""
    init_db(database)
    for symbol in COLLECTED:
        add_target(database, "binance", symbol, days=1)
    with Lab(tmp_path) as lab:
        replay = lab.replay("binance")
        collector = lab.collector(database, replay)
        wait_backfilled(collector, "binance", COLLECTED, timeout=30)
        assert collector.stop() == 0
    add_target(database, "binance", "ETH/USDT", days=2)
    add_target(database, "kraken", "BTC/USD", days=1)

    url = ("--targets-url", database.url, "--storage-url", database.url)
    before = now_ms()
    rows = json.loads(must(ohlcv("status", "-o", "json", *url)).out)
    after = now_ms()
    by_symbol = {(r["exchange"], r["symbol"]): r for r in rows}
    assert sorted(by_symbol) == [
        ("binance", "BTC/USD"), ("binance", "BTC/USDC"), ("binance", "ETH/USDT"),
        ("kraken", "BTC/USD"),
    ]  # fmt: skip
    for symbol in COLLECTED:
        row = by_symbol[("binance", symbol)]
        newest = max(database.candles("binance", symbol))
        assert row["newest_candle_ms"] == newest
        assert row["newest_candle"] == time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(newest / 1000)
        )
        lag = row["lag_seconds"]
        assert (
            (before - newest - MINUTE_MS) / 1000 - 1 <= lag <= (after - newest - MINUTE_MS) / 1000
        )
        assert lag < 180
        # The clock may have crossed a minute since the collector stopped: one minute at most.
        assert row["backfill_progress"] >= 1 - 2 / 1440
        assert row["holes"] <= 1
        assert row["not_collectable_seconds"] == 0
    for key in (("binance", "ETH/USDT"), ("kraken", "BTC/USD")):
        row = by_symbol[key]
        assert row["newest_candle"] is None
        assert row["lag_seconds"] is None
        assert row["backfill_progress"] == 0
        assert row["holes"] == 1

    table = must(ohlcv("status", "--exchange", "binance", *url)).out.splitlines()
    assert table[0].split() == [
        "EXCHANGE", "SYMBOL", "NEWEST-CANDLE", "LAG", "BACKFILL", "HOLES", "NOT-COLLECTABLE",
    ]  # fmt: skip
    cells = {line.split()[1]: line.split() for line in table[1:]}
    assert sorted(cells) == ["BTC/USD", "BTC/USDC", "ETH/USDT"]
    assert cells["ETH/USDT"][2:] == ["-", "-", "0.0%", "1", "-"]
    for symbol in COLLECTED:
        _, _, newest_cell, lag, backfill, _, not_collectable = cells[symbol]
        assert newest_cell == by_symbol[("binance", symbol)]["newest_candle"]
        assert lag.endswith(("s", "m"))
        assert backfill in ("100.0%", "99.9%")
        assert not_collectable == "-"  # Binance serves its whole history


def test_status_without_storage_tables_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'fullon.sqlite'}"
    must(ohlcv("db", "init", "--targets-url", url, "--storage-url", url))
    must(ohlcv("targets", "add", "--exchange", "binance", "--symbol", "BTC/USDT",
               "--targets-url", url))  # fmt: skip
    result = ohlcv("status", "--targets-url", url, "--storage-url", f"sqlite://{tmp_path}/none.db")
    assert result.code == 1
    [line] = result.err.splitlines()
    assert line.startswith("ohlcv-collector: error: OHLCV storage")
