"""The fullon_orm tables a collector reads, for installations that have no fullon_orm.

`create_tables` creates only the tables that are missing and never alters one that
exists, so pointing it at a real fullon_orm database changes nothing there. Columns,
defaults, keys and constraint names follow the legacy DDL (fullon/install/base.sql)
that fullon_orm carried over, plus the columns the ORM added (`symbols.quote`,
`users.external_id`, both nullable here since their ORM types are not published).

Columns are wider than the legacy DDL only where it cannot hold what a collector must
store; a wider column never troubles a reader:
- `symbols.updateframe` varchar(10), not varchar(2), which cannot hold "15m" or "30m";
- `symbols.symbol` varchar(50), not varchar(20), for dated futures such as
  "BTC/USDT:USDT-240628";
- `symbols.base`, `ex_base`, `quote` varchar(20), not varchar(6), for bases such as
  "1000PEPE".

One description serves both dialects: `{serial}` is PostgreSQL's serial and SQLite's
integer (an integer primary key is SQLite's auto-assigned rowid), and `{utc_now}` is
the current UTC time in each.
"""

from ohlcv_collector.backends.targets.connection import Database, Dialect, Session

_DIALECT_WORDS: dict[Dialect, dict[str, str]] = {
    "postgresql": {"serial": "serial", "utc_now": "(now() AT TIME ZONE 'UTC')"},
    "sqlite": {"serial": "integer", "utc_now": "CURRENT_TIMESTAMP"},
}

# In creation order: every table comes after the tables it references.
TABLES: dict[str, str] = {
    "users": """
        uid {serial} NOT NULL,
        mail varchar(80) NOT NULL,
        password char(64) NOT NULL,
        f2a varchar(16) NOT NULL,
        role varchar(10) NOT NULL,
        name varchar(50) NOT NULL,
        lastname varchar(50) NOT NULL,
        phone varchar(12) NOT NULL,
        id_num varchar(15) NOT NULL,
        note text,
        manager integer,
        "timestamp" timestamp NOT NULL DEFAULT {utc_now},
        active boolean NOT NULL DEFAULT true,
        external_id varchar(255),
        CONSTRAINT users_pk PRIMARY KEY (uid),
        CONSTRAINT unique_mail UNIQUE (mail),
        CONSTRAINT client_manager FOREIGN KEY (manager) REFERENCES users (uid)
            MATCH FULL ON DELETE RESTRICT ON UPDATE RESTRICT""",
    "cat_exchanges": """
        cat_ex_id {serial} NOT NULL,
        name varchar(30) NOT NULL,
        ohlcv_view text,
        CONSTRAINT cat_exchange_pk PRIMARY KEY (cat_ex_id),
        CONSTRAINT unique_ex UNIQUE (name)""",
    "cat_exchanges_params": """
        cat_ex_id integer NOT NULL,
        name varchar(20) NOT NULL,
        value varchar(20) NOT NULL,
        CONSTRAINT unique_param_symbol UNIQUE (cat_ex_id, name),
        CONSTRAINT cat_ex_id FOREIGN KEY (cat_ex_id) REFERENCES cat_exchanges (cat_ex_id)
            MATCH FULL ON DELETE NO ACTION ON UPDATE NO ACTION""",
    "exchanges": """
        ex_id {serial} NOT NULL,
        uid integer NOT NULL,
        cat_ex_id integer NOT NULL,
        name varchar(50) NOT NULL,
        test boolean NOT NULL DEFAULT false,
        active boolean NOT NULL DEFAULT true,
        "timestamp" timestamp NOT NULL DEFAULT {utc_now},
        CONSTRAINT exchange_pk PRIMARY KEY (ex_id),
        CONSTRAINT unique_user_exchange UNIQUE (uid, cat_ex_id, name),
        CONSTRAINT user_id FOREIGN KEY (uid) REFERENCES users (uid)
            MATCH FULL ON DELETE RESTRICT ON UPDATE RESTRICT,
        CONSTRAINT exchange_cat_exchange FOREIGN KEY (cat_ex_id)
            REFERENCES cat_exchanges (cat_ex_id) MATCH FULL
            ON DELETE RESTRICT ON UPDATE RESTRICT""",
    "symbols": """
        symbol_id {serial} NOT NULL,
        symbol varchar(50) NOT NULL,
        cat_ex_id integer NOT NULL,
        updateframe varchar(10) NOT NULL DEFAULT '1h',
        backtest smallint NOT NULL DEFAULT 30,
        decimals smallint NOT NULL DEFAULT 8,
        base varchar(20) NOT NULL,
        quote varchar(20),
        ex_base varchar(20),
        futures boolean NOT NULL DEFAULT false,
        only_ticker boolean NOT NULL DEFAULT false,
        CONSTRAINT symbol_pk PRIMARY KEY (symbol_id),
        CONSTRAINT "symbol_Exchange" UNIQUE (symbol, cat_ex_id),
        CONSTRAINT cat_ex_id FOREIGN KEY (cat_ex_id) REFERENCES cat_exchanges (cat_ex_id)
            MATCH FULL ON DELETE RESTRICT ON UPDATE RESTRICT""",
}


def create_statement(*, table: str, dialect: Dialect) -> str:
    """CREATE TABLE IF NOT EXISTS for one of `TABLES` in `dialect`."""
    columns = TABLES[table].format_map(_DIALECT_WORDS[dialect])
    return f"CREATE TABLE IF NOT EXISTS {table} ({columns}\n)"


async def existing_tables(session: Session, *, dialect: Dialect) -> set[str]:
    """Names of the tables in the database (PostgreSQL: in the current schema)."""
    if dialect == "postgresql":
        sql = (
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    return {str(name) for (name,) in await session.fetch(sql)}


async def table_columns(session: Session, *, dialect: Dialect, table: str) -> set[str]:
    """Names of the columns of `table`, to tell fullon_orm's schema versions apart."""
    if dialect == "postgresql":
        sql = (
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = $1"
        )
    else:
        sql = "SELECT name FROM pragma_table_info($1)"
    return {str(name) for (name,) in await session.fetch(sql, table)}


async def create_tables(database: Database) -> list[str]:
    """Create the missing tables of `TABLES`, in one transaction; returns their names."""
    async with database.transaction(write=True) as session:
        present = await existing_tables(session, dialect=database.dialect)
        missing = [table for table in TABLES if table not in present]
        for table in missing:
            await session.execute(create_statement(table=table, dialect=database.dialect))
    return missing
