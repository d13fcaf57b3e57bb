"""Health records in fullon_cache's ProcessCache format, and the rules its readers apply.

A record is the JSON object `ProcessCache.register_process` writes (same keys, same order,
ISO-8601 times with +00:00), so fullon tools read ours and our reader reads theirs.
Conventions of this collector (fullon-contract.md section 4.2 and 6.8):

- every record has process type "ohlcv";
- one record per collector process, component `ohlcv_collector:{exchange}:{instance}`,
  params `{exchange, type: "collector", instance, host, pid, symbols}`;
- one record per symbol a process owns, component `{exchange}:{symbol}` as the reference
  service names it, params `{exchange, symbol, type: "live", collector, phase,
  newest_candle, newest_trade, lag_seconds, backfill_progress, reconnects, holes}`.
  "live" is the reference's type for a symbol kept current; backfill, streaming and repair
  are phases of that one record (in `phase` and the message), not separate records.

How readers judge these records is in `core.liveness`.
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from ohlcv_collector.core.phases import Phase

PROCESS_TYPE = "ohlcv"
COLLECTOR_TYPE = "collector"
SYMBOL_TYPE = "live"
DATA_TTL_SECONDS = 86_400


Record = dict[str, Any]


class ProcessStatus(StrEnum):
    """fullon_cache's ProcessStatus values."""

    STARTING = "starting"
    RUNNING = "running"
    PROCESSING = "processing"
    IDLE = "idle"
    ERROR = "error"
    STOPPED = "stopped"


# A symbol's phase as a ProcessCache status; the message says which kind of running it is.
_STATUS_OF_PHASE = {
    Phase.STARTING: ProcessStatus.STARTING,
    Phase.BACKFILLING: ProcessStatus.RUNNING,
    Phase.STREAMING: ProcessStatus.RUNNING,
    Phase.RECONNECTING: ProcessStatus.RUNNING,
    Phase.ERROR: ProcessStatus.ERROR,
    Phase.STOPPED: ProcessStatus.STOPPED,
}


def status_of_phase(phase: Phase) -> ProcessStatus:
    """The ProcessCache status of a symbol in `phase`."""
    return _STATUS_OF_PHASE[phase]


def collector_component(*, exchange: str, instance: str) -> str:
    """The component of a collector process's record."""
    return f"ohlcv_collector:{exchange}:{instance}"


def symbol_component(*, exchange: str, symbol: str) -> str:
    """The component of a symbol's record, as the reference service names it."""
    return f"{exchange}:{symbol}"


def process_id_of(*, component: str, at: datetime) -> str:
    """`{type}:{component}:{epoch float}`, exactly as register_process builds it."""
    return f"{PROCESS_TYPE}:{component}:{at.timestamp()}"


def collector_params(*, exchange: str, instance: str, host: str, pid: int, symbols: int) -> Record:
    """Params of a collector process's record."""
    return {
        "exchange": exchange,
        "type": COLLECTOR_TYPE,
        "instance": instance,
        "host": host,
        "pid": pid,
        "symbols": symbols,
    }


def symbol_params(
    *,
    exchange: str,
    symbol: str,
    collector: str,
    phase: str,
    newest_candle: int | None,
    newest_trade: int | None,
    lag_ms: int | None,
    backfill_progress: float,
    reconnects: int,
    holes: int,
) -> Record:
    """Params of a symbol's record: who collects it, its phase, and how current it is."""
    return {
        "exchange": exchange,
        "symbol": symbol,
        "type": SYMBOL_TYPE,
        "collector": collector,
        "phase": phase,
        "newest_candle": iso_of_ms(newest_candle),
        "newest_trade": iso_of_ms(newest_trade),
        "lag_seconds": None if lag_ms is None else lag_ms / 1000,
        "backfill_progress": round(backfill_progress, 4),
        "reconnects": reconnects,
        "holes": holes,
    }


def iso(at: datetime) -> str:
    """ISO-8601 with offset, as fullon_cache writes times."""
    return at.astimezone(UTC).isoformat()


def iso_of_ms(instant: int | None) -> str | None:
    """An epoch-millisecond time as ISO-8601 with +00:00, or None."""
    return None if instant is None else iso(datetime.fromtimestamp(instant / 1000, UTC))


def new_record(
    *,
    process_id: str,
    component: str,
    params: Mapping[str, Any],
    message: str,
    status: ProcessStatus,
    at: datetime,
) -> Record:
    """The record register_process stores, keys in its order."""
    return {
        "process_id": process_id,
        "process_type": PROCESS_TYPE,
        "component": component,
        "params": dict(params),
        "status": status.value,
        "message": message or f"Process {component} registered",
        "created_at": iso(at),
        "updated_at": iso(at),
        "heartbeat": iso(at),
    }


def updated_record(
    record: Mapping[str, Any],
    *,
    at: datetime,
    status: ProcessStatus | None = None,
    message: str | None = None,
    params: Mapping[str, Any] | None = None,
    heartbeat: bool = True,
) -> Record:
    """`record` as update_process leaves it: falsy arguments change nothing, params merge."""
    updated = dict(record)
    updated["updated_at"] = iso(at)
    if heartbeat:
        updated["heartbeat"] = iso(at)
    if status:
        updated["status"] = status.value
    if message:
        updated["message"] = message
    if params:
        updated["params"] = {**updated.get("params", {}), **params}
    return updated
