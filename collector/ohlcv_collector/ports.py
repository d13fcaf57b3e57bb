"""The seams between the collector and the outside world: one small interface per system.

Each port has a built-in backend that works anywhere (SQL, ccxt, redis-py) and, where
the fullon libraries are importable, a fullon backend. The runtime depends only on
these protocols, so backends plug in without the runtime knowing which one it drives.
"""

from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from ohlcv_collector.core.health_records import ProcessStatus, Record
from ohlcv_collector.models import Candle, SeriesKind, Target, TimeRange, Trade


class TargetSource(Protocol):
    """Where the symbols to collect come from (the fullon_orm tables)."""

    async def targets(self, *, exchange: str) -> list[Target]:
        """Active, non-ticker-only symbols of `exchange` for the configured user."""
        ...

    async def all_targets(self) -> list[Target]:
        """The targets of every exchange, by exchange and symbol."""
        ...

    async def all_exchanges(self) -> list[str]:
        """Exchanges that have at least one target for the configured user, sorted."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True, slots=True)
class MarketInfo:
    """What the exchange says about one symbol."""

    symbol: str
    active: bool


@dataclass(frozen=True, slots=True)
class ExchangeCapabilities:
    """What an exchange offers, read from the client library rather than from its name.

    Each market backend fills it in one place: `backends.ccxt.client.capabilities_of`
    (the page sizes per exchange from ccxt's `features`) and `backends.fullon.market`
    (its PAGE_LIMIT). No setting overrides them.
    """

    candle_page_limit: int  # candles per REST request
    trade_page_limit: int  # trades per REST request
    rest_trades: bool
    stream_trades: bool
    stream_candles: bool


class MarketData(Protocol):
    """REST market data of one exchange."""

    capabilities: ExchangeCapabilities

    async def markets(self) -> dict[str, MarketInfo]:
        """Listed symbols, keyed by unified symbol ("BTC/USDT")."""
        ...

    async def exchange_time(self) -> int:
        """The exchange's clock (epoch ms); the local clock when it does not publish one."""
        ...

    async def fetch_candles(self, *, symbol: str, since: int, limit: int) -> list[Candle]:
        """1m candles from `since`, oldest first; the last one may still be in progress."""
        ...

    async def fetch_trades(self, *, symbol: str, since: int, limit: int) -> list[Trade]:
        """Trades from `since`, oldest first."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class StreamInterruptedError(Exception):
    """The stream's connection dropped; whatever was in flight may be lost."""


class MarketStream(Protocol):
    """WebSocket market data of one exchange.

    Each iterator yields batches in arrival order and raises `StreamInterruptedError`
    when the connection drops; iterating again reconnects. Candle batches are the
    exchange's latest values of possibly unfinished bars.
    """

    def trades(self, *, symbol: str) -> AsyncIterator[list[Trade]]:
        """Every trade of `symbol` as it arrives."""
        ...

    def candles(self, *, symbol: str) -> AsyncIterator[list[Candle]]:
        """Updates of the current 1m bar of `symbol` (and of the previous one at its close)."""
        ...

    async def close(self) -> None:
        """Close every connection."""
        ...


class Market(MarketData, MarketStream, Protocol):
    """An exchange reachable over REST and WebSocket."""


@dataclass(frozen=True, slots=True)
class Coverage:
    """A range of one series that is stored completely: every row the exchange had is kept.

    Minutes inside a covered candle range that have no candle are known-empty: the
    exchange had no trades then. Nothing is invented for them.
    """

    exchange: str
    symbol: str
    kind: SeriesKind
    range: TimeRange


@dataclass(slots=True)
class WriteBatch:
    """Rows and the coverage they complete, written together so coverage never runs ahead."""

    candles: list[Candle] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    coverage: list[Coverage] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.candles) + len(self.trades) + len(self.coverage)


@dataclass(frozen=True, slots=True)
class WriteResult:
    """How many rows a batch added; duplicates of stored rows are not counted."""

    candles: int
    trades: int


class BatchSink(Protocol):
    """Where a symbol's rows go on their way to storage (runtime.writer.BatchWriter)."""

    async def put(self, batch: WriteBatch) -> None:
        """Buffer a batch; waits while the buffer is full."""
        ...

    async def flush(self) -> None:
        """Write now; returns once every batch put before the call is stored."""
        ...


class Storage(Protocol):
    """Idempotent storage of candles, trades and their coverage."""

    parallel_writes: int  # how many `write` calls may run at once (the batch writer's)

    async def migrate(self) -> None:
        """Create or upgrade the schema; safe to run at every start."""
        ...

    async def write(self, batch: WriteBatch) -> WriteResult:
        """Store a batch atomically; rows already stored are skipped, never duplicated."""
        ...

    async def coverage(self, *, exchange: str, symbol: str, kind: SeriesKind) -> list[TimeRange]:
        """Covered ranges of one series, merged and sorted."""
        ...

    async def candles(self, *, exchange: str, symbol: str, window: TimeRange) -> list[Candle]:
        """Stored 1m candles that start in `window`, oldest first."""
        ...

    async def trades(self, *, exchange: str, symbol: str, window: TimeRange) -> list[Trade]:
        """Stored trades whose time is in `window`, oldest first."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class MarketDataError(Exception):
    """A market-data request failed; subclasses say whether and when to try again."""


class RateLimitedError(MarketDataError):
    """The exchange refused the request for exceeding its rate limit (HTTP 429/418)."""

    def __init__(self, message: str, *, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ExchangeUnavailableError(MarketDataError):
    """The exchange or the network failed (5xx, timeout, reset); trying again may work."""


class SymbolUnavailableError(MarketDataError):
    """The exchange does not list the symbol (unknown or delisted); retrying will not help."""


class UnsupportedRequestError(MarketDataError):
    """The exchange cannot answer this kind of request at all (Hyperliquid has no public
    trade history that ccxt can page: it asks for a user's fills); retrying will not help."""


# Which of the exchange's target symbols this process collects. Alone it takes all;
# in a fleet of replicas, the fleet decides (rendezvous hashing over live collectors).
Assignment = Callable[[Collection[str]], Awaitable[set[str]]]


class RecordSource(Protocol):
    """A health store that can list the records active within a window."""

    async def active_records(self, *, window: timedelta) -> list[Record]:
        """Records whose last update is within `window`."""
        ...


class HealthStore(RecordSource, Protocol):
    """fullon_cache's ProcessCache: register/update/stop records, and list the active ones."""

    async def register(
        self, *, component: str, params: Mapping[str, Any], message: str, status: ProcessStatus
    ) -> str:
        """A new record; returns its process id."""
        ...

    async def update(
        self,
        *,
        process_id: str,
        status: ProcessStatus | None = None,
        message: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> bool:
        """Refresh a record's heartbeat (and fields); False when it has expired."""
        ...

    async def stop(self, *, process_id: str, message: str | None = None) -> bool:
        """Mark a record stopped and remove it from the active ones."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
