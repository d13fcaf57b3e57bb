"""Paging through an exchange's REST history, as state machines without I/O.

A pager is told which hole to fill, says which `since` to request next, and turns
each answer into rows to store and the range those rows make complete. The rules
that keep the stored series exact live here, once, for every exchange:

- The last row of a candle answer may be the bar still in progress, so it is stored
  only once a later row proves it closed: the next page starts at that row again.
- A candle answer that starts after the requested `since` and reaches further than a
  page counted from `since` could (more than `limit` minutes past it) was not counted
  from `since`: the exchange serves a fixed window of its newest candles whatever
  `since` says (Kraken its newest 720, Hyperliquid its newest 5000). The range before
  its first row is then reported as unavailable, and the caller fills it from trades
  where the exchange has trade history, instead of recording it as empty minutes.
  (A gap at the start of an answer that a page from `since` could hold is quiet
  minutes, on exchanges that omit minutes without trades.)
- Where the exchange's clock shows a time closed (`closed_before`), an answer proves
  closed bars and empty minutes without a later row: a market whose data stops (a
  halt, an ended recording, an exchange that omits minutes without trades) serves no
  row after its last bar, so its last bar is closed once its minute is over, and the
  minutes after it that the answer could have held have no bar.
- Trades at the newest timestamp of a page may continue on the next page, so the
  range is complete only up to that timestamp, and the next page starts there,
  skipping the trades already taken.
"""

from dataclasses import dataclass, field

from ohlcv_collector.core.aggregation import trade_order
from ohlcv_collector.models import MINUTE_MS, Candle, TimeRange, Trade, floor_minute

# How far one trade request reaches at most when it comes back empty: Binance answers
# a `since` with one hour of trades, so an empty answer only proves that hour empty.
TRADE_WINDOW_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class CandlePage:
    """What one candle answer means."""

    store: list[Candle]
    covered: TimeRange | None
    unavailable: TimeRange | None = None


@dataclass(slots=True)
class CandlePager:
    """Fills `hole` with closed 1m candles; `hole.end` may lie in the future (up to now).

    `closed_before` is an instant of the exchange's clock by which every minute ending
    at or before it had closed and been published (None when unknown: then only a later
    row proves a bar closed, and an answer without rows proves nothing).
    """

    hole: TimeRange
    limit: int
    closed_before: int | None = None
    cursor: int = field(init=False)
    done: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.cursor = self.hole.start

    def next_since(self) -> int | None:
        """The `since` of the next request, or None when the hole is filled."""
        return None if self.done or self.cursor >= self.hole.end else self.cursor

    def receive(self, candles: list[Candle]) -> CandlePage:
        """Digest the answer to the request made with `next_since()`."""
        since = self.cursor
        rows = sorted({c.start: c for c in candles if c.start >= self.cursor}.values(), key=_start)
        if not rows:  # nothing at or after the cursor: empty minutes, if the clock says so
            quiet = TimeRange(self.cursor, max(self.cursor, self._reach(since=since)))
            self.cursor = quiet.end
            self.done = quiet.empty or self.cursor >= self._closed_until()
            return CandlePage(store=[], covered=None if quiet.empty else quiet)
        unavailable = None
        if rows[0].start > self.cursor and rows[-1].start >= self.cursor + self.limit * MINUTE_MS:
            unavailable = TimeRange(self.cursor, min(rows[0].start, self.hole.end))
            self.cursor = unavailable.end
        inside = [c for c in rows if c.start < self.hole.end]
        if len(inside) < len(rows):  # a later row exists: everything inside is closed
            covered = TimeRange(self.cursor, self.hole.end) if self.cursor < self.hole.end else None
            self.cursor, self.done = self.hole.end, True
            return CandlePage(store=inside, covered=covered, unavailable=unavailable)
        newest = rows[-1]
        if len(rows) == 1 and self._closed(newest):
            # The exchange has no row after a bar its clock shows closed: the bar is
            # final, and the minutes after it that the answer could have held are empty.
            end = min(self.hole.end, max(newest.start + MINUTE_MS, self._reach(since=since)))
            final = TimeRange(self.cursor, end)
            self.cursor = end
            self.done = self.cursor >= self._closed_until()
            return CandlePage(store=rows, covered=final, unavailable=unavailable)
        covered = TimeRange(self.cursor, newest.start)
        self.done = len(rows) == 1  # only the bar in progress is left
        self.cursor = newest.start
        return CandlePage(
            store=rows[:-1], covered=None if covered.empty else covered, unavailable=unavailable
        )

    def progress(self) -> float:
        """Share of the hole filled so far, from 0 to 1."""
        return 1.0 if self.done else _share(self.hole, self.cursor)

    def _closed_until(self) -> int:
        """The end of the whole minutes the exchange's clock shows closed (or the hole's
        start when the clock is unknown)."""
        if self.closed_before is None:
            return self.hole.start
        return floor_minute(self.closed_before)

    def _closed(self, candle: Candle) -> bool:
        return candle.start + MINUTE_MS <= self._closed_until()

    def _reach(self, *, since: int) -> int:
        """Up to where an answer to `since` shows every bar the exchange had: the `limit`
        minutes it could hold, inside the hole, and only where the clock shows them closed."""
        return min(self.hole.end, since + self.limit * MINUTE_MS, self._closed_until())


