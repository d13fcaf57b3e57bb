"""Stands in for fullon_ohlcv.models (not installable here): contract 3.2.

Timestamps must be timezone-aware UTC datetimes; candles carry `vol`, trades `volume`;
sides and types are upper case, as the models expect.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta


def _check_time(timestamp: datetime) -> None:
    if not isinstance(timestamp, datetime) or timestamp.utcoffset() != timedelta(0):
        raise ValueError(f"timestamp must be a timezone-aware UTC datetime, not {timestamp!r}")


@dataclass(frozen=True, slots=True)
class Candle:
    timestamp: datetime
    open: float
    high: float
    low: float
    close: float
    vol: float

    def __post_init__(self) -> None:
        _check_time(self.timestamp)


@dataclass(frozen=True, slots=True)
class Trade:
    timestamp: datetime
    price: float
    volume: float
    side: str
    type: str

    def __post_init__(self) -> None:
        _check_time(self.timestamp)
        if self.side != self.side.upper() or self.type != self.type.upper():
            raise ValueError("side and type are upper case")
