"""The collector on fullon's derivatives exchange Hyperliquid (ccxt `BTC/USDC:USDC`): real
``ohlcv-collector run``, real ccxt 4.5.90, the replay serving Hyperliquid's protocol.

Hyperliquid answers differently from Binance and Kraken, and the collector must find out from
ccxt's `features`/`has` and the exchange's answers, not from its name: pages of 5000 candles, no
candle for a minute without trades, no public trade history over REST (ccxt pages a user's
fills), trade ids that are not a sequence. What lands in the database equals the ground truth.
"""

import signal
from pathlib import Path

import pytest

from ohlcv_collector.models import MINUTE_MS, floor_minute
from tests.integration.collector_harness import (
    BACKENDS,
    Check,
    Database,
    Lab,
    Window,
    add_target,
    collection_window,
    database_for,
    init_db,
    wait_backfilled,
)
from tests.replay_exchange.datasets import shared_data_dir

SYMBOL = "BTC/USDC:USDC"
TAPE = "BTC/USDC:USDC=" + str(shared_data_dir() / "trades/binance_spot_ws/btcusdt_20240808.gz")


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    return database_for(request, tmp_path)


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
def test_hyperliquid_backfill_and_stream_equal_the_ground_truth(
    database: Database, tmp_path: Path
) -> None:
    init_db(database)
    add_target(database, "hyperliquid", SYMBOL, days=1)
    with Lab(tmp_path) as lab:
        replay = lab.replay("hyperliquid", "--speed", "20")
        collector = lab.collector(database, replay)
        wait_backfilled(collector, "hyperliquid", [SYMBOL], timeout=60)
        replay.wait_exchange_ms(replay.now_ms() + 3 * MINUTE_MS, timeout=30)
        stopped = replay.now_ms()
        assert collector.stop() == 0, collector.output()
        window = collection_window(
            started_ms=collector.started_exchange_ms, stopped_ms=stopped, days=1
        )
        check = Check(database, replay, SYMBOL, window)
        problems = check.candles()
        streamed = collector.started_exchange_ms - 5 * MINUTE_MS
        coverage = [
            c for c in database.coverage("hyperliquid", SYMBOL, "candles") if c.end > streamed
        ]
        assert problems == [], (problems, collector.started_exchange_ms, stopped, coverage)
        served = [
            r for r in check.candle_truth if window.start <= int(r["open_time_ms"]) < window.end
        ]
        assert len(served) > 1000


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_hyperliquid_trades_are_streamed_equal_to_ground_truth_and_reconnects_repair_candles(
    database: Database, tmp_path: Path
) -> None:
    """Trades from another exchange's tape with Hyperliquid-style ids (not a sequence): the
    stream stores every one. Hyperliquid has no trade history ccxt can page, so the collector
    learns it from the first answer and does not retry; candles are repaired after each
    reconnect as everywhere."""
    init_db(database)
    add_target(database, "hyperliquid", SYMBOL, days=1)
    with Lab(tmp_path) as lab:
        replay = lab.replay("hyperliquid", "--speed", "5", "--data", TAPE, "--ws-close-every", "10")
        collector = lab.collector(database, replay)
        wait_backfilled(collector, "hyperliquid", [SYMBOL], timeout=60)
        replay.wait_exchange_ms(replay.now_ms() + 3 * MINUTE_MS, timeout=60)
        stopped = replay.now_ms()
        assert collector.stop() == 0, collector.output()
        window = collection_window(
            started_ms=collector.started_exchange_ms, stopped_ms=stopped, days=1
        )
        check = Check(database, replay, SYMBOL, window)
        assert check.candles() == []
        connections = database.coverage("hyperliquid", SYMBOL, "trades")
        assert len(connections) >= 2  # the stream was cut and reconnected
        for covered in connections:
            check.trades_window = Window(covered.start, min(covered.end, window.end))
            assert check.trades() == [], covered
        unsupported = collector.messages(level="WARNING", logger="ohlcv_collector.symbol")
        assert sum("no trade history over REST" in m for m in unsupported) == 1


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_hyperliquid_history_older_than_its_5000_candles_is_not_collectable_not_a_hole(
    database: Database, tmp_path: Path
) -> None:
    """Five days asked, five days recorded, but Hyperliquid serves only its newest 5000 candles
    (3.5 days) and has no trade history to build older ones from: the backfill completes with
    those, the older range is not collectable (reported once, not requested again and again,
    never covered as empty), and what was served equals the ground truth."""
    init_db(database)
    add_target(database, "hyperliquid", SYMBOL, days=5)
    with Lab(tmp_path) as lab:
        replay = lab.replay("hyperliquid", "--speed", "20", "--history", "5d")
        collector = lab.collector(database, replay)
        wait_backfilled(collector, "hyperliquid", [SYMBOL], timeout=90)
        replay.wait_exchange_ms(replay.now_ms() + 2 * MINUTE_MS, timeout=30)
        stopped = replay.now_ms()
        assert collector.stop() == 0, collector.output()
        # Hyperliquid's window of 5000 candles moves with its clock, so the oldest minute
        # served lies between the one at the start and the one at the stop.
        oldest_at_start = floor_minute(collector.started_exchange_ms) - 4999 * MINUTE_MS
        oldest_at_stop = floor_minute(stopped) - 4999 * MINUTE_MS
        coverage = database.coverage("hyperliquid", SYMBOL, "candles")
        first = coverage[0].start
        assert oldest_at_start <= first <= oldest_at_stop  # never covered as empty before it
        assert min(database.candles("hyperliquid", SYMBOL)) >= first
        window = collection_window(
            started_ms=collector.started_exchange_ms, stopped_ms=stopped, days=5
        )
        assert Check(database, replay, SYMBOL, Window(first, window.end)).candles() == []
        not_collectable = [m for m in collector.messages(level="WARNING") if "not collectable" in m]
        assert len(not_collectable) == 1, collector.output()