def split_candle_hole(hole: TimeRange, *, limit: int, parts: int) -> list[TimeRange]:
    """`hole` as at most `parts` consecutive ranges of whole candle pages (the last range
    takes the rest), for pagers that fetch side by side.

    A page of `limit` candles from `since` proves `limit - 1` of them closed (its last row is
    the bar the next page starts at), so ranges cut every so many pages of `limit - 1`
    minutes make the pagers together ask for the pages one pager would have asked for.
    """
    if hole.empty:
        return []
    page_ms = max(1, limit - 1) * MINUTE_MS
    pages = -(-hole.duration // page_ms)
    step = -(-pages // max(1, parts)) * page_ms
    return [TimeRange(s, min(s + step, hole.end)) for s in range(hole.start, hole.end, step)]


@dataclass(frozen=True, slots=True)
class TradePage:
    """What one trade answer means."""

    store: list[Trade]
    covered: TimeRange | None
    stuck_at: int | None = None


@dataclass(slots=True)
class TradePager:
    """Fills `hole` with trades; `hole.end` must not lie after the exchange's clock."""

    hole: TimeRange
    limit: int
    cursor: int = field(init=False)
    _taken_at_cursor: set[str] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        self.cursor = self.hole.start

    def next_since(self) -> int | None:
        """The `since` of the next request, or None when the hole is filled."""
        return self.cursor if self.cursor < self.hole.end else None

    def receive(self, trades: list[Trade]) -> TradePage:
        """Digest the answer to the request made with `next_since()`."""
        beyond = any(t.time >= self.hole.end for t in trades)
        fresh = sorted(
            (
                t
                for t in {(t.trade_id, t.time): t for t in trades}.values()
                if self.cursor <= t.time < self.hole.end
                and not (t.time == self.cursor and t.trade_id in self._taken_at_cursor)
            ),
            key=trade_order,
        )
        start = self.cursor
        if beyond:  # the exchange went past the hole: everything inside has been seen
            self.cursor = self.hole.end
        elif fresh:
            newest = fresh[-1].time
            if newest > self.cursor:
                self._taken_at_cursor.clear()
            self._taken_at_cursor.update(t.trade_id for t in fresh if t.time == newest)
            self.cursor = newest
        elif len(trades) >= self.limit:  # a full page of trades already taken: no progress
            self.cursor = min(self.cursor + 1000, self.hole.end)  # `since` may be whole seconds
            self._taken_at_cursor.clear()
            return TradePage(store=[], covered=None, stuck_at=start)
        else:  # nothing more in the window this request could reach
            self.cursor = min(self.cursor + TRADE_WINDOW_MS, self.hole.end)
            self._taken_at_cursor.clear()
        covered = TimeRange(start, self.cursor)
        return TradePage(store=fresh, covered=None if covered.empty else covered)

    def progress(self) -> float:
        """Share of the hole filled so far, from 0 to 1."""
        return _share(self.hole, self.cursor)


def _start(candle: Candle) -> int:
    return candle.start


def _share(hole: TimeRange, cursor: int) -> float:
    if hole.empty:
        return 1.0
    return min(1.0, max(0.0, (cursor - hole.start) / hole.duration))
