"""``ohlcv-collector run --exchange NAME``: collect one exchange until SIGTERM.

This is what each collector Deployment runs. Configuration comes from the environment
(DB_*, REDIS_*, OHLCV_*); the flags narrow what is collected, as an OhlcvCollector
resource's spec does.
"""

import argparse

from ohlcv_collector.commands.common import add_targets_url, run, settings, targets_url
from ohlcv_collector.settings import CollectorSettings, DatabaseSettings, RedisSettings


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``run``."""
    parser = subparsers.add_parser(
        "run",
        help="collect one exchange's targets until stopped",
        description="Backfill, stream and repair the candles and trades of every target"
        " symbol of one exchange; re-read the targets every OHLCV_TARGETS_REFRESH_SECONDS;"
        " serve /healthz, /readyz and /metrics on OHLCV_HTTP_PORT; stop on SIGTERM.",
    )
    parser.add_argument("--exchange", required=True, help="ccxt exchange id, e.g. binance")
    parser.add_argument(
        "--symbols", help="comma-separated allow-list narrowing the targets (e.g. BTC/USDT)"
    )
    parser.add_argument("--no-candles", action="store_true", help="do not collect 1m candles")
    parser.add_argument("--no-trades", action="store_true", help="do not collect trades")
    parser.add_argument(
        "--backfill-days", type=int, help="days of history, instead of each target's backtest"
    )
    parser.add_argument(
        "--repair-interval",
        type=float,
        help="seconds between hole checks (default OHLCV_REPAIR_INTERVAL_SECONDS, 60)",
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    parser.add_argument("--storage-url", metavar="URL", help="the OHLCV database")
    add_targets_url(parser)
    parser.set_defaults(handler=lambda args: run(_collect(args)))


async def _collect(args: argparse.Namespace) -> int:
    # Imported here: ccxt takes a second to import, and the other commands don't need it.
    from ohlcv_collector.runtime.assembly import configure_logs
    from ohlcv_collector.runtime.process import (
        ProcessConfig,
        run_collector,
        tune_garbage_collection,
    )
    from ohlcv_collector.runtime.symbol import CollectOptions

    listed = [s.strip() for s in (args.symbols or "").split(",") if s.strip()]
    collector = settings(CollectorSettings)
    config = ProcessConfig(
        exchange=args.exchange,
        targets_url=targets_url(args),
        storage_url=str(args.storage_url or settings(DatabaseSettings).storage_url()),
        collector=collector,
        options=CollectOptions(
            candles=not args.no_candles,
            trades=not args.no_trades,
            backfill_days=args.backfill_days,
            repair_interval_seconds=args.repair_interval or collector.repair_interval_seconds,
        ),
        symbols=frozenset(listed) if listed else None,
        redis_url=settings(RedisSettings).url(),
    )
    configure_logs(level=args.log_level)
    tune_garbage_collection()
    await run_collector(config)
    return 0
