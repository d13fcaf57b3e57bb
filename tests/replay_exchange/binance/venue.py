"""Binance spot: REST (rest.py), market streams (streams.py), bodies (payloads.py).

Its ccxt override: `public` (spot REST, `/api/v3`), `fapiPublic` and `dapiPublic` (the futures
exchangeInfo that ccxt's default load_markets also asks; answered with no contracts), and
`ws.spot` (ccxt appends `/<stream index>`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.replay_exchange.binance import rest
from tests.replay_exchange.binance.payloads import ENDPOINT_WEIGHTS
from tests.replay_exchange.binance.streams import BinanceStreams
from tests.replay_exchange.models import Reply
from tests.replay_exchange.ratelimits import BinanceWeights, RateLimitSettings
from tests.replay_exchange.streams import StreamCore
from tests.replay_exchange.venue import Params, Venue, WsRoute

PING_S = 20.0  # Binance pings every 20 s and drops clients that do not pong


@dataclass(slots=True)
class _Limiter:
    weights: BinanceWeights

    @property
    def settings(self) -> RateLimitSettings:
        return self.weights.settings

    @settings.setter
    def settings(self, value: RateLimitSettings) -> None:
        self.weights.settings = value

    def charge(self, *, ip: str, endpoint: str, params: Params, now_s: float) -> Reply | None:
        weight = ENDPOINT_WEIGHTS.get(endpoint, 1)
        return self.weights.charge(ip=ip, weight=weight, now_s=now_s)

    def answered(
        self, *, ip: str, endpoint: str, params: Params, reply: Reply, now_s: float
    ) -> dict[str, str]:
        return self.weights.used_weight_header(ip=ip)


def _limiter(settings: RateLimitSettings) -> _Limiter:
    return _Limiter(BinanceWeights(settings=settings))


def _streams(query: Mapping[str, str], connection_id: int) -> StreamCore:
    """Raw streams are subscribed by message; combined ones by the `streams` query."""
    named = tuple(s for s in query.get("streams", "").split("/") if s)
    return BinanceStreams(combined_streams=named)


def _ccxt_urls(*, http_url: str, ws_url: str) -> dict[str, Any]:
    return {
        "public": f"{http_url}/api/v3",
        "fapiPublic": f"{http_url}/fapi/v1",
        "dapiPublic": f"{http_url}/dapi/v1",
        "ws": {"spot": f"{ws_url}/ws"},
    }


VENUE = Venue(
    name="binance",
    default_files=(
        "trades/binance_spot_ws/btcusdt_20240808.gz",
        "trades/binance_spot_ws/btcusdt_20240809.gz",
        "candles_1m/binanceus_BTCUSD_1m_20230301_20230321.csv",
        "candles_1m/binanceus_BTCUSDC_1m_20230301_20230321.csv",
    ),
    endpoints=rest.ENDPOINTS,
    websockets=tuple(
        WsRoute(path, _streams, heartbeat_s=PING_S) for path in ("/ws", "/ws/{index}", "/stream")
    ),
    limiter=_limiter,
    ccxt_urls=_ccxt_urls,
    ground_truth_kinds=("candles_1m", "trades", "aggtrades"),
)
