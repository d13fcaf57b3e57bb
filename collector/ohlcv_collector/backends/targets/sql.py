"""Collection targets read from the fullon_orm tables with plain SQL.

Reading is one join of the configured user's accounts with their exchanges' symbols;
which rows become targets is decided by `core.targets.select_targets`, so this module
only moves rows. Every read goes to the database (fullon_orm's Redis cache is not
consulted), so a symbol added or removed there is seen at the collector's next refresh.
"""

import logging

from ohlcv_collector.backends.targets.connection import open_database
from ohlcv_collector.backends.targets.schema import table_columns
from ohlcv_collector.core.targets import RejectedRow, TargetRow, select_targets
from ohlcv_collector.models import Target

log = logging.getLogger(__name__)

_ROWS = """
    SELECT s.symbol_id, c.name, e.name, s.symbol, s.backtest, s.updateframe, s.only_ticker,
           u.active, e.active, {symbol_active}
    FROM users u
    JOIN exchanges e ON e.uid = u.uid
    JOIN cat_exchanges c ON c.cat_ex_id = e.cat_ex_id
    JOIN symbols s ON s.cat_ex_id = c.cat_ex_id
    WHERE u.mail = $1
    ORDER BY c.name, s.symbol, e.ex_id"""


class SqlTargetSource:
    """`TargetSource` over the fullon_orm tables in PostgreSQL or SQLite."""

    def __init__(self, url: str, *, user_mail: str) -> None:
        self.user_mail = user_mail
        self._database = open_database(url)
        self._reported: set[tuple[object, object, str]] = set()
        self._user_missing_reported = False
        self.last_rejected: list[RejectedRow] = []
        """Rows refused at the last read, for status reports."""

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
        """Release the connections."""
        await self._database.close()

    async def _select(self, *, exchange: str | None) -> list[Target]:
        async with self._database.transaction() as session:
            columns = await table_columns(session, dialect=self._database.dialect, table="symbols")
            symbol_active = "s.active" if "active" in columns else "NULL"
            rows = await session.fetch(_ROWS.format(symbol_active=symbol_active), self.user_mail)
            user_found = bool(rows) or bool(
                await session.fetch("SELECT uid FROM users WHERE mail = $1", self.user_mail)
            )
        if not user_found and not self._user_missing_reported:
            log.warning("no user %r in the users table: nothing to collect", self.user_mail)
        self._user_missing_reported = not user_found
        targets, rejected = select_targets(
            rows=(TargetRow(*row) for row in rows), exchange=exchange
        )
        self._report(rejected, exchange=exchange)
        return targets

    def _report(self, rejected: list[RejectedRow], *, exchange: str | None) -> None:
        """Log each refused row once rather than at every refresh, and again if it changes.

        A read of one exchange forgets only that exchange's earlier reports, so a source
        that reads several exchanges in turn does not repeat itself either.
        """
        self.last_rejected = rejected
        current = {(item.row.exchange, item.row.symbol_id, item.reason) for item in rejected}
        for item in rejected:
            if (item.row.exchange, item.row.symbol_id, item.reason) not in self._reported:
                log.warning(
                    "%s",
                    item.describe(),
                    extra={"exchange": item.row.exchange, "symbol": item.row.symbol},
                )
        kept = {report for report in self._reported if exchange not in (None, report[0])}
        self._reported = kept | current
