"""The admin API: inspect the run, change its faults, read or write the ground truth.

GET  /admin/state         clock, markets (offsets, trades and candles served), faults, connections
POST /admin/faults        JSON object; any FaultPlan or RateLimitSettings field (null switches a
                          fault off), plus the actions
                            "close_websockets": true          close every connection now
                            "http_5xx_burst_now": n           fail the next n REST calls
                            "delist": {"symbol": "BTC/USD", "after_s": 0}   (exchange seconds)
                          answers the new state
GET  /admin/ground-truth  ?kind=candles_1m|trades|aggtrades [&symbol=BTC/USDT] [&format=csv|jsonl]
POST /admin/ground-truth  write every file to the --ground-truth-dir (or {"dir": path}); answers
                          {"written": [paths]}
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.replay_exchange import ground_truth

if TYPE_CHECKING:
    from tests.replay_exchange.server import ReplayServer

_SERVER_KEY: web.AppKey[ReplayServer] = web.AppKey("replay_server")


def add_routes(app: web.Application, *, server: ReplayServer) -> None:
    app[_SERVER_KEY] = server
    app.router.add_get("/admin/state", _state)
    app.router.add_post("/admin/faults", _faults)
    app.router.add_get("/admin/ground-truth", _read_ground_truth)
    app.router.add_post("/admin/ground-truth", _write_ground_truth)


def _server(request: web.Request) -> ReplayServer:
    return request.app[_SERVER_KEY]


def state_of(server: ReplayServer) -> dict[str, Any]:
    return {
        **server.exchange.state(),
        "websockets": len(server.connections),
        "rest_requests": dict(server.rest_requests),
        "rest_in_flight_peak": dict(server.rest_in_flight_peak),
    }


async def _state(request: web.Request) -> web.Response:
    return web.json_response(state_of(_server(request)))


async def _faults(request: web.Request) -> web.Response:
    server = _server(request)
    changes: dict[str, Any] = await request.json()
    close_websockets = bool(changes.pop("close_websockets", False))
    burst = int(changes.pop("http_5xx_burst_now", 0))
    delist = changes.pop("delist", None)
    try:
        plan = server.exchange.faults.updated(changes)
        if delist is not None:
            server.exchange.delist(symbol=delist["symbol"], after_s=float(delist.get("after_s", 0)))
    except (ValueError, TypeError, KeyError) as error:
        return web.json_response({"error": str(error)}, status=400)
    server.exchange.set_faults(plan)
    server.exchange.http_faults.start_burst(calls=burst)
    if close_websockets:
        await server.connections.close_all(reason="replay: closed by admin")
    return web.json_response(state_of(server))


async def _read_ground_truth(request: web.Request) -> web.Response:
    exchange = _server(request).exchange
    kind = request.query.get("kind", "candles_1m")
    fmt = request.query.get("format", "csv")
    wanted = request.query.get("symbol")
    if kind not in exchange.venue.ground_truth_kinds or fmt not in ("csv", "jsonl"):
        return web.json_response({"error": f"unknown kind {kind!r} or format {fmt!r}"}, status=400)
    moment = exchange.moment()
    table = [
        row
        for symbol, market in sorted(exchange.markets.items())
        if wanted in (None, symbol)
        for row in ground_truth.rows(
            exchange=exchange.name,
            kind=kind,
            market=market,
            horizon_ns=moment.horizon_ns(symbol),
            trade_id=exchange.venue.published_trade_id,
        )
    ]
    content_type = "text/csv" if fmt == "csv" else "application/x-ndjson"
    return web.Response(
        text=ground_truth.render(table=table, kind=kind, fmt=fmt), content_type=content_type
    )


async def _write_ground_truth(request: web.Request) -> web.Response:
    server = _server(request)
    body: dict[str, Any] = await request.json() if request.can_read_body else {}
    target = body.get("dir") or server.exchange.config.ground_truth_dir
    if target is None:
        return web.json_response({"error": "no --ground-truth-dir and no dir given"}, status=400)
    written = server.write_ground_truth(directory=Path(target))
    return web.json_response({"written": [str(path) for path in written]})
