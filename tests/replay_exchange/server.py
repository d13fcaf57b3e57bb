"""The aiohttp server: thin adapters from HTTP and WebSocket to the sans-I/O core.

A REST call goes through, in order: the rate limit (when enabled), a 5xx burst (when one is
running), the pure answer, then the body faults. Errors the exchange would answer (Binance's
-1121, Kraken's EQuery) are ordinary answers here, not exceptions.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.replay_exchange import admin, binance_rest, ground_truth, kraken_rest
from tests.replay_exchange.binance_payloads import ENDPOINT_WEIGHTS
from tests.replay_exchange.binance_streams import BinanceStreams
from tests.replay_exchange.ccxt_urls import ccxt_api_urls
from tests.replay_exchange.exchange import ReplayConfig, ReplayExchange
from tests.replay_exchange.kraken_streams import KrakenStreams
from tests.replay_exchange.models import Endpoint, Reply
from tests.replay_exchange.streams import StreamCore
from tests.replay_exchange.ws_driver import Connections, serve

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

GATEWAY_PAGE = "<html><head><title>{status}</title></head><body>{status}</body></html>"
BINANCE_PING_S = 20.0  # Binance pings every 20 s and drops clients that do not pong
_PAIR_ENDPOINTS = ("OHLC", "Trades")


class ReplayServer:
    """A replay exchange on loopback. Build it, `await start()`, point ccxt at `ccxt_urls()`."""

    def __init__(self, *, config: ReplayConfig) -> None:
        self.exchange = ReplayExchange(config=config)
        self.connections = Connections()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._host = "127.0.0.1"
        self._connection_ids = itertools.count(1)

    @property
    def exchange_id(self) -> str:
        return self.exchange.name

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the replay server is not started")
        return self._port

    @property
    def http_url(self) -> str:
        """The address it listens on, as clients must use it (Pods cannot reach 127.0.0.1)."""
        return f"http://{self._host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self._host}:{self.port}"

    def ccxt_urls(self, exchange_id: str | None = None) -> dict[str, Any]:
        """The override for ccxt's `exchange.urls['api']` (merge it with `point_ccxt`)."""
        return ccxt_api_urls(
            exchange_id=exchange_id or self.exchange_id, http_url=self.http_url, ws_url=self.ws_url
        )

    async def start(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._runner = web.AppRunner(self.application(), handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self._host = host
        self._port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Close every connection, write the ground truth if configured, stop listening."""
        if self._runner is None:
            return
        await self.connections.close_all(reason="replay: server stopping")
        if self.exchange.config.ground_truth_dir is not None:
            self.write_ground_truth(directory=self.exchange.config.ground_truth_dir)
        await self._runner.cleanup()
        self._runner = None

    def write_ground_truth(self, *, directory: Path) -> list[Path]:
        return ground_truth.write_files(
            directory=directory, exchange=self.exchange_id, moment=self.exchange.moment()
        )

    def application(self) -> web.Application:
        app = web.Application()
        endpoints = (
            binance_rest.ENDPOINTS if self.exchange_id == "binance" else kraken_rest.ENDPOINTS
        )
        for endpoint in endpoints:
            app.router.add_get(endpoint.path, self._rest_handler(endpoint))
        if self.exchange_id == "binance":
            for path in ("/ws", "/ws/{index}", "/stream"):
                app.router.add_get(path, self._binance_websocket)
        else:
            app.router.add_get("/v2", self._kraken_websocket)
        admin.add_routes(app, server=self)
        return app

    def _rest_handler(self, endpoint: Endpoint) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            return self._answer(request, endpoint)

        return handle

    def _answer(self, request: web.Request, endpoint: Endpoint) -> web.Response:
        exchange = self.exchange
        params = dict(request.query)
        now_s = time.time()
        rejection = self._rate_limit(request, endpoint, params, now_s)
        if rejection is not None:
            return _json_response(rejection, text=json.dumps(rejection.body))
        failure = exchange.http_faults.failure_status(now_s=now_s)
        if failure is not None:
            page = GATEWAY_PAGE.format(status=failure)
            return web.Response(status=failure, text=page, content_type="text/html")
        try:
            reply = endpoint.answer(params=params, moment=exchange.moment())
        except (binance_rest.BinanceError, kraken_rest.KrakenError) as error:
            reply = error.reply()
        if exchange.faults.rate_limits and self.exchange_id == "binance":
            used = exchange.binance_weights.used_weight_header(ip=_ip(request))
            reply = Reply(reply.body, reply.status, {**reply.headers, **used})
        text = exchange.http_faults.body(json.dumps(reply.body, separators=(",", ":")))
        return _json_response(reply, text=text)

    def _rate_limit(
        self, request: web.Request, endpoint: Endpoint, params: dict[str, str], now_s: float
    ) -> Reply | None:
        exchange = self.exchange
        if not exchange.faults.rate_limits:
            return None
        if self.exchange_id == "binance":
            weight = ENDPOINT_WEIGHTS.get(endpoint.name, 1)
            return exchange.binance_weights.charge(ip=_ip(request), weight=weight, now_s=now_s)
        pair = params.get("pair", "").upper() if endpoint.name in _PAIR_ENDPOINTS else None
        return exchange.kraken_counters.charge(ip=_ip(request), pair=pair, now_s=now_s)

    async def _binance_websocket(self, request: web.Request) -> web.StreamResponse:
        streams = request.query.get("streams", "") if request.path == "/stream" else ""
        core = BinanceStreams(combined_streams=tuple(s for s in streams.split("/") if s))
        return await self._websocket(request, core, heartbeat_s=BINANCE_PING_S)

    async def _kraken_websocket(self, request: web.Request) -> web.StreamResponse:
        core = KrakenStreams(connection_id=next(self._connection_ids))
        return await self._websocket(request, core, heartbeat_s=None)

    async def _websocket(
        self, request: web.Request, core: StreamCore, *, heartbeat_s: float | None
    ) -> web.StreamResponse:
        return await serve(
            request=request,
            core=core,
            exchange=self.exchange,
            connections=self.connections,
            heartbeat_s=heartbeat_s,
        )


def _ip(request: web.Request) -> str:
    return request.remote or "unknown"


def _json_response(reply: Reply, *, text: str) -> web.Response:
    return web.Response(
        status=reply.status, text=text, content_type="application/json", headers=dict(reply.headers)
    )
