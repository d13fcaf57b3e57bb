"""Binance spot REST market data: query semantics as pure functions of (parameters, moment).

Semantics reproduced from Binance's documentation and what ccxt relies on:
- klines: `limit` default 500, at most 1000 (larger values are capped); with `startTime` the
  candles opening at or after it, oldest first; with only `endTime` the newest ones opening at or
  before it; without either the newest ones. The last row may be the minute in progress.
- aggTrades: `fromId` (inclusive), or `startTime`/`endTime` (inclusive, at most one hour apart,
  which is exactly what ccxt sends), or the most recent ones.
- trades: the most recent ones; historicalTrades: from `fromId` (inclusive), else most recent.
Nothing later than the exchange clock is ever returned. Only the 1m interval is replayed.
A delisted symbol answers -1121 "Invalid symbol." on data endpoints.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import TypeVar

from tests.replay_exchange.binance import payloads
from tests.replay_exchange.markets import Market, Moment
from tests.replay_exchange.models import NS_PER_MS, Endpoint, ExchangeRefusalError, Reply
from tests.replay_exchange.symbols import binance_id

Item = TypeVar("Item")
Params = Mapping[str, str]

_DEFAULT_LIMIT = 500
_MAX_LIMIT = 1000
_HOUR_MS = 3_600_000


class BinanceError(ExchangeRefusalError):
    """An error answer; handlers turn it into HTTP 400 with Binance's error body."""

    def __init__(self, code_and_message: tuple[int, str]) -> None:
        super().__init__(code_and_message[1])
        self.code_and_message = code_and_message

    def reply(self) -> Reply:
        return Reply(payloads.error(self.code_and_message), status=400)


def exchange_info(*, params: Params, moment: Moment) -> Reply:
    listings = [(symbol, moment.is_listed(symbol)) for symbol in sorted(moment.markets)]
    return Reply(payloads.exchange_info(listings=listings, server_time_ms=moment.now_ms))


def server_time(*, params: Params, moment: Moment) -> Reply:
    return Reply({"serverTime": moment.now_ms})


def ping(*, params: Params, moment: Moment) -> Reply:
    return Reply({})


def futures_exchange_info(*, params: Params, moment: Moment) -> Reply:
    """USD-M and COIN-M exchangeInfo with no contracts: only spot is replayed, but ccxt's
    default load_markets asks all three and would fail on a missing one."""
    body = {"timezone": "UTC", "serverTime": moment.now_ms, "rateLimits": [], "exchangeFilters": []}
    return Reply({**body, "assets": [], "symbols": []})


def klines(*, params: Params, moment: Moment) -> Reply:
    market = _market(params, moment)
    interval = params.get("interval")
    if not interval:
        raise BinanceError(payloads.MISSING_INTERVAL)
    if interval != "1m":
        raise BinanceError(payloads.INVALID_INTERVAL)
    limit = _limit(params)
    count = market.visible_candle_count(now_ns=moment.now_ns)
    start_ms, end_ms = _number(params, "startTime"), _number(params, "endTime")
    stop = count if end_ms is None else min(count, market.candle_index(open_ms=end_ms + 1))
    if start_ms is not None:
        start = max(market.candle_index(open_ms=start_ms), 0)
        stop = min(stop, start + limit)
    else:
        start = stop - limit
    rows = market.candle_slice(now_ns=moment.now_ns, start=start, stop=stop)
    return Reply([payloads.kline_row(candle) for candle, _ in rows])


def agg_trades(*, params: Params, moment: Moment) -> Reply:
    market = _market(params, moment)
    limit = _limit(params)
    visible = market.agg_trades[: market.visible_agg_trades(now_ns=moment.now_ns)]
    from_id = _number(params, "fromId")
    start_ms, end_ms = _number(params, "startTime"), _number(params, "endTime")
    if start_ms is not None and end_ms is not None and end_ms - start_ms > _HOUR_MS:
        raise BinanceError(payloads.RANGE_TOO_WIDE)
    stop = len(visible)
    if end_ms is not None:
        stop = bisect.bisect_left(market.agg_times, (end_ms + 1) * NS_PER_MS, hi=stop)
    if from_id is not None:
        start: int | None = max(from_id - visible[0].agg_id, 0) if visible else 0
    elif start_ms is not None:
        start = bisect.bisect_left(market.agg_times, start_ms * NS_PER_MS, hi=stop)
    else:
        start = None
    return Reply([payloads.agg_trade_row(a) for a in _page(visible, start, stop, limit)])


def recent_trades(*, params: Params, moment: Moment) -> Reply:
    market = _market(params, moment)
    visible = market.visible_trades(now_ns=moment.now_ns)
    page = _page(market.trades, None, visible, _limit(params))
    return Reply([payloads.trade_row(t) for t in page])


def historical_trades(*, params: Params, moment: Moment) -> Reply:
    market = _market(params, moment)
    visible = market.visible_trades(now_ns=moment.now_ns)
    from_id = _number(params, "fromId")
    start = None if from_id is None else bisect.bisect_left(market.trade_ids, from_id, hi=visible)
    page = _page(market.trades, start, visible, _limit(params))
    return Reply([payloads.trade_row(t) for t in page])


def _page(items: Sequence[Item], start: int | None, stop: int, limit: int) -> Sequence[Item]:
    """`limit` items from `start` on, or the last `limit` before `stop` when there is no start."""
    if start is None:
        return items[max(stop - limit, 0) : stop]
    return items[start : min(stop, start + limit)]


def _market(params: Params, moment: Moment) -> Market:
    market_id = params.get("symbol")
    if not market_id:
        raise BinanceError(payloads.MISSING_SYMBOL)
    for symbol, market in moment.markets.items():
        if binance_id(symbol) == market_id.upper() and moment.is_listed(symbol):
            return market
    raise BinanceError(payloads.INVALID_SYMBOL)


def _limit(params: Params) -> int:
    limit = _number(params, "limit")
    return _DEFAULT_LIMIT if limit is None else max(1, min(limit, _MAX_LIMIT))


def _number(params: Params, name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not value.lstrip("-").isdigit():
        raise BinanceError(payloads.BAD_NUMBER)
    return int(value)


ENDPOINTS = (
    Endpoint("/api/v3/ping", "ping", ping),
    Endpoint("/api/v3/time", "time", server_time),
    Endpoint("/api/v3/exchangeInfo", "exchangeInfo", exchange_info),
    Endpoint("/api/v3/klines", "klines", klines),
    Endpoint("/api/v3/aggTrades", "aggTrades", agg_trades),
    Endpoint("/api/v3/trades", "trades", recent_trades),
    Endpoint("/api/v3/historicalTrades", "historicalTrades", historical_trades),
    Endpoint("/fapi/v1/exchangeInfo", "ping", futures_exchange_info),
    Endpoint("/dapi/v1/exchangeInfo", "ping", futures_exchange_info),
)
