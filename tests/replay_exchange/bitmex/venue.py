"""BitMEX's entry in the table of exchanges.

Its ccxt-style override (the keys ccxt's bitmex class used): `public` and `private` (REST; paths
are `/api/v1/...`) and `ws.public` (`/realtime`). The pinned ccxt 4.5.90 has no bitmex class.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.replay_exchange.bitmex import payloads, rest
from tests.replay_exchange.bitmex.streams import BitmexStreams
from tests.replay_exchange.models import CandleRules, Reply
from tests.replay_exchange.ratelimits import BitmexTokens, RateLimitSettings
from tests.replay_exchange.streams import StreamCore
from tests.replay_exchange.venue import Params, Reader, Venue, WsRoute


@dataclass(slots=True)
class _Limiter:
    tokens: BitmexTokens

    @property
    def settings(self) -> RateLimitSettings:
        return self.tokens.settings

    @settings.setter
    def settings(self, value: RateLimitSettings) -> None:
        self.tokens.settings = value

    def charge(self, *, ip: str, endpoint: str, params: Params, now_s: float) -> Reply | None:
        return self.tokens.charge(ip=ip, now_s=now_s)

    def answered(
        self, *, ip: str, endpoint: str, params: Params, reply: Reply, now_s: float
    ) -> dict[str, str]:
        return self.tokens.headers(ip=ip, now_s=now_s)


def _limiter(settings: RateLimitSettings) -> _Limiter:
    return _Limiter(BitmexTokens(settings=settings))


def _streams(query: Mapping[str, str], connection_id: int) -> StreamCore:
    return BitmexStreams()


def _ccxt_urls(*, http_url: str, ws_url: str) -> dict[str, Any]:
    return {"public": http_url, "private": http_url, "ws": {"public": f"{ws_url}/realtime"}}


VENUE = Venue(
    name="bitmex",
    default_files=(
        "bitmex/rest_bucketed/XBTUSD_1m_20200410T2221_20200411T1500_bucketed-7c9bba.json.gz",
        "bitmex/rest_trade/XBTUSD_20200411_latest1000_trade-6b5a6b.json.gz",
    ),
    endpoints=rest.ENDPOINTS,
    websockets=(WsRoute("/realtime", _streams),),
    limiter=_limiter,
    ccxt_urls=_ccxt_urls,
    readers=(
        Reader("bitmex-trades-json", payloads.recognises_trades, payloads.read_trades),
        Reader("bitmex-bucketed-json", payloads.recognises_bins, payloads.read_bins),
    ),
    candle_rules=CandleRules(open_is_previous_close=True),
)
