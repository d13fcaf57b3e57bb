"""Stream ingest: trades per second taken from a WebSocket trade stream into storage.

The replay serves Binance BTC/USDT (the 2024 capture: 12 minutes, about 1,300 aggregate
trades a minute) at SPEED times real time from the capture's first minute; the collector
(aggTrade stream -> tracker -> sink -> BatchWriter -> storage) ingests for DURATION seconds
from its first stored trade. Reported: trades stored and per second, how many exchange
seconds the stream's coverage reached (SPEED x DURATION when delivery keeps up), and
whether every trade inside that coverage was stored (consecutive aggregate ids).

    .venv/bin/python -m bench.stream_ingest [SPEED [DURATION]]
    OHLCV_BENCH_POSTGRES_DSN=postgresql://... .venv/bin/python -m bench.stream_ingest
"""

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import (
    collecting,
    fresh_storage,
    max_rss_mb,
    replay,
    storage_urls,
    temporary_directory,
)
from ohlcv_collector.models import SeriesKind, Target, TimeRange
from ohlcv_collector.runtime.symbol import CollectOptions

SYMBOL = "BTC/USDT"
RECORDING_START = "2024-08-08T23:54:00Z"  # the capture's first minute


async def one(urls: dict[str, Any], storage_url: str, duration: float) -> dict[str, Any]:
    storage = await fresh_storage(storage_url)
    options = CollectOptions(candles=False, repair_interval_seconds=3600)
    target = Target(exchange="binance", symbol=SYMBOL, backtest_days=1)
    try:
        async with collecting(
            exchange="binance", targets=[target], urls=urls, storage=storage, options=options
        ) as (_, writer):
            while not writer.stats.trades_inserted:  # noqa: ASYNC110 (start-up is not measured)
                await asyncio.sleep(0.01)
            began, first = time.perf_counter(), writer.stats.trades_inserted
            await asyncio.sleep(duration)
            await writer.flush()
            seconds = time.perf_counter() - began
            stored = writer.stats.trades_inserted - first
        covered = await storage.coverage(exchange="binance", symbol=SYMBOL, kind=SeriesKind.TRADES)
        span = TimeRange(covered[0].start, covered[-1].end) if covered else TimeRange(0, 0)
        rows = await storage.trades(exchange="binance", symbol=SYMBOL, window=span)
    finally:
        await storage.close()
    ids = sorted(int(t.trade_id) for t in rows)
    return {
        "storage": storage_url.split(":", 1)[0],
        "trades": stored,
        "seconds": round(seconds, 3),
        "trades_per_second": round(stored / seconds, 1),
        "exchange_seconds_streamed": round(span.duration / 1000, 1),
        "every_covered_trade_stored": bool(ids) and ids == list(range(ids[0], ids[-1] + 1)),
    }


async def main(speed: float, duration: float) -> dict[str, Any]:
    results = []
    with temporary_directory() as directory:
        for url in storage_urls(Path(directory)).values():
            args = ("--speed", str(speed), "--start", RECORDING_START)
            with replay("binance", *args) as served:
                results.append(await one(served.ccxt_urls, url, duration))
    return {
        "benchmark": "stream_ingest",
        "speed": speed,
        "duration_seconds": duration,
        "results": results,
        "max_rss_mb": max_rss_mb(),
    }


if __name__ == "__main__":
    speed = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    duration = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    print(json.dumps(asyncio.run(main(speed, duration))))
