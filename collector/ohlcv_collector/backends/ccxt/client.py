"""Building the ccxt exchange object, and translating ccxt's failures into the ports' errors.

One ccxt.pro exchange object serves both REST (ccxt.pro classes extend the
async_support ones) and WebSocket, so markets are loaded once and one throttle paces
every REST call of the exchange.
"""

from collections.abc import Mapping
from typing import Any

import ccxt
import ccxt.async_support
import ccxt.pro

from ohlcv_collector.backends.budget import RequestBudget
from ohlcv_collector.ports import (
    ExchangeCapabilities,
    ExchangeUnavailableError,
    MarketDataError,
    RateLimitedError,
    SymbolUnavailableError,
    UnsupportedRequestError,
)

# ccxt keeps at most this many streamed trades per symbol between two reads; more
# arriving in between is detected as an overflow and repaired over REST. Not ccxt.pro's
# own 1,000 (options "tradesLimit" in ccxt/pro/binance.py): at 100 symbols and 80
# trades/s each in bench B1, a stall of a few seconds overflowed 1,000 for 47 symbols at
# once. The size costs memory only while trades wait unread: CcxtMarket.trades empties
# the cache after each read (ccxt otherwise keeps the last 20,000 delivered: 1,252 MB).
TRADES_LIMIT = 20_000

# A damaged WebSocket frame stops ccxt's receive loop without an error; only the
# keepalive ping going unanswered reveals it. ccxt's default for Binance is 180 s.
KEEPALIVE_MS = 20_000

# Defaults that make REST and WebSocket agree, per exchange. Binance's REST trade
# history is aggregate trades (ids `a`) while its default trade stream is raw trades
# (ids `t`): two id spaces that could not be deduplicated against each other.
EXCHANGE_DEFAULTS: dict[str, dict[str, Any]] = {
    "binance": {
        "options": {"watchTrades": {"name": "aggTrade"}, "fetchMarkets": {"types": ["spot"]}}
    },
}


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `override` merged in, nested mappings merged key by key."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def exchange_ids() -> frozenset[str]:
    """The exchange ids ccxt has (REST; those with WebSocket support are among them)."""
    return frozenset(ccxt.async_support.exchanges)


class UnknownExchangeError(ValueError):
    """ccxt has no exchange of that id."""


def share_rate_limit(exchange: Any, budget: RequestBudget) -> None:
    """Make each REST request also reserve its cost from `budget`.

    ccxt awaits `exchange.throttle(cost)` before every REST request, `cost` in units of
    which it spends 1000 / rateLimit per second; the budget gets the same units at the
    same rate, so all replicas together keep the pace ccxt keeps for one process.
    """
    if not exchange.enableRateLimit or not exchange.rateLimit or exchange.rateLimit <= 0:
        return
    local = exchange.throttle
    bucket = exchange.tokenBucket
    rate, capacity = 1000 / exchange.rateLimit, float(bucket.get("capacity", 1))

    async def throttle(cost: float | None = None) -> None:
        await local(cost)
        spent = float(bucket.get("cost", 1) if cost is None else cost)
        await budget.acquire(cost=spent, rate=rate, capacity=capacity)

    exchange.throttle = throttle


def build_exchange(
    *,
    exchange_id: str,
    options: Mapping[str, Any],
    urls: Mapping[str, Any],
    budget: RequestBudget | None = None,
) -> Any:
    """A ccxt.pro exchange (async_support when ccxt has no WebSocket support for it).

    `urls` is merged into `urls['api']`, which is how tests, benchmarks and the demo
    point the collector at a replay exchange; with a `budget`, REST requests are paced
    by it as well as by ccxt.
    """
    module = ccxt.pro if exchange_id in ccxt.pro.exchanges else ccxt.async_support
    if exchange_id not in exchange_ids():
        raise UnknownExchangeError(
            f"exchange {exchange_id!r} is not supported by ccxt {ccxt.__version__}"
        )
    config = deep_merge(
        deep_merge({"enableRateLimit": True, "options": {"tradesLimit": TRADES_LIMIT},
                    "streaming": {"keepAlive": KEEPALIVE_MS}},
                   EXCHANGE_DEFAULTS.get(exchange_id, {})),
        options,
    )  # fmt: skip
    exchange = getattr(module, exchange_id)(config)
    # Numbers as the exchange's own decimal strings, not floats: `Decimal(text)` is exact
    # and less than half the cost of recovering the decimal from a float (156 against
    # 358 ns), and ccxt itself skips `float()`. ccxt documents `str` as a value of `number`.
    exchange.number = str
    exchange.urls["api"] = deep_merge(exchange.urls["api"], urls)
    if budget is not None:
        share_rate_limit(exchange, budget)
    return exchange


def capabilities_of(exchange: Any) -> ExchangeCapabilities:
    """What the exchange offers, as ccxt describes it: the page size of its spot markets,
    or of its swaps where it has no spot (ccxt's `features`). Whether trade history can be
    paged at all is learnt from the first answer (CcxtMarket.fetch_trades)."""
    has = exchange.has
    features = exchange.features or {}
    swap = features.get("swap") or {}
    market_features = features.get("spot") or swap.get("linear") or swap.get("inverse") or {}
    ohlcv = market_features.get("fetchOHLCV") or {}
    return ExchangeCapabilities(
        candle_page_limit=int(ohlcv.get("limit") or 500),
        trade_page_limit=1000,
        rest_trades=bool(has.get("fetchTrades")),
        stream_trades=bool(has.get("watchTrades")),
        stream_candles=bool(has.get("watchOHLCV")),
    )


def translate(error: Exception, *, exchange: Any) -> MarketDataError:
    """The port error for a ccxt failure; rate limits carry the exchange's Retry-After."""
    message = f"{type(error).__name__}: {error}"
    if isinstance(error, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
        headers = exchange.last_response_headers or {}
        retry_after = headers.get("Retry-After") or headers.get("retry-after")
        try:
            seconds = float(retry_after) if retry_after is not None else None
        except ValueError:
            seconds = None
        return RateLimitedError(message, retry_after=seconds)
    if isinstance(error, ccxt.BadSymbol):
        return SymbolUnavailableError(message)
    if isinstance(error, ccxt.ArgumentsRequired | ccxt.NotSupported):
        return UnsupportedRequestError(message)
    if isinstance(error, ccxt.NetworkError | ccxt.ExchangeNotAvailable):
        return ExchangeUnavailableError(message)
    if isinstance(error, ccxt.BaseError):
        return MarketDataError(message)
    raise error
