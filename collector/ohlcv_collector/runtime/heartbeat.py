"""The heartbeat writer: this replica's health records, and the symbol split they imply.

Every `heartbeat_seconds` it rewrites this process's ProcessCache record and one
record per symbol it collects (at once when a symbol changes phase), stops the records
of symbols it no longer collects, and reads which replicas of the exchange are alive.
Its `assignment` gives the exchange collector the symbols rendezvous hashing assigns to
this replica among those; a replica silent for `member_timeout_seconds` no longer
counts, so its symbols are taken over at the next targets refresh.

Health is never on the collection path: writes run in their own task, give up after a
timeout and retry with backoff. While Redis is unreachable the last known replicas keep
their symbols (everyone is silent then, not dead), and for one timeout after it returns
they still count, so an outage moves nothing. /readyz names the outage meanwhile.
"""

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta

from ohlcv_collector.core import health_records
from ohlcv_collector.core.health_records import ProcessStatus
from ohlcv_collector.core.liveness import collectors_of, live_members
from ohlcv_collector.core.phases import Phase
from ohlcv_collector.core.retry import HEALTH_WRITE, is_our_bug
from ohlcv_collector.core.sharding import assign
from ohlcv_collector.models import now_ms
from ohlcv_collector.ports import HealthStore
from ohlcv_collector.runtime.symbol_status import SymbolStatus

log = logging.getLogger("ohlcv_collector.fleet")  # the name operators filter logs by

TICK_SECONDS = 1.0  # how soon a phase change reaches Redis
# A Redis call that takes longer is given up (and retried on HEALTH_WRITE's schedule):
# long enough for a loaded server, short enough that a stopping Pod still marks its
# records stopped within its 10 s shutdown (runtime.process). A sync writes every
# record of the replica, so it gets two.
CALL_TIMEOUT_SECONDS = 2.0


