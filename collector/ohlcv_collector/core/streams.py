"""What a WebSocket stream proves, as state machines without I/O.

A stream is trusted only for the time its connection was up: these trackers turn
the updates of one connection into rows to store and the range they make complete.
After a reconnect they start over, so the time the connection was down stays a hole
in the coverage, and the runtime repairs it over REST before trusting the stream again.

The first batch after a (re)connect is not proof of anything before its newest row:
client libraries (ccxt) hand over, with the first rows of the new connection, whatever
the old one received but was not read yet, and what was lost in between lies inside
that batch. Its rows are stored (or, for bars, left to the repair), but coverage starts
at its newest row, which only the new connection can have delivered.
"""

from dataclasses import dataclass, field

from ohlcv_collector.models import Candle, TimeRange, Trade

# Trades may arrive slightly out of order; a range is complete only this long after
# the newest trade seen, so a late trade still lands inside the open part.
TRADE_REORDER_GRACE_MS = 2_000

# Consecutive trade ids seen before a jump in ids counts as lost trades. Exchanges
# number each symbol's trades 1, 2, 3... (Binance, Kraken), but not all do, so the
# sequence is learnt, and an exchange whose ids jump early is never judged by it.
SEQUENCE_EVIDENCE = 20


@dataclass(frozen=True, slots=True)
class StreamStep:
    """What one batch of stream updates means."""

    store: list[Candle]
    covered: TimeRange | None
    late: list[Candle] = field(default_factory=list)


class CandleStreamTracker:
    """Closed candles from a candle stream's updates of the bar in progress.

    A bar is closed once an update for a later bar arrives on the same connection; its
    last update then holds the final values (Binance sends the closing update first,
    Kraken updates a bar on each trade). Every update carries the whole bar, so the
    newest bar of a connection's first batch is complete too; older bars of that batch
    may be stale leftovers of the previous connection and are left to the repair.
    Minutes between two bars of one connection had no trades: they are covered and stay
    without a candle.
    """

    def __init__(self) -> None:
        self._open: dict[int, Candle] = {}
        self._covered_until: int | None = None

    def receive(self, updates: list[Candle]) -> StreamStep:
        """Take a batch of updates in arrival order."""
        late: list[Candle] = []
        if self._covered_until is None and updates:  # a connection's first batch
            newest_start = max(update.start for update in updates)
            updates = [update for update in updates if update.start == newest_start]
        for update in updates:
            if self._covered_until is not None and update.start < self._covered_until:
                late.append(update)  # a closed bar changed after the fact: repair it
            else:
                self._open[update.start] = update
        if not self._open:
            return StreamStep(store=[], covered=None, late=late)
        newest = max(self._open)
        start = self._covered_until if self._covered_until is not None else min(self._open)
        closed = [self._open.pop(s) for s in sorted(self._open) if s < newest]
        self._covered_until = newest
        covered = TimeRange(start, newest)
        return StreamStep(store=closed, covered=None if covered.empty else covered, late=late)

    def reset(self) -> None:
        """Start over on a new connection."""
        self._open.clear()
        self._covered_until = None


@dataclass(frozen=True, slots=True)
class TradeStreamStep:
    """What one batch of streamed trades means; `gap` when ids show trades were lost."""

    store: list[Trade]
    covered: TimeRange | None
    gap: bool = False


class TradeStreamTracker:
    """Coverage of a trade stream: from just after the newest trade of the connection's
    first batch to just before the newest trade.

    The first batch may begin with trades the previous connection received (see the
    module docstring), and trades at its newest millisecond may have been sent before
    the connection was up, so all of it is left to the REST repair, which deduplicates.
    """

    def __init__(self, *, reorder_grace_ms: int = TRADE_REORDER_GRACE_MS) -> None:
        self._grace = reorder_grace_ms
        self._covered_from: int | None = None
        self._covered_until: int | None = None
        self._newest: int | None = None
        self._last_id: int | None = None
        self._consecutive_steps = 0
        self._irregular = False

    @property
    def connection_coverage(self) -> TimeRange | None:
        """Everything this connection has made complete so far."""
        if self._covered_from is None or self._covered_until is None:
            return None
        return TimeRange(self._covered_from, self._covered_until)

    def _lost_trades(self, trades: list[Trade]) -> bool:
        """True when the ids jump on an exchange whose ids have been consecutive."""
        gap = False
        # A connection's first batch may join two connections: a jump inside it is the
        # reconnect, which the coverage already leaves to the repair, not evidence.
        first_batch = self._last_id is None
        for trade_id in sorted(int(t.trade_id) for t in trades if t.trade_id.isdigit()):
            if self._last_id is not None and trade_id <= self._last_id:
                continue  # a duplicate or a late trade
            if self._last_id is not None:
                if trade_id == self._last_id + 1:
                    self._consecutive_steps += 1
                elif first_batch:
                    pass
                elif self._consecutive_steps >= SEQUENCE_EVIDENCE and not self._irregular:
                    gap = True
                else:
                    self._irregular = True
            self._last_id = trade_id
        return gap

    def receive(self, trades: list[Trade]) -> TradeStreamStep:
        """Take a batch of trades in arrival order (duplicates and disorder allowed).

        After a gap the tracker starts over as after a reconnect, so the range around
        the lost trades stays uncovered for the REST repair.
        """
        if not trades:
            return TradeStreamStep(store=[], covered=None)
        if self._lost_trades(trades):
            self.reset()
            self._last_id = max(int(t.trade_id) for t in trades if t.trade_id.isdigit())
            return TradeStreamStep(store=trades, covered=None, gap=True)
        if self._covered_until is None:
            self._covered_from = self._covered_until = max(t.time for t in trades) + 1
        newest = max(t.time for t in trades)
        self._newest = newest if self._newest is None else max(self._newest, newest)
        end = self._newest - self._grace
        if end <= self._covered_until:
            return TradeStreamStep(store=trades, covered=None)
        covered = TimeRange(self._covered_until, end)
        self._covered_until = end
        return TradeStreamStep(store=trades, covered=covered)

    def reset(self) -> None:
        """Start over on a new connection (what was learnt about ids is kept)."""
        self._covered_from = self._covered_until = self._newest = self._last_id = None