@pytest.mark.parametrize(
    "database", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_hyperliquid_restart_mid_stream_leaves_no_candle_hole(
    database: Database, tmp_path: Path, signum: signal.Signals
) -> None:
    """The collector stopped while candles stream in (SIGTERM: a rollout; SIGKILL: a crash),
    off for two minutes of the exchange's clock, then started again: the candles it missed are
    fetched from candleSnapshot, so what is stored equals the ground truth with no hole. (Trades
    missed while down cannot be: Hyperliquid has no public trade history over REST.)"""
    init_db(database)
    add_target(database, "hyperliquid", SYMBOL, days=1)
    with Lab(tmp_path) as lab:
        replay = lab.replay("hyperliquid", "--speed", "20")
        first = lab.collector(database, replay)
        wait_backfilled(first, "hyperliquid", [SYMBOL], timeout=60)
        replay.wait_exchange_ms(replay.now_ms() + 3 * MINUTE_MS, timeout=30)
        assert first.stop(signum) == (0 if signum == signal.SIGTERM else -signum), first.output()
        down_ms = replay.now_ms()
        replay.wait_exchange_ms(down_ms + 2 * MINUTE_MS, timeout=30)
        second = lab.collector(database, replay)
        wait_backfilled(second, "hyperliquid", [SYMBOL], timeout=60)
        replay.wait_exchange_ms(replay.now_ms() + 3 * MINUTE_MS, timeout=30)
        stopped = replay.now_ms()
        assert second.stop() == 0, second.output()
        window = collection_window(started_ms=first.started_exchange_ms, stopped_ms=stopped, days=1)
        check = Check(database, replay, SYMBOL, window)
        assert check.candles() == []
        down = floor_minute(down_ms)
        missed = [
            r
            for r in check.candle_truth
            if down <= int(r["open_time_ms"]) < second.started_exchange_ms - MINUTE_MS
        ]
        assert missed  # minutes that closed while the process was down