class HeartbeatWriter:
    """This replica's health records, and its share of the exchange's symbols among the
    replicas whose heartbeats it reads."""

    def __init__(
        self,
        *,
        exchange: str,
        instance: str,
        store: HealthStore,
        heartbeat_seconds: float,
        member_timeout_seconds: float,
    ) -> None:
        self.exchange = exchange
        self.instance = instance
        self.redis_ok = False
        self.redis_problem: str | None = "health not written yet"
        self._store = store
        self._heartbeat = heartbeat_seconds
        self._member_timeout = timedelta(seconds=member_timeout_seconds)
        self._component = health_records.collector_component(exchange=exchange, instance=instance)
        self._process_id: str | None = None
        self._symbols: dict[str, tuple[str, str]] = {}  # symbol -> (process id, phase)
        self._members: set[str] = {instance}
        self._frozen: set[str] = set()
        self._frozen_until = 0.0
        self._was_down = False

    # -- the symbol split -----------------------------------------------------------

    async def assignment(self, symbols: Collection[str]) -> set[str]:
        """This replica's share of `symbols` among the live replicas (an `Assignment`)."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CALL_TIMEOUT_SECONDS):
                await self._read_members()
        return assign(symbols=symbols, members=self._members, me=self.instance)

    async def _read_members(self) -> None:
        records = await self._store.active_records(window=self._member_timeout)
        seen = collectors_of(
            records,
            exchange=self.exchange,
            now=datetime.now(UTC),
            window=self._member_timeout,
            stale_after=self._member_timeout,
        )
        if self._was_down:  # everyone was silent, not dead: keep them for one timeout
            self._frozen = set(self._members)
            self._frozen_until = time.monotonic() + self._member_timeout.total_seconds()
            self._was_down = False
        frozen = self._frozen if time.monotonic() < self._frozen_until else set()
        members = live_members(seen) | frozen | {self.instance}
        if members != self._members:
            log.info(
                "replicas of %s: %s", self.exchange, ", ".join(sorted(members)),
                extra={"exchange": self.exchange, "replicas": len(members)},
            )  # fmt: skip
        self._members = members

    # -- heartbeats -------------------------------------------------------------------

    async def start(self) -> None:
        """Register this process and read the replicas, once, without ever failing."""
        try:
            async with asyncio.timeout(CALL_TIMEOUT_SECONDS):
                await self._sync({}, full=True)
            self._succeeded()
        except Exception as error:
            self._failed(error)

    async def run(self, *, statuses: Mapping[str, SymbolStatus]) -> None:
        """Keep the records of this process and of `statuses` current until cancelled."""
        next_full = 0.0
        attempt = 0
        while True:
            full = time.monotonic() >= next_full
            try:
                async with asyncio.timeout(CALL_TIMEOUT_SECONDS * 2):
                    await self._sync(statuses, full=full)
            except Exception as error:
                self._failed(error)
                delay = HEALTH_WRITE.capped(self._heartbeat).delay(
                    attempt=attempt, random=random.random()
                )
                attempt += 1
                await asyncio.sleep(delay)
                continue
            self._succeeded()
            attempt = 0
            if full:
                next_full = time.monotonic() + self._heartbeat
            await asyncio.sleep(min(TICK_SECONDS, self._heartbeat))

    async def _sync(self, statuses: Mapping[str, SymbolStatus], *, full: bool) -> None:
        owned = {s: st for s, st in statuses.items() if st.phase is not Phase.STOPPED}
        if self._process_id is None or full:
            await self._write_process(owned)
        now = now_ms()
        writes = [
            self._write_symbol(status, now_ms=now)
            for symbol, status in owned.items()
            if full or self._symbols.get(symbol, ("", ""))[1] != status.phase.value
        ]
        releases = [self._release(symbol) for symbol in set(self._symbols) - set(owned)]
        await asyncio.gather(*writes, *releases)
        if full:
            await self._read_members()

    async def _write_process(self, owned: Mapping[str, SymbolStatus]) -> None:
        phases = sorted({st.phase.value for st in owned.values()})
        counts = ", ".join(
            f"{sum(st.phase.value == p for st in owned.values())} {p}" for p in phases
        )
        message = f"collecting {len(owned)} symbols" + (f": {counts}" if counts else "")
        params = health_records.collector_params(
            exchange=self.exchange,
            instance=self.instance,
            host=socket.gethostname(),
            pid=os.getpid(),
            symbols=len(owned),
        )
        if self._process_id is None or not await self._store.update(
            process_id=self._process_id,
            status=ProcessStatus.RUNNING,
            message=message,
            params=params,
        ):
            status = ProcessStatus.STARTING if self._process_id is None else ProcessStatus.RUNNING
            self._process_id = await self._store.register(
                component=self._component, params=params, message=message, status=status
            )

    async def _write_symbol(self, status: SymbolStatus, *, now_ms: int) -> None:
        params = health_records.symbol_params(
            exchange=status.exchange,
            symbol=status.symbol,
            collector=self.instance,
            phase=status.phase.value,
            newest_candle=status.newest_candle,
            newest_trade=status.newest_trade,
            lag_ms=status.lag_ms(local_now=now_ms),
            backfill_progress=status.backfill_progress,
            reconnects=status.reconnects,
            holes=status.holes,
        )
        state = health_records.status_of_phase(status.phase)
        message = status.describe()
        known = self._symbols.get(status.symbol)
        if known is None or not await self._store.update(
            process_id=known[0], status=state, message=message, params=params
        ):
            component = health_records.symbol_component(
                exchange=status.exchange, symbol=status.symbol
            )
            process_id = await self._store.register(
                component=component, params=params, message=message, status=state
            )
            known = (process_id, "")
        self._symbols[status.symbol] = (known[0], status.phase.value)

    async def _release(self, symbol: str, *, reason: str | None = None) -> None:
        process_id, _ = self._symbols[symbol]
        await self._store.stop(
            process_id=process_id, message=reason or f"no longer collected by {self.instance}"
        )
        del self._symbols[symbol]

    async def stop(self) -> None:
        """Mark every record of this process stopped and remove them from the active hash."""
        reason = f"stopped: collector {self.instance} shut down"
        try:
            releases = [self._release(symbol, reason=reason) for symbol in list(self._symbols)]
            async with asyncio.timeout(CALL_TIMEOUT_SECONDS):
                await asyncio.gather(*releases)
            if self._process_id is not None:
                async with asyncio.timeout(CALL_TIMEOUT_SECONDS):
                    await self._store.stop(process_id=self._process_id, message=reason)
        except Exception as error:
            log.warning("could not mark the health records stopped: %s", error)

    # -- readiness --------------------------------------------------------------------

    def _failed(self, error: BaseException) -> None:
        problem = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        if self.redis_ok or self.redis_problem != problem:
            log.warning(
                "health records not written (collection goes on; retrying): %s", problem,
                exc_info=error if is_our_bug(error) else None,  # a bug's traceback, to fix it
                extra={"exchange": self.exchange},
            )  # fmt: skip
        self.redis_ok, self.redis_problem = False, problem
        self._was_down = True

    def _succeeded(self) -> None:
        if not self.redis_ok:
            log.info("health records written", extra={"exchange": self.exchange})
        self.redis_ok, self.redis_problem = True, None

    def not_ready(self) -> list[str]:
        """Why /readyz should fail on account of health reporting (empty when it is fine)."""
        if self.redis_ok:
            return []
        return [f"health records not written to Redis ({self.redis_problem}); collection goes on"]
