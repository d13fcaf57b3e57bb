"""Leader election on a coordination.k8s.io Lease: of several operator replicas, one acts.

kopf has no leader election, and its peering freezes every instance of equal priority; the
Lease is what client-go's leaderelection (and so every Go controller) uses, and what
`kubectl get lease` shows. The rules are client-go's:

- the holder renews the Lease every `retry_seconds`; if it cannot renew for
  `lease_seconds - retry_seconds` it stops acting, before anyone may take over;
- the others read the Lease every `retry_seconds` and take it over once it has not changed
  for `lease_seconds` by their own clock (so clocks of different nodes never matter), or at
  once when the holder released it on a clean shutdown;
- every write carries the resourceVersion it was decided on, so of two candidates exactly one
  wins and the other sees 409.

The decision is the pure `decide`; `LeaderElection` does the reads and writes.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from ohlcv_operator.kube import KubeClient, KubeError

log = logging.getLogger("ohlcv_operator.leader")


class Action(Enum):
    """What a candidate does with the Lease it just read."""

    CREATE = "create"  # there is no Lease yet
    RENEW = "renew"  # it is ours
    TAKE = "take"  # released, or its holder stopped renewing
    WAIT = "wait"  # another replica holds it


@dataclass(frozen=True, slots=True)
class Sighting:
    """A Lease's content as first seen at `at` (monotonic seconds)."""

    holder: str
    renew_time: str
    at: float


def decide(
    *, lease: dict[str, Any] | None, identity: str, seen: Sighting | None, now: float
) -> Action:
    """What to do with `lease` (None: absent); `seen` is when its current content first
    showed (the holder is dead once that content is older than its leaseDurationSeconds)."""
    if lease is None:
        return Action.CREATE
    spec = lease.get("spec") or {}
    holder = spec.get("holderIdentity") or ""
    if holder == identity:
        return Action.RENEW
    if not holder:
        return Action.TAKE
    duration = float(spec.get("leaseDurationSeconds") or 0)
    if seen is not None and seen.holder == holder and now - seen.at > duration:
        return Action.TAKE
    return Action.WAIT


def _micro_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElection:
    """Campaigns for the Lease until cancelled; calls `on_started` when this replica leads
    and `on_stopped` when it no longer does."""

    def __init__(
        self,
        *,
        kube: KubeClient,
        namespace: str,
        name: str,
        identity: str,
        lease_seconds: float,
        retry_seconds: float,
        on_started: Callable[[], Awaitable[None]],
        on_stopped: Callable[[], Awaitable[None]],
    ) -> None:
        self._kube, self._namespace, self._name = kube, namespace, name
        self.identity = identity
        self._lease_seconds, self._retry_seconds = lease_seconds, retry_seconds
        self._on_started, self._on_stopped = on_started, on_stopped
        self._seen: Sighting | None = None
        self._renewed = 0.0  # monotonic time of the last successful write while leading
        self.leading = False

    async def run(self) -> None:
        """Campaign, lead and renew, every `retry_seconds`, until cancelled."""
        while True:
            try:
                # One round may not outlast the period: a leader stuck in a request would
                # miss its renew deadline while a standby takes over.
                async with asyncio.timeout(self._retry_seconds):
                    held = await self._attempt()
            except (KubeError, TimeoutError) as error:
                log.warning("leader election: %s", error or "no answer in time")
                held = None
            now = time.monotonic()
            if held:
                self._renewed = now
                if not self.leading:
                    self.leading = True
                    log.info("leading as %s (lease %s)", self.identity, self._name)
                    await self._on_started()
            elif self.leading and (held is False or now - self._renewed > self._renew_deadline):
                self.leading = False
                log.warning("lost the lease %s; standing by", self._name)
                await self._on_stopped()
            await asyncio.sleep(self._retry_seconds)

    @property
    def _renew_deadline(self) -> float:
        """A leader that could not renew for this long stops: it is sure to stop before a
        standby may take over (after lease_seconds without a change)."""
        return self._lease_seconds - self._retry_seconds

    async def _attempt(self) -> bool | None:
        """Read the Lease and act on it: whether this replica holds it now (None: a write
        lost a race, so it is read again next round)."""
        lease = await self._kube.lease(namespace=self._namespace, name=self._name)
        now = time.monotonic()
        spec = (lease or {}).get("spec") or {}
        holder, renewed = spec.get("holderIdentity") or "", str(spec.get("renewTime"))
        if self._seen is None or (self._seen.holder, self._seen.renew_time) != (holder, renewed):
            self._seen = Sighting(holder=holder, renew_time=renewed, at=now)
        action = decide(lease=lease, identity=self.identity, seen=self._seen, now=now)
        if action is Action.WAIT or (self.leading and action is not Action.RENEW):
            return False  # another replica holds it, or took it over from us
        stamp = _micro_time()
        wanted: dict[str, Any] = {
            **spec,
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(self._lease_seconds),
            "renewTime": stamp,
        }
        if action is not Action.RENEW:
            wanted["acquireTime"] = stamp
            transitions = int(spec.get("leaseTransitions") or 0)
            wanted["leaseTransitions"] = transitions + (action is Action.TAKE)
        metadata: dict[str, Any] = {"name": self._name, "namespace": self._namespace}
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": wanted,
        }
        try:
            if lease is None:
                await self._kube.create_lease(namespace=self._namespace, body=body)
            else:
                metadata["resourceVersion"] = lease["metadata"]["resourceVersion"]
                await self._kube.replace_lease(namespace=self._namespace, body=body)
        except KubeError as error:
            if error.status == 409:  # another candidate wrote first: read again next round
                return None
            raise
        return True

    async def release(self) -> None:
        """Hand the Lease over on a clean shutdown, so a standby takes over at once."""
        if not self.leading:
            return
        self.leading = False
        with contextlib.suppress(KubeError):
            lease = await self._kube.lease(namespace=self._namespace, name=self._name)
            spec = (lease or {}).get("spec") or {}
            if lease is not None and spec.get("holderIdentity") == self.identity:
                lease["spec"] = {**spec, "holderIdentity": "", "leaseDurationSeconds": 1}
                await self._kube.replace_lease(namespace=self._namespace, body=lease)
                log.info("released the lease %s", self._name)
