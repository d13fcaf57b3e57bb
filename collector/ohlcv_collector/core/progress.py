"""Backfill progress and its estimated time to completion, from coverage alone.

Progress is the share of the collection window that is stored completely, so it
survives restarts (it is read from coverage, not counted in memory) and never goes
backwards because a request was retried.
"""

from dataclasses import dataclass

from ohlcv_collector.core.coverage import covered_duration
from ohlcv_collector.models import TimeRange


def progress_of(*, window: TimeRange, covered: list[TimeRange]) -> float:
    """Share of `window` that is covered, from 0 to 1 (1 for an empty window)."""
    if window.empty:
        return 1.0
    return covered_duration(window=window, covered=covered) / window.duration


@dataclass(slots=True)
class EtaEstimator:
    """Estimates the seconds left from the progress made since the estimate began.

    The rate is measured over the whole run rather than the last page, which keeps the
    estimate steady while rate-limit waits come and go.
    """

    started_at: float | None = None
    started_progress: float = 0.0

    def estimate(self, *, progress: float, now: float) -> float | None:
        """Seconds until progress reaches 1, or None until there is a rate to go by."""
        if progress >= 1.0:
            return 0.0
        if self.started_at is None:
            self.started_at, self.started_progress = now, progress
            return None
        elapsed = now - self.started_at
        gained = progress - self.started_progress
        if elapsed <= 0 or gained <= 0:
            return None
        return (1.0 - progress) * elapsed / gained
