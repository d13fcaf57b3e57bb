"""What an exchange module provides: the one contract behind the table of exchanges.

Each exchange the replay speaks is one package (binance/, kraken/, bitmex/, hyperliquid/) whose
`VENUE` says everything the generic parts need: its REST endpoints, its WebSocket routes and the
stream core each connection gets, its rate limiter, the `urls['api']` override that points ccxt
at it, its default recordings and readers for its own file formats, how it labels and fills
candles, and which ground-truth tables it has. The server, the clock, the fault plan, the ground
truth and the command line never ask which exchange they serve; adding an exchange is adding a
package and one line in venues.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tests.replay_exchange.models import (
    PLAIN_CANDLES,
    CandleRules,
    Endpoint,
    RecordedSeries,
    Reply,
    Trade,
    recorded_trade_id,
)
from tests.replay_exchange.ratelimits import RateLimitSettings
from tests.replay_exchange.streams import StreamCore

Params = Mapping[str, Any]


class Limiter(Protocol):
    """One exchange's rate-limit accounting, on the wall clock (see ratelimits.py)."""

    settings: RateLimitSettings

    def charge(self, *, ip: str, endpoint: str, params: Params, now_s: float) -> Reply | None:
        """Count one call; the exchange's refusal, or None to answer it."""
        ...

    def answered(
        self, *, ip: str, endpoint: str, params: Params, reply: Reply, now_s: float
    ) -> dict[str, str]:
        """Count what only the answer tells (items returned); the headers the exchange puts on
        every answer (used weight, remaining calls)."""
        ...


@dataclass(frozen=True, slots=True)
class WsRoute:
    """A WebSocket path and the stream core of each connection to it.

    `core(query, connection_id)` builds the connection's protocol state; `heartbeat_s` is the
    WebSocket-level ping interval of exchanges that drop clients that do not pong.
    """

    path: str
    core: Callable[[Mapping[str, str], int], StreamCore]
    heartbeat_s: float | None = None


@dataclass(frozen=True, slots=True)
class Reader:
    """A recorded file format of one exchange: recognised by its first (decompressed) text."""

    kind: str
    recognises: Callable[[str], bool]
    read: Callable[[Path, str | None], tuple[RecordedSeries, ...]]


@dataclass(frozen=True, slots=True)
class Venue:
    name: str
    default_files: tuple[str, ...]
    endpoints: tuple[Endpoint, ...]
    websockets: tuple[WsRoute, ...]
    limiter: Callable[[RateLimitSettings], Limiter]
    ccxt_urls: Callable[..., dict[str, Any]]  # (http_url=..., ws_url=...)
    readers: tuple[Reader, ...] = ()
    candle_rules: CandleRules = PLAIN_CANDLES
    ground_truth_kinds: tuple[str, ...] = ("candles_1m", "trades")
    published_trade_id: Callable[[Trade], str] = recorded_trade_id
