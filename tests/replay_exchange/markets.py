"""One market's replayable data, and what of it is visible at a given moment.

A market is assembled from every file recorded for its symbol. Where trades exist they are the
truth: candles of the minutes they cover are built from them, as the exchange builds its own.
The first minute of a trade recording is usually partial (the recorder started mid-minute), so
a recorded candle for that minute, when a candle file has one, is served instead. Minutes outside
the trades come from candle files. A market with candle files only has no trades, never
invented ones.

The in-progress candle is what both exchanges put last in a candle answer. From trades it is the
aggregate of the minute's trades so far. A candle-only recording holds nothing finer than the
minute, so its in-progress candle shows the recorded values of that minute (values that really
occurred, revealed before the minute ends) and is never marked closed until the minute is over.

Where the exchange opens each candle at the previous close (BitMEX, `CandleRules`), candles built
from trades, the in-progress one included, are opened that way too.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from tests.replay_exchange.candles import (
    aggregate_trades,
    candle_from_trades,
    candles_from_trades,
    empty_candle,
    fill_empty_minutes,
)
from tests.replay_exchange.models import (
    MINUTE_MS,
    NS_PER_MS,
    PLAIN_CANDLES,
    AggTrade,
    Candle,
    CandleRules,
    RecordedSeries,
    Trade,
    minute_floor,
    recorded_trade_id,
)


@dataclass(frozen=True)
class Market:
    """A market's trades and final candles (contiguous minutes), in one time frame."""

    symbol: str
    trades: tuple[Trade, ...]
    candles: tuple[Candle, ...]
    agg_trades: tuple[AggTrade, ...]
    # Minutes whose in-progress candle is built from trades: [live_from_ms, live_until_ms].
    live_from_ms: int | None
    live_until_ms: int | None
    sources: tuple[str, ...]
    open_is_previous_close: bool = False

    @property
    def has_trades(self) -> bool:
        return bool(self.trades)

    @property
    def first_ms(self) -> int:
        return self.candles[0].open_ms

    @property
    def end_ms(self) -> int:
        """When the recording ends: the close of its last minute."""
        return self.candles[-1].open_ms + MINUTE_MS

    @functools.cached_property
    def trade_times(self) -> list[int]:
        return [t.time_ns for t in self.trades]

    @functools.cached_property
    def trade_ids(self) -> list[int]:
        return [t.trade_id for t in self.trades]

    @functools.cached_property
    def agg_times(self) -> list[int]:
        return [a.time_ns for a in self.agg_trades]

    @functools.cached_property
    def _shifted_copies(self) -> dict[int, Market]:
        return {}

    def shifted(self, *, offset_ms: int) -> Market:
        """The same market with every time moved by `offset_ms` (a whole number of minutes).

        Memoized: servers started within the same wall-clock minute share an offset.
        """
        if offset_ms not in self._shifted_copies:
            self._shifted_copies[offset_ms] = self._shift(offset_ms)
        return self._shifted_copies[offset_ms]

    def _shift(self, offset_ms: int) -> Market:
        offset_ns = offset_ms * NS_PER_MS
        return dataclasses.replace(
            self,
            trades=tuple(
                dataclasses.replace(t, time_ns=t.time_ns + offset_ns) for t in self.trades
            ),
            candles=tuple(
                dataclasses.replace(c, open_ms=c.open_ms + offset_ms) for c in self.candles
            ),
            agg_trades=tuple(
                dataclasses.replace(a, time_ns=a.time_ns + offset_ns) for a in self.agg_trades
            ),
            live_from_ms=None if self.live_from_ms is None else self.live_from_ms + offset_ms,
            live_until_ms=None if self.live_until_ms is None else self.live_until_ms + offset_ms,
        )

    def visible_trades(self, *, now_ns: int) -> int:
        """How many trades (a prefix of `trades`) have happened by `now_ns`."""
        return bisect.bisect_right(self.trade_times, now_ns)

    def visible_agg_trades(self, *, now_ns: int) -> int:
        return bisect.bisect_right(self.agg_times, now_ns)

    def final_candles(self, *, now_ms: int) -> int:
        """How many candles (a prefix of `candles`) have closed by `now_ms`."""
        closed = (now_ms - self.first_ms) // MINUTE_MS
        return max(0, min(len(self.candles), closed))

    def visible_candle_count(self, *, now_ns: int) -> int:
        """Closed candles plus the in-progress one, if the recording covers this minute."""
        in_progress = self.in_progress(now_ns=now_ns)
        return self.final_candles(now_ms=now_ns // NS_PER_MS) + (in_progress is not None)

    def candle_slice(self, *, now_ns: int, start: int, stop: int) -> list[tuple[Candle, bool]]:
        """Visible candles `start:stop` (indexes as in `candles`) with whether each is closed."""
        final = self.final_candles(now_ms=now_ns // NS_PER_MS)
        rows = [(candle, True) for candle in self.candles[max(start, 0) : min(stop, final)]]
        in_progress = self.in_progress(now_ns=now_ns) if start <= final < stop else None
        if in_progress is not None:
            rows.append((in_progress, False))
        return rows

    def latest_close(self, *, now_ns: int) -> Decimal | None:
        """The price as the exchange shows it now: the newest visible candle's close."""
        count = self.visible_candle_count(now_ns=now_ns)
        rows = self.candle_slice(now_ns=now_ns, start=count - 1, stop=count)
        return rows[-1][0].close if rows else None

    def candle_index(self, *, open_ms: int) -> int:
        """Index of the first candle opening at or after `open_ms` (may be out of range)."""
        return -((self.first_ms - open_ms) // MINUTE_MS)

    def in_progress(self, *, now_ns: int) -> Candle | None:
        """The candle of the minute containing `now_ns`, as known at `now_ns`."""
        minute = minute_floor(now_ns // NS_PER_MS)
        index = (minute - self.first_ms) // MINUTE_MS
        if not 0 <= index < len(self.candles):
            return None
        if not self.is_live_minute(minute):
            return self.candles[index]
        start = bisect.bisect_left(self.trade_times, minute * NS_PER_MS)
        stop = self.visible_trades(now_ns=now_ns)
        if stop > start:
            candle = candle_from_trades(open_ms=minute, trades=self.trades[start:stop])
            if self.open_is_previous_close and index > 0:
                candle = dataclasses.replace(candle, open=self.candles[index - 1].close)
            return candle
        if index == 0:
            return None
        return empty_candle(open_ms=minute, previous_close=self.candles[index - 1].close)

    def is_live_minute(self, minute_ms: int) -> bool:
        """Whether this minute's candle is built from trades (else it comes from a candle file)."""
        if self.live_from_ms is None or self.live_until_ms is None:
            return False
        return self.live_from_ms <= minute_ms <= self.live_until_ms


@dataclass(frozen=True)
class Moment:
    """The exchange at one instant: its clock, its markets and which of them are delisted."""

    now_ns: int
    markets: Mapping[str, Market]
    delisted_at_ns: Mapping[str, int]

    @property
    def now_ms(self) -> int:
        return self.now_ns // NS_PER_MS

    def is_listed(self, symbol: str) -> bool:
        delisted_at = self.delisted_at_ns.get(symbol)
        return delisted_at is None or self.now_ns < delisted_at

    def horizon_ns(self, symbol: str) -> int:
        """The last instant whose data the exchange published for `symbol`."""
        return min(self.now_ns, self.delisted_at_ns.get(symbol, self.now_ns))


def assemble_market(
    *, symbol: str, series: Sequence[RecordedSeries], rules: CandleRules = PLAIN_CANDLES
) -> Market:
    """Merge every recording of one symbol into a market (see the module docstring)."""
    trades = _merged_trades(series)
    recorded: dict[int, Candle] = {}
    for one in series:
        for candle in one.candles:
            recorded.setdefault(candle.open_ms, candle)
    live_from_ms = live_until_ms = None
    if trades:
        derived = candles_from_trades(trades)
        live_from_ms, live_until_ms = derived[0].open_ms, derived[-1].open_ms
        if live_from_ms in recorded:
            derived[0] = recorded[live_from_ms]
            live_from_ms += MINUTE_MS
        recorded.update((c.open_ms, c) for c in derived)
    if not recorded:
        raise ValueError(f"{symbol}: the recordings hold no candles or trades")
    candles = fill_empty_minutes(recorded[m] for m in sorted(recorded))
    if rules.open_is_previous_close:
        candles[1:] = [
            dataclasses.replace(candle, open=previous.close)
            for previous, candle in itertools.pairwise(candles)
        ]
    return Market(
        symbol=symbol,
        trades=trades,
        candles=tuple(candles),
        agg_trades=tuple(aggregate_trades(trades)),
        live_from_ms=live_from_ms,
        live_until_ms=live_until_ms,
        sources=tuple(one.source for one in series),
        open_is_previous_close=rules.open_is_previous_close,
    )


def _merged_trades(series: Sequence[RecordedSeries]) -> tuple[Trade, ...]:
    """All trades once each, in time order, with strictly increasing nanosecond times.

    Fills of one order share a recorded time (Kraken's float seconds, Binance's milliseconds).
    Kraken's engine stamps every fill distinctly, and its `last` cursor (exclusive) relies on
    that, so each fill after the first of a shared time is moved 1 ns later: invisible at the
    microseconds of WS v2 and the milliseconds of ccxt, and no page boundary can split a group.
    """
    if any(t.exchange_id is not None for one in series for t in one.trades):
        return _merged_by_exchange_id(series)
    by_id = {t.trade_id: t for one in series for t in one.trades}
    ordered = sorted(by_id.values(), key=lambda t: (t.time_ns, t.trade_id))
    ids = [t.trade_id for t in ordered]
    if ids != sorted(ids):
        raise ValueError("trade ids do not grow with time; id paging (fromId) would be wrong")
    return _distinct_times(ordered)


def _merged_by_exchange_id(series: Sequence[RecordedSeries]) -> tuple[Trade, ...]:
    """Trades whose exchange id is no sequence (a UUID, a scattered number): once each by that
    id, first seen kept (overlapping pages hold the same trades), in recorded order within a
    time; `trade_id` becomes the position, the only order such an exchange has."""
    by_key: dict[str, Trade] = {}
    for one in series:
        for trade in one.trades:
            by_key.setdefault(recorded_trade_id(trade), trade)
    ordered = sorted(by_key.values(), key=lambda t: t.time_ns)  # stable: recorded order kept
    numbered = [dataclasses.replace(t, trade_id=n) for n, t in enumerate(ordered, start=1)]
    return _distinct_times(numbered)


def _distinct_times(ordered: Sequence[Trade]) -> tuple[Trade, ...]:
    trades: list[Trade] = []
    for trade in ordered:
        if trades and trade.time_ns <= trades[-1].time_ns:
            trade = dataclasses.replace(trade, time_ns=trades[-1].time_ns + 1)
        trades.append(trade)
    return tuple(trades)
