"""The one path by which a symbol's rows reach storage.

Backfill, repair and both streams hand their rows and the ranges those rows complete
to a sink. It validates the rows, keeps rejected ones out together with the coverage
they would have claimed (so a bad row leaves a visible hole, never a false
"known-empty"), passes the batch to the writer, and keeps the symbol's in-memory
coverage and status current, so nobody has to read storage back to know the state.
"""

import logging
from collections.abc import Iterable, Sequence

from ohlcv_collector.core.coverage import holes, merge
from ohlcv_collector.core.validation import Rejected, candle_problem, partition, trade_problem
from ohlcv_collector.models import MINUTE_MS, Candle, SeriesKind, TimeRange, Trade, floor_minute
from ohlcv_collector.observability import metrics
from ohlcv_collector.ports import BatchSink, Coverage, WriteBatch
from ohlcv_collector.runtime.symbol_status import SymbolStatus

log = logging.getLogger("ohlcv_collector.symbol")


def _minus(covered: Iterable[TimeRange], excluded: list[TimeRange]) -> list[TimeRange]:
    return [part for c in covered for part in holes(window=c, covered=excluded)]


class SymbolSink:
    """Validated, coverage-tracked writes of one symbol."""

    def __init__(
        self,
        *,
        status: SymbolStatus,
        writer: BatchSink,
        coverage: dict[SeriesKind, list[TimeRange]],
    ) -> None:
        self.status = status
        self._writer = writer
        self.coverage = coverage
        self.first_trade: int | None = None  # the oldest trade this process stored
        self._labels = {"exchange": status.exchange, "symbol": status.symbol}
        # Looked up once: a labelled series costs microseconds to find, and streams store
        # thousands of small batches a second.
        self._candles_stored = metrics.CANDLES_STORED.labels(**self._labels)
        self._trades_stored = metrics.TRADES_STORED.labels(**self._labels)

    def _rejected(self, rejected: list[Rejected], *, kind: SeriesKind) -> None:
        for item in rejected:
            log.warning(
                "rejected a %s row from the exchange: %s",
                kind.value,
                item.reason,
                extra={**self._labels, "row": repr(item.row)},
            )
        if rejected:
            self.status.rejected_rows += len(rejected)
            metrics.ROWS_REJECTED.labels(**self._labels, kind=kind.value).inc(len(rejected))

    async def store(
        self,
        *,
        candles: Sequence[Candle] = (),
        trades: Sequence[Trade] = (),
        covered_candles: Iterable[TimeRange] = (),
        covered_trades: Iterable[TimeRange] = (),
    ) -> None:
        """Validate and hand over rows with the ranges they complete."""
        good_candles, bad_candles = partition(candles, problem=candle_problem)
        good_trades, bad_trades = partition(trades, problem=trade_problem)
        self._rejected(bad_candles, kind=SeriesKind.CANDLES)
        self._rejected(bad_trades, kind=SeriesKind.TRADES)
        bad_minutes = [
            TimeRange(floor_minute(r.row.start), floor_minute(r.row.start) + MINUTE_MS)
            for r in bad_candles
            if isinstance(r.row, Candle)
        ]
        bad_instants = [
            TimeRange(r.row.time, r.row.time + 1) for r in bad_trades if isinstance(r.row, Trade)
        ]
        coverage = {
            SeriesKind.CANDLES: _minus(covered_candles, bad_minutes),
            SeriesKind.TRADES: _minus(covered_trades, bad_instants),
        }
        batch = WriteBatch(
            candles=good_candles,
            trades=good_trades,
            coverage=[
                Coverage(self.status.exchange, self.status.symbol, kind, part)
                for kind, parts in coverage.items()
                for part in parts
            ],
        )
        if not len(batch):
            return
        await self._writer.put(batch)
        for kind, parts in coverage.items():
            if parts:
                self.coverage[kind] = merge([*self.coverage.get(kind, []), *parts])
        for part in coverage[SeriesKind.CANDLES]:
            self.status.saw_candle_coverage(part.end)
        if good_candles:
            self.status.saw_candle(max(candle.start for candle in good_candles))
        if good_trades:
            self.status.saw_trade(max(trade.time for trade in good_trades))
            oldest = min(trade.time for trade in good_trades)
            if self.first_trade is None or oldest < self.first_trade:
                self.first_trade = oldest
        self._candles_stored.inc(len(good_candles))
        self._trades_stored.inc(len(good_trades))

    async def committed(self) -> None:
        """Return once every row handed over so far is stored (written now, not at the
        writer's next batch), so that what the symbol reports next is what storage holds."""
        await self._writer.flush()

    async def not_collectable(self, candles: TimeRange) -> None:
        """Record a candle range the exchange cannot serve, in storage too, so that
        `ohlcv-collector status` and a restarted collector know it is no hole."""
        kind = SeriesKind.UNCOLLECTABLE_CANDLES
        await self._writer.put(
            WriteBatch(coverage=[Coverage(self.status.exchange, self.status.symbol, kind, candles)])
        )
        self.coverage[kind] = merge([*self.coverage.get(kind, []), candles])
