"""Storage through fullon_ohlcv's CandleRepository and TradeRepository (contract section 3).

Rows go to fullon's tables (`{exchange}.{symbol}_candles1m` and `_trades`), so every
fullon reader sees them. `test=False` is always passed: the default is undocumented, and
True would write to the test database. fullon_ohlcv has no notion of coverage, so the
ranges known complete are kept by a built-in storage (normally on the same database) and
written only after the rows they vouch for: a crash in between makes the next start
fetch those rows again, which is harmless because fullon's tables ignore duplicates.

What fullon's tables cannot hold is lost on the way in: trade ids (its Trade has none)
and exact decimals (its models are floats). Sides are written upper case, as its models
expect; a trade whose side the exchange did not say gets "".
"""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ohlcv_collector.backends.fullon import load
from ohlcv_collector.backends.fullon.market import epoch_ms
from ohlcv_collector.models import Candle, SeriesKind, Side, TimeRange, Trade
from ohlcv_collector.ports import Storage, WriteBatch, WriteResult


def _at(instant: int) -> datetime:
    return datetime.fromtimestamp(instant / 1000, UTC)


class FullonStorage:
    """The `Storage` port on fullon_ohlcv, with coverage kept by `coverage`."""

    parallel_writes = 1  # a symbol's repositories are made on its first write

    def __init__(self, *, coverage: Storage) -> None:
        self._coverage = coverage
        self._repositories: dict[tuple[str, str, str], Any] = {}

    async def _repository(self, kind: str, *, exchange: str, symbol: str) -> Any:
        key = (kind, exchange, symbol)
        if key not in self._repositories:
            module = load("fullon_ohlcv.repositories.ohlcv")
            repository = getattr(module, kind)(exchange, symbol, test=False)
            await repository.initialize()
            await repository.init_symbol(main="candles")
            self._repositories[key] = repository
        return self._repositories[key]

    async def migrate(self) -> None:
        """Prepare the coverage store; fullon's tables are made per symbol on first write."""
        await self._coverage.migrate()

    async def write(self, batch: WriteBatch) -> WriteResult:
        """Save the rows through the repositories, then record their coverage."""
        models = load("fullon_ohlcv.models")
        by_symbol: dict[tuple[str, str], tuple[list[Candle], list[Trade]]] = {}
        for candle in batch.candles:
            by_symbol.setdefault((candle.exchange, candle.symbol), ([], []))[0].append(candle)
        for trade in batch.trades:
            by_symbol.setdefault((trade.exchange, trade.symbol), ([], []))[1].append(trade)
        for (exchange, symbol), (candles, trades) in by_symbol.items():
            if candles:
                repository = await self._repository(
                    "CandleRepository", exchange=exchange, symbol=symbol
                )
                rows = [
                    models.Candle(timestamp=_at(c.start), open=float(c.open), high=float(c.high),
                                  low=float(c.low), close=float(c.close), vol=float(c.volume))
                    for c in candles
                ]  # fmt: skip
                if not await repository.save_candles(rows):
                    raise OSError(f"fullon_ohlcv refused {len(rows)} candles of {symbol}")
            if trades:
                repository = await self._repository(
                    "TradeRepository", exchange=exchange, symbol=symbol
                )
                rows = [
                    models.Trade(timestamp=_at(t.time), price=float(t.price),
                                 volume=float(t.amount), side=t.side.value.upper(), type="MARKET")
                    for t in trades
                ]  # fmt: skip
                if not await repository.save_trades(rows):
                    raise OSError(f"fullon_ohlcv refused {len(rows)} trades of {symbol}")
        if batch.coverage:
            await self._coverage.write(WriteBatch(coverage=batch.coverage))
        # The repositories answer only True or False, so stored duplicates count as added.
        return WriteResult(candles=len(batch.candles), trades=len(batch.trades))

    async def coverage(self, *, exchange: str, symbol: str, kind: SeriesKind) -> list[TimeRange]:
        """Covered ranges, from the coverage store."""
        return await self._coverage.coverage(exchange=exchange, symbol=symbol, kind=kind)

    async def candles(self, *, exchange: str, symbol: str, window: TimeRange) -> list[Candle]:
        """Stored 1m candles in `window`, through TimeseriesRepository.fetch_ohlcv.

        fullon's view gap-fills minutes that have no row (last close, volume 0).
        """
        arrow = load("arrow")  # a dependency of fullon_ohlcv
        repository = load("fullon_ohlcv.repositories.ohlcv").TimeseriesRepository(
            exchange, symbol, test=False
        )
        async with repository:
            rows = await repository.fetch_ohlcv(
                compression=1,
                period="minutes",
                fromdate=arrow.get(window.start / 1000),
                todate=arrow.get(window.end / 1000),
            )
        candles = [
            Candle(exchange=exchange, symbol=symbol, start=epoch_ms(_datetime(row[0])),
                   open=Decimal(repr(row[1])), high=Decimal(repr(row[2])),
                   low=Decimal(repr(row[3])), close=Decimal(repr(row[4])),
                   volume=Decimal(repr(row[5])))
            for row in rows
        ]  # fmt: skip
        return [c for c in candles if window.contains(c.start)]

    async def trades(self, *, exchange: str, symbol: str, window: TimeRange) -> list[Trade]:
        """Stored trades in `window`, through TradeRepository.get_trades_in_range (no ids)."""
        repository = await self._repository("TradeRepository", exchange=exchange, symbol=symbol)
        rows = await repository.get_trades_in_range(_at(window.start), _at(window.end))
        trades = [
            Trade(exchange=exchange, symbol=symbol, trade_id="",
                  time=epoch_ms(row.timestamp), price=Decimal(repr(row.price)),
                  amount=Decimal(repr(row.volume)),
                  side=Side(row.side.lower()) if row.side else Side.UNKNOWN)
            for row in rows
        ]  # fmt: skip
        return sorted((t for t in trades if window.contains(t.time)), key=lambda t: t.time)

    async def close(self) -> None:
        """Close every repository and the coverage store."""
        for repository in self._repositories.values():
            await repository.close()
        self._repositories.clear()
        await self._coverage.close()


def _datetime(value: Any) -> datetime:
    """A fetched row's time: an Arrow (its `.datetime`) or a datetime."""
    return value if isinstance(value, datetime) else value.datetime
