"""Kraken spot: REST (rest.py), WebSocket v2 (streams.py), bodies (payloads.py).

Its ccxt override: `public` (REST; ccxt adds `/0/public/...`) and `ws.publicV2` (must contain
"v2", or ccxt sends v1 pings).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.replay_exchange.kraken import rest
from tests.replay_exchange.kraken.streams import KrakenStreams
from tests.replay_exchange.models import Reply
from tests.replay_exchange.ratelimits import KrakenCounters, RateLimitSettings
from tests.replay_exchange.streams import StreamCore
from tests.replay_exchange.venue import Params, Venue, WsRoute

_PAIR_ENDPOINTS = ("OHLC", "Trades")  # counted per pair as well as per IP


@dataclass(slots=True)
class _Limiter:
    counters: KrakenCounters

    @property
    def settings(self) -> RateLimitSettings:
        return self.counters.settings

    @settings.setter
    def settings(self, value: RateLimitSettings) -> None:
        self.counters.settings = value

    def charge(self, *, ip: str, endpoint: str, params: Params, now_s: float) -> Reply | None:
        pair = str(params.get("pair", "")).upper() if endpoint in _PAIR_ENDPOINTS else None
        return self.counters.charge(ip=ip, pair=pair, now_s=now_s)

    def answered(
        self, *, ip: str, endpoint: str, params: Params, reply: Reply, now_s: float
    ) -> dict[str, str]:
        return {}


def _limiter(settings: RateLimitSettings) -> _Limiter:
    return _Limiter(KrakenCounters(settings=settings))


def _streams(query: Mapping[str, str], connection_id: int) -> StreamCore:
    return KrakenStreams(connection_id=connection_id)


def _ccxt_urls(*, http_url: str, ws_url: str) -> dict[str, Any]:
    return {"public": http_url, "ws": {"publicV2": f"{ws_url}/v2"}}


VENUE = Venue(
    name="kraken",
    default_files=(
        "trades/kraken_XBTUSDT_rest_trades_20251110.json",
        "trades/kraken_XBTUSDT_rest_ohlc1m_20251110.json",
        "candles_1m/kraken_XBTUSD_1m_fromtrades_20230301_20230321.csv",
        "candles_1m/kraken_XBTUSDC_1m_ohlcvt_20230301_20230321.csv",
    ),
    endpoints=rest.ENDPOINTS,
    websockets=(WsRoute("/v2", _streams),),
    limiter=_limiter,
    ccxt_urls=_ccxt_urls,
)
