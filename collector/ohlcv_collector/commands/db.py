"""``ohlcv-collector db init``: create the targets tables and migrate the OHLCV storage.

Both steps are safe to repeat: existing tables are never altered, and the storage
migration only applies what is pending. With no DB_HOST both live in one SQLite file.
"""

import argparse
import sqlite3

import asyncpg

from ohlcv_collector.backends.targets import redact_url
from ohlcv_collector.commands.common import (
    CommandError,
    add_targets_url,
    run,
    settings,
    targets_url,
    user_mail,
)
from ohlcv_collector.runtime import assembly
from ohlcv_collector.settings import DatabaseSettings

STORAGE_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, sqlite3.Error, OSError)


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``db`` and its actions."""
    db = subparsers.add_parser("db", help="create the database schema")
    actions = db.add_subparsers(metavar="ACTION", required=True)
    init = actions.add_parser(
        "init",
        help="create the targets tables and migrate the OHLCV storage",
        description="Create the fullon_orm tables that are missing (users, cat_exchanges,"
        " cat_exchanges_params, exchanges, symbols; existing ones are left as they are)"
        " and create or upgrade the candle and trade storage.",
    )
    add_targets_url(init)
    init.add_argument(
        "--storage-url",
        metavar="URL",
        help="the OHLCV database (postgresql://... or sqlite:///absolute/path);"
        " default from DB_HOST, DB_OHLCV_NAME, ... or, without DB_HOST, DB_SQLITE_PATH",
    )
    init.set_defaults(handler=lambda args: run(_init(args)))


async def _init(args: argparse.Namespace) -> int:
    url = targets_url(args)
    editor = assembly.open_target_editor(url=url, user_mail=user_mail())
    try:
        created = await editor.init_schema()
    finally:
        await editor.close()
    where = redact_url(url)
    if created:
        print(f"targets: created tables {', '.join(created)} in {where}")
    else:
        print(f"targets: all tables already exist in {where}")
    storage_url = str(args.storage_url or settings(DatabaseSettings).storage_url())
    try:
        storage = await assembly.open_storage(storage_url)
        try:
            await storage.migrate()
        finally:
            await storage.close()
    except STORAGE_ERRORS as error:
        text = str(error) or type(error).__name__
        raise CommandError(f"OHLCV storage {redact_url(storage_url)}: {text}") from error
    print(f"storage: schema is up to date in {redact_url(storage_url)}")
    return 0
