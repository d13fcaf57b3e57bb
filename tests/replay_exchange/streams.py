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
    """A frame to send: a JSON-able payload, or a str sent as it is (BitMEX's "pong")."""

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


class CandleCursor(Protocol):
    """How far a candle subscription has got: next trade index, and the minute it is in."""

    trade_index: int
    minute: int


def touched_candles(*, cursor: CandleCursor, market: Market, moment: Moment) -> list[Candle]:
    """Candles to push to a subscription that follows trades (Kraken's ohlc, Hyperliquid's
    candle): the final values of minutes that new trades touched (or that a candle-only
    recording entered), then the one in progress if it changed; never a minute without trades.
    Advances the cursor."""
    upto = market.visible_trades(now_ns=moment.now_ns)
    touched = {minute_floor(t.time_ms) for t in market.trades[cursor.trade_index : upto]}
    minute = current_minute(moment)
    entered = range(cursor.minute + MINUTE_MS, minute + MINUTE_MS, MINUTE_MS)
    touched.update(m for m in entered if not market.is_live_minute(m))
    cursor.trade_index, cursor.minute = upto, minute
    updates: list[Candle] = []
    for touched_minute in sorted(touched):
        if touched_minute < minute:
            updates.extend(
                closed_candles(
                    market=market, from_minute=touched_minute, to_minute=touched_minute + MINUTE_MS
                )
            )
        else:
            updates.extend(c for c in [market.in_progress(now_ns=moment.now_ns)] if c is not None)
    return [c for c in updates if not c.is_empty]
