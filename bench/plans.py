"""How big each scenario runs: `full` for the docs, `quick` for the test that checks the JSON.

The Binance capture has about 20 aggregate trades a second, so N symbols at speed S offer about
20 x N x S trades a second. The replay speed is chosen per run so that the offered rate reaches
`offered_target` (more than one collector takes on these cores, so the figure is the
collector's ceiling, not the replay's pace) without the 11-minute recording running out before
the window ends.
"""

from __future__ import annotations

from dataclasses import dataclass

CAPTURE_TRADES_PER_SECOND = 20.0  # aggregate trades a second in the Binance capture
CAPTURE_SECONDS = 650.0


@dataclass(frozen=True)
class Plan:
    name: str
    warmup: float  # seconds after the first stored row before a window starts
    duration: float  # seconds of each steady-state window
    max_speed: float  # replay speed at most (the recording must outlast warm-up and window)
    offered_target: float  # trades a second the replay should offer
    b1_symbols: tuple[int, ...]
    copy_rows: int
    b2_symbols: tuple[int, ...]
    b2_days: int
    # enough pages that the limited backfill outlasts warm-up and window (b2_days of candles is
    # about 31 weight a symbol on Binance, used at 100 a second)
    limited_symbols: int
    limited_duration: float
    b3_symbols: int
    b4_symbols: tuple[int, ...]
    b5_exchanges: tuple[int, ...]
    b5_idle: float
    b7_symbols: int

    def speed(self, symbols: int) -> float:
        """The replay speed for `symbols`: the target rate, within the recording's length."""
        wanted = self.offered_target / (symbols * CAPTURE_TRADES_PER_SECOND)
        return round(max(1.0, min(self.max_speed, wanted)), 2)


FULL = Plan(
    name="full", warmup=15, duration=60, max_speed=6, offered_target=8000,
    b1_symbols=(1, 10, 100, 500), copy_rows=200_000, b2_symbols=(1, 50), b2_days=10,
    limited_symbols=450, limited_duration=75, b3_symbols=100, b4_symbols=(10, 100),
    b5_exchanges=(10, 50, 200), b5_idle=60, b7_symbols=100,
)  # fmt: skip

QUICK = Plan(
    name="quick", warmup=1, duration=3, max_speed=20, offered_target=2000,
    b1_symbols=(1, 4), copy_rows=10_000, b2_symbols=(2,), b2_days=1,
    limited_symbols=20, limited_duration=3, b3_symbols=3, b4_symbols=(3,), b5_exchanges=(2,),
    b5_idle=3, b7_symbols=4,
)  # fmt: skip

PLANS = {plan.name: plan for plan in (FULL, QUICK)}
