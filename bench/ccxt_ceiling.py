"""ccxt's ceilings: what ccxt alone receives and parses, with nothing stored.

    python -m bench.ccxt_ceiling trades URLS_JSON COUNT_FILE SYMBOL [SYMBOL ...]
    python -m bench.ccxt_ceiling candles URLS_JSON COUNT_FILE DAYS SYMBOL [SYMBOL ...]

`trades` watches every symbol's trade stream as the collector does (one `watch_trades` loop per
symbol) and keeps the running number of trades parsed in COUNT_FILE until SIGTERM. `candles`
fetches DAYS of 1m candles per symbol, all symbols at once, page after page, then prints
{"candles", "seconds", "cpu_seconds"} and exits. The exchange object is built by the
collector's own `build_exchange`, so the options (aggregate trades, trade cache, keepalive)
are the collector's.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from ohlcv_collector.backends.ccxt.client import build_exchange
from ohlcv_collector.models import MINUTE_MS


class Count:
    """A running total written to a file a few times a second (read by the benchmark)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.value = 0

    async def publish(self) -> None:
        while True:
            self.write()
            await asyncio.sleep(0.25)

    def write(self) -> None:
        partial = self.path.with_suffix(".partial")
        partial.write_text(str(self.value))
        os.replace(partial, self.path)


async def watch(exchange: Any, symbol: str, count: Count) -> None:
    while True:
        trades = await exchange.watch_trades(symbol)
        count.value += len(trades)


async def fetch(exchange: Any, symbol: str, days: int, count: Count) -> None:
    now = await exchange.fetch_time()  # the replay's clock, not this machine's
    since = (now // MINUTE_MS - days * 1440) * MINUTE_MS
    while since < now - MINUTE_MS:
        page = await exchange.fetch_ohlcv(symbol, "1m", since=since, limit=1000)
        if not page:
            return
        count.value += len(page)
        since = page[-1][0] + MINUTE_MS


async def main(argv: list[str]) -> None:
    mode, urls, path = argv[0], json.loads(argv[1]), Path(argv[2])
    exchange = build_exchange(exchange_id="binance", options={"enableRateLimit": False}, urls=urls)
    count = Count(path)
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    publisher = asyncio.create_task(count.publish())
    try:
        await exchange.load_markets()
        if mode == "trades":
            tasks = [asyncio.create_task(watch(exchange, s, count)) for s in argv[3:]]
            await stopping.wait()
        else:
            began, cpu = time.perf_counter(), time.process_time()
            days = int(argv[3])
            await asyncio.gather(*(fetch(exchange, s, days, count) for s in argv[4:]))
            seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
            print(json.dumps({"candles": count.value, "seconds": seconds, "cpu_seconds": cpu}))
            tasks = []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        publisher.cancel()
        count.write()
        await exchange.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
