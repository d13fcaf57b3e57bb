"""One exchange's collection: the targets from the database, one task group per symbol.

The targets are read again on a timer, so a symbol added to or removed from the
database starts or stops being collected without a restart. Symbols the exchange
does not list, or stops listing, are reported and left alone; every other symbol
goes on. Until the exchange's markets have been loaded once (it may be unreachable at
start), no symbol can be judged listed or not: they wait, and nothing is reported as
delisted. Each symbol's tasks are isolated: one failing never cancels another.
"""

import asyncio
import contextlib
import logging
from collections.abc import Collection
from dataclasses import dataclass

from ohlcv_collector.core.phases import Phase
from ohlcv_collector.models import SeriesKind, Target
from ohlcv_collector.observability import metrics
from ohlcv_collector.ports import (
    Assignment,
    BatchSink,
    Market,
    MarketDataError,
    Storage,
    TargetSource,
)
from ohlcv_collector.runtime.filling import SPARE_REQUESTS, SpareRequests
from ohlcv_collector.runtime.sink import SymbolSink
from ohlcv_collector.runtime.symbol import CollectOptions, SymbolCollector
from ohlcv_collector.runtime.symbol_status import SymbolStatus

log = logging.getLogger("ohlcv_collector.exchange")

# Markets are reloaded at least this often, so a delisting is noticed while running.
MARKETS_REFRESH_SECONDS = 300.0


async def take_all(symbols: Collection[str]) -> set[str]:
    """The assignment of a collector that runs alone."""
    return set(symbols)


@dataclass(slots=True)
class Running:
    """A symbol being collected: its target and its task."""

    target: Target
    task: asyncio.Task[None]


