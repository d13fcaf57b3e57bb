"""Command line of the collector image: ``ohlcv-collector``."""

import argparse
from collections.abc import Sequence

from ohlcv_collector import __version__


def build_parser() -> argparse.ArgumentParser:
    """Describe the command line; subcommands are added as the collector grows."""
    parser = argparse.ArgumentParser(
        prog="ohlcv-collector",
        description="Keep the candles and trades of one exchange complete in the database.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ohlcv-collector`` console script."""
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help()
    return 0
