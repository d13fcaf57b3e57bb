"""BitMEX's /realtime WebSocket: one connection per subscribed topic, rows as they arrive.

A topic ("trade:XBTUSD", "tradeBin1m:XBTUSD") is acknowledged, then sent as a `partial` (the
newest row) and `insert` frames. A connection serves one topic, so that a drop interrupts
exactly the series that lost frames, as the ports ask. BitMEX sends no heartbeat: the client
sends the text "ping" when the line has been quiet and expects "pong"; a line silent after a
ping is dead, and so is one that sends a frame that is not JSON (frames may have been lost).
"""

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp

from ohlcv_collector.backends.bitmex.rest import loads
from ohlcv_collector.ports import StreamInterruptedError, SymbolUnavailableError

# Quiet seconds before a ping, and again before the line counts as dead (ccxt keeps 20 s).
KEEPALIVE_S = 20.0


def rows_of(frame: Any, *, table: str) -> list[Any] | None:
    """The rows of a `partial`/`insert` frame of `table`; None for any other frame (welcome,
    subscription acknowledgement). A refusal raises: the topic will not be served."""
    if not isinstance(frame, Mapping):
        return None
    if "error" in frame:
        raise SymbolUnavailableError(f"the exchange refused the subscription: {frame['error']}")
    if frame.get("table") != table or frame.get("action") not in ("partial", "insert"):
        return None
    data = frame.get("data")
    return data if isinstance(data, list) else []


async def subscribe(
    session: aiohttp.ClientSession, *, url: str, topic: str
) -> AsyncIterator[list[Any]]:
    """Rows of `topic`, a batch per frame, until the connection drops
    (`StreamInterruptedError`)."""
    table = topic.partition(":")[0]
    try:
        async with session.ws_connect(url, heartbeat=None, autoping=True) as ws:
            await ws.send_str(json.dumps({"op": "subscribe", "args": [topic]}))
            pinged = False
            while True:
                try:
                    message = await ws.receive(timeout=KEEPALIVE_S)
                except TimeoutError:
                    if pinged:
                        raise StreamInterruptedError(f"{topic}: no answer to a ping") from None
                    await ws.send_str("ping")
                    pinged = True
                    continue
                pinged = False
                if message.type != aiohttp.WSMsgType.TEXT:
                    raise StreamInterruptedError(f"{topic}: connection closed ({message.type!r})")
                if message.data == "pong":
                    continue
                try:
                    frame = loads(message.data)
                except ValueError:
                    raise StreamInterruptedError(f"{topic}: a damaged frame") from None
                rows = rows_of(frame, table=table)
                if rows is not None:
                    yield rows
    except (aiohttp.ClientError, ConnectionError) as error:
        raise StreamInterruptedError(f"{topic}: {type(error).__name__}: {error}") from error