class ExchangeCollector:
    """Starts, stops and watches the symbol collectors of one exchange."""

    def __init__(
        self,
        *,
        exchange: str,
        targets: TargetSource,
        market: Market,
        storage: Storage,
        writer: BatchSink,
        options: CollectOptions,
        refresh_seconds: float,
        symbols: frozenset[str] | None = None,
        assignment: Assignment = take_all,
    ) -> None:
        self.exchange = exchange
        self.statuses: dict[str, SymbolStatus] = {}
        self.targets_loaded = False
        self._targets = targets
        self._market = market
        self._storage = storage
        self._writer = writer
        self._options = options
        self._refresh_seconds = refresh_seconds
        self._allowed = symbols
        self._assignment = assignment
        self._running: dict[str, Running] = {}
        self._spare_requests = SpareRequests(count=SPARE_REQUESTS)
        self._listed: dict[str, bool] = {}
        self._markets_loaded = False
        self._markets_age = MARKETS_REFRESH_SECONDS
        self._reported: set[str] = set()

    async def run(self) -> None:
        """Reconcile the running symbols with the targets until cancelled."""
        try:
            while True:
                try:
                    await self.reconcile()
                except Exception:
                    log.exception("reading the targets failed; keeping the current symbols")
                self._report_phases()
                await asyncio.sleep(self._refresh_seconds)
                self._markets_age += self._refresh_seconds
        finally:
            await self.stop()

    async def reconcile(self) -> None:
        """One round: read targets, check them against the exchange, start and stop tasks."""
        targets = {
            t.symbol: t
            for t in await self._targets.targets(exchange=self.exchange)
            if self._allowed is None or t.symbol in self._allowed
        }
        self.targets_loaded = True
        mine = await self._assignment(list(targets))
        wanted = {symbol: t for symbol, t in targets.items() if symbol in mine}
        changed = set(wanted) - set(self._listed)
        if changed or self._markets_age >= MARKETS_REFRESH_SECONDS:
            await self._load_markets()
        for symbol in list(self._running):
            target = wanted.get(symbol)
            if (
                target is None
                or target != self._running[symbol].target
                or not self._listed.get(symbol)
            ):
                await self._stop_symbol(
                    symbol, reason=_why_not_wanted(symbol, targets=targets, wanted=wanted)
                )
        for symbol, target in wanted.items():
            if symbol in self._running:
                continue
            if not self._markets_loaded:
                self._waiting(target)
                continue
            if not self._listed.get(symbol):
                self._unlisted(target)
                continue
            await self._start_symbol(target)
        for symbol in set(self.statuses) - set(wanted):
            del self.statuses[symbol]

    async def _load_markets(self) -> None:
        try:
            markets = await self._market.markets()
        except MarketDataError as error:
            if self._markets_loaded:
                log.warning("loading the exchange's markets failed: %s", error)
            else:
                log.warning(
                    "the markets of %s could not be loaded yet, so its symbols wait: %s",
                    self.exchange, error, extra={"exchange": self.exchange},
                )  # fmt: skip
            return
        if not markets:  # a damaged answer parses as no markets at all: keep what we knew
            log.warning("the exchange listed no markets; keeping the previous list")
            return
        self._listed = {symbol: info.active for symbol, info in markets.items()}
        self._markets_age = 0.0
        self._markets_loaded = True

    def _waiting(self, target: Target) -> None:
        """Not started, and not judged: the exchange's markets are not known yet."""
        status = self.statuses.setdefault(
            target.symbol, SymbolStatus(exchange=self.exchange, symbol=target.symbol)
        )
        status.phase = Phase.STARTING
        status.message = f"waiting: the markets of {self.exchange} could not be loaded yet"

    def _unlisted(self, target: Target) -> None:
        status = self.statuses.setdefault(
            target.symbol, SymbolStatus(exchange=self.exchange, symbol=target.symbol)
        )
        reason = f"{self.exchange} does not list {target.symbol} (unknown or delisted)"
        if status.last_error != reason:
            log.error("%s", reason, extra={"exchange": self.exchange, "symbol": target.symbol})
        status.phase, status.last_error, status.message = Phase.ERROR, reason, f"error: {reason}"

    async def _start_symbol(self, target: Target) -> None:
        coverage = {
            kind: await self._storage.coverage(
                exchange=self.exchange, symbol=target.symbol, kind=kind
            )
            for kind in SeriesKind
        }
        status = SymbolStatus(exchange=self.exchange, symbol=target.symbol)
        self.statuses[target.symbol] = status
        sink = SymbolSink(status=status, writer=self._writer, coverage=coverage)
        collector = SymbolCollector(
            target=target, market=self._market, sink=sink, options=self._options,
            spare=self._spare_requests,
        )  # fmt: skip
        task = asyncio.create_task(collector.run(), name=f"collect {self.exchange} {target.symbol}")
        self._running[target.symbol] = Running(target=target, task=task)
        log.info(
            "collecting %s",
            target.symbol,
            extra={"exchange": self.exchange, "symbol": target.symbol},
        )

    async def _stop_symbol(self, symbol: str, *, reason: str | None) -> None:
        running = self._running.pop(symbol)
        running.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await running.task
        status = self.statuses.get(symbol)
        if status is not None:
            status.phase, status.message = Phase.STOPPED, reason or "stopped"
        log.info("stopped collecting %s%s", symbol, f": {reason}" if reason else "",
                 extra={"exchange": self.exchange, "symbol": symbol})  # fmt: skip

    async def stop(self) -> None:
        """Cancel every symbol's tasks (rows already handed to the writer are kept)."""
        for symbol in list(self._running):
            await self._stop_symbol(symbol, reason=None)

    def _report_phases(self) -> None:
        for phase in Phase:
            count = sum(1 for s in self.statuses.values() if s.phase is phase)
            metrics.SYMBOLS.labels(exchange=self.exchange, phase=phase.value).set(count)
        for symbol, status in self.statuses.items():
            for phase in Phase:
                metrics.SYMBOL_PHASE.labels(
                    exchange=self.exchange, symbol=symbol, phase=phase.value
                ).set(1 if status.phase is phase else 0)
        for symbol in self._reported - set(self.statuses):  # dropped from the targets
            for gauge in (
                metrics.LAG_SECONDS,
                metrics.BACKFILL_PROGRESS,
                metrics.BACKFILL_ETA_SECONDS,
            ):
                with contextlib.suppress(KeyError):
                    gauge.remove(self.exchange, symbol)
            for phase in Phase:
                with contextlib.suppress(KeyError):
                    metrics.SYMBOL_PHASE.remove(self.exchange, symbol, phase.value)
        self._reported = set(self.statuses)


def _why_not_wanted(
    symbol: str, *, targets: Collection[str], wanted: Collection[str]
) -> str | None:
    """Why a running symbol stops: gone from the targets, or now another replica's."""
    if symbol in wanted:
        return None  # its target changed or it was delisted: restarted or reported
    if symbol in targets:
        return "handed over to another replica"
    return "removed from the targets"
