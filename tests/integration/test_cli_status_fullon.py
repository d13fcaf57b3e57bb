"""``ohlcv-collector status`` with the fullon backends: it reads what the collectors
write, the targets from fullon_orm and the candles from fullon_ohlcv's repositories.

In this process, because the doubles keep their rows in memory.
"""

import asyncio
import json
import time
from decimal import Decimal
from pathlib import Path

import pytest

from ohlcv_collector.cli import main
from ohlcv_collector.models import (
    DAY_MS,
    MINUTE_MS,
    Candle,
    SeriesKind,
    TimeRange,
    floor_minute,
    now_ms,
)
from ohlcv_collector.ports import Coverage, WriteBatch
from ohlcv_collector.runtime import assembly
from tests.integration.fullon_doubles import seed_orm


async def collected(*, storage_url: str, covered: TimeRange, minutes: list[int]) -> None:
    """What a collector on the fullon backends stores: candles through fullon_ohlcv, and
    their coverage alongside."""
    storage = await assembly.open_storage(storage_url)
    await storage.migrate()
    candles = [
        Candle(exchange="binance", symbol="BTC/USDT", start=start, open=Decimal(2),
               high=Decimal(3), low=Decimal(1), close=Decimal("2.5"), volume=Decimal("0.5"))
        for start in minutes
    ]  # fmt: skip
    coverage = Coverage("binance", "BTC/USDT", SeriesKind.CANDLES, covered)
    try:
        await storage.write(WriteBatch(candles=candles, coverage=[coverage]))
    finally:
        await storage.close()


def test_status_reports_the_candles_the_fullon_backends_store(
    doubles: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(seed_orm(backtest_days=1))
    storage_url = f"sqlite://{tmp_path / 'coverage.sqlite'}"
    # Stored up to a time ahead of this clock, so the exchange's time is the coverage's end
    # (status judges on the exchange's clock) and nothing depends on when the test runs.
    end = floor_minute(now_ms()) + 10 * MINUTE_MS
    covered = TimeRange(end - 3 * MINUTE_MS, end)
    newest = end - MINUTE_MS
    asyncio.run(
        collected(storage_url=storage_url, covered=covered, minutes=[covered.start, newest])
    )

    code = main(["status", "-o", "json", "--storage-url", storage_url,
                 "--targets-url", "sqlite:///unused-with-fullon-orm"])  # fmt: skip

    assert code == 0
    rows = {row["symbol"]: row for row in json.loads(capsys.readouterr().out)}
    # The window starts a day before the exchange's now (the coverage's end) and ends before
    # the newest closed minute, which is left to the stream.
    window = TimeRange(end - DAY_MS, end - MINUTE_MS)
    stored_in_window = window.end - covered.start
    assert rows == {
        "BTC/USD": {
            "exchange": "binance", "symbol": "BTC/USD", "backtest_days": 1,
            "newest_candle": None, "newest_candle_ms": None, "lag_seconds": None,
            "backfill_progress": 0.0, "holes": 1, "not_collectable_seconds": 0.0,
        },
        "BTC/USDT": {
            "exchange": "binance", "symbol": "BTC/USDT", "backtest_days": 1,
            "newest_candle": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(newest / 1000)),
            "newest_candle_ms": newest, "lag_seconds": 0.0,
            "backfill_progress": round(stored_in_window / (window.end - window.start), 6),
            "holes": 1,
            "not_collectable_seconds": 0.0,
        },
    }  # fmt: skip
