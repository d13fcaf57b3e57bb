"""How one symbol's collection tells people what it is doing: status, logs and metrics.

The symbol's tasks say what happened (a phase change, a failure, progress, a streamed
batch); this turns that into the status record the heartbeat and /readyz read, a log
line on each change of phase, progress lines every few seconds while backfilling, and
the per-symbol metrics, so the collecting code stays about collecting.
"""

import logging
import time

from prometheus_client import Gauge

from ohlcv_collector.core.phases import Phase
from ohlcv_collector.core.progress import EtaEstimator, progress_of
from ohlcv_collector.core.retry import is_our_bug
from ohlcv_collector.models import TimeRange, now_ms
from ohlcv_collector.observability import metrics
from ohlcv_collector.runtime.symbol_status import SymbolStatus

log = logging.getLogger("ohlcv_collector.symbol")

PROGRESS_LOG_SECONDS = 10.0


class SymbolFailedError(Exception):
    """A bug of ours stopped this symbol's collection; it was logged and reported."""


class SymbolReporter:
    """Status, logs and metrics of one symbol."""

    def __init__(self, *, status: SymbolStatus) -> None:
        self.status = status
        self.labels = {"exchange": status.exchange, "symbol": status.symbol}
        self._lag_seconds: Gauge | None = None  # found once (it is set at every batch)
        self._eta = EtaEstimator()
        self._progress_logged_at = 0.0

    def phase(self, phase: Phase, message: str | None = None) -> None:
        """Enter `phase`; the change is logged once, the message kept for the heartbeat."""
        if phase is not self.status.phase:
            log.info("%s", message or phase.value, extra={**self.labels, "phase": phase.value})
        self.status.phase = phase
        self.status.message = message or phase.value

    def fail(self, reason: str) -> None:
        """Enter the error phase with `reason` as the message."""
        self.status.last_error = reason
        self.phase(Phase.ERROR, f"error: {reason}")

    def stop_on_our_bug(self, error: Exception, *, what: str) -> None:
        """Stop this symbol, in the error phase, on a programming error of ours.

        Retrying cannot fix a bug, so it must not look like an exchange failing forever:
        the traceback goes to the log, the message to the status and health records.
        """
        if not is_our_bug(error):
            return
        log.error("%s stopped by a bug in the collector", what, exc_info=error, extra=self.labels)
        self.fail(f"{what} stopped by a bug in the collector: {type(error).__name__}: {error}")
        raise SymbolFailedError(str(error)) from error

    def reconnecting(self, *, stream: str, error: Exception) -> None:
        """A stream's connection dropped; it is being opened again."""
        self.status.reconnects += 1
        metrics.RECONNECTS.labels(**self.labels, stream=stream).inc()
        self.phase(Phase.RECONNECTING, f"reconnecting {stream} stream: {error}")
        log.warning("%s stream interrupted: %s", stream, error, extra=self.labels)

    def streamed(self) -> None:
        """A stream delivered: back to streaming after a reconnect, and the lag is current."""
        if self.status.phase is Phase.RECONNECTING:
            self.phase(Phase.STREAMING, "streaming")
        self.lag()

    def lag(self) -> None:
        """How far the stored candles trail the exchange's clock (see core.coverage.lag_ms)."""
        lag = self.status.lag_ms(local_now=now_ms())
        if lag is not None:
            if self._lag_seconds is None:  # no series before a lag is known: 0 would lie
                self._lag_seconds = metrics.LAG_SECONDS.labels(**self.labels)
            self._lag_seconds.set(lag / 1000)

    def progress(self, *, window: TimeRange, covered: list[TimeRange]) -> None:
        """Share of the window stored and the time left; logged now and then while backfilling."""
        progress = progress_of(window=window, covered=covered)
        eta = self._eta.estimate(progress=progress, now=time.monotonic())
        self.status.backfill_progress, self.status.backfill_eta_seconds = progress, eta
        metrics.BACKFILL_PROGRESS.labels(**self.labels).set(progress)
        metrics.BACKFILL_ETA_SECONDS.labels(**self.labels).set(-1 if eta is None else eta)
        now = time.monotonic()
        if (
            self.status.phase is Phase.BACKFILLING
            and now - self._progress_logged_at >= PROGRESS_LOG_SECONDS
        ):
            self._progress_logged_at = now
            log.info(
                "%s", self.status.describe(),
                extra={**self.labels, "progress": round(progress, 4), "eta_seconds": eta},
            )  # fmt: skip
