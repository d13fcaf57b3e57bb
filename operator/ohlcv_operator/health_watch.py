"""The health watch: collector health re-read often, a resource reconciled only when it moved.

Health lives in Redis, where no Kubernetes event announces a change, and the resync that
re-reads it costs every resource several API requests; shortening it to bring a health
change to `.status` sooner would multiply those requests while nothing happens. This loop
reads only Redis, compares what each resource's status judges (health.fingerprint) with what
its last reconcile judged, and reconciles just the resources whose health changed: an idle
cluster costs no API request at all.
"""

import asyncio
import logging

from ohlcv_operator import metrics
from ohlcv_operator.health import HealthSnapshot, fingerprint
from ohlcv_operator.reconcile import Reconciler
from ohlcv_operator.resync_loop import Reconcile
from ohlcv_operator.settings import OperatorSettings
from ohlcv_operator.sources import Sources

log = logging.getLogger("ohlcv_operator.health_watch")


async def poll_once(
    *,
    reconciler: Reconciler,
    sources: Sources,
    reconcile: Reconcile,
    settings: OperatorSettings,
) -> None:
    """Read each known resource's health once and reconcile those whose verdicts moved."""
    snapshots: dict[str, HealthSnapshot] = {}  # one read per exchange, shared by its resources
    for judged in reconciler.judged():
        if judged.exchange not in snapshots:
            snapshots[judged.exchange] = await sources.health(exchange=judged.exchange)
        now = fingerprint(
            snapshot=snapshots[judged.exchange], stale_lag_seconds=settings.stale_lag_seconds
        )
        if now != judged.fingerprint:
            log.info("health of %s/%s changed; reconciling", judged.namespace, judged.name)
            await reconcile(judged.namespace, judged.name)
    metrics.HEALTH_POLLS.inc()


async def health_watch_loop(
    *,
    reconciler: Reconciler,
    sources: Sources,
    reconcile: Reconcile,
    settings: OperatorSettings,
) -> None:
    """Poll every `health_poll_seconds` until cancelled; a failed poll is logged and retried
    at the next tick (the resync still reconciles everything meanwhile)."""
    while True:
        await asyncio.sleep(settings.health_poll_seconds)
        try:
            await poll_once(
                reconciler=reconciler, sources=sources, reconcile=reconcile, settings=settings
            )
        except Exception as error:
            metrics.HEALTH_POLL_ERRORS.inc()
            log.warning(
                "health poll failed (%s); trying again in %.0f s",
                error,
                settings.health_poll_seconds,
            )
