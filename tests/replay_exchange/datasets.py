"""Where the recorded data lives, which files each exchange replays by default, and assembly.

The data is read-only and lives beside the repository (`<repo>/../shared/data`), or wherever
`OHLCV_SHARED_DATA` points. Defaults give each exchange three markets and never two recordings
of one symbol from different years (which would merge into one market with a year-long hole):

- binance: BTC/USDT from the Binance spot trade capture (2024-08-08/09, trades, so candles are
  built from them), BTC/USD and BTC/USDC from Binance.US klines (2023-03, candles only).
- kraken: BTC/USDT from the recorded Trades and OHLC bodies (2025-11-10, trades and candles),
  BTC/USD from trade-built candles and BTC/USDC from Kraken's own OHLCVT file (2023-03, candles).
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path

from tests.replay_exchange.loading import load_file
from tests.replay_exchange.markets import Market, assemble_market
from tests.replay_exchange.models import RecordedSeries

EXCHANGES = ("binance", "kraken")

DEFAULT_FILES = {
    "binance": (
        "trades/binance_spot_ws/btcusdt_20240808.gz",
        "trades/binance_spot_ws/btcusdt_20240809.gz",
        "candles_1m/binanceus_BTCUSD_1m_20230301_20230321.csv",
        "candles_1m/binanceus_BTCUSDC_1m_20230301_20230321.csv",
    ),
    "kraken": (
        "trades/kraken_XBTUSDT_rest_trades_20251110.json",
        "trades/kraken_XBTUSDT_rest_ohlc1m_20251110.json",
        "candles_1m/kraken_XBTUSD_1m_fromtrades_20230301_20230321.csv",
        "candles_1m/kraken_XBTUSDC_1m_ohlcvt_20230301_20230321.csv",
    ),
}


def shared_data_dir() -> Path:
    """`OHLCV_SHARED_DATA`, else ../shared/data next to the repository root."""
    override = os.environ.get("OHLCV_SHARED_DATA")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


@dataclass(frozen=True, slots=True)
class DataSpec:
    """One `--data` argument: a file, and optionally the unified symbol it holds."""

    path: Path
    symbol: str | None = None

    @classmethod
    def parse(cls, text: str) -> DataSpec:
        """`PATH` or `SYMBOL=PATH` (e.g. `ETH/USDT=eth.csv`)."""
        symbol, sep, path = text.partition("=")
        if sep and re.fullmatch(r"[A-Za-z0-9]+/[A-Za-z0-9]+", symbol):
            return cls(Path(path), symbol.upper())
        return cls(Path(text))


def default_specs(exchange: str) -> tuple[DataSpec, ...]:
    root = shared_data_dir()
    return tuple(DataSpec(root / relative) for relative in DEFAULT_FILES[exchange])


@functools.lru_cache(maxsize=16)
def load_markets(specs: tuple[DataSpec, ...]) -> dict[str, Market]:
    """Every market the files hold, each assembled from all the files of its symbol.

    Cached (markets are immutable) because a test session starts many servers on the same data.
    """
    by_symbol: dict[str, list[RecordedSeries]] = {}
    for spec in specs:
        for series in load_file(spec.path.resolve(), symbol=spec.symbol):
            by_symbol.setdefault(series.symbol, []).append(series)
    return {s: assemble_market(symbol=s, series=series) for s, series in sorted(by_symbol.items())}
