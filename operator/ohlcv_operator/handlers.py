"""The kopf wiring: which events trigger a reconcile, and the operator's lifetime.

Of several operator replicas only the holder of the Lease (leader.py) acts: discovery,
resync, the health watch and reconciles run in the leader only; the others watch and wait
to take over. Handlers are thin and return None. Only event handlers are used (the periodic
resync and the health watch are loops of the operator's own), so kopf keeps no progress
annotations or finalizers on the resources: GitOps tools see only what their authors and
the status writer put there, and deleting a resource never waits for a running operator.
Deployments carry the resource as their controller owner, so deleting a resource
garbage-collects its collectors.
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import kopf
from aiohttp import web

from ohlcv_collector.observability.http import start_probe_server
from ohlcv_operator import metrics
from ohlcv_operator.discovery_loop import discovery_loop
from ohlcv_operator.health_watch import health_watch_loop
from ohlcv_operator.kube import KubeClient
from ohlcv_operator.leader import LeaderElection
from ohlcv_operator.liveness import CHECK_SECONDS, ApiLiveness, keep_checking
from ohlcv_operator.login import load_connection
from ohlcv_operator.reconcile import Reconciler
from ohlcv_operator.resync_loop import resync_loop
from ohlcv_operator.settings import OperatorSettings
from ohlcv_operator.sources import Sources
from ohlcv_operator.spec import GROUP, KIND, PLURAL, VERSION

log = logging.getLogger("ohlcv_operator.handlers")


@dataclass(slots=True)
class OperatorState:
    """What lives as long as the operator: clients, the reconciler, background tasks."""

    settings: OperatorSettings
    sources: Sources
    known_exchanges: frozenset[str]
    kube: KubeClient | None = None
    reconciler: Reconciler | None = None
    election: LeaderElection | None = None
    campaign: asyncio.Task[None] | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    probes: web.AppRunner | None = None
    # /healthz fails once the API server has not answered for a while (liveness.py).
    liveness: ApiLiveness = field(default_factory=ApiLiveness)
    checking: asyncio.Task[None] | None = None

    async def connect(
        self, info: kopf.ConnectionInfo, *, login: Callable[[], kopf.ConnectionInfo | None]
    ) -> None:
        """At the first login: the API client, the reconciler and the campaign for the Lease.

        kopf logs in again when its own requests meet a 401 (a rotated token); the client
        then continues with the fresh credentials, and the loops keep running with it (the
        client also logs in again by itself on a 401 of its own, through `login`).
        """
        if self.kube is not None:
            await self.kube.use(info)
            return
        self.kube = KubeClient(info, login=login)
        self.reconciler = Reconciler(
            kube=self.kube,
            sources=self.sources,
            settings=self.settings,
            known_exchanges=self.known_exchanges,
        )
        self.election = LeaderElection(
            kube=self.kube,
            namespace=self.settings.namespace,
            name=self.settings.leader_lease_name,
            identity=f"{self.settings.pod_name}_{uuid.uuid4().hex[:8]}",
            lease_seconds=self.settings.leader_lease_seconds,
            retry_seconds=self.settings.leader_retry_seconds,
            on_started=self._lead,
            on_stopped=self._stand_by,
        )
        self.campaign = asyncio.create_task(self.election.run(), name="leader-election")

    async def _lead(self) -> None:
        """Leading: discover, and reconcile everything at once (events that came while
        standing by were not acted on), then on the resync timer, and whatever the health
        watch finds changed in between."""
        assert self.kube is not None
        assert self.reconciler is not None
        self.tasks += [
            asyncio.create_task(
                discovery_loop(kube=self.kube, sources=self.sources, settings=self.settings),
                name="discovery",
            ),
            asyncio.create_task(
                resync_loop(kube=self.kube, reconcile=self.reconcile, settings=self.settings),
                name="resync",
            ),
            asyncio.create_task(
                health_watch_loop(
                    reconciler=self.reconciler,
                    sources=self.sources,
                    reconcile=self.reconcile,
                    settings=self.settings,
                ),
                name="health-watch",
            ),
        ]

    async def _stand_by(self) -> None:
        """Not leading (any more): stop everything that writes."""
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks.clear()

    async def reconcile(self, namespace: str, name: str) -> None:
        """Reconcile a resource, if this replica leads."""
        if self.election is not None and self.election.leading and self.reconciler is not None:
            await self.reconciler.reconcile(namespace=namespace, name=name)

    async def list_resources(self) -> object:
        """What the liveness check asks the API server: the watched resources."""
        if self.kube is None:
            raise RuntimeError("not logged in yet")
        return await self.kube.list_collectors(namespace=self.settings.namespace)

    async def close(self) -> None:
        """Stop acting, hand the Lease over, close connections."""
        await self._stand_by()
        if self.campaign is not None:
            self.campaign.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.campaign
        if self.election is not None:
            await self.election.release()
        if self.kube is not None:
            await self.kube.close()
        await self.sources.close()
        if self.checking is not None:
            self.checking.cancel()
        if self.probes is not None:
            await self.probes.cleanup()


def build_registry(state: OperatorState) -> kopf.OperatorRegistry:
    """A kopf registry with the operator's handlers, bound to `state`."""
    registry = kopf.OperatorRegistry()

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.posting.level = logging.WARNING
        settings.scanning.disabled = True  # the Role grants nothing on CRDs or namespaces
        settings.watching.server_timeout = 300
        limit = state.settings.liveness_seconds
        state.liveness = ApiLiveness(limit_seconds=limit)
        state.probes = await start_probe_server(
            host=state.settings.operator_metrics_host,
            port=state.settings.operator_metrics_port,
            registry=metrics.REGISTRY,
            not_alive=state.liveness.problems,
        )
        state.checking = asyncio.create_task(
            keep_checking(
                liveness=state.liveness,
                list_resources=state.list_resources,
                every_seconds=min(CHECK_SECONDS, limit / 3),
            ),
            name="liveness",
        )

    @kopf.on.login(registry=registry)
    async def login(settings: kopf.OperatorSettings, **_: Any) -> kopf.ConnectionInfo | None:
        info = load_connection(settings=settings)  # files re-read: tokens rotate
        if info is not None:
            await state.connect(info, login=lambda: load_connection(settings=settings))
        return info

    @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry)
    async def resource_changed(name: str, namespace: str | None, **_: Any) -> None:
        state.liveness.heard()  # the watch delivers
        await state.reconcile(
            namespace or "", name
        )  # also DELETED: the reconcile drops its metrics

    @kopf.on.event(
        "apps",
        "v1",
        "deployments",
        labels={"app.kubernetes.io/managed-by": "ohlcv-operator"},
        registry=registry,
    )
    async def deployment_changed(body: kopf.Body, **_: Any) -> None:
        state.liveness.heard()
        for owner in body.metadata.get("ownerReferences", []):
            if owner.get("kind") == KIND and owner.get("controller"):
                await state.reconcile(body.metadata.namespace or "", owner["name"])

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        await state.close()

    return registry
