"""The aiohttp server: thin adapters from HTTP and WebSocket to the sans-I/O core.

A REST call goes through, in order: the latency (when set), the rate limit (when enabled), a
5xx burst (when one is running), the pure answer, then the body faults. Errors the exchange
would answer (Binance's -1121, Kraken's EQuery, BitMEX's and Hyperliquid's error bodies) are
ordinary answers here, not exceptions. Which routes exist and what each answers comes from the
exchange's `Venue`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.replay_exchange import admin, ground_truth
from tests.replay_exchange.ccxt_urls import ccxt_api_urls
from tests.replay_exchange.exchange import ReplayConfig, ReplayExchange
from tests.replay_exchange.models import Endpoint, ExchangeRefusalError, Reply
from tests.replay_exchange.venue import WsRoute
from tests.replay_exchange.ws_driver import Connections, serve

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

GATEWAY_PAGE = "<html><head><title>{status}</title></head><body>{status}</body></html>"


class ReplayServer:
    """A replay exchange on loopback. Build it, `await start()`, point ccxt at `ccxt_urls()`."""

    def __init__(self, *, config: ReplayConfig) -> None:
        self.exchange = ReplayExchange(config=config)
        self.connections = Connections()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._host = "127.0.0.1"
        self._connection_ids = itertools.count(1)
        # REST requests per endpoint: all, being answered now, and the most at once (how
        # many a client keeps in flight; with a latency set, they overlap).
        self.rest_requests: Counter[str] = Counter()
        self.rest_in_flight: Counter[str] = Counter()
        self.rest_in_flight_peak: Counter[str] = Counter()

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
            directory=directory,
            exchange=self.exchange_id,
            kinds=self.exchange.venue.ground_truth_kinds,
            moment=self.exchange.moment(),
            trade_id=self.exchange.venue.published_trade_id,
        )

    def application(self) -> web.Application:
        app = web.Application()
        venue = self.exchange.venue
        for endpoint in venue.endpoints:
            app.router.add_route(endpoint.method, endpoint.path, self._rest_handler(endpoint))
        for route in venue.websockets:
            app.router.add_get(route.path, self._websocket_handler(route))
        admin.add_routes(app, server=self)
        return app

    def _rest_handler(self, endpoint: Endpoint) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            params = await _params(request, endpoint)
            self.rest_requests[endpoint.name] += 1
            self.rest_in_flight[endpoint.name] += 1
            self.rest_in_flight_peak[endpoint.name] = max(
                self.rest_in_flight_peak[endpoint.name], self.rest_in_flight[endpoint.name]
            )
            try:
                latency = self.exchange.faults.rest_latency_s
                if latency:
                    await asyncio.sleep(latency)
                return self._answer(request, endpoint, params)
            finally:
                self.rest_in_flight[endpoint.name] -= 1

        return handle

    def _answer(
        self, request: web.Request, endpoint: Endpoint, params: dict[str, Any]
    ) -> web.Response:
        exchange = self.exchange
        now_s = time.time()
        limited = exchange.faults.rate_limits
        if limited:
            rejection = exchange.limiter.charge(
                ip=_ip(request), endpoint=endpoint.name, params=params, now_s=now_s
            )
            if rejection is not None:
                return _json_response(rejection, text=json.dumps(rejection.body))
        failure = exchange.http_faults.failure_status(now_s=now_s)
        if failure is not None:
            page = GATEWAY_PAGE.format(status=failure)
            return web.Response(status=failure, text=page, content_type="text/html")
        try:
            reply = endpoint.answer(params=params, moment=exchange.moment())
        except ExchangeRefusalError as error:
            reply = error.reply()
        if limited:
            headers = exchange.limiter.answered(
                ip=_ip(request), endpoint=endpoint.name, params=params, reply=reply, now_s=now_s
            )
            reply = Reply(reply.body, reply.status, {**reply.headers, **headers})
        body = reply.body
        encoded = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
        return _json_response(reply, text=exchange.http_faults.body(encoded))

    def _websocket_handler(self, route: WsRoute) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await serve(
                request=request,
                core=route.core(request.query, next(self._connection_ids)),
                exchange=self.exchange,
                connections=self.connections,
                heartbeat_s=route.heartbeat_s,
            )

        return handle


async def _params(request: web.Request, endpoint: Endpoint) -> dict[str, Any]:
    """The query string of a GET; the JSON object a POST carries ({} if it carries none)."""
    if endpoint.method == "GET":
        return dict(request.query)
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _ip(request: web.Request) -> str:
    return request.remote or "unknown"


def _json_response(reply: Reply, *, text: str) -> web.Response:
    """JSON, or plain text when the exchange answers with a bare message (Hyperliquid's 422)."""
    content_type = "text/plain" if isinstance(reply.body, str) else "application/json"
    return web.Response(
        status=reply.status, text=text, content_type=content_type, headers=dict(reply.headers)
    )
