"""The operator's liveness: it is alive while it still hears the Kubernetes API.

An event loop that runs proves little: an operator whose watches stopped (the API server
unreachable from its Pod, its token no longer accepted, its Role changed) runs on and does
nothing. The operator therefore lists its own resources every few seconds with its own
credentials, which needs what kopf's watch needs; every answer, and every event a watch
delivers, counts as hearing the API. After `limit_seconds` of silence /healthz fails, the
kubelet restarts the Pod, and the restarted operator logs in and watches afresh.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger("ohlcv_operator.liveness")

# Three missed liveness probes (20 s apart) after this much silence restart the Pod; the
# checks below run every CHECK_SECONDS, so one slow answer is never a restart. The default
# of settings.liveness_seconds (OHLCV_LIVENESS_SECONDS), the limit the operator applies.
SILENCE_LIMIT_SECONDS = 120.0
CHECK_SECONDS = 20.0


class ApiLiveness:
    """When the operator last heard the API server, and whether that is too long ago."""

    def __init__(
        self,
        *,
        limit_seconds: float = SILENCE_LIMIT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit_seconds
        self._clock = clock
        self._heard = clock()  # the start counts: logging in may take a moment

    def heard(self) -> None:
        """An answer or a watch event arrived."""
        self._heard = self._clock()

    def problems(self) -> list[str]:
        """Why the operator is not alive (empty while it is): /healthz's reasons."""
        silent = self._clock() - self._heard
        if silent <= self._limit:
            return []
        return [
            f"no answer from the Kubernetes API for {silent:.0f} s (limit {self._limit:.0f} s):"
            " the operator's watches and requests fail (network, credentials or RBAC)"
        ]


async def keep_checking(
    *,
    liveness: ApiLiveness,
    list_resources: Callable[[], Awaitable[object]],
    every_seconds: float = CHECK_SECONDS,
) -> None:
    """List the watched resources every `every_seconds` until cancelled; each answer is
    heard, each failure logged (the probe reports it once the silence lasts)."""
    while True:
        try:
            await list_resources()
        except Exception as error:
            log.warning("listing OhlcvCollectors failed, the API may be out of reach: %s", error)
        else:
            liveness.heard()
        await asyncio.sleep(every_seconds)
