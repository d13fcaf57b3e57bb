"""Where the operator reads targets and health: the collector package's own backends.

The operator opens them where the collectors do (`ohlcv_collector.runtime.assembly`:
fullon_orm and fullon_cache where they import, else the built-in SQL and Redis
backends), so both sides of the system read the same tables and keys the same way.
"""

from datetime import timedelta

from ohlcv_collector.backends.health.reader import HealthReader
from ohlcv_collector.core.formatting import format_utc
from ohlcv_collector.core.liveness import SymbolHealth
from ohlcv_collector.core.phases import Phase
from ohlcv_collector.runtime import assembly
from ohlcv_operator.health import HealthSnapshot, SymbolReport


def report_of(health: SymbolHealth) -> SymbolReport:
    """The operator's view of one symbol's health record."""
    return SymbolReport(
        symbol=health.symbol,
        status=health.status,
        message=health.message,
        stale=health.stale,
        backfilling=health.phase == Phase.BACKFILLING,
        lag_seconds=health.lag_seconds,
        newest_candle=format_utc(health.newest_candle) if health.newest_candle else None,
    )


class Sources:
    """The database and Redis the operator reads, opened once for its lifetime."""

    def __init__(
        self, *, targets_url: str, user_mail: str, redis_url: str | None, stale_after: timedelta
    ) -> None:
        self.targets = assembly.open_targets(url=targets_url, user_mail=user_mail)
        self._redis = assembly.open_health(redis_url)
        self._reader = HealthReader(self._redis, stale_after=stale_after) if self._redis else None

    async def target_symbols(self, *, exchange: str, allowed: tuple[str, ...]) -> list[str]:
        """The exchange's target symbols, narrowed to `allowed` when it is not empty."""
        symbols = [t.symbol for t in await self.targets.targets(exchange=exchange)]
        return [s for s in symbols if not allowed or s in allowed]

    async def exchanges_with_targets(self) -> list[str]:
        """Exchanges that have at least one target."""
        return sorted(await self.targets.all_exchanges())

    async def health(self, *, exchange: str) -> HealthSnapshot:
        """The health records of the exchange's collectors; raises when Redis is unusable."""
        if self._reader is None:
            raise RuntimeError("Redis is not configured (no REDIS_HOST), so health is unknown")
        collectors = await self._reader.live_collectors(exchange)
        symbols = await self._reader.symbol_health(exchange)
        return HealthSnapshot(
            collectors_alive=sum(1 for c in collectors if not c.stale),
            symbols={s.symbol: report_of(s) for s in symbols},
        )

    async def close(self) -> None:
        """Close connections."""
        await self.targets.close()
        if self._redis is not None:
            await self._redis.close()
