"""A replay exchange: Binance, Kraken, BitMEX and Hyperliquid on loopback, replaying recordings.

It speaks the real wire protocols (REST and WebSocket) that ccxt 4.5.90 uses, so the real ccxt
client, unmodified, is what talks to it. Data comes from the recordings in ../shared/data (or any
file in their formats); faults are chosen per run. Overview of the modules:

sans-I/O core          models, loading, symbols, candles, markets, clock, datasets,
                       ratelimits, faults, ground_truth, streams, exchange
exchanges              venue (what an exchange package provides), venues (the table),
                       one package each: binance/, kraken/ (payloads, rest, streams, venue)
aiohttp adapters       server (REST), ws_driver (WebSocket), admin (admin API), cli
pytest plugin          fixtures

Pointing ccxt at it::

    server = ReplayServer(config=ReplayConfig(exchange="kraken", speed=10))
    await server.start()                        # 127.0.0.1, a free port
    kraken = ccxt.pro.kraken({"enableRateLimit": False})
    point_ccxt(kraken, urls=server.ccxt_urls()) # urls['api'] override, REST and WS
    await kraken.load_markets()

`ReplayServer.ccxt_urls(exchange_id=None) -> dict` is the override for `exchange.urls['api']`
(each exchange package's docstring lists its keys);
`point_ccxt(exchange, urls=...)` merges it in, keeping the keys it does not replace.

Standalone: ``python -m tests.replay_exchange --exchange binance --port 8701`` (``--help`` lists
the data, clock and fault flags). Times served are recorded times shifted so that each market's
start position is now; use the exchange's time endpoint when ``--speed`` is not 1.
"""

from tests.replay_exchange.ccxt_urls import ccxt_api_urls, point_ccxt
from tests.replay_exchange.datasets import DataSpec, shared_data_dir
from tests.replay_exchange.exchange import ReplayConfig
from tests.replay_exchange.faults import FaultPlan
from tests.replay_exchange.ratelimits import RateLimitSettings
from tests.replay_exchange.server import ReplayServer

__all__ = [
    "DataSpec",
    "FaultPlan",
    "RateLimitSettings",
    "ReplayConfig",
    "ReplayServer",
    "ccxt_api_urls",
    "point_ccxt",
    "shared_data_dir",
]
