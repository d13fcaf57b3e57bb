"""Where the recorded data lives, which files each exchange replays by default, and assembly.

The data is read-only and lives beside the repository (`<repo>/../shared/data`), or wherever
`OHLCV_SHARED_DATA` points. Each exchange package names its default files (`Venue.default_files`)
and never two recordings of one symbol from different years (which would merge into one market
with a year-long hole):

- binance: BTC/USDT from the Binance spot trade capture (2024-08-08/09, trades, so candles are
  built from them), BTC/USD and BTC/USDC from Binance.US klines (2023-03, candles only).
- kraken: BTC/USDT from the recorded Trades and OHLC bodies (2025-11-10, trades and candles),
  BTC/USD from trade-built candles and BTC/USDC from Kraken's own OHLCVT file (2023-03, candles).
- bitmex and hyperliquid: see their packages' docstrings.

Files are read by the format readers of every exchange, so any exchange can serve any recording.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from tests.replay_exchange.loading import load_file
from tests.replay_exchange.markets import Market, assemble_market
from tests.replay_exchange.models import PLAIN_CANDLES, CandleRules, RecordedSeries
from tests.replay_exchange.shared import shared_data_dir
from tests.replay_exchange.venues import VENUES, venue_of

DEFAULT_FILES = {name: venue.default_files for name, venue in VENUES.items()}
READERS = tuple(reader for venue in VENUES.values() for reader in venue.readers)
__all__ = ["DEFAULT_FILES", "DataSpec", "default_specs", "load_markets", "shared_data_dir"]


@dataclass(frozen=True, slots=True)
class DataSpec:
    """One `--data` argument: a file, and optionally the unified symbol it holds."""

    path: Path
    symbol: str | None = None

    @classmethod
    def parse(cls, text: str) -> DataSpec:
        """`PATH` or `SYMBOL=PATH` (e.g. `ETH/USDT=eth.csv`)."""
        symbol, sep, path = text.partition("=")
        if sep and re.fullmatch(r"[A-Za-z0-9]+/[A-Za-z0-9]+(:[A-Za-z0-9]+)?", symbol):
            return cls(Path(path), symbol.upper())
        return cls(Path(text))


def default_specs(exchange: str) -> tuple[DataSpec, ...]:
    root = shared_data_dir()
    specs = (DataSpec.parse(entry) for entry in venue_of(exchange).default_files)
    return tuple(DataSpec(root / spec.path, spec.symbol) for spec in specs)


@functools.lru_cache(maxsize=16)
def load_markets(
    specs: tuple[DataSpec, ...], *, rules: CandleRules = PLAIN_CANDLES
) -> dict[str, Market]:
    """Every market the files hold, each assembled from all the files of its symbol, with the
    serving exchange's candle rules.

    Cached (markets are immutable) because a test session starts many servers on the same data.
    """
    by_symbol: dict[str, list[RecordedSeries]] = {}
    for spec in specs:
        for series in load_file(spec.path.resolve(), symbol=spec.symbol, readers=READERS):
            by_symbol.setdefault(series.symbol, []).append(series)
    return {
        s: assemble_market(symbol=s, series=series, rules=rules)
        for s, series in sorted(by_symbol.items())
    }
