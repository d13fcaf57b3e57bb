"""Command line of the collector image: ``ohlcv-collector``.

Each subcommand lives in its own module under `ohlcv_collector.commands`, which adds
its parser in ``register(subparsers)`` and sets the handler that runs it.
"""

import argparse
from collections.abc import Sequence

from ohlcv_collector import __version__
from ohlcv_collector.commands import db, run, status, targets

COMMANDS = (run, db, targets, status)


def build_parser() -> argparse.ArgumentParser:
    """Describe the command line: the root options and every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="ohlcv-collector",
        description="Keep the candles and trades of one exchange complete in the database.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Run the command `argv` names (its `handler`), or print the help when it names none.

    Both console scripts dispatch this way.
    """
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 0
    exit_code: int = args.handler(args)
    return exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ohlcv-collector`` console script; returns the exit code."""
    return dispatch(build_parser(), argv)
