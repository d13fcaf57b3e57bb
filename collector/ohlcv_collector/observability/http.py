"""The probe and metrics endpoints: /healthz, /readyz and /metrics (collector and operator).

/healthz answers as long as the event loop runs and `not_alive` names no reason (the
operator names one when it stopped hearing the API server), which is what a liveness probe
should restart on. /readyz names every reason the process is not doing its job
(targets never read, storage failing, Redis down, ...) so `kubectl describe pod`
shows the cause, not just a 503.
"""

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from ohlcv_collector.observability.metrics import REGISTRY

NotReadyReasons = Callable[[], list[str]]


def build_app(
    *, not_ready: NotReadyReasons, registry: CollectorRegistry, not_alive: NotReadyReasons = list
) -> web.Application:
    """The aiohttp application of the probe server."""

    async def healthz(_: web.Request) -> web.Response:
        reasons = not_alive()
        if reasons:
            return web.json_response({"status": "not alive", "reasons": reasons}, status=503)
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        reasons = not_ready()
        if reasons:
            return web.json_response({"status": "not ready", "reasons": reasons}, status=503)
        return web.json_response({"status": "ready"})

    async def metrics(_: web.Request) -> web.Response:
        response = web.Response(body=generate_latest(registry))
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        return response

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


async def start_probe_server(
    *,
    host: str,
    port: int,
    not_ready: NotReadyReasons = list,
    not_alive: NotReadyReasons = list,
    registry: CollectorRegistry = REGISTRY,
) -> web.AppRunner:
    """Serve the probes at `host`:`port` (port 0 picks a free one); returns the runner."""
    app = build_app(not_ready=not_ready, registry=registry, not_alive=not_alive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host=host, port=port).start()
    return runner
