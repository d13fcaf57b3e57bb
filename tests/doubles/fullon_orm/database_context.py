"""Stands in for fullon_orm.database_context (not installable here); contract 1.1 and 1.2.

Repositories answer with ORM objects, `get_user_exchanges` takes the user id only
positionally-or-as-`user_id` (the `uid=` keyword of unused service code raises), and
`get_cat_exchanges` returns one page of ten unless `all=True`, as the real one does.
"""

from dataclasses import replace
from types import TracebackType
from typing import Any

from .models import CatExchange, Exchange, Symbol

_users: dict[str, int] = {}
_cat_exchanges: list[CatExchange] = []
_exchanges: list[Exchange] = []
_symbols: list[Symbol] = []


def _reset() -> None:
    """Tests only: forget every row."""
    _users.clear()
    _cat_exchanges.clear()
    _exchanges.clear()
    _symbols.clear()


def _add_user(mail: str) -> int:
    """Tests only: a user row; returns its uid."""
    _users[mail] = len(_users) + 1
    return _users[mail]


def _with_cat(row: Any) -> Any:
    cat = next(c for c in _cat_exchanges if c.cat_ex_id == row.cat_ex_id)
    return replace(row, cat_exchange=cat)  # eager-loaded, usable after the context closes


class _Users:
    async def get_user_id(self, mail: str) -> int | None:
        return _users.get(mail)


class _Exchanges:
    async def get_user_exchanges(self, user_id: int) -> list[Exchange]:
        return [_with_cat(e) for e in _exchanges if e.uid == user_id]

    async def get_cat_exchanges(
        self, exchange: str | None = None, all: bool = False, page: int = 1, page_size: int = 10
    ) -> list[CatExchange]:
        rows = [c for c in _cat_exchanges if exchange in (None, c.name)]
        return rows if all else rows[(page - 1) * page_size : page * page_size]

    async def create_cat_exchange(self, name: str, ohlcv_view: str) -> CatExchange:
        row = CatExchange(cat_ex_id=len(_cat_exchanges) + 1, name=name, ohlcv_view=ohlcv_view)
        _cat_exchanges.append(row)
        return row

    async def add_user_exchange(self, exchange: Exchange) -> Exchange | None:
        if not isinstance(exchange, Exchange):
            raise TypeError("add_user_exchange takes an Exchange model instance")
        row = replace(exchange, ex_id=len(_exchanges) + 1)
        _exchanges.append(row)
        return row


class _Symbols:
    async def get_all(
        self, exchange_name: str | None = None, active_only: bool = False, limit: int | None = None
    ) -> list[Symbol]:
        rows = [_with_cat(s) for s in _symbols]
        rows = [s for s in rows if exchange_name in (None, s.cat_exchange.name)]
        return rows[:limit] if limit is not None else rows

    async def add_symbol(self, symbol: Symbol) -> Symbol:
        if not isinstance(symbol, Symbol):
            raise TypeError("add_symbol takes a Symbol model instance")
        row = replace(symbol, symbol_id=len(_symbols) + 1)
        _symbols.append(row)
        return row


class DatabaseContext:
    """`async with DatabaseContext() as db:` with db.users, db.exchanges, db.symbols."""

    def __init__(self) -> None:
        self.users = _Users()
        self.exchanges = _Exchanges()
        self.symbols = _Symbols()

    async def __aenter__(self) -> "DatabaseContext":
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def commit(self) -> None:
        return None

    async def rollback(self) -> None:
        return None
