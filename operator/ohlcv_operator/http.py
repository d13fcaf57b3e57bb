"""The operator's /healthz (liveness) and /metrics endpoints."""

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ohlcv_operator.metrics import REGISTRY


async def start_probe_server(*, host: str, port: int) -> web.AppRunner:
    """Serve /healthz and /metrics; /healthz answers while the event loop runs."""

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def metrics(_: web.Request) -> web.Response:
        response = web.Response(body=generate_latest(REGISTRY))
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        return response

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host=host, port=port).start()
    return runner
