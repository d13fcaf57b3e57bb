"""The collector end to end: real ``ohlcv-collector run`` processes, real ccxt, the replay
exchange serving recorded Binance and Kraken data, real PostgreSQL and SQLite.

Each test compares what landed in the database with the replay's ground truth, row for row
(see collector_harness for what "equal" means).
"""

import signal
import time
from pathlib import Path

import pytest

from ohlcv_collector.models import MINUTE_MS, floor_minute
from tests.harness.waiting import wait_until
from tests.integration.collector_harness import (
    BACKENDS,
    Check,
    Database,
    Lab,
    Window,
    add_target,
    collection_window,
    init_db,
    remove_target,
    wait_backfilled,
)

SYMBOLS = ("BTC/USD", "BTC/USDC", "BTC/USDT")
# Recorded time at which Kraken BTC/USDT has trades in most of the following minutes.
KRAKEN_BUSY_MINUTES = "2025-11-10T18:26:00Z"


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
def test_a_full_backfill_equals_the_ground_truth_on_both_exchanges(
    database: Database, tmp_path: Path
) -> None:
    """Binance (3 markets: candles from klines, and BTC/USDT from trades where its history
    stops) and Kraken (720-candle history, trades) collected side by side into one database:
    every closed candle and trade the exchanges served in the window is stored, identical."""
    init_db(database)
    for exchange in ("binance", "kraken"):
        for symbol in SYMBOLS:
            add_target(database, exchange, symbol, days=1)
    with Lab(tmp_path) as lab:
        replays = {
            "binance": lab.replay("binance", "--speed", "20"),
            "kraken": lab.replay("kraken", "--speed", "20", "--history", "10h"),
        }
        collectors = {name: lab.collector(database, replay) for name, replay in replays.items()}
        for name, collector in collectors.items():
            wait_backfilled(collector, name, SYMBOLS, timeout=60)
        for replay in replays.values():
            replay.wait_exchange_ms(replay.now_ms() + MINUTE_MS, timeout=20)
        stopped = {name: replay.now_ms() for name, replay in replays.items()}
        for collector in collectors.values():
            assert collector.stop() == 0, collector.output()
        for name, replay in replays.items():
            window = collection_window(
                started_ms=collectors[name].started_exchange_ms, stopped_ms=stopped[name], days=1
            )
            for symbol in SYMBOLS:
                check = Check(database, replay, symbol, window)
                assert check.candles() == [], f"{name} {symbol}"
                served = [
                    r
                    for r in check.candle_truth
                    if window.start <= int(r["open_time_ms"]) < window.end
                ]
                enough = 5 if symbol == "BTC/USDT" and name == "binance" else 300
                assert len(served) > enough, f"{name} {symbol}: too little data to judge"
            trades = Check(database, replay, "BTC/USDT", window)
            assert trades.trades() == [], name


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
def test_a_process_killed_mid_backfill_resumes_without_refetching_or_holes(
    database: Database, tmp_path: Path
) -> None:
    """SIGKILL during a 10-day backfill (15 pages at a throttled rate), then a restart: the
    restarted process fetches only what was missing, and the result equals the ground truth."""
    init_db(database)
    add_target(database, "binance", "BTC/USD", days=10)
    with Lab(tmp_path) as lab:
        replay = lab.replay("binance", "--speed", "20", "--history", "10d")
        throttled = {"rateLimit": 300}  # a page of 1000 klines costs 2 weights: 0.6 s
        first = lab.collector(database, replay, ccxt_options=throttled)
        wait_until(
            lambda: database.count("ohlcv_candles", "binance", "BTC/USD") > 3000,
            timeout=60, describe="a quarter of the backfill stored", details=first.output,
        )  # fmt: skip
        assert first.stop(signal.SIGKILL) == -signal.SIGKILL
        before = set(database.candles("binance", "BTC/USD"))
        assert 3000 < len(before) < 12000, "not killed in the middle of the backfill"

        second = lab.collector(database, replay, ccxt_options=throttled)
        wait_backfilled(second, "binance", ["BTC/USD"], timeout=60)
        replay.wait_exchange_ms(replay.now_ms() + MINUTE_MS, timeout=20)
        handed = second.metric(
            "ohlcv_collector_candles_stored_total", exchange="binance", symbol="BTC/USD"
        )
        stopped = replay.now_ms()
        assert second.stop() == 0, second.output()

        window = collection_window(
            started_ms=first.started_exchange_ms, stopped_ms=stopped, days=10
        )
        check = Check(database, replay, "BTC/USD", window)
        assert check.candles() == []
        served = {int(r["open_time_ms"]) for r in check.candle_truth}
        missing_at_restart = {m for m in served if m >= window.start and m not in before}
        assert handed is not None
        # Every row the restarted process stored was one that was missing (a few bars
        # may reach storage twice, from the stream and from a repair, at most).
        assert handed <= len(missing_at_restart) + 5, (handed, len(missing_at_restart))
        assert len(missing_at_restart) < len(served) - 2000


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
def test_live_streams_with_websocket_drops_miss_and_duplicate_nothing(
    database: Database, tmp_path: Path
) -> None:
    """Four minutes of Binance BTC/USDT (about 2000 trades a minute) at 15x and of Kraken
    BTC/USDT (a thin recording: 6 minutes at 10x, starting two minutes before its busy ones,
    which a start-up of up to 12 s leaves after it), every WebSocket closed every 3 s: the
    stored trades and candles equal the ground truth, each trade once, and the coverage has
    no hole."""
    init_db(database)
    for exchange in ("binance", "kraken"):
        add_target(database, exchange, "BTC/USDT", days=1)
    with Lab(tmp_path) as lab:
        drops = ("--ws-close-every", "3")
        replays = {
            "binance": lab.replay("binance", "--speed", "15", *drops),
            "kraken": lab.replay("kraken", "--speed", "10", *drops, "--start", KRAKEN_BUSY_MINUTES),
        }
        # Each exchange's stream is judged from its own collector's start: Binance's trades
        # stop 6 minutes after its replay starts, and the other collector's start-up (seconds
        # at 15x, more on a busy machine) must not eat into them.
        collectors, began = {}, {}
        for name, replay in replays.items():
            collectors[name] = lab.collector(database, replay)
            began[name] = replay.now_ms()
        stopped = {}
        # Each replay is judged at its own end: Binance after 4 minutes, Kraken after 6 so
        # that its window holds the recording's busy minutes 18:28 and 18:29.
        minutes = {"binance": 4, "kraken": 6}
        for name, replay in replays.items():
            replay.wait_exchange_ms(began[name] + minutes[name] * MINUTE_MS, timeout=120)
            stopped[name] = replay.now_ms()
        for name, collector in collectors.items():
            reconnects = collector.metric(
                "ohlcv_collector_stream_reconnects_total",
                exchange=name, symbol="BTC/USDT", stream="trades",
            )  # fmt: skip
            assert reconnects is not None, collector.output()
            assert reconnects >= 3, collector.output()
            assert collector.stop() == 0, collector.output()
        for name, replay in replays.items():
            window = collection_window(
                started_ms=collectors[name].started_exchange_ms, stopped_ms=stopped[name], days=1
            )
            check = Check(database, replay, "BTC/USDT", window)
            assert check.candles() == [], name
            assert check.trades() == [], name
            streamed = [
                t for t in database.trades(name, "BTC/USDT") if began[name] <= t.time < window.end
            ]
            # Kraken's recording is thin (about 4 trades a minute with trades).
            enough = 20 if name == "binance" else 5
            assert len(streamed) >= enough, f"{name}: too few streamed trades to judge"


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_candles_built_from_trades_equal_the_exchanges_own_candles(
    database: Database, tmp_path: Path
) -> None:
    """Kraken BTC/USDT (the 2025 Trades and OHLC recordings), collected as on an exchange
    without a candle stream: the collector builds each minute's candle from the streamed
    trades, and every such candle equals Kraken's own 1m candle of that minute."""
    init_db(database)
    add_target(database, "kraken", "BTC/USDT", days=1)
    with Lab(tmp_path) as lab:
        replay = lab.replay("kraken", "--speed", "40", "--start", KRAKEN_BUSY_MINUTES)
        no_candle_stream = {"enableRateLimit": False, "has": {"watchOHLCV": False}}
        # Repairs run (every 3 exchange minutes) but only fill holes: the minutes the
        # stream covered are never fetched over REST, so they must be the built ones.
        collector = lab.collector(
            database, replay, repair_interval=5, ccxt_options=no_candle_stream
        )
        began = replay.now_ms()
        replay.wait_exchange_ms(began + 10 * MINUTE_MS, timeout=60)
        stopped = replay.now_ms()
        assert collector.stop() == 0, collector.output()

        window = collection_window(
            started_ms=collector.started_exchange_ms, stopped_ms=stopped, days=1
        )
        check = Check(database, replay, "BTC/USDT", window)
        assert check.candles() == []
    stored = database.candles("kraken", "BTC/USDT")
    streamed = Window(start=floor_minute(began) + 2 * MINUTE_MS, end=window.end)
    with_trades = [
        int(r["open_time_ms"]) for r in check.candle_truth
        if streamed.start <= int(r["open_time_ms"]) < streamed.end and r["empty"] == "false"
    ]  # fmt: skip
    assert len(with_trades) >= 4, "too few minutes with trades to judge"
    built = [m for m in with_trades if stored[m].trades is not None]
    assert built == with_trades, "minutes with trades not built from trades"


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_symbols_added_and_removed_in_the_database_start_and_stop_while_running(
    database: Database, tmp_path: Path
) -> None:
    """`targets add` and `targets remove` while `run` runs: within a few refreshes the new
    symbol is backfilled and streamed, and the removed one is no longer collected."""
    init_db(database)
    add_target(database, "binance", "BTC/USD", days=1)
    with Lab(tmp_path) as lab:
        replay = lab.replay("binance", "--speed", "20")
        collector = lab.collector(database, replay)
        wait_backfilled(collector, "binance", ["BTC/USD"], timeout=30)

        add_target(database, "binance", "BTC/USDC", days=1)
        collector.wait_log(
            lambda line: line.get("message") == "collecting BTC/USDC", timeout=10, what="start"
        )
        wait_backfilled(collector, "binance", ["BTC/USDC"], timeout=30)
        remove_target(database, "binance", "BTC/USD")
        collector.wait_log(
            lambda line: line["message"] == "stopped collecting BTC/USD: removed from the targets",
            timeout=10, what="stop",
        )  # fmt: skip
        time.sleep(1.5)  # rows handed to the writer before the stop are still stored
        kept = database.count("ohlcv_candles", "binance", "BTC/USD")
        added = database.count("ohlcv_candles", "binance", "BTC/USDC")
        replay.wait_exchange_ms(replay.now_ms() + 2 * MINUTE_MS, timeout=20)
        assert database.count("ohlcv_candles", "binance", "BTC/USD") == kept
        assert database.count("ohlcv_candles", "binance", "BTC/USDC") > added
        phases = collector.metrics()["ohlcv_collector_symbols"]
        assert sum(v for labels, v in phases.items() if ("phase", "stopped") not in labels) == 1
        assert collector.stop() == 0
