"""Stands in for fullon_orm.models (not installable here): the fields of contract 1.3.

Slotted dataclasses, so reading an attribute the contract does not list (for instance
`Symbol.active`, absent from the legacy DDL) raises AttributeError.
"""

from dataclasses import dataclass
from datetime import datetime


@dataclass(slots=True)
class CatExchange:
    cat_ex_id: int
    name: str
    ohlcv_view: str = ""


@dataclass(slots=True)
class Exchange:
    uid: int
    cat_ex_id: int
    name: str
    test: bool = False
    active: bool = True
    ex_id: int = 0
    cat_exchange: CatExchange | None = None


@dataclass(slots=True)
class Symbol:
    symbol: str
    cat_ex_id: int
    updateframe: str = "1h"
    backtest: int = 30
    decimals: int = 8
    base: str = ""
    quote: str = ""
    futures: bool = False
    only_ticker: bool = False
    symbol_id: int = 0
    cat_exchange: CatExchange | None = None


@dataclass(slots=True)
class Trade:
    """A fill or a public trade as fullon_exchange hands it to trade callbacks."""

    symbol: str
    side: str
    volume: float
    price: float
    time: datetime
    ex_trade_id: str | None = None
    order_type: str | None = None
