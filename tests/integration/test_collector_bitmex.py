"""The collector on BitMEX (ccxt's `BTC/USD:BTC`, BitMEX's XBTUSD): real ``ohlcv-collector run``
with the built-in BitMEX backend (the pinned ccxt has no bitmex class), the replay serving
BitMEX's REST and /realtime protocol from real recordings, real PostgreSQL.

BitMEX labels a bin by its end and opens it at the previous close; the collector keys candles
by the minute they open, with the exchange's own values. What lands in the database, backfilled
over REST and streamed live, equals the replay's ground truth.
"""

import signal
from pathlib import Path

import pytest

from ohlcv_collector.models import MINUTE_MS
from tests.harness.waiting import wait_until
from tests.integration.collector_harness import (
    Check,
    Database,
    Lab,
    add_target,
    collection_window,
    database_for,
    init_db,
    wait_backfilled,
)
from tests.replay_exchange.datasets import shared_data_dir

SYMBOL = "BTC/USD:BTC"
# The 4,903 contiguous trades of 2020-01-01 12:00-12:16, recorded as five /trade pages.
PAGES = [
    f"{SYMBOL}={path}"
    for path in sorted((shared_data_dir() / "bitmex" / "rest_trade").glob("XBTUSD_20200101_*"))
]


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    return database_for(request, tmp_path)


