"""Editing the fullon_orm tables with plain SQL, for installations without fullon_orm.

Rows are written the way fullon_orm's own demo data writes them: the user (ADMIN_MAIL),
the exchange catalog entry, the user's account on it (named like "binance1"), then the
symbol. fullon_orm's Redis read cache does not see these writes; the caller
invalidates it (`orm_cache`).

Symbols belong to an exchange, not to a user: removing one stops it for every user of
that exchange. To stop one user's collection of a whole exchange, deactivate the
user's accounts on it instead; adding a symbol there activates one again.
"""

from dataclasses import dataclass

from ohlcv_collector.backends.targets.connection import Session, open_database
from ohlcv_collector.backends.targets.schema import create_tables, table_columns
from ohlcv_collector.core.targets import (
    parse_backtest_days,
    parse_exchange,
    parse_symbol,
    parse_updateframe,
    symbol_parts,
)
from ohlcv_collector.models import Target

# users has NOT NULL columns a collector has no use for; fullon_orm's documented
# examples leave them empty too.
_NEW_USER = "INSERT INTO users (mail, password, f2a, role, name, lastname, phone, id_num)"
_NEW_USER_VALUES = "VALUES ($1, '', '', 'ADMIN', 'admin', '', '', '') RETURNING uid"


class TargetNotFoundError(LookupError):
    """What a command asked to change is not in the database."""


@dataclass(frozen=True, slots=True)
class AddedTarget:
    """The target as stored, and what else had to change for it to be collected."""

    target: Target
    notes: tuple[str, ...]


async def _insert(session: Session, *, table: str, values: dict[str, object]) -> None:
    """INSERT one row; table and column names come from this module, values are parameters."""
    columns = ", ".join(values)
    numbers = ", ".join(f"${number}" for number in range(1, len(values) + 1))
    statement = f"INSERT INTO {table} ({columns}) VALUES ({numbers})"  # noqa: S608
    await session.execute(statement, *values.values())


