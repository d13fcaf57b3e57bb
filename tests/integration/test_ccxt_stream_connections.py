"""A trade stream is interrupted when its own connection drops, not when ccxt opens others.

ccxt spreads Binance subscriptions over up to 50 connections, opened as symbols subscribe;
a connection still opening when another symbol read its trades used to count as replacing
one, and restarted that symbol's stream (29 of 100 symbols at once in bench B1).
Real parts: ccxt.pro against the replay exchange serving 60 copies of the recorded Binance
trade stream, in this process.
"""

import asyncio
import time
from collections import Counter

from bench.measure import CAPTURE, CAPTURE_START
from bench.replay import BenchReplay, symbol_names
from ohlcv_collector.backends.ccxt.market import CcxtMarket
from ohlcv_collector.ports import StreamInterruptedError
from tests.replay_exchange.cli import config_from, parser

SYMBOLS = 60  # more than ccxt's 50 Binance connections, so they open while others stream
SECONDS = 10.0
STAGGER = 0.1  # symbols start one after another, as a collector's do after their first pass


async def test_connections_opening_for_other_symbols_interrupt_no_stream() -> None:
    arguments = parser().parse_args(
        ["--exchange", "binance", *(f"--data={path}" for path in CAPTURE), "--speed", "4",
         "--start", CAPTURE_START]
    )  # fmt: skip
    server = BenchReplay(count=SYMBOLS, config=config_from(arguments))
    await server.start()
    market = CcxtMarket(
        exchange_id="binance", options={"enableRateLimit": False}, urls=server.ccxt_urls()
    )
    interruptions: Counter[str] = Counter()
    received: Counter[str] = Counter()
    deadline = time.monotonic() + SECONDS

    async def stream(symbol: str, *, after: float) -> None:
        await asyncio.sleep(after)
        while time.monotonic() < deadline:
            try:
                async for batch in market.trades(symbol=symbol):
                    received[symbol] += len(batch)
                    if time.monotonic() >= deadline:
                        return
            except StreamInterruptedError as error:
                interruptions[str(error)] += 1

    try:
        names = symbol_names(SYMBOLS, quote="USDT")
        await asyncio.gather(*(stream(name, after=i * STAGGER) for i, name in enumerate(names)))
        opened = len(market._exchange.clients)  # ccxt's connections
    finally:
        await market.close()
        await server.stop()
    assert opened == 50, opened
    assert set(received) == set(names), sorted(set(names) - set(received))
    assert interruptions == Counter(), interruptions
