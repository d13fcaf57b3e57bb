"""Command line of the operator image: ``ohlcv-operator``."""

import argparse
from collections.abc import Sequence

from ohlcv_operator import __version__


def build_parser() -> argparse.ArgumentParser:
    """Describe the command line; subcommands are added as the operator grows."""
    parser = argparse.ArgumentParser(
        prog="ohlcv-operator",
        description="Reconcile OhlcvCollector resources into one collector Deployment each.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ohlcv-operator`` console script."""
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help()
    return 0
