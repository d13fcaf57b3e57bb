"""Trades to 1-minute candles, exactly as the exchanges build them.

A minute's candle opens at its first trade and closes at its last, in the exchange's
order: by time, then by trade id (ids are sequence numbers on every exchange that has
them). Volume is the exact decimal sum, so a candle built here equals the exchange's
own candle for the same minute. Minutes without trades get no candle: they are
recorded as known-empty through coverage, never invented.
"""

from collections.abc import Iterable
from decimal import Decimal

from ohlcv_collector.models import Candle, TimeRange, Trade, floor_minute


def trade_order(trade: Trade) -> tuple[int, int, int, str]:
    """Sort key of the exchange's trade sequence: time, then numeric id, then text id."""
    numeric = trade.trade_id.isdigit()
    return (trade.time, 0 if numeric else 1, int(trade.trade_id) if numeric else 0, trade.trade_id)


def candle_of_minute(*, minute_trades: list[Trade]) -> Candle:
    """The candle of one minute's trades, which must be in exchange order and non-empty."""
    first = minute_trades[0]
    prices = [trade.price for trade in minute_trades]
    return Candle(
        exchange=first.exchange,
        symbol=first.symbol,
        start=floor_minute(first.time),
        open=first.price,
        high=max(prices),
        low=min(prices),
        close=minute_trades[-1].price,
        volume=sum((trade.amount for trade in minute_trades), Decimal(0)),
        trades=len(minute_trades),
    )


def candles_from_trades(trades: Iterable[Trade]) -> list[Candle]:
    """1m candles of `trades` (any order, duplicates allowed), one per minute that has trades."""
    unique = {(t.trade_id, t.time): t for t in trades}
    by_minute: dict[int, list[Trade]] = {}
    for trade in sorted(unique.values(), key=trade_order):
        by_minute.setdefault(floor_minute(trade.time), []).append(trade)
    return [candle_of_minute(minute_trades=by_minute[m]) for m in sorted(by_minute)]


class MinuteAssembler:
    """Holds trades of minutes that are not yet complete and releases their candles once
    they are: when the stream's or the backfill's coverage includes their whole minute.

    Trades for a minute that was already released are returned as late, so the caller
    can repair that minute instead of silently storing a wrong candle.
    """

    def __init__(self) -> None:
        self._pending: dict[int, dict[tuple[str, int], Trade]] = {}
        self._released_before: int | None = None

    def add(self, trades: Iterable[Trade]) -> list[Trade]:
        """Take trades in; returns those that fall in already released minutes."""
        late: list[Trade] = []
        for trade in trades:
            minute = floor_minute(trade.time)
            if self._released_before is not None and minute < self._released_before:
                late.append(trade)
                continue
            self._pending.setdefault(minute, {})[(trade.trade_id, trade.time)] = trade
        return late

    def release(self, window: TimeRange) -> list[Candle]:
        """Candles of the pending minutes inside `window` (whole minutes whose trades are all
        here), oldest first; pending minutes before it are incomplete and are dropped."""
        candles = []
        for minute in sorted(m for m in self._pending if m < window.end):
            minute_trades = self._pending.pop(minute)
            if minute >= window.start:
                ordered = sorted(minute_trades.values(), key=trade_order)
                candles.append(candle_of_minute(minute_trades=ordered))
        if self._released_before is None or window.end > self._released_before:
            self._released_before = window.end
        return candles

    def reset(self) -> None:
        """Forget pending trades, e.g. after a reconnect, when the repair refetches them."""
        self._pending.clear()
        self._released_before = None
