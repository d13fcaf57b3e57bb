"""What a WebSocket connection sends: the common contract of the per-exchange stream cores.

A stream core is sans-I/O: it is told what the client sent and what time it is, and answers with
the frames to send. The aiohttp driver (ws_driver.py) does the sending, the timing and the
faults. Frames are tagged so the driver applies each fault only where it belongs: control frames
(acks, pongs, heartbeats) are never mangled, data frames may be, trade frames may also be
duplicated or reordered.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from tests.replay_exchange.markets import Market, Moment
from tests.replay_exchange.models import MINUTE_MS, Candle, minute_floor


class FrameKind(Enum):
    CONTROL = "control"
    DATA = "data"
    TRADE = "trade"


@dataclass(frozen=True, slots=True)
class Outgoing:
    payload: Any
    kind: FrameKind = FrameKind.DATA


class StreamCore(Protocol):
    """One connection's protocol state."""

    def on_connect(self, *, moment: Moment) -> list[Outgoing]: ...

    def on_message(self, *, message: Any, moment: Moment) -> list[Outgoing]: ...

    def poll(self, *, moment: Moment) -> list[Outgoing]:
        """Frames for everything that happened since the previous poll."""
        ...

    def idle_frame(self) -> Outgoing | None:
        """What to send after a quiet second (Kraken's heartbeat), if anything."""
        ...


def closed_candles(*, market: Market, from_minute: int, to_minute: int) -> list[Candle]:
    """Final candles of the minutes [from_minute, to_minute) that the market has."""
    first = market.first_ms
    indexes = range((from_minute - first) // MINUTE_MS, (to_minute - first) // MINUTE_MS)
    return [market.candles[i] for i in indexes if 0 <= i < len(market.candles)]


def current_minute(moment: Moment) -> int:
    return minute_floor(moment.now_ms)
