"""Targets read from and written to real fullon_orm-shaped databases, PostgreSQL and SQLite.

The fullon_orm tables are first written by hand, with the legacy DDL and plain INSERTs
as fullon would have them, so the reader is checked against the real shape and not
only against the tables this project creates.
"""

import logging
import sqlite3
from pathlib import Path

import asyncpg
import pytest

from ohlcv_collector.backends.targets import (
    SqlTargetEditor,
    SqlTargetSource,
    TargetNotFoundError,
    TargetsDatabaseError,
)
from ohlcv_collector.models import Target
from ohlcv_collector.ports import TargetSource
from tests.harness.tools import free_port

READER_LOG = "ohlcv_collector.backends.targets.sql"
TABLES = ["users", "cat_exchanges", "cat_exchanges_params", "exchanges", "symbols"]

# fullon/install/base.sql, the five tables a collector reads ({serial}: serial or integer).
LEGACY_DDL = """
CREATE TABLE cat_exchanges (cat_ex_id {serial} NOT NULL, name varchar(30) NOT NULL,
    ohlcv_view text, CONSTRAINT cat_exchange_pk PRIMARY KEY (cat_ex_id),
    CONSTRAINT unique_ex UNIQUE (name));
CREATE TABLE users (uid {serial} NOT NULL, mail varchar(80) NOT NULL, password char(64) NOT NULL,
    f2a varchar(16) NOT NULL, role varchar(10) NOT NULL, name varchar(50) NOT NULL,
    lastname varchar(50) NOT NULL, phone varchar(12) NOT NULL, id_num varchar(15) NOT NULL,
    note text, manager integer, "timestamp" timestamp, active bool NOT NULL DEFAULT True,
    CONSTRAINT users_pk PRIMARY KEY (uid), CONSTRAINT unique_mail UNIQUE (mail));
CREATE TABLE exchanges (ex_id {serial} NOT NULL, uid integer NOT NULL, cat_ex_id integer NOT NULL,
    name varchar(50) NOT NULL, test bool NOT NULL DEFAULT false, active bool NOT NULL DEFAULT True,
    "timestamp" timestamp, CONSTRAINT exchange_pk PRIMARY KEY (ex_id),
    CONSTRAINT unique_user_exchange UNIQUE (uid, cat_ex_id, name));
CREATE TABLE symbols (symbol_id {serial} NOT NULL, symbol varchar(20) NOT NULL,
    cat_ex_id integer NOT NULL, updateframe varchar(2) NOT NULL DEFAULT '1h',
    backtest smallint NOT NULL DEFAULT 30, decimals smallint NOT NULL DEFAULT 8,
    base varchar(6) NOT NULL, ex_base varchar(6), futures bool NOT NULL DEFAULT false,
    only_ticker bool NOT NULL DEFAULT False, CONSTRAINT symbol_pk PRIMARY KEY (symbol_id),
    CONSTRAINT "symbol_Exchange" UNIQUE (symbol, cat_ex_id));
"""

# Ids are assigned in insertion order: users 1-2, cat_exchanges 1-4, symbols 1-9.
FULLON_ROWS = """
INSERT INTO users (mail, password, f2a, role, name, lastname, phone, id_num, active) VALUES
    ('admin@fullon', '', '', 'ADMIN', 'admin', '', '', '', true),
    ('other@fullon', '', '', 'USER', 'other', '', '', '', true);
INSERT INTO cat_exchanges (name, ohlcv_view) VALUES
    ('binance', ''), ('kraken', ''), ('bitmex', ''), ('hyperliquid', '');
INSERT INTO exchanges (uid, cat_ex_id, name, test, active) VALUES
    (1, 1, 'binance1', false, true),
    (1, 1, 'binance2', false, true),
    (1, 2, 'kraken1', false, false),
    (1, 4, 'main account', false, true),
    (2, 3, 'bitmex1', false, true);
INSERT INTO symbols (symbol, cat_ex_id, updateframe, backtest, base, futures, only_ticker) VALUES
    ('BTC/USDT', 1, '1h', 30, 'BTC', false, false),
    ('ETH/USDT', 1, '1h', 30, 'ETH', false, true),
    ('SOL/USDT', 1, '1d', 7, 'SOL', false, false),
    ('BTC/USD', 2, '1h', 30, 'BTC', false, false),
    ('BTC/USD:BTC', 3, '1h', 365, 'BTC', true, false),
    ('BTC/USDC:USDC', 4, '1h', 500, 'BTC', true, false),
    ('XRP USDT', 1, '1h', 30, 'XRP', false, false),
    ('ADA/USDT', 1, 'xx', 30, 'ADA', false, false),
    ('DOT/USDT', 1, '1h', -5, 'DOT', false, false);
"""

