"""Bad input and stops: what a user sees when the exchange, the targets or the operator
misbehave, and that nothing invalid is stored and nothing else stops.
"""

import csv
import signal
from pathlib import Path

import pytest

from ohlcv_collector.models import MINUTE_MS
from tests.harness.waiting import wait_until
from tests.integration.collector_harness import (
    BACKENDS,
    Check,
    Database,
    Lab,
    add_target,
    collection_window,
    init_db,
    ohlcv,
    wait_backfilled,
)
from tests.replay_exchange.datasets import DEFAULT_FILES, shared_data_dir

HEALTHY = ("BTC/USD", "BTC/USDT")


def test_an_exchange_ccxt_does_not_know_fails_with_one_clear_line(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'fullon.sqlite'}"
    result = ohlcv(
        "run", "--exchange", "nosuchexchange", "--targets-url", url, "--storage-url", url
    )
    assert result.code != 0
    assert result.err.splitlines() == [
        "ohlcv-collector: error: exchange 'nosuchexchange' is not supported by ccxt 4.5.90"
    ]
    assert "Traceback" not in result.out


def damaged_market(directory: Path) -> tuple[Path, dict[int, str]]:
    """ETH/USDT: a day and a half of recorded 1m candles with a zero price, a negative
    volume and a NaN high in three minutes (recorded-time index -> what is wrong)."""
    source = shared_data_dir() / "candles_1m/binanceus_BTCUSDT_1m_20230301_20230321.csv"
    with source.open() as handle:
        rows = list(csv.DictReader(handle))[: 36 * 60]
    damage = {200: ("open", "0"), 400: ("volume", "-1.5"), 600: ("high", "NaN")}
    for index, (column, value) in damage.items():
        rows[index][column] = value
    path = directory / "ETHUSDT_1m_damaged.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path, {index: column for index, (column, _) in damage.items()}


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
def test_bad_symbols_and_damaged_answers_store_nothing_invalid_and_stop_nothing_else(
    database: Database, tmp_path: Path
) -> None:
    """One run with everything wrong at once: a symbol the exchange does not list, one
    delisted while collected, a market with a zero price, a negative volume and a NaN,
    malformed REST bodies, 5xx bursts, duplicated and reordered streamed trades. Each
    problem is logged and shown per symbol; the healthy symbols equal the ground truth."""
    damaged, damage = damaged_market(tmp_path)
    files = [str(shared_data_dir() / f) for f in DEFAULT_FILES["binance"]]
    data = [arg for f in [*files, f"ETH/USDT={damaged}"] for arg in ("--data", f)]
    init_db(database)
    for symbol in (*HEALTHY, "BTC/USDC", "ETH/USDT", "DOGE/USDT"):
        add_target(database, "binance", symbol, days=1)
    with Lab(tmp_path) as lab:
        replay = lab.replay(
            "binance", *data, "--speed", "20", "--delist", "BTC/USDC@150",
            "--rest-malformed-every", "11", "--http-5xx-every", "5",
            "--ws-duplicate-every", "5", "--ws-reorder-every", "7",
        )  # fmt: skip
        collector = lab.collector(database, replay)
        wait_backfilled(collector, "binance", HEALTHY, timeout=60)
        collector.wait_log(
            lambda line: line.get("symbol") == "BTC/USDC" and "does not list" in line["message"],
            timeout=40, what="the delisting reported",
        )  # fmt: skip
        replay.wait_exchange_ms(replay.now_ms() + MINUTE_MS, timeout=20)
        stopped = replay.now_ms()
        window = collection_window(
            started_ms=collector.started_exchange_ms, stopped_ms=stopped, days=1
        )
        # With every fault at once the trade repair trails the stream by more than the
        # window's two-minute margin; what is asked is that nothing stays lost, so the
        # trades are judged once the collector, still running, has repaired them.
        wait_until(
            lambda: Check(database, replay, "BTC/USDT", window).trades() == [],
            timeout=90,
            describe="BTC/USDT trades repaired up to the window's end",
            details=collector.output,
        )

        errors = collector.metrics()["ohlcv_collector_symbol_phase"]
        in_error = {
            dict(labels)["symbol"]
            for labels, value in errors.items()
            if value == 1 and ("phase", "error") in labels
        }
        assert {"DOGE/USDT", "BTC/USDC"} <= in_error
        assert not in_error & set(HEALTHY)
        rejected = collector.metric(
            "ohlcv_collector_rows_rejected_total",
            exchange="binance",
            symbol="ETH/USDT",
            kind="candles",
        )
        assert rejected is not None
        assert rejected >= 3
        assert collector.stop() == 0, collector.output()

        assert collector.messages(level="ERROR", symbol="DOGE/USDT") == [
            "binance does not list DOGE/USDT (unknown or delisted)"
        ]
        delisting = collector.messages(symbol="BTC/USDC")
        assert any("does not list BTC/USDC" in m for m in delisting), delisting
        rejections = collector.messages(level="WARNING", symbol="ETH/USDT")
        assert any("open is not positive" in m for m in rejections), rejections
        assert any("volume is negative" in m for m in rejections), rejections
        assert any("high is not a finite number" in m for m in rejections), rejections

        for symbol in HEALTHY:
            check = Check(database, replay, symbol, window)
            assert check.candles() == [], symbol
        assert Check(database, replay, "BTC/USDT", window).trades() == []
        delisted = Check(database, replay, "BTC/USDC", window)
        problems = delisted.candles()
        # Ground truth stops at the delisting; the newest bars before it (with trades or
        # empty) were never confirmed by the exchange, and nothing after it may be stored.
        unconfirmed = ("missing candle", "empty minute", "candle coverage hole")
        assert all(p.startswith(unconfirmed) for p in problems), problems
        assert len([p for p in problems if p.startswith(unconfirmed[:2])]) <= 2, problems

        eth = Check(database, replay, "ETH/USDT", window)
        problems = eth.candles()
        first = int(eth.candle_truth[0]["open_time_ms"])
        bad_minutes = {first + index * MINUTE_MS for index in damage}
        assert database.candles("binance", "ETH/USDT").keys().isdisjoint(bad_minutes)
        expected = {f"missing candle at {m}" for m in bad_minutes} | {
            f"candle coverage hole TimeRange(start={m}, end={m + MINUTE_MS})" for m in bad_minutes
        }
        assert set(problems) == expected
    assert database.count("ohlcv_candles", "binance", "DOGE/USDT") == 0


