"""Stands in for arrow, a dependency of fullon_ohlcv that is not installed here.

Only `arrow.get(<epoch seconds>)` and the two things read from an Arrow: `.datetime` and
`.timestamp()`.
"""

from datetime import UTC, datetime


class Arrow:
    def __init__(self, moment: datetime) -> None:
        self.datetime = moment

    def timestamp(self) -> float:
        return self.datetime.timestamp()


def get(timestamp: float) -> Arrow:
    if not isinstance(timestamp, int | float):
        raise TypeError("the double's arrow.get takes epoch seconds only")
    return Arrow(datetime.fromtimestamp(timestamp, UTC))
