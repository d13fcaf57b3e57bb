"""Resync on a timer: every resource reconciled again, because health changes silently.

Collector health lives in Redis, so no Kubernetes event tells the operator that a symbol
went stale; only re-reading it does. This is a plain background loop rather than a kopf
timer on purpose: kopf puts its finalizer on every resource a timer runs for, and once
the operator is uninstalled nothing removes it, so deleting an OhlcvCollector (or its
namespace) would hang forever. Resources that still carry that finalizer from an earlier
version are freed here.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ohlcv_operator.kube import KubeClient
from ohlcv_operator.settings import OperatorSettings

log = logging.getLogger("ohlcv_operator.resync")

KOPF_FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"


Reconcile = Callable[[str, str], Awaitable[None]]  # (namespace, name)


async def resync_once(
    *, kube: KubeClient, reconcile: Reconcile, namespaces: list[str] | None
) -> None:
    """Reconcile every OhlcvCollector of the namespaces (None: all) once; drop kopf's old
    finalizer."""
    items: list[dict[str, Any]] = []
    for where in namespaces if namespaces is not None else [None]:
        items += await kube.list_collectors(namespace=where)
    for item in items:
        name, namespace = item["metadata"]["name"], item["metadata"]["namespace"]
        finalizers = item["metadata"].get("finalizers") or []
        if KOPF_FINALIZER in finalizers:
            await kube.remove_finalizer(
                namespace=namespace,
                name=name,
                index=finalizers.index(KOPF_FINALIZER),
                finalizer=KOPF_FINALIZER,
            )
            log.info(
                "removed the finalizer %s that an earlier version left on %s", KOPF_FINALIZER, name
            )
        if "deletionTimestamp" not in item["metadata"]:
            await reconcile(namespace, name)


async def resync_loop(
    *,
    kube: KubeClient,
    reconcile: Reconcile,
    settings: OperatorSettings,
) -> None:
    """Resync every `resync_seconds` until cancelled; a failed round is logged and retried."""
    while True:
        try:
            await resync_once(kube=kube, reconcile=reconcile, namespaces=settings.watched())
        except Exception:
            log.exception("resync failed; trying again in %.0f s", settings.resync_seconds)
        await asyncio.sleep(settings.resync_seconds)
