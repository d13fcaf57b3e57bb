"""The operator's own requests to the Kubernetes API: server-side apply and a few reads.

kopf watches and patches the OhlcvCollector resources itself; what it does not offer
is server-side apply of children, which is what lets the operator own exactly the
Deployment fields it sets. This is one small aiohttp session built from the same
credentials kopf logged in with.
"""

from typing import Any
from urllib.parse import quote

import aiohttp
import kopf

from ohlcv_operator.spec import FIELD_MANAGER, GROUP, PLURAL, VERSION


class KubeError(Exception):
    """The API server refused a request; the message carries its reason."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class KubeClient:
    """A minimal Kubernetes API client for the operator's children and resources."""

    def __init__(self, info: kopf.ConnectionInfo) -> None:
        self._server = info.server.rstrip("/")
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=info.as_ssl_context()),
            headers=info.as_http_headers(),
            timeout=aiohttp.ClientTimeout(total=30),
        )

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
        async with self._session.request(
            method,
            f"{self._server}{path}",
            json=body,
            params=params,
            headers={"Content-Type": content_type},
        ) as response:
            if response.status == 404 and method == "GET":
                return response.status, None
            payload: dict[str, Any] = await response.json(content_type=None)
            if response.status >= 400:
                raise KubeError(
                    f"{method} {path}: {response.status} {payload.get('message', payload)}",
                    status=response.status,
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

    def _collectors(self, namespace: str) -> str:
        return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"

    async def list_collectors(self, *, namespace: str) -> list[dict[str, Any]]:
        """Every OhlcvCollector of the namespace."""
        _, listed = await self._request("GET", self._collectors(namespace))
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
