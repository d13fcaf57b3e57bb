"""BitMEX REST market data: query semantics as pure functions of (parameters, moment).

Semantics from BitMEX's API explorer and the recorded bodies:
- GET /api/v1/instrument/active: the listed contracts (a delisted one is absent).
- GET /api/v1/trade: `symbol`; `startTime`/`endTime` (ISO 8601, both inclusive) filter on the
  trade time; `reverse=true` sorts newest first (else oldest first); `start` skips that many rows
  of the result; `count` rows at most (default 100, at most 1000, more is a ValidationError).
  Pages of equal timestamps are contiguous because `start` counts rows, not times.
- GET /api/v1/trade/bucketed: the same paging over 1m bins, which are labelled by their END and
  filtered on that label; `partial=true` adds the bin in progress (labelled by its future end);
  a minute without trades is a bin with trades 0 at the previous close; only binSize=1m is
  replayed.
Nothing later than the exchange clock is returned. An unknown or delisted symbol gets [].
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from tests.replay_exchange.bitmex import payloads
from tests.replay_exchange.markets import Market, Moment
from tests.replay_exchange.models import (
    MINUTE_MS,
    NS_PER_MS,
    Endpoint,
    ExchangeRefusalError,
    Reply,
)
from tests.replay_exchange.venue import Params

Row = TypeVar("Row")

DEFAULT_COUNT = 100
MAX_COUNT = 1000
BIN_SIZES = ("1m", "5m", "1h", "1d")


class BitmexError(ExchangeRefusalError):
    """HTTP 400 with BitMEX's `{"error": {"message", "name"}}` body."""

    def reply(self) -> Reply:
        return Reply(payloads.error(message=str(self), name="ValidationError"), status=400)


def instruments(*, params: Params, moment: Moment) -> Reply:
    entries = []
    for symbol, market in sorted(moment.markets.items()):
        if moment.is_listed(symbol):
            last = market.latest_close(now_ns=moment.now_ns)
            entries.append(
                payloads.instrument(symbol=symbol, now_ms=moment.now_ms, last_price=last)
            )
    return Reply(entries)


def trades(*, params: Params, moment: Moment) -> Reply:
    found = _market(params, moment)
    if found is None:
        return Reply([])
    symbol, market = found
    visible = market.visible_trades(now_ns=moment.now_ns)
    low_ms, high_ms = _time(params, "startTime"), _time(params, "endTime")
    first = 0 if low_ms is None else bisect.bisect_left(market.trade_times, low_ms * NS_PER_MS)
    stop = visible
    if high_ms is not None:
        stop = min(stop, bisect.bisect_left(market.trade_times, (high_ms + 1) * NS_PER_MS))
    indexes = _page(range(first, max(first, stop)), params)
    return Reply(
        [
            payloads.trade_row(
                trade=market.trades[i], symbol=symbol, previous=market.trades[max(0, i - 50) : i]
            )
            for i in indexes
        ]
    )


def bins(*, params: Params, moment: Moment) -> Reply:
    bin_size = params.get("binSize")
    if bin_size not in BIN_SIZES:
        raise BitmexError("binSize is invalid; use one of 1m, 5m, 1h, 1d")
    if bin_size != "1m":
        raise BitmexError("only binSize=1m is replayed")
    found = _market(params, moment)
    if found is None:
        return Reply([])
    symbol, market = found
    partial = str(params.get("partial", "false")).lower() == "true"
    rows = market.candle_slice(now_ns=moment.now_ns, start=0, stop=len(market.candles))
    low_ms, high_ms = _time(params, "startTime"), _time(params, "endTime")
    wanted = [
        candle
        for candle, closed in rows
        if (closed or partial)
        and (low_ms is None or candle.open_ms + MINUTE_MS >= low_ms)
        and (high_ms is None or candle.open_ms + MINUTE_MS <= high_ms)
    ]
    horizon = moment.now_ns
    return Reply(
        [
            payloads.bin_row(
                candle=candle, symbol=symbol, trades=minute_trades(market, candle.open_ms, horizon)
            )
            for candle in _page(wanted, params)
        ]
    )


def minute_trades(market: Market, open_ms: int, now_ns: int) -> Sequence[Any]:
    """The trades of the minute opening at `open_ms` that have happened by `now_ns`."""
    start = bisect.bisect_left(market.trade_times, open_ms * NS_PER_MS)
    stop = bisect.bisect_left(market.trade_times, (open_ms + MINUTE_MS) * NS_PER_MS)
    return market.trades[start : min(stop, market.visible_trades(now_ns=now_ns))]


def _page(rows: Sequence[Row], params: Params) -> list[Row]:
    count = _integer(params, "count", DEFAULT_COUNT)
    if count > MAX_COUNT:
        raise BitmexError(f"count must be less than or equal to {MAX_COUNT}")
    ordered = (
        list(reversed(rows)) if str(params.get("reverse", "")).lower() == "true" else list(rows)
    )
    skip = _integer(params, "start", 0)
    return ordered[skip : skip + max(count, 0)]


def _market(params: Params, moment: Moment) -> tuple[str, Market] | None:
    wanted = str(params.get("symbol", "")).upper()
    for symbol, market in moment.markets.items():
        if payloads.market_id(symbol) == wanted and moment.is_listed(symbol):
            return symbol, market
    return None


def _integer(params: Params, name: str, default: int) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise BitmexError(f"{name} must be an integer") from None


def _time(params: Params, name: str) -> int | None:
    value = params.get(name)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BitmexError(f"{name} is not a valid date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


ENDPOINTS = (
    Endpoint("/api/v1/instrument/active", "instrument", instruments),
    Endpoint("/api/v1/trade", "trade", trades),
    Endpoint("/api/v1/trade/bucketed", "bucketed", bins),
)
