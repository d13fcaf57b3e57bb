"""The reader the operator uses: live collectors of an exchange, and per-symbol health.

It works over any health store that lists its active records (the built-in Redis one
or fullon_cache's ProcessCache) and judges them with `core.liveness`, which follows
fullon_cache's own rules, so what it reports is what fullon's tools would report.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ohlcv_collector.core.liveness import (
    DEFAULT_WINDOW,
    CollectorRecord,
    SymbolHealth,
    collectors_of,
    symbols_of,
)
from ohlcv_collector.ports import RecordSource


class HealthReader:
    """Reads collectors and symbols of an exchange from a health store.

    `window` is how far back a record still counts (fullon's `since_minutes`);
    `stale_after` is how old a heartbeat may be before the record is flagged stale
    (by default the window, as in fullon_cache). `clock` is the time records are judged
    at; a test passes a later one to see records age without waiting for them to.
    """

    def __init__(
        self,
        source: RecordSource,
        *,
        window: timedelta = DEFAULT_WINDOW,
        stale_after: timedelta | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._source = source
        self.window = window
        self.stale_after = stale_after or window
        self._clock = clock

    async def live_collectors(self, exchange: str) -> list[CollectorRecord]:
        """The collector processes of `exchange` seen within the window, by instance."""
        records = await self._source.active_records(window=self.window)
        return collectors_of(
            records,
            exchange=exchange,
            now=self._clock(),
            window=self.window,
            stale_after=self.stale_after,
        )

    async def symbol_health(self, exchange: str) -> list[SymbolHealth]:
        """Health of every symbol of `exchange` that a collector reported within the window."""
        records = await self._source.active_records(window=self.window)
        return symbols_of(
            records,
            exchange=exchange,
            now=self._clock(),
            window=self.window,
            stale_after=self.stale_after,
        )
