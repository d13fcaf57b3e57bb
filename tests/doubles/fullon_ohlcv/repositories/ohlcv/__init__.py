"""Stands in for fullon_ohlcv.repositories.ohlcv (not installable here): contract 3.1.

`test` has no default (its real default is undocumented, so callers must pass it). A
repository must be entered or initialised before use and initialised symbols must exist
(`init_symbol`) before rows are saved. TimeseriesRepository.fetch_ohlcv gap-fills minutes
without a candle with the last close and volume 0, as the legacy implementation did.
"""

from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from fullon_ohlcv.models import Candle, Trade  # type: ignore[import-not-found]  # double

stored: dict[tuple[bool, str, str], dict[str, dict[Any, Any]]] = {}
_MAINS = ("view", "candles", "trades")


class _Repository:
    def __init__(self, exchange: str, symbol: str, test: bool) -> None:
        if not isinstance(test, bool):
            raise TypeError("test must be passed as a bool")
        self._key = (test, exchange.lower(), symbol)
        self._open = False

    async def __aenter__(self) -> Any:
        await self.initialize()
        await self.init_symbol()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def initialize(self) -> None:
        self._open = True

    async def close(self) -> None:
        self._open = False

    async def init_symbol(self, main: str = "view") -> bool:
        if main not in _MAINS:
            raise ValueError(f"main must be one of {_MAINS}")
        self._check_open()
        stored.setdefault(self._key, {"candles": {}, "trades": {}})
        return True

    def _check_open(self) -> None:
        if not self._open:
            raise RuntimeError("repository used before initialize() or `async with`")

    def _tables(self) -> dict[str, dict[Any, Any]]:
        self._check_open()
        if self._key not in stored:
            raise RuntimeError("init_symbol() has not made this symbol's tables")
        return stored[self._key]


class CandleRepository(_Repository):
    async def save_candles(self, candles: list[Candle]) -> bool:
        if not all(isinstance(c, Candle) for c in candles):
            raise TypeError("save_candles takes fullon_ohlcv.models.Candle objects")
        table = self._tables()["candles"]
        for candle in candles:
            table.setdefault(candle.timestamp, candle)  # ON CONFLICT DO NOTHING
        return True


class TradeRepository(_Repository):
    async def save_trades(self, trades: list[Trade]) -> bool:
        if not all(isinstance(t, Trade) for t in trades):
            raise TypeError("save_trades takes fullon_ohlcv.models.Trade objects")
        table = self._tables()["trades"]
        for trade in trades:
            table.setdefault(trade, trade)
        return True

    async def get_trades_in_range(
        self, start_time: datetime, end_time: datetime, limit: int | None = None
    ) -> list[Trade]:
        rows = sorted(
            (t for t in self._tables()["trades"].values() if start_time <= t.timestamp <= end_time),
            key=lambda t: t.timestamp,
        )
        return rows[:limit] if limit is not None else rows


class TimeseriesRepository(_Repository):
    async def fetch_ohlcv(
        self, compression: int, period: str, fromdate: Any, todate: Any
    ) -> list[tuple[datetime, float, float, float, float, float]]:
        if (compression, period) not in ((1, "minutes"), (1, "minute")):
            raise NotImplementedError("the double aggregates only 1-minute periods")
        start, end = fromdate.datetime, todate.datetime
        candles = sorted(
            (c for t, c in self._tables()["candles"].items() if start <= t < end),
            key=lambda c: c.timestamp,
        )
        rows: list[tuple[datetime, float, float, float, float, float]] = []
        for candle in candles:
            while rows and rows[-1][0] + timedelta(minutes=1) < candle.timestamp:
                last = rows[-1]
                rows.append(
                    (last[0] + timedelta(minutes=1), last[4], last[4], last[4], last[4], 0.0)
                )
            rows.append((candle.timestamp, candle.open, candle.high, candle.low, candle.close,
                         candle.vol))  # fmt: skip
        return rows
