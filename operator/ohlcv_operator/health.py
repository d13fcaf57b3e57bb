"""Collector health as the operator judges it, from the ProcessCache records (pure).

A symbol is healthy when a live collector reports it, without error, and its data is
recent, or it is still backfilling. Symbols nobody reports count as stale: from the
cluster's point of view they are not being collected.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from ohlcv_collector.core.health_records import ProcessStatus

# How many unhealthy symbols `.status.health.unhealthy` lists (the CRD's maxItems and the
# README say the same number; a unit test holds the three together).
UNHEALTHY_LISTED = 20


class Verdict(StrEnum):
    """How a symbol's collection stands."""

    HEALTHY = "healthy"
    STALE = "stale"
    ERROR = "error"
    PAUSED = "paused"  # on purpose (spec.paused): neither healthy nor a problem to alert on


@dataclass(frozen=True, slots=True)
class SymbolReport:
    """What the newest health record of one symbol says."""

    symbol: str
    status: str
    message: str
    stale: bool
    backfilling: bool
    lag_seconds: float | None
    newest_candle: str | None


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    """The health records of one exchange's collectors."""

    collectors_alive: int
    symbols: Mapping[str, SymbolReport]


@dataclass(frozen=True, slots=True)
class SymbolVerdict:
    """The operator's judgement of one target symbol."""

    symbol: str
    verdict: Verdict
    message: str


def judge(report: SymbolReport | None, *, symbol: str, stale_lag_seconds: int) -> SymbolVerdict:
    """The verdict on one symbol from its report (None when no collector reports it)."""
    if report is None:
        return SymbolVerdict(symbol, Verdict.STALE, "no live collector reports this symbol")
    if report.stale:
        return SymbolVerdict(symbol, Verdict.STALE, f"heartbeat stale: {report.message}")
    if report.status == ProcessStatus.ERROR:
        return SymbolVerdict(symbol, Verdict.ERROR, report.message)
    lag = report.lag_seconds
    if not report.backfilling and lag is not None and lag > stale_lag_seconds:
        # The threshold, not the lag itself: the message must not change with every heartbeat.
        behind = f"data more than {stale_lag_seconds} s behind"
        return SymbolVerdict(symbol, Verdict.STALE, f"{behind}: {report.message}")
    return SymbolVerdict(symbol, Verdict.HEALTHY, report.message)


@dataclass(frozen=True, slots=True)
class HealthFingerprint:
    """What of a snapshot the status judges: how many collectors live and each reported
    symbol's verdict. The lag figures and messages move with every heartbeat and are left
    out, so two snapshots with the same fingerprint need no new reconcile (a moved figure or
    message waits for the resync)."""

    collectors_alive: int
    verdicts: tuple[tuple[str, Verdict], ...]


def fingerprint(*, snapshot: HealthSnapshot, stale_lag_seconds: int) -> HealthFingerprint:
    """The fingerprint of `snapshot` with the stale-lag threshold the status uses. Only the
    reported symbols are judged: a target nobody reports is stale whatever the snapshot
    says, until its record appears, which changes the fingerprint."""
    return HealthFingerprint(
        collectors_alive=snapshot.collectors_alive,
        verdicts=tuple(
            (symbol, judge(report, symbol=symbol, stale_lag_seconds=stale_lag_seconds).verdict)
            for symbol, report in sorted(snapshot.symbols.items())
        ),
    )


@dataclass(frozen=True, slots=True)
class HealthSummary:
    """The `.status.health` of a resource."""

    collectors_alive: int
    verdicts: tuple[SymbolVerdict, ...]
    newest_candle: str | None
    worst_lag_seconds: int | None

    def count(self, verdict: Verdict) -> int:
        """How many symbols have `verdict`."""
        return sum(1 for v in self.verdicts if v.verdict is verdict)

    def as_status(self) -> dict[str, object]:
        """The status fields, with a bounded list of the unhealthy symbols."""
        unhealthy = [v for v in self.verdicts if v.verdict in (Verdict.STALE, Verdict.ERROR)]
        status: dict[str, object] = {
            "collectorsAlive": self.collectors_alive,
            "symbolsTotal": len(self.verdicts),
            "symbolsHealthy": self.count(Verdict.HEALTHY),
            "symbolsStale": self.count(Verdict.STALE),
            "symbolsError": self.count(Verdict.ERROR),
            "symbolsPaused": self.count(Verdict.PAUSED),
            "unhealthy": [
                {"symbol": v.symbol, "status": v.verdict.value, "message": v.message[:300]}
                for v in unhealthy[:UNHEALTHY_LISTED]
            ],
        }
        if self.newest_candle is not None:
            status["newestCandle"] = self.newest_candle
        if self.worst_lag_seconds is not None:
            status["worstLagSeconds"] = self.worst_lag_seconds
        return status


def summarize(
    *,
    snapshot: HealthSnapshot,
    targets: Iterable[str],
    stale_lag_seconds: int,
    paused: bool = False,
) -> HealthSummary:
    """Judge every target symbol against the snapshot; while paused every symbol is paused
    (its collectors are gone on purpose, so their stale records say nothing)."""
    symbols = sorted(targets)
    verdicts = tuple(
        SymbolVerdict(s, Verdict.PAUSED, "collection is paused")
        if paused
        else judge(snapshot.symbols.get(s), symbol=s, stale_lag_seconds=stale_lag_seconds)
        for s in symbols
    )
    reports = [snapshot.symbols[s] for s in symbols if s in snapshot.symbols]
    candles = [r.newest_candle for r in reports if r.newest_candle]
    lags = [r.lag_seconds for r in reports if r.lag_seconds is not None and not r.stale]
    return HealthSummary(
        collectors_alive=snapshot.collectors_alive,
        verdicts=verdicts,
        newest_candle=max(candles) if candles else None,
        worst_lag_seconds=round(max(lags)) if lags else None,
    )