@pytest.mark.parametrize(
    ("signum", "database"),
    [(signal.SIGTERM, "postgres"), (signal.SIGINT, "sqlite")],
    indirect=["database"],
)
def test_a_stop_signal_stores_everything_received_and_exits_within_10_s(
    signum: int, database: Database, tmp_path: Path
) -> None:
    """SIGTERM (or SIGINT) while ~600 trades a second stream in: exit code 0 within 10 s,
    and every trade and closed candle up to the stop is stored."""
    init_db(database)
    add_target(database, "binance", "BTC/USDT", days=1)
    with Lab(tmp_path) as lab:
        replay = lab.replay("binance", "--speed", "20")
        collector = lab.collector(database, replay)
        wait_backfilled(collector, "binance", ["BTC/USDT"], timeout=30)
        # Long enough for the repair to have joined the backfill to the stream's start.
        replay.wait_exchange_ms(collector.started_exchange_ms + 150_000, timeout=20)
        stopped = replay.now_ms()
        assert collector.stop(signum) == 0, collector.output()
        assert collector.stopped_after_s is not None
        assert collector.stopped_after_s < 10
        window = collection_window(
            started_ms=collector.started_exchange_ms, stopped_ms=stopped, days=1
        )
        check = Check(database, replay, "BTC/USDT", window)
        assert check.candles() == []
        assert check.trades() == []
        # Everything the stream delivered up to the stop is stored (the repair joins the
        # stream's start to the backfill only once that minute is old, see the window).
        streamed_from = database.coverage("binance", "BTC/USDT", "trades")[-1].start
        received = {
            r["agg_id"] for r in replay.ground_truth("aggtrades", "BTC/USDT")
            if streamed_from <= int(r["time_ms"]) < stopped - 5_000
        }  # fmt: skip
    assert streamed_from < stopped - 60_000
    assert len(received) > 1000
    assert received <= {t.trade_id for t in database.trades("binance", "BTC/USDT")}
