"""A busy trade stream is read in gathered batches, with every trade and none held long.

Each read costs the collector as much as the trades in it, so `CcxtMarket.trades` reads a
busy stream at most every TRADES_GATHER_SECONDS and hands over everything ccxt received
meanwhile. Real parts: ccxt.pro against the replay exchange serving the recorded Binance
trade stream 30 times faster than it happened (about 400 trades a second).
"""

import time

from ohlcv_collector.backends.ccxt.market import TRADES_GATHER_SECONDS, CcxtMarket
from tests.replay_exchange.fixtures import StartServer

SPEED = 30.0
SECONDS = 4.0


async def test_a_busy_stream_comes_in_few_batches_with_every_trade_in_order(
    replay_server_factory: StartServer,
) -> None:
    server = await replay_server_factory(exchange="binance", speed=SPEED)
    market = CcxtMarket(
        exchange_id="binance", options={"enableRateLimit": False}, urls=server.ccxt_urls()
    )
    ids: list[int] = []
    batches = 0
    held_ms: list[float] = []  # how far each batch's oldest trade is behind the exchange
    try:
        started: float | None = None
        async for batch in market.trades(symbol="BTC/USDT"):
            now_ms = server.exchange.moment().now_ms
            if started is None:
                started = time.monotonic()  # the first batch is the subscription's
                continue
            batches += 1
            ids.extend(int(trade.trade_id) for trade in batch)
            held_ms.append((now_ms - min(trade.time for trade in batch)) / SPEED)
            if time.monotonic() - started >= SECONDS:
                break
    finally:
        await market.close()

    assert len(ids) > 1_000, len(ids)
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # none lost, none twice, in order
    reads_allowed = SECONDS / TRADES_GATHER_SECONDS + 2
    assert batches <= reads_allowed, (batches, len(ids))
    # Wall time a trade waited for its read: the gathering interval and the replay's
    # sending, never a backlog.
    assert max(held_ms) < TRADES_GATHER_SECONDS * 1000 + 500, sorted(held_ms)[-5:]