class SqlTargetEditor:
    """Creates the fullon_orm tables and edits the targets of one user in them."""

    def __init__(self, url: str, *, user_mail: str) -> None:
        self._url = url
        self.user_mail = user_mail
        self._database = open_database(url)

    async def close(self) -> None:
        """Release the connections."""
        await self._database.close()

    async def init_schema(self) -> list[str]:
        """Create the missing tables (and the SQLite file); returns the names created."""
        database = open_database(self._url, create=True)
        try:
            return await create_tables(database)
        finally:
            await database.close()

    async def add(
        self,
        *,
        exchange: str,
        symbol: str,
        backtest_days: int | None = None,
        updateframe: str | None = None,
    ) -> AddedTarget:
        """Make `symbol` of `exchange` a target of the user, creating whatever is missing.

        Unset `backtest_days` and `updateframe` keep a stored symbol's values, or take the
        table's defaults (30 days, 1h) for a new one. A symbol marked only_ticker is
        switched to full collection. Raises ValueError for invalid input.
        """
        symbol = parse_symbol(symbol)
        exchange = parse_exchange(exchange)
        changes: dict[str, object] = {"only_ticker": False}
        if backtest_days is not None:
            changes["backtest"] = parse_backtest_days(backtest_days)
        if updateframe is not None:
            changes["updateframe"] = parse_updateframe(updateframe)
        notes: list[str] = []
        async with self._database.transaction(write=True) as session:
            uid = await self._user(session, notes=notes)
            cat_ex_id = await self._cat_exchange(session, exchange=exchange, notes=notes)
            await self._account(
                session, uid=uid, cat_ex_id=cat_ex_id, exchange=exchange, notes=notes
            )
            await self._symbol(
                session, symbol=symbol, cat_ex_id=cat_ex_id, changes=changes, notes=notes
            )
            ((backtest, frame),) = await session.fetch(
                "SELECT backtest, updateframe FROM symbols WHERE symbol = $1 AND cat_ex_id = $2",
                symbol,
                cat_ex_id,
            )
            try:
                target = Target(
                    exchange=exchange,
                    symbol=symbol,
                    backtest_days=parse_backtest_days(backtest),
                    updateframe=parse_updateframe(frame),
                )
            except ValueError as error:  # rolls the transaction back
                raise ValueError(f"the stored {exchange} {symbol} row has {error}") from error
        return AddedTarget(target=target, notes=tuple(notes))

    async def remove(self, *, exchange: str, symbol: str) -> None:
        """Delete the symbol row of `exchange`: no user's collection of it continues."""
        async with self._database.transaction(write=True) as session:
            deleted = await session.execute(
                "DELETE FROM symbols WHERE symbol = $1"
                " AND cat_ex_id IN (SELECT cat_ex_id FROM cat_exchanges WHERE name = $2)",
                symbol,
                exchange,
            )
        if not deleted:
            raise TargetNotFoundError(f"{exchange} has no symbol {symbol!r} in the symbols table")

    async def deactivate_exchange(self, *, exchange: str) -> list[str]:
        """Deactivate the user's accounts on `exchange`; returns their names."""
        async with self._database.transaction(write=True) as session:
            accounts = await session.fetch(
                "SELECT e.ex_id, e.name FROM exchanges e"
                " JOIN users u ON u.uid = e.uid JOIN cat_exchanges c ON c.cat_ex_id = e.cat_ex_id"
                " WHERE u.mail = $1 AND c.name = $2 AND e.active ORDER BY e.ex_id",
                self.user_mail,
                exchange,
            )
            for ex_id, _ in accounts:
                await session.execute("UPDATE exchanges SET active = false WHERE ex_id = $1", ex_id)
        if not accounts:
            raise TargetNotFoundError(f"{self.user_mail} has no active account on {exchange}")
        return [str(name) for _, name in accounts]

    async def _user(self, session: Session, *, notes: list[str]) -> object:
        found = await session.fetch("SELECT uid, active FROM users WHERE mail = $1", self.user_mail)
        if not found:
            notes.append(f"created user {self.user_mail}")
            ((uid,),) = await session.fetch(f"{_NEW_USER} {_NEW_USER_VALUES}", self.user_mail)
            return uid
        ((uid, active),) = found
        if not active:
            notes.append(f"user {self.user_mail} is inactive: none of its targets is collected")
        return uid

    async def _cat_exchange(self, session: Session, *, exchange: str, notes: list[str]) -> object:
        select = "SELECT cat_ex_id FROM cat_exchanges WHERE name = $1"
        found = await session.fetch(select, exchange)
        if not found:
            notes.append(f"created exchange {exchange}")
            await session.execute(
                "INSERT INTO cat_exchanges (name, ohlcv_view) VALUES ($1, '')", exchange
            )
            found = await session.fetch(select, exchange)
        return found[0][0]

    async def _account(
        self, session: Session, *, uid: object, cat_ex_id: object, exchange: str, notes: list[str]
    ) -> None:
        """Make sure the user has an active account on the exchange."""
        accounts = await session.fetch(
            "SELECT ex_id, name, active FROM exchanges WHERE uid = $1 AND cat_ex_id = $2"
            " ORDER BY ex_id",
            uid,
            cat_ex_id,
        )
        if any(active for _, _, active in accounts):
            return
        if accounts:
            ex_id, name, _ = accounts[0]
            notes.append(f"reactivated account {name} of {self.user_mail}")
            await session.execute("UPDATE exchanges SET active = true WHERE ex_id = $1", ex_id)
            return
        name = f"{exchange}1"
        notes.append(f"created account {name} of {self.user_mail}")
        values = {"uid": uid, "cat_ex_id": cat_ex_id, "name": name}
        await _insert(session, table="exchanges", values=values)

    async def _symbol(
        self,
        session: Session,
        *,
        symbol: str,
        cat_ex_id: object,
        changes: dict[str, object],
        notes: list[str],
    ) -> None:
        """Insert the symbol, or apply `changes` to the stored one."""
        columns = await table_columns(session, dialect=self._database.dialect, table="symbols")
        if "active" in columns:
            changes = changes | {"active": True}
        stored = await session.fetch(
            "SELECT only_ticker FROM symbols WHERE symbol = $1 AND cat_ex_id = $2",
            symbol,
            cat_ex_id,
        )
        if not stored:
            parts = symbol_parts(symbol)
            new = {
                "symbol": symbol,
                "cat_ex_id": cat_ex_id,
                "base": parts.base,
                "futures": parts.futures,
            }
            if "quote" in columns:
                new["quote"] = parts.quote
            await _insert(session, table="symbols", values=new | changes)
            return
        if stored[0][0]:
            notes.append(f"{symbol} was ticker-only; its candles and trades are now collected")
        assignments = ", ".join(f"{name} = ${n}" for n, name in enumerate(changes, start=3))
        statement = f"UPDATE symbols SET {assignments} WHERE symbol = $1 AND cat_ex_id = $2"  # noqa: S608
        await session.execute(statement, symbol, cat_ex_id, *changes.values())
