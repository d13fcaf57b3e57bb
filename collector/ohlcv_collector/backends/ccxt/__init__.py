"""Built-in market-data backend on ccxt (REST) and ccxt.pro (WebSocket).

Importing it makes ccxt import only the exchanges a process names (`lazy_exchanges`):
every module that imports ccxt for the collector or the operator does so through here.
"""

from ohlcv_collector.backends.ccxt.lazy_exchanges import install

install()
