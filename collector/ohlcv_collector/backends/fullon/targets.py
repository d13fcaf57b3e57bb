"""Targets through fullon_orm's DatabaseContext (fullon-contract.md section 1).

Written against the contract's caveats: `get_user_exchanges` takes the user id
positionally and returns ORM objects (not dicts); `get_cat_exchanges` needs `all=True`
or it answers one page of ten; symbols come from one `get_all()` filtered in memory,
because the per-exchange lookups are cached and went stale in fullon's own services.
Which rows become targets is decided by `core.targets`, as for the built-in backend.
"""

import logging
from typing import Any

from ohlcv_collector.backends.fullon import load
from ohlcv_collector.core.targets import TargetRow, select_targets
from ohlcv_collector.models import Target

log = logging.getLogger(__name__)


async def user_accounts(db: Any, *, user_mail: str) -> list[Any]:
    """The user's `Exchange` rows (ORM objects with `.cat_exchange` loaded); [] if no user."""
    uid = await db.users.get_user_id(user_mail)
    if uid is None:
        return []
    return list(await db.exchanges.get_user_exchanges(uid))


class FullonTargetSource:
    """`TargetSource` over fullon_orm."""

    def __init__(self, *, user_mail: str) -> None:
        self.user_mail = user_mail

    async def targets(self, *, exchange: str) -> list[Target]:
        """Targets of `exchange` for the user, freshly read."""
        return await self._select(exchange=exchange)

    async def all_targets(self) -> list[Target]:
        """Targets of every exchange for the user, freshly read."""
        return await self._select(exchange=None)

    async def all_exchanges(self) -> list[str]:
        """Exchanges that have at least one target, sorted."""
        return sorted({target.exchange for target in await self._select(exchange=None)})

    async def close(self) -> None:
        """Nothing to release: each read opens and closes its own DatabaseContext."""

    async def _select(self, *, exchange: str | None) -> list[Target]:
        async with load("fullon_orm").DatabaseContext() as db:
            accounts = await user_accounts(db, user_mail=self.user_mail)
            names = {c.cat_ex_id: c.name for c in await db.exchanges.get_cat_exchanges(all=True)}
            symbols = await db.symbols.get_all()
        rows = [
            TargetRow(
                symbol_id=symbol.symbol_id,
                exchange=names.get(symbol.cat_ex_id),
                account=account.name,
                symbol=symbol.symbol,
                backtest=symbol.backtest,
                updateframe=symbol.updateframe,
                only_ticker=symbol.only_ticker,
                user_active=None,  # get_user_id answers only for an existing user
                account_active=account.active,
                symbol_active=getattr(symbol, "active", None),  # no such column in legacy DDL
            )
            for account in accounts
            for symbol in symbols
            if symbol.cat_ex_id == account.cat_ex_id
        ]
        targets, rejected = select_targets(rows=rows, exchange=exchange)
        for item in rejected:
            log.warning("%s", item.describe())
        return targets
