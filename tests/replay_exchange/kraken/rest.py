"""Kraken spot REST market data: query semantics as pure functions of (parameters, moment).

Semantics reproduced from Kraken's documentation and a recorded OHLC body:
- OHLC serves only the 720 most recent committed candles plus the one in progress (721 rows, as
  recorded), whatever `since` says; `since` (seconds) only filters inside that window, keeping
  committed candles opening after it, and never drops the in-progress row. `last` is the open
  time of the newest committed candle. A backfill asking for older data gets no error, only a gap.
- Trades returns at most `count` (default and maximum 1000) trades after `since`, oldest first;
  `since` is taken as seconds when it is small and as nanoseconds (the `last` cursor) otherwise;
  without `since` the most recent trades. `last` is the time, in ns, of the last trade returned.
- The pair may be named by its id (XXBTZUSD) or altname (XBTUSD), in any case; answers are keyed
  by the id. Errors travel with HTTP 200 in the `error` list. Only interval 1 is replayed.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from tests.replay_exchange.clock import iso_utc
from tests.replay_exchange.kraken import payloads
from tests.replay_exchange.markets import Market, Moment
from tests.replay_exchange.models import Endpoint, ExchangeRefusalError, Reply
from tests.replay_exchange.symbols import KrakenNames, kraken_names

Params = Mapping[str, str]

OHLC_WINDOW = 720
MAX_TRADES = 1000
_SECONDS_BELOW = 10**12  # a `since` under this is seconds, above it nanoseconds
_NS_PER_S = 1_000_000_000


class KrakenError(ExchangeRefusalError):
    """An error answer: HTTP 200 with the message in the `error` list."""

    def reply(self) -> Reply:
        return Reply(payloads.failure(str(self)))


def listed_symbols(moment: Moment) -> list[str]:
    return [symbol for symbol in sorted(moment.markets) if moment.is_listed(symbol)]


def assets(*, params: Params, moment: Moment) -> Reply:
    return Reply(payloads.assets(symbols=sorted(moment.markets)))


def asset_pairs(*, params: Params, moment: Moment) -> Reply:
    return Reply(payloads.asset_pairs(symbols=listed_symbols(moment)))


def server_time(*, params: Params, moment: Moment) -> Reply:
    return Reply(payloads.server_time(now_ms=moment.now_ms))


def system_status(*, params: Params, moment: Moment) -> Reply:
    return Reply(
        payloads.ok({"status": "online", "timestamp": iso_utc(ns=moment.now_ns, digits=0)})
    )


def ohlc(*, params: Params, moment: Moment) -> Reply:
    names, market = find_pair(params.get("pair", ""), moment)
    if params.get("interval", "1") != "1":
        raise KrakenError(payloads.INVALID_ARGUMENTS)
    since_s = _decimal(params.get("since"))
    count = market.visible_candle_count(now_ns=moment.now_ns)
    committed = market.final_candles(now_ms=moment.now_ms)
    window = market.candle_slice(
        now_ns=moment.now_ns, start=max(committed - OHLC_WINDOW, 0), stop=count
    )
    rows = [
        payloads.ohlc_row(candle=candle, pair_decimals=names.pair_decimals)
        for candle, closed in window
        if not closed or since_s is None or candle.open_ms // 1000 > since_s
    ]
    last = market.candles[committed - 1].open_ms // 1000 if committed else 0
    return Reply(payloads.ok({names.pair_id: rows, "last": last}))


def trades(*, params: Params, moment: Moment) -> Reply:
    names, market = find_pair(params.get("pair", ""), moment)
    since_ns = _since_ns(params.get("since"))
    count = max(1, min(int(_decimal(params.get("count")) or MAX_TRADES), MAX_TRADES))
    visible = market.visible_trades(now_ns=moment.now_ns)
    if since_ns is None:
        start = max(visible - count, 0)
    else:
        start = bisect.bisect_right(market.trade_times, since_ns, hi=visible)
    page = market.trades[start : min(visible, start + count)]
    # With nothing new, Kraken hands back the cursor it was given.
    cursor = moment.now_ns if since_ns is None else since_ns
    last = page[-1].time_ns if page else cursor
    body = payloads.ok({names.pair_id: [payloads.trade_row(t) for t in page], "last": str(last)})
    return Reply(body)


def find_pair(pair: str, moment: Moment) -> tuple[KrakenNames, Market]:
    """The listed market Kraken knows by `pair` (id or altname, any case)."""
    wanted = pair.upper()
    for symbol in listed_symbols(moment):
        names = kraken_names(symbol)
        if wanted in (names.pair_id, names.altname):
            return names, moment.markets[symbol]
    raise KrakenError(payloads.UNKNOWN_PAIR)


def _since_ns(value: str | None) -> int | None:
    since = _decimal(value)
    if since is None:
        return None
    return int(since * _NS_PER_S) if since < _SECONDS_BELOW else int(since)


def _decimal(value: str | None) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise KrakenError(payloads.INVALID_ARGUMENTS) from None


ENDPOINTS = (
    Endpoint("/0/public/Time", "Time", server_time),
    Endpoint("/0/public/SystemStatus", "SystemStatus", system_status),
    Endpoint("/0/public/Assets", "Assets", assets),
    Endpoint("/0/public/AssetPairs", "AssetPairs", asset_pairs),
    Endpoint("/0/public/OHLC", "OHLC", ohlc),
    Endpoint("/0/public/Trades", "Trades", trades),
)
