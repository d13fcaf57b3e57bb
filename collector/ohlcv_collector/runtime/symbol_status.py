"""What each symbol's collection is doing right now, for logs, metrics, probes and health.

One mutable record per symbol, written only by that symbol's tasks and read by the
reporters (metrics, /readyz, and the ProcessCache heartbeat), so nothing else needs
to ask a running task what it is doing.
"""

from dataclasses import dataclass

from ohlcv_collector.core.coverage import lag_ms
from ohlcv_collector.core.phases import Phase


@dataclass(slots=True)
class SymbolStatus:
    """The state of one symbol's collection."""

    exchange: str
    symbol: str
    phase: Phase = Phase.STARTING
    message: str = "starting"
    backfill_progress: float = 0.0
    backfill_eta_seconds: float | None = None
    newest_candle: int | None = None
    covered_until: int | None = None  # end of the stored candle coverage
    newest_trade: int | None = None
    reconnects: int = 0
    last_error: str | None = None
    rejected_rows: int = 0
    holes: int = 0
    clock_offset_ms: int = 0  # the exchange's clock minus ours, as of the last repair

    def saw_candle(self, start: int) -> None:
        """Remember the newest stored candle's bar start."""
        if self.newest_candle is None or start > self.newest_candle:
            self.newest_candle = start

    def saw_candle_coverage(self, end: int) -> None:
        """Remember the end of the stored candle coverage: minutes before it without a
        candle are known-empty, so the data is current up to it."""
        if self.covered_until is None or end > self.covered_until:
            self.covered_until = end

    def saw_trade(self, time: int) -> None:
        """Remember the newest stored trade's time."""
        if self.newest_trade is None or time > self.newest_trade:
            self.newest_trade = time

    def lag_ms(self, *, local_now: int) -> int | None:
        """How far the stored candles trail the exchange's clock (the local clock moved by
        the last known offset, so /metrics and the health record agree however far the two
        clocks drift apart): its now minus the end of the newest bar or of the candle
        coverage, whichever is later (see core.coverage.lag_ms)."""
        return lag_ms(
            now=local_now + self.clock_offset_ms,
            newest_candle=self.newest_candle,
            covered_until=self.covered_until,
        )

    def describe(self) -> str:
        """The message a person reads: what is happening, with progress while backfilling."""
        if self.phase is Phase.BACKFILLING:
            eta = self.backfill_eta_seconds
            suffix = f", about {eta:.0f} s left" if eta is not None else ""
            return f"backfilling {self.backfill_progress:.0%}{suffix}"
        if self.phase is Phase.ERROR and self.last_error:
            return f"error: {self.last_error}"
        return self.message
