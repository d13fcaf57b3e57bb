"""Hyperliquid's entry in the table of exchanges.

Its ccxt override: `public` (REST; ccxt posts to `<public>/info`) and `ws.public` (`/ws`).
ccxt's load_markets asks spotMeta, spotMetaAndAssetCtxs, metaAndAssetCtxs and perpDexs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.replay_exchange.hyperliquid import payloads, rest
from tests.replay_exchange.hyperliquid.streams import HyperliquidStreams
from tests.replay_exchange.models import Reply
from tests.replay_exchange.ratelimits import HyperliquidWeights, RateLimitSettings
from tests.replay_exchange.streams import StreamCore
from tests.replay_exchange.venue import Params, Reader, Venue, WsRoute

# /info weights (Hyperliquid's "Rate limits and user limits"); every other type weighs 20.
_LIGHT = ("l2Book", "allMids", "clearinghouseState", "orderStatus", "spotClearinghouseState")
_WEIGHTS = {**dict.fromkeys(_LIGHT, 2), "exchangeStatus": 2, "userRole": 60}
_ITEMS_PER_WEIGHT = {"candleSnapshot": 60, "recentTrades": 20}


@dataclass(slots=True)
class _Limiter:
    weights: HyperliquidWeights

    @property
    def settings(self) -> RateLimitSettings:
        return self.weights.settings

    @settings.setter
    def settings(self, value: RateLimitSettings) -> None:
        self.weights.settings = value

    def charge(self, *, ip: str, endpoint: str, params: Params, now_s: float) -> Reply | None:
        weight = _WEIGHTS.get(str(params.get("type")), 20)
        return self.weights.charge(ip=ip, weight=weight, now_s=now_s)

    def answered(
        self, *, ip: str, endpoint: str, params: Params, reply: Reply, now_s: float
    ) -> dict[str, str]:
        per = _ITEMS_PER_WEIGHT.get(str(params.get("type")))
        if per is not None and isinstance(reply.body, list):
            self.weights.add(ip=ip, weight=len(reply.body) // per, now_s=now_s)
        return {}


def _limiter(settings: RateLimitSettings) -> _Limiter:
    return _Limiter(HyperliquidWeights(settings=settings))


def _streams(query: Mapping[str, str], connection_id: int) -> StreamCore:
    return HyperliquidStreams()


def _ccxt_urls(*, http_url: str, ws_url: str) -> dict[str, Any]:
    return {"public": http_url, "private": http_url, "ws": {"public": f"{ws_url}/ws"}}


VENUE = Venue(
    name="hyperliquid",
    default_files=("BTC/USDC:USDC=candles_1m/binanceus_BTCUSDC_1m_20230301_20230321.csv",),
    endpoints=rest.ENDPOINTS,
    websockets=(WsRoute("/ws", _streams),),
    limiter=_limiter,
    ccxt_urls=_ccxt_urls,
    readers=(Reader("hyperliquid-ws-capture", payloads.recognises_capture, payloads.read_capture),),
    published_trade_id=payloads.published_id,
)
