"""How a reader of ProcessCache records tells live collectors and healthy symbols apart.

The rules of fullon_cache's `get_active_processes`, as pure functions over records and a
time: a record counts while its last update is within the window (`since_minutes`, five
minutes by default), and is stale when its heartbeat is older than `stale_after` (fullon
uses the window itself). A crashed process's records turn stale, then leave the window;
a cleanly stopped one's are removed from the active hash, so readers never see them.
"""

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ohlcv_collector.core.health_records import (
    COLLECTOR_TYPE,
    PROCESS_TYPE,
    SYMBOL_TYPE,
    ProcessStatus,
)

DEFAULT_WINDOW = timedelta(minutes=5)  # fullon_cache's get_active_processes default


def parse_time(text: object) -> datetime | None:
    """An ISO time with offset; None for anything else (fullon's reader skips naive times)."""
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def in_window(text: object, *, now: datetime, window: timedelta) -> bool:
    """Whether an active-hash or `updated_at` time is within `window` of `now`."""
    at = parse_time(text)
    return at is not None and at >= now - window


@dataclass(frozen=True, slots=True)
class CollectorRecord:
    """One collector process of an exchange, as its latest heartbeat describes it."""

    exchange: str
    instance: str
    process_id: str
    status: str
    message: str
    symbols: int
    updated_at: datetime
    stale: bool


@dataclass(frozen=True, slots=True)
class SymbolHealth:
    """How one symbol's collection stands, from the record of the collector that owns it."""

    exchange: str
    symbol: str
    collector: str
    status: str
    phase: str
    message: str
    newest_candle: datetime | None
    newest_trade: datetime | None
    lag_seconds: float | None
    updated_at: datetime
    stale: bool


def _fields(record: Mapping[str, Any], *, kind: str, exchange: str) -> dict[str, Any] | None:
    params = record.get("params")
    if not isinstance(params, Mapping) or params.get("type") != kind:
        return None
    if params.get("exchange") != exchange or record.get("process_type") != PROCESS_TYPE:
        return None
    return dict(params)


@dataclass(frozen=True, slots=True)
class _Counted:
    """A record that counts for a reader, with its params and whether it is stale."""

    record: Mapping[str, Any]
    params: dict[str, Any]
    updated_at: datetime
    stale: bool


def _counted(
    records: Iterable[Mapping[str, Any]],
    *,
    kind: str,
    exchange: str,
    now: datetime,
    window: timedelta,
    stale_after: timedelta | None,
) -> Iterator[_Counted]:
    """The records of `kind` for `exchange` updated within the window, stale or not."""
    for record in records:
        params = _fields(record, kind=kind, exchange=exchange)
        updated = parse_time(record.get("updated_at"))
        if params is None or updated is None or updated < now - window:
            continue
        heartbeat = parse_time(record.get("heartbeat"))
        stale = heartbeat is None or heartbeat < now - (stale_after or window)
        yield _Counted(record=record, params=params, updated_at=updated, stale=stale)


def collectors_of(
    records: Iterable[Mapping[str, Any]],
    *,
    exchange: str,
    now: datetime,
    window: timedelta = DEFAULT_WINDOW,
    stale_after: timedelta | None = None,
) -> list[CollectorRecord]:
    """The collector processes of `exchange` in the window, newest record per instance."""
    found: dict[str, CollectorRecord] = {}
    counted = _counted(
        records, kind=COLLECTOR_TYPE, exchange=exchange, now=now, window=window,
        stale_after=stale_after,
    )  # fmt: skip
    for each in counted:
        params, record = each.params, each.record
        instance = str(params.get("instance", ""))
        candidate = CollectorRecord(
            exchange=exchange,
            instance=instance,
            process_id=str(record.get("process_id")),
            status=str(record.get("status")),
            message=str(record.get("message")),
            symbols=int(params.get("symbols") or 0),
            updated_at=each.updated_at,
            stale=each.stale,
        )
        if instance not in found or found[instance].updated_at < candidate.updated_at:
            found[instance] = candidate
    return sorted(found.values(), key=lambda c: c.instance)


def live_members(collectors: Iterable[CollectorRecord]) -> set[str]:
    """Instances that count for the symbol split: heartbeat fresh and not stopped."""
    return {
        c.instance for c in collectors if not c.stale and c.status != ProcessStatus.STOPPED.value
    }


def _preference(health: SymbolHealth) -> tuple[bool, datetime]:
    return not health.stale, health.updated_at


def symbols_of(
    records: Iterable[Mapping[str, Any]],
    *,
    exchange: str,
    now: datetime,
    window: timedelta = DEFAULT_WINDOW,
    stale_after: timedelta | None = None,
) -> list[SymbolHealth]:
    """Per-symbol health of `exchange`; during a handover the fresh, newest record wins."""
    found: dict[str, SymbolHealth] = {}
    counted = _counted(
        records, kind=SYMBOL_TYPE, exchange=exchange, now=now, window=window,
        stale_after=stale_after,
    )  # fmt: skip
    for each in counted:
        params, record = each.params, each.record
        lag = params.get("lag_seconds")
        candidate = SymbolHealth(
            exchange=exchange,
            symbol=str(params.get("symbol")),
            collector=str(params.get("collector", "")),
            status=str(record.get("status")),
            phase=str(params.get("phase", "")),
            message=str(record.get("message")),
            newest_candle=parse_time(params.get("newest_candle")),
            newest_trade=parse_time(params.get("newest_trade")),
            lag_seconds=float(lag) if isinstance(lag, int | float) else None,
            updated_at=each.updated_at,
            stale=each.stale,
        )
        current = found.get(candidate.symbol)
        if current is None or _preference(current) < _preference(candidate):
            found[candidate.symbol] = candidate
    return sorted(found.values(), key=lambda s: s.symbol)
