"""Building candles from trades, and Binance's aggregate trades, the way the exchanges do.

Both exchanges report a candle for every minute, including minutes in which nothing traded:
such a candle repeats the previous close as open, high, low and close with zero volume (Kraken
adds count 0 and vwap "0.0"). Kraken's downloadable files and trade-built CSVs omit those
minutes, so `fill_empty_minutes` restores them when the files are served, while the candle's
`is_empty` keeps them distinguishable for the ground truth.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from decimal import Decimal

from tests.replay_exchange.models import (
    EIGHT_PLACES,
    MINUTE_MS,
    AggTrade,
    Candle,
    Trade,
    minute_floor,
)

_DECIMAL_ZERO = Decimal(0)


def candle_from_trades(*, open_ms: int, trades: Sequence[Trade]) -> Candle:
    """The candle of one minute from the trades in it (at least one, in time order)."""
    volume = sum((t.amount for t in trades), start=_DECIMAL_ZERO)
    quote = sum((t.price * t.amount for t in trades), start=_DECIMAL_ZERO)
    buys = [t for t in trades if t.side == "buy"]
    return Candle(
        open_ms=open_ms,
        open=trades[0].price,
        high=max(t.price for t in trades),
        low=min(t.price for t in trades),
        close=trades[-1].price,
        volume=volume,
        trade_count=len(trades),
        quote_volume=quote.quantize(EIGHT_PLACES),
        taker_buy_volume=sum((t.amount for t in buys), start=_DECIMAL_ZERO),
        taker_buy_quote_volume=sum(
            (t.price * t.amount for t in buys), start=_DECIMAL_ZERO
        ).quantize(EIGHT_PLACES),
        vwap=quote / volume if volume else None,
        first_trade_id=trades[0].trade_id,
        last_trade_id=trades[-1].trade_id,
    )


def empty_candle(*, open_ms: int, previous_close: Decimal) -> Candle:
    """A minute without trades: the previous close throughout, nothing traded."""
    return Candle(
        open_ms=open_ms,
        open=previous_close,
        high=previous_close,
        low=previous_close,
        close=previous_close,
        volume=_DECIMAL_ZERO,
        trade_count=0,
        quote_volume=_DECIMAL_ZERO,
        taker_buy_volume=_DECIMAL_ZERO,
        taker_buy_quote_volume=_DECIMAL_ZERO,
    )


def candles_from_trades(trades: Sequence[Trade]) -> list[Candle]:
    """One candle per minute from the first trade's minute to the last's, gaps filled."""
    by_minute = [
        candle_from_trades(open_ms=minute, trades=list(group))
        for minute, group in itertools.groupby(trades, key=lambda t: minute_floor(t.time_ms))
    ]
    return fill_empty_minutes(by_minute)


def fill_empty_minutes(candles: Iterable[Candle]) -> list[Candle]:
    """The same candles, with an empty candle for every minute missing between two of them."""
    filled: list[Candle] = []
    for candle in candles:
        if filled:
            minute = filled[-1].open_ms + MINUTE_MS
            while minute < candle.open_ms:
                filled.append(empty_candle(open_ms=minute, previous_close=filled[-1].close))
                minute += MINUTE_MS
        filled.append(candle)
    return filled


def aggregate_trades(trades: Sequence[Trade]) -> list[AggTrade]:
    """Binance aggregate trades: runs of consecutive fills with one price, millisecond and side.

    Binance groups the fills of one taker order at one price; the recording does not say which
    order a fill came from, so consecutive fills that share time, price and taker side stand in.
    Aggregate ids count from 1: a separate id space, far from the trade ids, so that a client
    mixing the two (REST aggTrades against WS @trade) shows up as mismatched ids.
    """
    runs = itertools.groupby(trades, key=lambda t: (t.time_ms, t.price, t.side))
    aggregated = []
    for agg_id, (_, run) in enumerate(runs, start=1):
        fills = list(run)
        aggregated.append(
            AggTrade(
                agg_id=agg_id,
                first_trade_id=fills[0].trade_id,
                last_trade_id=fills[-1].trade_id,
                time_ns=fills[0].time_ns,
                price=fills[0].price,
                amount=sum((f.amount for f in fills), start=_DECIMAL_ZERO),
                side=fills[0].side,
            )
        )
    return aggregated
