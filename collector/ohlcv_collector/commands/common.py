"""What the subcommands share: configuration, database flags, and one-line errors.

A user's mistake (a bad symbol, an unreachable database, a missing table) ends the
command with one line on stderr and exit code 1, never a traceback; argparse reports
malformed command lines itself, with exit code 2.
"""

import argparse
import asyncio
import logging
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from ohlcv_collector.backends.targets import TargetNotFoundError, TargetsDatabaseError
from ohlcv_collector.models import Target
from ohlcv_collector.runtime import assembly
from ohlcv_collector.settings import CollectorSettings, DatabaseSettings, problems

PROGRAM = "ohlcv-collector"
Settings = TypeVar("Settings", bound=BaseSettings)


class CommandError(Exception):
    """A mistake the user can fix; the message says how."""


_USER_ERRORS = (CommandError, TargetsDatabaseError, TargetNotFoundError, ValueError)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{PROGRAM}: {record.levelname.lower()}: {record.getMessage()}"


def configure_logging() -> None:
    """Warnings (such as skipped database rows) as plain lines on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)


def settings(kind: type[Settings]) -> Settings:
    """Settings from the environment; an invalid variable is a user error."""
    try:
        return kind()
    except ValidationError as error:
        raise CommandError(
            f"invalid {kind.__name__} in the environment: {problems(error)}"
        ) from None


def add_targets_url(parser: argparse.ArgumentParser) -> None:
    """The --targets-url flag: which fullon_orm database to use."""
    parser.add_argument(
        "--targets-url",
        metavar="URL",
        help="the fullon_orm database (postgresql://... or sqlite:///absolute/path);"
        " default from DB_HOST, DB_NAME, ... or, without DB_HOST, DB_SQLITE_PATH",
    )


def targets_url(args: argparse.Namespace) -> str:
    """The --targets-url flag, or the URL the environment configures."""
    return str(args.targets_url or settings(DatabaseSettings).targets_url())


def user_mail() -> str:
    """The fullon user whose targets are read and edited (ADMIN_MAIL)."""
    return settings(CollectorSettings).user_mail


def run(command: Coroutine[Any, Any, int]) -> int:
    """Run a command's coroutine; a user error becomes one line on stderr and exit code 1."""
    configure_logging()
    try:
        return asyncio.run(command)
    except _USER_ERRORS as error:
        fail(str(error))
        return 1


def fail(message: str) -> None:
    """Print an error line on stderr."""
    print(f"{PROGRAM}: error: {message}", file=sys.stderr)


def note(message: str) -> None:
    """Print a side remark on stderr, keeping stdout for the command's result."""
    print(f"{PROGRAM}: note: {message}", file=sys.stderr)


async def read_targets(args: argparse.Namespace) -> list[Target]:
    """The targets of `--exchange`, or of every exchange, where the collectors read them
    (fullon_orm, else the `--targets-url` database)."""
    source = assembly.open_targets(url=targets_url(args), user_mail=user_mail())
    try:
        if args.exchange is None:
            return await source.all_targets()
        return await source.targets(exchange=args.exchange)
    finally:
        await source.close()
