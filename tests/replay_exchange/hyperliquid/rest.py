"""Hyperliquid POST /info: one endpoint, the request's `type` says what is asked.

Semantics from Hyperliquid's API documentation and the recorded bodies:
- meta, metaAndAssetCtxs: the perpetuals served; spotMeta, spotMetaAndAssetCtxs: the spot
  pairs served (payloads.py); perpDexs: [null] (only the main dex); exchangeStatus: the
  exchange's time.
- candleSnapshot `{"req": {"coin", "interval", "startTime", "endTime"}}`: the candles that
  overlap [startTime, endTime] (so the first may open before startTime, as recorded), oldest
  first, taken only from the most recent 5000 candles (HISTORY_CANDLES); minutes without trades
  have no candle. The last row may be the minute in progress. Only interval 1m is replayed.
- recentTrades `{"coin"}`: the most recent trades, oldest first (RECENT_TRADES of them).
An unknown coin gets []; a malformed request or unknown type gets HTTP 422 with Hyperliquid's
plain-text complaint.
"""

from __future__ import annotations

from typing import Any

from tests.replay_exchange.hyperliquid import payloads
from tests.replay_exchange.markets import Market, Moment
from tests.replay_exchange.models import MINUTE_MS, Endpoint, ExchangeRefusalError, Reply
from tests.replay_exchange.venue import Params

HISTORY_CANDLES = 5000
RECENT_TRADES = 10
UNREADABLE = "Failed to deserialize the JSON body into the target type"


class HyperliquidError(ExchangeRefusalError):
    def reply(self) -> Reply:
        return Reply(str(self), status=422)


def info(*, params: Params, moment: Moment) -> Reply:
    kind = params.get("type")
    if kind == "meta":
        return Reply(_meta(moment)[0])
    if kind == "metaAndAssetCtxs":
        return Reply(_meta(moment))
    if kind == "spotMeta":
        return Reply(_spot(moment)[0])
    if kind == "spotMetaAndAssetCtxs":
        return Reply(_spot(moment))
    if kind == "perpDexs":
        return Reply([None])
    if kind == "exchangeStatus":
        return Reply({"time": moment.now_ms, "specialStatuses": None})
    if kind == "candleSnapshot":
        return Reply(_candles(params.get("req"), moment))
    if kind == "recentTrades":
        return Reply(_recent_trades(params, moment))
    raise HyperliquidError(UNREADABLE)


def _meta(moment: Moment) -> list[Any]:
    return payloads.meta_and_contexts(coins=_prices(moment, spot=False))


def _spot(moment: Moment) -> list[Any]:
    return payloads.spot_meta_and_contexts(pairs=_prices(moment, spot=True))


def _prices(moment: Moment, *, spot: bool) -> dict[str, Any]:
    """Coin -> current price of the listed perpetuals, or of the listed spot pairs."""
    return {
        payloads.coin(symbol): market.latest_close(now_ns=moment.now_ns)
        for symbol, market in sorted(moment.markets.items())
        if moment.is_listed(symbol) and payloads.is_spot(symbol) == spot
    }


def _candles(request: Any, moment: Moment) -> list[dict[str, Any]]:
    if not isinstance(request, dict) or not {"coin", "interval", "startTime"} <= set(request):
        raise HyperliquidError(UNREADABLE)
    if request["interval"] != "1m":
        raise HyperliquidError("only the 1m interval is replayed")
    found = _market(str(request["coin"]), moment)
    if found is None:
        return []
    symbol, market = found
    start_ms, end_ms = int(request["startTime"]), int(request.get("endTime") or moment.now_ms)
    count = market.visible_candle_count(now_ns=moment.now_ns)
    window = market.candle_slice(
        now_ns=moment.now_ns, start=max(count - HISTORY_CANDLES, 0), stop=count
    )
    return [
        payloads.candle_row(candle=candle, symbol=symbol)
        for candle, _ in window
        if not candle.is_empty
        and candle.open_ms + MINUTE_MS > start_ms
        and candle.open_ms <= end_ms
    ]


def _recent_trades(params: Params, moment: Moment) -> list[dict[str, Any]]:
    found = _market(str(params.get("coin", "")), moment)
    if found is None:
        return []
    symbol, market = found
    visible = market.visible_trades(now_ns=moment.now_ns)
    recent = market.trades[max(visible - RECENT_TRADES, 0) : visible]
    return [payloads.trade_row(trade=t, symbol=symbol) for t in recent]


def _market(coin: str, moment: Moment) -> tuple[str, Market] | None:
    for symbol, market in moment.markets.items():
        if payloads.coin(symbol) == coin and moment.is_listed(symbol):
            return symbol, market
    return None


ENDPOINTS = (Endpoint("/info", "info", info, method="POST"),)
