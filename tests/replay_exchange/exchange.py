"""The replay exchange's state, apart from any network: markets, clock, faults, limits.

`ReplayExchange` is what the aiohttp handlers consult. It is built once per run from a
`ReplayConfig`; its clock starts when it is built. Everything that changes during a run (the
fault plan, delistings, rate-limit accounts) lives here, so the handlers stay thin.

A delisting takes effect at its time: Binance's exchangeInfo shows the symbol with status BREAK
and its data endpoints answer -1121 "Invalid symbol."; Kraken drops the pair from AssetPairs and
answers "EQuery:Unknown asset pair"; both exchanges' streams for it fall silent. Ground truth
stops at the delisting.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.replay_exchange.clock import ReplayClock, replay_offset_ms
from tests.replay_exchange.datasets import DataSpec, default_specs, load_markets
from tests.replay_exchange.faults import FaultPlan, HttpFaults
from tests.replay_exchange.markets import Market, Moment
from tests.replay_exchange.models import NS_PER_MS
from tests.replay_exchange.venue import Venue
from tests.replay_exchange.venues import venue_of

DEFAULT_HISTORY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class ReplayConfig:
    """One run: which exchange to speak, which data, how fast, from where, and what breaks."""

    exchange: str
    data: tuple[DataSpec, ...] = ()  # empty: the exchange's default files
    speed: float = 1.0
    start_ms: int | None = None  # a recorded time to start at; default: `history_ms` in
    history_ms: int = DEFAULT_HISTORY_MS
    faults: FaultPlan = field(default_factory=FaultPlan)
    ground_truth_dir: Path | None = None

    def __post_init__(self) -> None:
        venue_of(self.exchange)  # a clear error for an exchange the replay does not speak
        if self.speed <= 0:
            raise ValueError("speed must be positive")


class ReplayExchange:
    """Markets in served time, the clock, and the run's mutable fault and limit state."""

    def __init__(self, *, config: ReplayConfig, wall_start_ns: int | None = None) -> None:
        self.config = config
        self.venue: Venue = venue_of(config.exchange)
        self.clock = ReplayClock(wall_start_ns=wall_start_ns or time.time_ns(), speed=config.speed)
        recorded = load_markets(
            config.data or default_specs(config.exchange), rules=self.venue.candle_rules
        )
        served_start_ms = self.clock.wall_start_ns // NS_PER_MS
        self.offsets_ms = {
            symbol: replay_offset_ms(
                first_ms=market.first_ms,
                end_ms=market.end_ms,
                served_start_ms=served_start_ms,
                history_ms=config.history_ms,
                start_ms=config.start_ms,
            )
            for symbol, market in recorded.items()
        }
        self.markets: dict[str, Market] = {
            symbol: market.shifted(offset_ms=self.offsets_ms[symbol])
            for symbol, market in recorded.items()
        }
        self.faults = config.faults
        self.http_faults = HttpFaults(plan=config.faults)
        self.limiter = self.venue.limiter(config.faults.limits)
        self.delisted_at_ns: dict[str, int] = {}
        for symbol, after_s in config.faults.delistings:
            self.delist(symbol=symbol, after_s=after_s, from_start=True)

    @property
    def name(self) -> str:
        return self.config.exchange

    def moment(self, *, wall_ns: int | None = None) -> Moment:
        now_ns = self.clock.now_ns(wall_ns=time.time_ns() if wall_ns is None else wall_ns)
        return Moment(now_ns=now_ns, markets=self.markets, delisted_at_ns=self.delisted_at_ns)

    def set_faults(self, plan: FaultPlan) -> None:
        """Switch to a new fault plan; counters and rate-limit accounts carry over."""
        self.faults = plan
        self.http_faults.plan = plan
        self.limiter.settings = plan.limits

    def delist(self, *, symbol: str, after_s: float = 0.0, from_start: bool = False) -> int:
        """Delist `symbol` `after_s` exchange seconds from now (or from the start); its time."""
        if symbol not in self.markets:
            raise ValueError(f"no market {symbol!r}; markets: {sorted(self.markets)}")
        origin_ns = self.clock.wall_start_ns if from_start else self.moment().now_ns
        self.delisted_at_ns[symbol] = origin_ns + int(after_s * 1_000_000_000)
        return self.delisted_at_ns[symbol]

    def state(self) -> dict[str, Any]:
        """What GET /admin/state reports."""
        moment = self.moment()
        return {
            "exchange": self.name,
            "speed": self.config.speed,
            "now_ms": moment.now_ms,
            "started_ms": self.clock.wall_start_ns // NS_PER_MS,
            "faults": self.faults.as_json(),
            "markets": [
                _market_state(symbol, market, self.offsets_ms[symbol], moment)
                for symbol, market in self.markets.items()
            ],
        }


def _market_state(symbol: str, market: Market, offset_ms: int, moment: Moment) -> Mapping[str, Any]:
    horizon_ns = moment.horizon_ns(symbol)
    return {
        "symbol": symbol,
        "has_trades": market.has_trades,
        "offset_ms": offset_ms,
        "recorded_now_ms": moment.now_ms - offset_ms,
        "first_candle_ms": market.first_ms,
        "end_ms": market.end_ms,
        "trades_served": market.visible_trades(now_ns=horizon_ns),
        "final_candles": market.final_candles(now_ms=horizon_ns // NS_PER_MS),
        "listed": moment.is_listed(symbol),
        "delisted_at_ms": (
            moment.delisted_at_ns[symbol] // NS_PER_MS if symbol in moment.delisted_at_ns else None
        ),
        "sources": list(market.sources),
    }
