"""The aiohttp side of a WebSocket connection: it drives a sans-I/O stream core.

It feeds the core the client's frames and, every tick, the time; it sends what the core answers
through the connection's fault state; it closes the connection on the `ws_close_every_s`
schedule or when the admin endpoint asks (`close_all`). Servers that close send code 1000, which
ccxt reports as `NetworkError: Connection closed by remote server, closing code 1000`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from typing import Any

from aiohttp import WSMsgType, web

from tests.replay_exchange.exchange import ReplayExchange
from tests.replay_exchange.faults import FrameFaults
from tests.replay_exchange.streams import FrameKind, Outgoing, StreamCore

TICK_S = 0.05
IDLE_S = 1.0


class Connections:
    """The open connections of one server, so that they can all be closed on demand."""

    def __init__(self) -> None:
        self._open: set[web.WebSocketResponse] = set()

    def __len__(self) -> int:
        return len(self._open)

    def add(self, ws: web.WebSocketResponse) -> None:
        self._open.add(ws)

    def discard(self, ws: web.WebSocketResponse) -> None:
        self._open.discard(ws)

    async def close_all(self, *, reason: str) -> int:
        closing = list(self._open)
        for ws in closing:
            await ws.close(code=1000, message=reason.encode())
        return len(closing)


async def serve(
    *,
    request: web.Request,
    core: StreamCore,
    exchange: ReplayExchange,
    connections: Connections,
    heartbeat_s: float | None,
) -> web.WebSocketResponse:
    """Run one connection until either side closes it."""
    ws = web.WebSocketResponse(heartbeat=heartbeat_s)
    await ws.prepare(request)
    connections.add(ws)
    sender = _Sender(ws=ws, faults=FrameFaults(plan=exchange.faults))
    pump = asyncio.create_task(_pump(ws=ws, core=core, exchange=exchange, sender=sender))
    try:
        await sender.send(core.on_connect(moment=exchange.moment()))
        async for received in ws:
            if received.type is not WSMsgType.TEXT:
                continue
            try:
                message: Any = json.loads(received.data)
            except ValueError:
                message = received.data  # plain text, such as BitMEX's "ping"
            await sender.send(core.on_message(message=message, moment=exchange.moment()))
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
        connections.discard(ws)
    return ws


async def _pump(
    *, ws: web.WebSocketResponse, core: StreamCore, exchange: ReplayExchange, sender: _Sender
) -> None:
    opened = time.monotonic()
    while not ws.closed:
        await asyncio.sleep(TICK_S)
        sender.faults.plan = exchange.faults
        close_every = exchange.faults.ws_close_every_s
        if close_every and time.monotonic() - opened >= close_every:
            await ws.close(code=1000, message=b"replay: scheduled close")
            return
        frames = core.poll(moment=exchange.moment())
        if frames:
            await sender.send(frames)
        elif time.monotonic() - sender.last_sent >= IDLE_S:
            idle = core.idle_frame()
            await sender.send([idle] if idle else [])


class _Sender:
    """Serializes sends (the reader and the pump both send) and applies the frame faults."""

    def __init__(self, *, ws: web.WebSocketResponse, faults: FrameFaults) -> None:
        self.ws = ws
        self.faults = faults
        self.last_sent = time.monotonic()
        self._lock = asyncio.Lock()

    async def send(self, frames: Sequence[Outgoing]) -> None:
        if not frames:
            return
        async with self._lock:
            for frame in self._ordered(frames):
                payload = frame.payload
                text = (
                    payload
                    if isinstance(payload, str)
                    else json.dumps(payload, separators=(",", ":"))
                )
                if frame.kind is not FrameKind.CONTROL:
                    text = self.faults.frame(text)
                if self.ws.closed:
                    return
                await self.ws.send_str(text)
            self.last_sent = time.monotonic()

    def _ordered(self, frames: Sequence[Outgoing]) -> list[Outgoing]:
        """Frames with duplicate/reorder faults applied to each run of trade frames."""
        ordered: list[Outgoing] = []
        run: list[Outgoing] = []
        for frame in [*frames, None]:
            if frame is not None and frame.kind is FrameKind.TRADE:
                run.append(frame)
                continue
            ordered.extend(self.faults.trade_frames(run))
            run = []
            if frame is not None:
                ordered.append(frame)
        return ordered
