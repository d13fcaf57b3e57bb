"""The operator's own requests to the Kubernetes API: server-side apply and a few reads.

kopf watches and patches the OhlcvCollector resources itself; what it does not offer
is server-side apply of children, which is what lets the operator own exactly the
Deployment fields it sets. This is one small aiohttp session built from the same
credentials kopf logged in with.
"""

import asyncio
import json
import logging
import random
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp
import kopf

from ohlcv_collector.core.retry import backoff_delay
from ohlcv_operator.spec import FIELD_MANAGER, GROUP, PLURAL, VERSION

log = logging.getLogger("ohlcv_operator.kube")

# Answers that say "not now" rather than "no": throttled, or the server (or something it
# calls, such as an admission webhook or etcd) failing for a while. 0 is no answer at all.
RETRIED_STATUSES = frozenset({0, 429, 500, 502, 503, 504})
# 409 too is transient, but retrying the same body cannot succeed: the caller re-reads.
TRANSIENT_STATUSES = RETRIED_STATUSES | {409}
# A request is tried this often, waiting 0.5, 1, 2 s at most in between (full jitter):
# long enough to ride out an apiserver or webhook restart, short enough that a reconcile
# that still fails gives way to the next trigger instead of holding the resource's lock.
ATTEMPTS = 4
BACKOFF_BASE, BACKOFF_CAP = 0.5, 4.0