@pytest.mark.parametrize(
    "database", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_bitmex_backfill_and_stream_equal_the_ground_truth(
    database: Database, tmp_path: Path
) -> None:
    """1,000 recorded bins backfilled over REST, then the latest 1,000 recorded trades: the first
    ones over REST, the rest (and their bins) streamed live from /realtime."""
    init_db(database)
    add_target(database, "bitmex", SYMBOL, days=1)
    with Lab(tmp_path) as lab:
        replay = lab.replay("bitmex", "--speed", "5", "--start", "2020-04-11T15:00:00Z")
        collector = lab.collector(database, replay)
        wait_backfilled(collector, "bitmex", [SYMBOL], timeout=60)
        replay.wait_exchange_ms(collector.started_exchange_ms + 4 * MINUTE_MS, timeout=60)
        stopped = replay.now_ms()
        assert collector.stop() == 0, collector.output()
        window = collection_window(
            started_ms=collector.started_exchange_ms, stopped_ms=stopped, days=1
        )
        check = Check(database, replay, SYMBOL, window)
        assert check.candles() == []
        served = [
            r for r in check.candle_truth if window.start <= int(r["open_time_ms"]) < window.end
        ]
        assert len(served) >= 1000
        assert check.trades() == []
        assert "market BitmexMarket" in collector.output()


@pytest.mark.parametrize(
    "database", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_bitmex_trade_pages_and_reconnects_equal_the_ground_truth(
    database: Database, tmp_path: Path
) -> None:
    """4,903 trades in 16 minutes: five minutes of history paged over REST 1,000 at a time (many
    share a millisecond across page ends), the rest streamed over connections the replay closes
    every 20 s, each gap repaired over REST."""
    init_db(database)
    add_target(database, "bitmex", SYMBOL, days=1)
    args = [a for page in PAGES for a in ("--data", page)]
    with Lab(tmp_path) as lab:
        replay = lab.replay(
            "bitmex", *args, "--speed", "10", "--start", "2020-01-01T12:05:00Z",
            "--ws-close-every", "20",
        )  # fmt: skip
        collector = lab.collector(database, replay)
        wait_backfilled(collector, "bitmex", [SYMBOL], timeout=60)
        replay.wait_exchange_ms(collector.started_exchange_ms + 8 * MINUTE_MS, timeout=90)
        stopped = replay.now_ms()
        reconnects = collector.metric(
            "ohlcv_collector_stream_reconnects_total",
            exchange="bitmex", symbol=SYMBOL, stream="trades",
        )  # fmt: skip
        assert reconnects is not None, collector.output()
        assert reconnects >= 2, collector.output()
        assert collector.stop() == 0, collector.output()
        window = collection_window(
            started_ms=collector.started_exchange_ms, stopped_ms=stopped, days=1
        )
        check = Check(database, replay, SYMBOL, window)
        assert check.candles() == []
        assert check.trades() == []
        truth = replay.ground_truth("trades", SYMBOL)
        assert len([r for r in truth if int(r["time_ms"]) < window.end]) > 3000
        backfilled = [
            t for t in database.trades("bitmex", SYMBOL) if t.time < collector.started_exchange_ms
        ]
        assert len(backfilled) > 1000  # more than one REST page of history


@pytest.mark.parametrize(
    "database", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_bitmex_429s_are_waited_out_and_nothing_is_lost(database: Database, tmp_path: Path) -> None:
    """The replay's token bucket at 6 requests a minute (BitMEX's is 30 without a key) and the
    collector's own pacing off: its backfill meets 429s, each waited out for the Retry-After the
    exchange sent, and the data still equals the ground truth."""
    init_db(database)
    add_target(database, "bitmex", SYMBOL, days=1)
    with Lab(tmp_path) as lab:
        replay = lab.replay("bitmex", "--speed", "5", "--start", "2020-04-11T15:00:00Z")
        replay.set_faults(rate_limits=True, bitmex_requests_per_minute=6)
        collector = lab.collector(database, replay)
        wait_backfilled(collector, "bitmex", [SYMBOL], timeout=120)
        replay.wait_exchange_ms(collector.started_exchange_ms + 4 * MINUTE_MS, timeout=90)
        stopped = replay.now_ms()
        window = collection_window(
            started_ms=collector.started_exchange_ms, stopped_ms=stopped, days=1
        )
        check = Check(database, replay, SYMBOL, window)
        # At 6 requests a minute the repair joining the backfill to the stream's start may
        # still be waiting out a 429: wait for the data, not for a number of minutes.
        problems: list[str] = []

        def complete() -> bool:
            problems[:] = check.candles() + check.trades()
            return not problems

        wait_until(
            complete,
            timeout=90,
            interval=1.0,  # each check reads a day of candles
            describe="the window complete",
            details=lambda: str(problems),
        )
        waits = collector.metric("ohlcv_collector_rate_limit_waits_total", exchange="bitmex")
        assert collector.stop() == 0, collector.output()
        assert waits is not None, collector.output()
        assert waits >= 1, collector.output()
        assert check.candles() == []
        assert check.trades() == []


@pytest.mark.parametrize(
    "database", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_bitmex_restart_mid_stream_leaves_no_hole_and_no_duplicate(
    database: Database, tmp_path: Path, signum: signal.Signals
) -> None:
    """The collector stopped while trades stream in (SIGTERM: a rollout; SIGKILL: a crash, its
    last writes and coverage lost), off for a minute of the exchange's clock, then started again:
    it fetches what it missed over REST and nothing twice, so the trades and bins stored equal
    the ground truth with no hole where it was down."""
    init_db(database)
    add_target(database, "bitmex", SYMBOL, days=1)
    args = [a for page in PAGES for a in ("--data", page)]
    with Lab(tmp_path) as lab:
        replay = lab.replay("bitmex", *args, "--speed", "10", "--start", "2020-01-01T12:05:00Z")
        first = lab.collector(database, replay)
        wait_backfilled(first, "bitmex", [SYMBOL], timeout=60)
        replay.wait_exchange_ms(first.started_exchange_ms + 3 * MINUTE_MS, timeout=60)
        assert first.stop(signum) == (0 if signum == signal.SIGTERM else -signum), first.output()
        down_ms = replay.now_ms()
        replay.wait_exchange_ms(down_ms + MINUTE_MS, timeout=30)
        second = lab.collector(database, replay)
        wait_backfilled(second, "bitmex", [SYMBOL], timeout=60)
        replay.wait_exchange_ms(second.started_exchange_ms + 3 * MINUTE_MS, timeout=60)
        stopped = replay.now_ms()
        assert second.stop() == 0, second.output()
        window = collection_window(started_ms=first.started_exchange_ms, stopped_ms=stopped, days=1)
        check = Check(database, replay, SYMBOL, window)
        assert check.candles() == []
        assert check.trades() == []  # none missing, none stored twice, coverage without a hole
        truth = replay.ground_truth("trades", SYMBOL)
        missed = [r for r in truth if down_ms <= int(r["time_ms"]) < second.started_exchange_ms]
        assert missed  # trades happened while the process was down
