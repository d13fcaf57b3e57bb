"""Discovery on a timer: the database's exchanges turned into OhlcvCollector resources.

The decisions are `discovery.plan_discovery`'s; this loop only lists, creates and
deletes, and keeps going when the database or the API server fails for a while.
"""

import asyncio
import logging

from ohlcv_operator import metrics
from ohlcv_operator.discovery import ExistingResource, plan_discovery
from ohlcv_operator.kube import KubeClient
from ohlcv_operator.settings import OperatorSettings
from ohlcv_operator.sources import Sources
from ohlcv_operator.spec import (
    API_VERSION,
    CREATED_BY_LABEL,
    CREATED_BY_OPERATOR,
    EXCHANGE_LABEL,
    KIND,
)

log = logging.getLogger("ohlcv_operator.discovery")


async def discover_once(*, kube: KubeClient, sources: Sources, settings: OperatorSettings) -> None:
    """One round: create resources for new exchanges, prune the operator's orphans."""
    exchanges = await sources.exchanges_with_targets()
    items = await kube.list_collectors(namespace=settings.namespace)
    existing = [
        ExistingResource(
            name=item["metadata"]["name"],
            exchange=(item.get("spec") or {}).get("exchange"),
            created_by_operator=(item["metadata"].get("labels") or {}).get(CREATED_BY_LABEL)
            == CREATED_BY_OPERATOR,
        )
        for item in items
    ]
    plan = plan_discovery(
        exchanges=exchanges, existing=existing, mode=settings.discovery_mode, prune=settings.prune
    )
    for name, exchange in plan.create:
        await kube.create_collector(
            namespace=settings.namespace,
            body={
                "apiVersion": API_VERSION,
                "kind": KIND,
                "metadata": {
                    "name": name,
                    "labels": {CREATED_BY_LABEL: CREATED_BY_OPERATOR, EXCHANGE_LABEL: exchange},
                },
                "spec": {"exchange": exchange},
            },
        )
        log.info("created OhlcvCollector %s: exchange %s has targets", name, exchange)
    for name in plan.delete:
        await kube.delete_collector(namespace=settings.namespace, name=name)
        log.info("pruned OhlcvCollector %s: its exchange has no targets any more", name)
    for exchange in plan.conflicts:
        log.warning(
            "exchange %s has targets but its resource name is taken by another exchange's"
            " resource; create an OhlcvCollector for it by hand",
            exchange,
        )


async def discovery_loop(*, kube: KubeClient, sources: Sources, settings: OperatorSettings) -> None:
    """Discover at start and then every `discovery_interval_seconds`, until cancelled."""
    while True:
        try:
            await discover_once(kube=kube, sources=sources, settings=settings)
        except Exception:
            metrics.DISCOVERY_ERRORS.inc()
            log.exception(
                "discovery failed; trying again in %.0f s", settings.discovery_interval_seconds
            )
        await asyncio.sleep(settings.discovery_interval_seconds)
