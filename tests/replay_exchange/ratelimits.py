"""The exchanges' public REST rate limits, as pure accounting over wall-clock time.

Rate limits are about real requests, so they run on the wall clock, not the replay clock.

Binance counts request weight per IP in fixed one-minute windows (REQUEST_WEIGHT 6000/MINUTE).
Over the limit it answers 429 with Retry-After (seconds to the next window) and error -1003.
A client that keeps sending after its 429s ("failing to back off") gets 418 and an IP ban that
lasts 2 minutes the first time and doubles with each further ban, up to 3 days.

Kraken keeps a call counter per IP and, for pair endpoints (Trades, OHLC), per pair; every call
adds one and the counter decays over time. Above the maximum the call is refused with
`EAPI:Rate limit exceeded` (HTTP 200); refused calls still count, so hammering prolongs it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from tests.replay_exchange import binance_payloads, kraken_payloads
from tests.replay_exchange.models import Reply

_MAX_BAN_S = 3 * 86400.0


@dataclass(frozen=True, slots=True)
class RateLimitSettings:
    """Real values by default; tests lower them to reach the limits in a few calls."""

    binance_weight_per_minute: int = binance_payloads.REQUEST_WEIGHT_PER_MINUTE
    binance_429s_before_ban: int = 3
    binance_first_ban_s: float = 120.0
    kraken_max_counter: float = 15.0
    kraken_decay_per_s: float = 1.0


@dataclass(slots=True)
class _WeightWindow:
    window_start_s: float = 0.0
    used: int = 0
    rejections: int = 0
    bans: int = 0
    banned_until_s: float = 0.0


@dataclass(slots=True)
class BinanceWeights:
    """Per-IP request-weight accounting. `charge` returns a rejection, or None to proceed."""

    settings: RateLimitSettings
    _ips: dict[str, _WeightWindow] = field(default_factory=dict)

    def charge(self, *, ip: str, weight: int, now_s: float) -> Reply | None:
        state = self._ips.setdefault(ip, _WeightWindow())
        if now_s < state.banned_until_s:
            return self._banned(state, now_s)
        window_start = math.floor(now_s / 60) * 60.0
        if window_start != state.window_start_s:
            state.window_start_s, state.used, state.rejections = window_start, 0, 0
        state.used += weight
        if state.used <= self.settings.binance_weight_per_minute:
            return None
        state.rejections += 1
        if state.rejections > self.settings.binance_429s_before_ban:
            state.bans += 1
            ban_s = self.settings.binance_first_ban_s * 2 ** (state.bans - 1)
            state.banned_until_s = now_s + min(ban_s, _MAX_BAN_S)
            return self._banned(state, now_s)
        limit = self.settings.binance_weight_per_minute
        message = (
            f"Too much request weight used; current limit is {limit} request weight per 1 MINUTE."
            " Please use WebSocket Streams for live updates to avoid polling the API."
        )
        retry_after = math.ceil(window_start + 60 - now_s)
        return Reply(
            binance_payloads.error((-1003, message)),
            status=429,
            headers={"Retry-After": str(retry_after), **self.used_weight_header(ip=ip)},
        )

    def used_weight_header(self, *, ip: str) -> dict[str, str]:
        """X-MBX-USED-WEIGHT-1M, which Binance puts on every answer."""
        state = self._ips.get(ip)
        return {"X-MBX-USED-WEIGHT-1M": str(state.used if state else 0)}

    def _banned(self, state: _WeightWindow, now_s: float) -> Reply:
        until_ms = int(state.banned_until_s * 1000)
        message = (
            f"Way too much request weight used; IP banned until {until_ms}."
            " Please use WebSocket Streams for live updates to avoid bans."
        )
        retry_after = math.ceil(state.banned_until_s - now_s)
        return Reply(
            binance_payloads.error((-1003, message)),
            status=418,
            headers={"Retry-After": str(retry_after)},
        )


@dataclass(slots=True)
class KrakenCounters:
    """Kraken's decaying call counters, per (IP, pair) and per IP for the other calls."""

    settings: RateLimitSettings
    _counters: dict[tuple[str, str | None], tuple[float, float]] = field(default_factory=dict)

    def charge(self, *, ip: str, pair: str | None, now_s: float) -> Reply | None:
        value, at_s = self._counters.get((ip, pair), (0.0, now_s))
        decayed = max(0.0, value - (now_s - at_s) * self.settings.kraken_decay_per_s)
        counted = min(decayed + 1, 2 * self.settings.kraken_max_counter)
        self._counters[(ip, pair)] = (counted, now_s)
        if counted <= self.settings.kraken_max_counter:
            return None
        return Reply(kraken_payloads.failure(kraken_payloads.RATE_LIMIT_EXCEEDED))
