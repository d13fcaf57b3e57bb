"""Backfill speed: closed 1m candles per second, per exchange and storage, through the
collector's own code path (ExchangeCollector -> SymbolCollector -> HoleFiller -> sink ->
BatchWriter -> storage) against the replay exchange with its rate limiter off.

    .venv/bin/python -m bench.backfill            # SQLite
    OHLCV_BENCH_POSTGRES_DSN=postgresql://... .venv/bin/python -m bench.backfill

Prints one JSON object. Binance: 10 days of BTC/USD (14,400 candles, pages of 1000);
Kraken: BTC/USD, whose OHLC endpoint serves only the newest 720 candles.
"""

import asyncio
import json
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
from ohlcv_collector.models import Target
from ohlcv_collector.runtime.status import Phase, SymbolStatus
from ohlcv_collector.runtime.symbol import CollectOptions

CASES = {
    "binance": (("--history", "10d"), 10),
    "kraken": (("--history", "12h"), 1),
}
SYMBOL = "BTC/USD"


def done(status: SymbolStatus | None) -> bool:
    """True once the backfill window is stored completely and the symbol streams."""
    return (
        status is not None
        and status.backfill_progress >= 1.0
        and (status.phase is not Phase.BACKFILLING)
    )


async def one(exchange: str, days: int, urls: dict[str, Any], storage_url: str) -> dict[str, Any]:
    storage = await fresh_storage(storage_url)
    options = CollectOptions(trades=False, repair_interval_seconds=3600)
    target = Target(exchange=exchange, symbol=SYMBOL, backtest_days=days)
    try:
        began = time.perf_counter()
        async with collecting(
            exchange=exchange, targets=[target], urls=urls, storage=storage, options=options
        ) as (collector, writer):
            while not done(collector.statuses.get(SYMBOL)):  # noqa: ASYNC110 (polled state)
                await asyncio.sleep(0.02)
            await writer.flush()
            seconds = time.perf_counter() - began
            stored = writer.stats.candles_inserted
    finally:
        await storage.close()
    return {
        "exchange": exchange,
        "storage": storage_url.split(":", 1)[0],
        "symbol": SYMBOL,
        "days": days,
        "candles": stored,
        "seconds": round(seconds, 3),
        "candles_per_second": round(stored / seconds, 1),
    }


async def main() -> dict[str, Any]:
    results = []
    with temporary_directory() as directory:
        for exchange, (args, days) in CASES.items():
            with replay(exchange, *args) as served:
                for url in storage_urls(Path(directory)).values():
                    results.append(await one(exchange, days, served.ccxt_urls, url))
    return {"benchmark": "backfill", "results": results, "max_rss_mb": max_rss_mb()}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
