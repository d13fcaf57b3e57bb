"""What an operator of the collector sees: probes, Prometheus metrics and progress logs."""

import asyncio
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest

from tests.harness.waiting import wait_until
from tests.integration.collector_harness import (
    Check,
    Collector,
    Database,
    Lab,
    add_target,
    collection_window,
    must,
    ohlcv,
    wait_backfilled,
)

SYMBOLS = ("BTC/USD", "BTC/USDT")
PER_SYMBOL = (
    "ohlcv_collector_candles_stored_total",
    "ohlcv_collector_lag_seconds",
    "ohlcv_collector_backfill_progress_ratio",
    "ohlcv_collector_backfill_eta_seconds",
    "ohlcv_collector_symbol_phase",
)


def readiness(collector: Collector) -> tuple[int, list[str]]:
    status, body = collector.get("/readyz")
    return status, json.loads(body).get("reasons", [])


@contextmanager
def tables_locked(dsn: str) -> Iterator[None]:
    """Hold an exclusive lock on the candle and trade tables from another connection."""
    locked, release = threading.Event(), threading.Event()

    async def hold() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            async with connection.transaction():
                await connection.execute(
                    "LOCK TABLE ohlcv_candles, ohlcv_trades IN ACCESS EXCLUSIVE MODE"
                )
                locked.set()
                await asyncio.to_thread(release.wait)
        finally:
            await connection.close()

    holder = threading.Thread(target=lambda: asyncio.run(hold()))
    holder.start()
    try:
        assert locked.wait(10)
        yield
    finally:
        release.set()
        holder.join(10)


@pytest.mark.postgres
def test_probes_metrics_and_progress_tell_an_operator_what_is_happening(
    postgres_dsn: str, tmp_path: Path
) -> None:
    """/readyz names why it is not ready (targets never read, storage failing) and
    recovers; /metrics carries every documented metric per symbol with real values
    (rate-limit waits from Kraken's counters, reconnects from dropped WebSockets);
    the logs show the backfill's percent and ETA; and the data is still exact."""
    targets = Database("sqlite", f"sqlite://{tmp_path / 'targets.sqlite'}")  # no tables yet
    storage = Database("postgres", postgres_dsn)
    must(ohlcv("db", "init", "--targets-url", f"sqlite://{tmp_path / 'x.sqlite'}",
               "--storage-url", postgres_dsn))  # fmt: skip
    with Lab(tmp_path) as lab:
        replay = lab.replay(
            "kraken", "--speed", "10", "--history", "10h", "--ws-close-every", "3",
            "--rate-limits", "--kraken-max-counter", "8", "--kraken-decay-per-second", "4",
        )  # fmt: skip
        collector = lab.collector(
            targets, replay, "--storage-url", f"{postgres_dsn}?lock_timeout=200"
        )
        assert collector.get("/healthz")[0] == 200
        status, reasons = readiness(collector)
        assert status == 503
        assert reasons == ["the targets have not been read from the database yet"]

        must(ohlcv("db", "init", "--targets-url", targets.url, "--storage-url", postgres_dsn))
        for symbol in SYMBOLS:
            add_target(targets, "kraken", symbol, days=1)
        wait_until(lambda: readiness(collector)[0] == 200, timeout=15, describe="ready")
        wait_backfilled(collector, "kraken", SYMBOLS, timeout=60)
        replay.wait_exchange_ms(replay.now_ms() + 60_000, timeout=20)

        outage = replay.now_ms()
        with tables_locked(postgres_dsn):
            wait_until(
                lambda: readiness(collector)[0] == 503, timeout=15, describe="storage failing"
            )
            [reason] = readiness(collector)[1]
            assert re.fullmatch(r"storage writes failing \(\d+ in a row\)", reason)
        wait_until(lambda: readiness(collector)[0] == 200, timeout=15, describe="storage recovered")

        samples = collector.metrics()
        for name in PER_SYMBOL:
            symbols = {dict(labels).get("symbol") for labels in samples.get(name, {})}
            assert set(SYMBOLS) <= symbols, name
        for symbol in SYMBOLS:
            labels = {"exchange": "kraken", "symbol": symbol}
            assert collector.metric("ohlcv_collector_candles_stored_total", **labels)
            assert collector.metric("ohlcv_collector_backfill_progress_ratio", **labels) == 1
            lag = collector.metric("ohlcv_collector_lag_seconds", **labels)
            assert lag is not None
            assert 0 <= lag < 300  # the newest bar ends at most minutes ago
        trades = collector.metric(
            "ohlcv_collector_trades_stored_total", exchange="kraken", symbol="BTC/USDT"
        )
        assert trades
        reconnects = samples["ohlcv_collector_stream_reconnects_total"]
        assert sum(reconnects.values()) >= 3
        assert collector.metric("ohlcv_collector_rate_limit_waits_total", exchange="kraken")
        for sampled in ("batch_write_seconds_count", "write_failures_total"):  # failures: 5 s
            collector.wait_metric(f"ohlcv_collector_{sampled}", lambda v: v > 0, timeout=10)
        assert collector.metric("ohlcv_collector_buffered_rows") is not None

        progress = [
            line for line in collector.logs()
            if re.fullmatch(r"backfilling \d+%(, about \d+ s left)?", str(line.get("message")))
        ]  # fmt: skip
        assert {line["symbol"] for line in progress} == set(SYMBOLS)
        assert all("progress" in line and "eta_seconds" in line for line in progress)

        assert collector.stop() == 0, collector.output()
        # Everything from before the storage outage is stored, exactly.
        window = collection_window(
            started_ms=collector.started_exchange_ms, stopped_ms=outage, days=1
        )
        for symbol in SYMBOLS:
            assert Check(storage, replay, symbol, window).candles() == [], symbol
        assert Check(storage, replay, "BTC/USDT", window).trades() == []
