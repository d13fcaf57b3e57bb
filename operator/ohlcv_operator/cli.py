"""Command line of the operator image: ``ohlcv-operator run``."""

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import timedelta

from ohlcv_collector.cli import dispatch
from ohlcv_operator import __version__


def build_parser() -> argparse.ArgumentParser:
    """Describe the command line."""
    parser = argparse.ArgumentParser(
        prog="ohlcv-operator",
        description="Reconcile OhlcvCollector resources into one collector Deployment each.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="run the operator in OPERATOR_NAMESPACE until SIGTERM",
        description="Configuration comes from the environment: OPERATOR_NAMESPACE, OHLCV_*,"
        " DB_* (the fullon_orm database), REDIS_* (collector health) and ADMIN_MAIL.",
    )
    run.add_argument("--verbose", action="store_true", help="debug logging")
    run.set_defaults(handler=_run)
    return parser


def _run(args: argparse.Namespace) -> int:
    # Imported here so that --help and --version stay fast (kopf and ccxt take a while).
    import kopf
    from pydantic import ValidationError

    from ohlcv_collector.runtime.assembly import market_exchanges
    from ohlcv_collector.settings import DatabaseSettings, RedisSettings, problems
    from ohlcv_operator.handlers import OperatorState, build_registry
    from ohlcv_operator.settings import OperatorSettings
    from ohlcv_operator.sources import Sources

    try:
        settings = OperatorSettings()
        database, redis = DatabaseSettings(), RedisSettings()
    except ValidationError as error:
        print(f"ohlcv-operator: error: invalid configuration: {problems(error)}", file=sys.stderr)
        return 2
    kopf.configure(verbose=args.verbose, log_format=kopf.LogFormat.JSON)

    async def operate() -> None:
        sources = Sources(
            targets_url=database.targets_url(),
            user_mail=settings.user_mail,
            redis_url=redis.url(),
            stale_after=timedelta(seconds=settings.heartbeat_timeout_seconds),
        )
        state = OperatorState(
            settings=settings, sources=sources, known_exchanges=market_exchanges()
        )
        await kopf.operator(
            registry=build_registry(state),
            standalone=True,
            namespaces=settings.watched() or [],
            clusterwide=settings.watched() is None,
        )

    asyncio.run(operate())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ohlcv-operator`` console script."""
    return dispatch(build_parser(), argv)