class KubeError(Exception):
    """The API server refused a request (status 0: it could not be reached); the message
    carries its reason."""

    def __init__(self, message: str, *, status: int, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        """Whether the same request may succeed later (conflicts, throttling, outages):
        such errors are retried and never reported as a stalled resource."""
        return self.status in TRANSIENT_STATUSES


class KubeClient:
    """A minimal Kubernetes API client for the operator's children and resources.

    Credentials expire (bound ServiceAccount tokens are rotated by the kubelet, a kubeconfig's
    token is replaced): an answer 401 makes the client log in again with `login` and repeat
    the request once, so the operator's own loops never hold on to a dead token.
    """

    def __init__(
        self, info: kopf.ConnectionInfo, *, login: Callable[[], kopf.ConnectionInfo | None]
    ) -> None:
        self._login = login
        self._server, self._session = self._connect(info)

    @staticmethod
    def _connect(info: kopf.ConnectionInfo) -> tuple[str, aiohttp.ClientSession]:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=info.as_ssl_context()),
            headers=info.as_http_headers(),
            timeout=aiohttp.ClientTimeout(total=30),
        )
        return info.server.rstrip("/"), session

    async def use(self, info: kopf.ConnectionInfo) -> None:
        """Continue with fresh credentials (a request still on the old ones is retried)."""
        old = self._session
        self._server, self._session = self._connect(info)
        await old.close()

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._session.close()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, dict[str, Any] | None]:
        """One API call, retried with backoff while the answer is "not now"."""
        attempt, relogged = 0, False
        while True:
            try:
                return await self._once(
                    method, path, body=body, params=params, content_type=content_type
                )
            except KubeError as error:
                if error.status == 401 and not relogged:
                    relogged = True
                    info = self._login()
                    if info is not None:
                        log.info("%s; logging in again with fresh credentials", error)
                        await self.use(info)
                        continue
                if error.status not in RETRIED_STATUSES or attempt + 1 >= ATTEMPTS:
                    raise
                delay = backoff_delay(
                    attempt=attempt, base=BACKOFF_BASE, cap=BACKOFF_CAP, random=random.random()
                )
                delay = max(delay, error.retry_after or 0.0)
                log.info("%s; retrying in %.1f s", error, delay)
            await asyncio.sleep(delay)
            attempt += 1

    async def _once(
        self,
        method: str,
        path: str,
        *,
        body: Any,
        params: dict[str, str] | None,
        content_type: str,
    ) -> tuple[int, dict[str, Any] | None]:
        try:
            async with self._session.request(
                method,
                f"{self._server}{path}",
                json=body,
                params=params,
                headers={"Content-Type": content_type},
            ) as response:
                if response.status == 404 and method == "GET":
                    return response.status, None
                text = await response.text()
                retry_after = response.headers.get("Retry-After", "")
        except (aiohttp.ClientError, TimeoutError) as error:
            raise KubeError(f"{method} {path}: {error!r}", status=0) from error
        try:
            payload: dict[str, Any] = json.loads(text) if text else {}
        except ValueError:  # a proxy's HTML error page, say
            payload = {"message": text[:200]}
        if response.status >= 400:
            raise KubeError(
                f"{method} {path}: {response.status} {payload.get('message', payload)}",
                status=response.status,
                retry_after=float(retry_after) if retry_after.isdigit() else None,
            )
        return response.status, payload

    async def apply(self, manifest: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Server-side apply of a namespaced apps/v1 Deployment, owned by the operator's
        field manager (forced: the operator is the only writer of these fields).
        Returns the object and whether this call created it."""
        metadata = manifest["metadata"]
        path = f"/apis/apps/v1/namespaces/{metadata['namespace']}/deployments/{metadata['name']}"
        status, applied = await self._request(
            "PATCH",
            path,
            body=manifest,
            params={"fieldManager": FIELD_MANAGER, "force": "true"},
            content_type="application/apply-patch+yaml",
        )
        return applied or {}, status == 201

    async def deployment(self, *, namespace: str, name: str) -> dict[str, Any] | None:
        """One apps/v1 Deployment, or None when it does not exist (yet)."""
        path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{quote(name)}"
        _, found = await self._request("GET", path)
        return found

    def _collectors(self, namespace: str) -> str:
        return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"

    async def list_collectors(self, *, namespace: str | None) -> list[dict[str, Any]]:
        """Every OhlcvCollector of the namespace (None: of every namespace)."""
        everywhere = f"/apis/{GROUP}/{VERSION}/{PLURAL}"
        path = everywhere if namespace is None else self._collectors(namespace)
        _, listed = await self._request("GET", path)
        return list((listed or {}).get("items", []))

    async def list_pods(self, *, namespace: str, selector: str) -> list[dict[str, Any]]:
        """The Pods matching a label selector (read-only: the reasons they fail)."""
        _, listed = await self._request(
            "GET", f"/api/v1/namespaces/{namespace}/pods", params={"labelSelector": selector}
        )
        return list((listed or {}).get("items", []))

    async def collector(self, *, namespace: str, name: str) -> dict[str, Any] | None:
        """One OhlcvCollector, or None when it does not exist (any more)."""
        _, found = await self._request("GET", f"{self._collectors(namespace)}/{quote(name)}")
        return found

    async def replace_status(self, *, namespace: str, name: str, status: dict[str, Any]) -> None:
        """Set the whole `.status` (a JSON patch, so fields that went away are removed)."""
        await self._request(
            "PATCH",
            f"{self._collectors(namespace)}/{quote(name)}/status",
            body=[{"op": "add", "path": "/status", "value": status}],
            content_type="application/json-patch+json",
        )

    async def remove_finalizer(
        self, *, namespace: str, name: str, index: int, finalizer: str
    ) -> None:
        """Remove one finalizer by position (the test op makes a concurrent change fail)."""
        path = f"/metadata/finalizers/{index}"
        await self._request(
            "PATCH",
            f"{self._collectors(namespace)}/{quote(name)}",
            body=[{"op": "test", "path": path, "value": finalizer}, {"op": "remove", "path": path}],
            content_type="application/json-patch+json",
        )

    def _leases(self, namespace: str) -> str:
        return f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"

    async def lease(self, *, namespace: str, name: str) -> dict[str, Any] | None:
        """A coordination.k8s.io Lease, or None when it does not exist."""
        _, found = await self._request("GET", f"{self._leases(namespace)}/{quote(name)}")
        return found

    async def create_lease(self, *, namespace: str, body: dict[str, Any]) -> None:
        """Create a Lease (409 when another replica created it first)."""
        await self._request("POST", self._leases(namespace), body=body)

    async def replace_lease(self, *, namespace: str, body: dict[str, Any]) -> None:
        """Replace a Lease; the body's resourceVersion makes a concurrent change a 409."""
        name = quote(body["metadata"]["name"])
        await self._request("PUT", f"{self._leases(namespace)}/{name}", body=body)

    async def post_event(self, *, namespace: str, event: dict[str, Any]) -> None:
        """Record an Event (events.k8s.io/v1)."""
        await self._request(
            "POST", f"/apis/events.k8s.io/v1/namespaces/{namespace}/events", body=event
        )

    async def create_collector(self, *, namespace: str, body: dict[str, Any]) -> None:
        """Create an OhlcvCollector."""
        await self._request(
            "POST", self._collectors(namespace), body=body, params={"fieldManager": FIELD_MANAGER}
        )

    async def delete_collector(self, *, namespace: str, name: str) -> None:
        """Delete an OhlcvCollector (its Deployment goes with it, by garbage collection)."""
        await self._request("DELETE", f"{self._collectors(namespace)}/{quote(name)}")
