"""Health in fullon_cache's ProcessCache layout: the Redis store and the operator's reader.

from ohlcv_collector.backends.health import HealthReader, RedisHealth

store = RedisHealth.from_url("redis://redis:6379/0")
reader = HealthReader(store, stale_after=timedelta(seconds=60))
collectors = await reader.live_collectors("binance")   # list[CollectorRecord]
symbols = await reader.symbol_health("binance")         # list[SymbolHealth]
"""

from ohlcv_collector.backends.health.reader import HealthReader
from ohlcv_collector.backends.health.redis import RedisHealth
from ohlcv_collector.core.health_records import ProcessStatus
from ohlcv_collector.core.liveness import CollectorRecord, SymbolHealth

__all__ = [
    "CollectorRecord",
    "HealthReader",
    "ProcessStatus",
    "RedisHealth",
    "SymbolHealth",
]
