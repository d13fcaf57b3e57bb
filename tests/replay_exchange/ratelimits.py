"""The exchanges' public REST rate limits, as pure accounting over wall-clock time.

Rate limits are about real requests, so they run on the wall clock, not the replay clock.

Binance counts request weight per IP in fixed one-minute windows (REQUEST_WEIGHT 6000/MINUTE).
They start on the wall-clock minute; `binance_window_origin_s` moves their start, so a test
that needs a whole window sets it to its own start instead of waiting for the next minute.
Over the limit it answers 429 with Retry-After (seconds to the next window) and error -1003.
A client that keeps sending after its 429s ("failing to back off") gets 418 and an IP ban that
lasts 2 minutes the first time and doubles with each further ban, up to 3 days.

Kraken keeps a call counter per IP and, for pair endpoints (Trades, OHLC), per pair; every call
adds one and the counter decays over time. Above the maximum the call is refused with
`EAPI:Rate limit exceeded` (HTTP 200); refused calls still count, so hammering prolongs it.

BitMEX limits REST calls with a token bucket per IP: 30 tokens a minute without an API key,
refilled continuously (one every 2 s), all of which may be spent at once. Every answer carries
X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset (epoch second when the bucket is
full again); an empty bucket answers 429 with Retry-After and a RateLimitError body.

Hyperliquid counts request weight per IP, 1200 a minute: /info requests weigh 20 (2 for l2Book,
allMids, exchangeStatus and a few user states), plus 1 per 60 candles a candleSnapshot returns and
1 per 20 trades recentTrades returns (charged once the answer is known). Over the limit it
answers HTTP 429.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from tests.replay_exchange.binance import payloads as binance_payloads
from tests.replay_exchange.kraken import payloads as kraken_payloads
from tests.replay_exchange.models import Reply

_MAX_BAN_S = 3 * 86400.0


@dataclass(frozen=True, slots=True)
class RateLimitSettings:
    """Real values by default; tests lower them to reach the limits in a few calls."""

    binance_weight_per_minute: int = binance_payloads.REQUEST_WEIGHT_PER_MINUTE
    binance_429s_before_ban: int = 3
    binance_first_ban_s: float = 120.0
    binance_window_origin_s: float = 0.0  # a window starts at origin + k minutes
    kraken_max_counter: float = 15.0
    kraken_decay_per_s: float = 1.0
    bitmex_requests_per_minute: int = 30  # unauthenticated; keys get 120
    hyperliquid_weight_per_minute: int = 1200


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
        origin = self.settings.binance_window_origin_s
        window_start = origin + math.floor((now_s - origin) / 60) * 60.0
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


@dataclass(slots=True)
class BitmexTokens:
    """BitMEX's per-IP token bucket. `charge` returns the 429, or None to proceed."""

    settings: RateLimitSettings
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # ip -> (tokens, at)

    def charge(self, *, ip: str, now_s: float) -> Reply | None:
        tokens = self._tokens(ip=ip, now_s=now_s)
        if tokens < 1:
            self._buckets[ip] = (tokens, now_s)
            wait_s = math.ceil((1 - tokens) / self._refill_per_s)
            body = {
                "error": {
                    "message": f"Rate limit exceeded, retry in {wait_s} seconds.",
                    "name": "RateLimitError",
                }
            }
            headers = {"Retry-After": str(wait_s), **self.headers(ip=ip, now_s=now_s)}
            return Reply(body, status=429, headers=headers)
        self._buckets[ip] = (tokens - 1, now_s)
        return None

    def headers(self, *, ip: str, now_s: float) -> dict[str, str]:
        tokens = self._tokens(ip=ip, now_s=now_s)
        full_in_s = (self.settings.bitmex_requests_per_minute - tokens) / self._refill_per_s
        return {
            "X-RateLimit-Limit": str(self.settings.bitmex_requests_per_minute),
            "X-RateLimit-Remaining": str(math.floor(tokens)),
            "X-RateLimit-Reset": str(math.ceil(now_s + full_in_s)),
        }

    @property
    def _refill_per_s(self) -> float:
        return self.settings.bitmex_requests_per_minute / 60

    def _tokens(self, *, ip: str, now_s: float) -> float:
        capacity = float(self.settings.bitmex_requests_per_minute)
        tokens, at_s = self._buckets.get(ip, (capacity, now_s))
        return min(capacity, tokens + max(0.0, now_s - at_s) * self._refill_per_s)


@dataclass(slots=True)
class HyperliquidWeights:
    """Hyperliquid's per-IP weight over a sliding minute. `charge` returns the 429, or None."""

    settings: RateLimitSettings
    _spent: dict[str, list[tuple[float, int]]] = field(default_factory=dict)

    def charge(self, *, ip: str, weight: int, now_s: float) -> Reply | None:
        spent = self._window(ip=ip, now_s=now_s)
        if sum(w for _, w in spent) + weight > self.settings.hyperliquid_weight_per_minute:
            return Reply(None, status=429)
        spent.append((now_s, weight))
        return None

    def add(self, *, ip: str, weight: int, now_s: float) -> None:
        """Weight known only from the answer (per candle or trade returned)."""
        self._window(ip=ip, now_s=now_s).append((now_s, weight))

    def _window(self, *, ip: str, now_s: float) -> list[tuple[float, int]]:
        kept = [(at, w) for at, w in self._spent.get(ip, []) if at > now_s - 60]
        self._spent[ip] = kept
        return kept