BTC = Target(exchange="binance", symbol="BTC/USDT", backtest_days=30, updateframe="1h")
SOL = Target(exchange="binance", symbol="SOL/USDT", backtest_days=7, updateframe="1d")
HYPERLIQUID_BTC = Target(
    exchange="hyperliquid", symbol="BTC/USDC:USDC", backtest_days=500, updateframe="1h"
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fullon.sqlite'}"
    return str(request.getfixturevalue("postgres_dsn"))


async def execute(url: str, script: str) -> None:
    """Run SQL behind the backend's back, as fullon_orm or a person would."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as lite:
            lite.executescript(script)
        lite.close()
        return
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(script)
    finally:
        await connection.close()


async def fetch(url: str, query: str) -> list[tuple[object, ...]]:
    """Rows of a query, read behind the backend's back."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as lite:
            rows = lite.execute(query).fetchall()
        lite.close()
        return rows
    connection = await asyncpg.connect(url)
    try:
        return [tuple(row) for row in await connection.fetch(query)]
    finally:
        await connection.close()


async def fullon_database(url: str) -> None:
    serial = "integer" if url.startswith("sqlite") else "serial"
    await execute(url, LEGACY_DDL.replace("{serial}", serial) + FULLON_ROWS)


async def test_a_fullon_database_yields_the_users_active_targets_and_skips_bad_rows(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    await fullon_database(url)
    source = SqlTargetSource(url, user_mail="admin@fullon")
    port: TargetSource = source  # what the collector and the operator see
    try:
        with caplog.at_level(logging.WARNING, logger=READER_LOG):
            assert await source.all_targets() == [BTC, SOL, HYPERLIQUID_BTC]
            assert await port.targets(exchange="binance") == [BTC, SOL]
            assert await port.targets(exchange="kraken") == []
            assert await port.targets(exchange="bitmex") == []
            assert await port.all_exchanges() == ["binance", "hyperliquid"]
    finally:
        await source.close()
    warnings = [record.getMessage() for record in caplog.records if record.name == READER_LOG]
    assert warnings == [
        "symbols row 8 (binance 'ADA/USDT', account 'binance1') is skipped:"
        " updateframe 'xx' is not a timeframe such as 1m, 15m, 1h or 1d",
        "symbols row 9 (binance 'DOT/USDT', account 'binance1') is skipped:"
        " backtest -5 is not between 0 and 32767 days",
        "symbols row 7 (binance 'XRP USDT', account 'binance1') is skipped:"
        " symbol 'XRP USDT' is not in ccxt's unified form, e.g. BTC/USDT or BTC/USD:BTC",
    ]
    assert [item.row.symbol_id for item in source.last_rejected] == [8, 9, 7]


async def test_null_or_garbage_where_a_number_belongs_is_skipped_and_reported(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    await fullon_database(url)
    insert = "INSERT INTO symbols (symbol, cat_ex_id, updateframe, backtest, base) VALUES"
    if url.startswith("sqlite"):  # SQLite keeps text that does not look like a number
        await execute(url, insert + " ('LTC/USDT', 1, '1h', 'thirty', 'LTC')")
        reason = "backtest 'thirty' is not a whole number of days"
    else:  # a PostgreSQL column whose NOT NULL someone dropped
        await execute(url, "ALTER TABLE symbols ALTER COLUMN backtest DROP NOT NULL")
        await execute(url, insert + " ('LTC/USDT', 1, '1h', NULL, 'LTC')")
        reason = "backtest None is not a whole number of days"
    source = SqlTargetSource(url, user_mail="admin@fullon")
    try:
        with caplog.at_level(logging.WARNING, logger=READER_LOG):
            assert await source.targets(exchange="binance") == [BTC, SOL]
    finally:
        await source.close()
    assert (
        f"symbols row 10 (binance 'LTC/USDT', account 'binance1') is skipped: {reason}"
        in caplog.messages
    )


async def test_an_inactive_user_has_no_targets(url: str) -> None:
    await fullon_database(url)
    await execute(url, "UPDATE users SET active = false WHERE mail = 'admin@fullon'")
    source = SqlTargetSource(url, user_mail="admin@fullon")
    try:
        assert await source.all_targets() == []
        assert await source.all_exchanges() == []
    finally:
        await source.close()


async def test_another_users_targets_are_theirs_alone(url: str) -> None:
    await fullon_database(url)
    source = SqlTargetSource(url, user_mail="other@fullon")
    try:
        assert await source.all_targets() == [
            Target(exchange="bitmex", symbol="BTC/USD:BTC", backtest_days=365, updateframe="1h")
        ]
    finally:
        await source.close()


async def test_a_symbols_active_column_is_honoured_when_the_table_has_one(url: str) -> None:
    await fullon_database(url)
    await execute(
        url,
        "ALTER TABLE symbols ADD COLUMN active boolean NOT NULL DEFAULT true;"
        " UPDATE symbols SET active = false WHERE symbol = 'SOL/USDT';",
    )
    source = SqlTargetSource(url, user_mail="admin@fullon")
    try:
        assert await source.targets(exchange="binance") == [BTC]
    finally:
        await source.close()


async def test_an_unknown_user_is_reported_once_and_has_no_targets(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    await fullon_database(url)
    source = SqlTargetSource(url, user_mail="nobody@fullon")
    try:
        with caplog.at_level(logging.WARNING, logger=READER_LOG):
            assert await source.all_targets() == []
            assert await source.all_targets() == []
    finally:
        await source.close()
    assert [record.getMessage() for record in caplog.records] == [
        "no user 'nobody@fullon' in the users table: nothing to collect"
    ]


async def test_init_schema_creates_the_missing_tables_once(url: str) -> None:
    editor = SqlTargetEditor(url, user_mail="admin@fullon")
    try:
        assert await editor.init_schema() == TABLES
        assert await editor.init_schema() == []
    finally:
        await editor.close()
    if url.startswith("sqlite"):
        query = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
    else:
        query = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
    assert [name for (name,) in await fetch(url, query)] == sorted(TABLES)


async def test_init_schema_leaves_an_existing_fullon_table_as_it_is(url: str) -> None:
    await fullon_database(url)
    editor = SqlTargetEditor(url, user_mail="admin@fullon")
    try:
        assert await editor.init_schema() == ["cat_exchanges_params"]
    finally:
        await editor.close()
    assert len(await fetch(url, "SELECT * FROM symbols")) == 9
    source = SqlTargetSource(url, user_mail="admin@fullon")
    try:
        assert await source.all_targets() == [BTC, SOL, HYPERLIQUID_BTC]
    finally:
        await source.close()


async def test_edits_are_seen_by_a_running_reader_at_its_next_read(url: str) -> None:
    editor = SqlTargetEditor(url, user_mail="admin@fullon")
    reader = SqlTargetSource(url, user_mail="admin@fullon")
    try:
        await editor.init_schema()
        assert await reader.targets(exchange="binance") == []
        added = await editor.add(exchange="binance", symbol="BTC/USDT")
        assert added.target == BTC
        assert added.notes == (
            "created user admin@fullon",
            "created exchange binance",
            "created account binance1 of admin@fullon",
        )
        assert await reader.targets(exchange="binance") == [BTC]
        await editor.add(exchange="binance", symbol="SOL/USDT", backtest_days=7, updateframe="1d")
        assert await reader.targets(exchange="binance") == [BTC, SOL]
        await editor.remove(exchange="binance", symbol="BTC/USDT")
        assert await reader.targets(exchange="binance") == [SOL]
        assert await editor.deactivate_exchange(exchange="binance") == ["binance1"]
        assert await reader.all_exchanges() == []
        again = await editor.add(exchange="binance", symbol="BTC/USDT", backtest_days=30)
        assert again.notes == ("reactivated account binance1 of admin@fullon",)
        assert await reader.targets(exchange="binance") == [BTC, SOL]
    finally:
        await reader.close()
        await editor.close()


async def test_added_rows_look_like_fullon_orm_rows(url: str) -> None:
    editor = SqlTargetEditor(url, user_mail="admin@fullon")
    try:
        await editor.init_schema()
        await editor.add(exchange="bitmex", symbol="BTC/USD:BTC", backtest_days=365)
        await editor.add(exchange="bitmex", symbol="ETH/USD")
    finally:
        await editor.close()
    assert await fetch(url, "SELECT mail, role, active FROM users") == [
        ("admin@fullon", "ADMIN", True)
    ]
    assert await fetch(url, "SELECT uid, cat_ex_id, name, test, active FROM exchanges") == [
        (1, 1, "bitmex1", False, True)
    ]
    symbols = "SELECT symbol, cat_ex_id, updateframe, backtest, decimals, base, quote, futures,"
    assert await fetch(url, f"{symbols} only_ticker FROM symbols ORDER BY symbol_id") == [
        ("BTC/USD:BTC", 1, "1h", 365, 8, "BTC", "USD", True, False),
        ("ETH/USD", 1, "1h", 30, 8, "ETH", "USD", False, False),
    ]


async def test_adding_a_stored_symbol_changes_only_what_is_given(url: str) -> None:
    await fullon_database(url)
    editor = SqlTargetEditor(url, user_mail="admin@fullon")
    try:
        updated = await editor.add(exchange="binance", symbol="SOL/USDT", backtest_days=90)
        assert updated.target == Target("binance", "SOL/USDT", backtest_days=90, updateframe="1d")
        assert updated.notes == ()
        ticker = await editor.add(exchange="binance", symbol="ETH/USDT")
        assert ticker.notes == (
            "ETH/USDT was ticker-only; its candles and trades are now collected",
        )
    finally:
        await editor.close()
    assert await fetch(url, "SELECT count(*) FROM symbols") == [(9,)]
    assert await fetch(url, "SELECT count(*) FROM exchanges WHERE uid = 1") == [(4,)]


async def test_invalid_input_stores_nothing(url: str) -> None:
    editor = SqlTargetEditor(url, user_mail="admin@fullon")
    try:
        await editor.init_schema()
        with pytest.raises(ValueError, match="not in ccxt's unified form"):
            await editor.add(exchange="binance", symbol="BTC USDT")
        with pytest.raises(ValueError, match="not a timeframe"):
            await editor.add(exchange="binance", symbol="BTC/USDT", updateframe="hourly")
        with pytest.raises(ValueError, match="between 0 and 32767"):
            await editor.add(exchange="binance", symbol="BTC/USDT", backtest_days=-1)
        with pytest.raises(ValueError, match="contains whitespace"):
            await editor.add(exchange="", symbol="BTC/USDT")
        with pytest.raises(TargetNotFoundError, match="binance has no symbol 'BTC/USDT'"):
            await editor.remove(exchange="binance", symbol="BTC/USDT")
        with pytest.raises(TargetNotFoundError, match="admin@fullon has no active account on"):
            await editor.deactivate_exchange(exchange="binance")
    finally:
        await editor.close()
    for table in TABLES:
        assert await fetch(url, f"SELECT count(*) FROM {table}") == [(0,)]  # noqa: S608


async def test_a_stored_row_with_an_invalid_value_is_not_silently_kept(url: str) -> None:
    await fullon_database(url)
    editor = SqlTargetEditor(url, user_mail="admin@fullon")
    try:
        with pytest.raises(
            ValueError, match="the stored binance ADA/USDT row has updateframe 'xx'"
        ):
            await editor.add(exchange="binance", symbol="ADA/USDT", backtest_days=10)
    finally:
        await editor.close()
    assert await fetch(url, "SELECT backtest FROM symbols WHERE symbol = 'ADA/USDT'") == [(30,)]


@pytest.mark.postgres
async def test_a_legacy_column_too_narrow_for_a_value_is_reported(postgres_dsn: str) -> None:
    await fullon_database(postgres_dsn)
    editor = SqlTargetEditor(postgres_dsn, user_mail="admin@fullon")
    try:
        with pytest.raises(TargetsDatabaseError, match="value too long for type character"):
            await editor.add(exchange="binance", symbol="LINK/USDT", updateframe="15m")
        added = await editor.add(exchange="binance", symbol="LINK/USDT", updateframe="5m")
        assert added.target.updateframe == "5m"
    finally:
        await editor.close()


async def test_a_database_without_the_tables_says_to_run_db_init(url: str) -> None:
    if url.startswith("sqlite"):
        await execute(url, "CREATE TABLE unrelated (x integer)")
    source = SqlTargetSource(url, user_mail="admin@fullon")
    try:
        with pytest.raises(TargetsDatabaseError, match="`ohlcv-collector db init`"):
            await source.all_targets()
    finally:
        await source.close()


async def test_an_unreachable_database_is_one_clear_error(tmp_path: Path) -> None:
    missing = SqlTargetSource(f"sqlite:///{tmp_path / 'none.sqlite'}", user_mail="admin@fullon")
    with pytest.raises(TargetsDatabaseError, match=r"none\.sqlite does not exist"):
        await missing.all_targets()
    assert not (tmp_path / "none.sqlite").exists()
    port = free_port()
    refused = SqlTargetSource(
        f"postgresql://postgres:secret@127.0.0.1:{port}/fullon", user_mail="admin@fullon"
    )
    with pytest.raises(TargetsDatabaseError) as caught:
        await refused.all_targets()
    assert str(caught.value).startswith(
        f"cannot connect to postgresql://postgres:***@127.0.0.1:{port}/"
    )
    assert "secret" not in str(caught.value)
