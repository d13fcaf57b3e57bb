"""Command line of the standalone replay exchange: arguments to a `ReplayConfig`, and the run.

    python -m tests.replay_exchange --exchange binance [--data [SYMBOL=]FILE ...] --port 8701
        [--speed F] [--start ISO | --history 1d] [--ground-truth-dir DIR] [fault flags]

Once listening it prints one JSON line to stdout, {"event": "listening", "port": ...,
"ccxt_urls": {...}}, so that a parent process can find a port chosen with `--port 0`. It runs
until SIGINT or SIGTERM, then writes the ground truth (when a directory is given) and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.replay_exchange.clock import parse_duration_ms, parse_instant_ms
from tests.replay_exchange.datasets import DataSpec
from tests.replay_exchange.exchange import ReplayConfig
from tests.replay_exchange.faults import FaultPlan
from tests.replay_exchange.ratelimits import RateLimitSettings
from tests.replay_exchange.server import ReplayServer
from tests.replay_exchange.venues import EXCHANGES


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="python -m tests.replay_exchange",
        description="Replay recorded market data over real exchange protocols.",
    )
    cli.add_argument("--exchange", required=True, choices=EXCHANGES)
    cli.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="[SYMBOL=]FILE",
        help="a recorded file (repeatable); default: the shipped files of the exchange",
    )
    cli.add_argument("--host", default="127.0.0.1")
    cli.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    cli.add_argument("--speed", type=float, default=1.0, help="recorded seconds per wall second")
    cli.add_argument(
        "--start",
        type=parse_instant_ms,
        metavar="ISO",
        help="recorded time to start at (clamped into each market's recording)",
    )
    cli.add_argument(
        "--history",
        type=parse_duration_ms,
        default="1d",
        help="without --start: how far into each recording to start (at most half)",
    )
    cli.add_argument("--ground-truth-dir", type=Path)
    faults = cli.add_argument_group("faults (all off by default)")
    faults.add_argument("--ws-close-every", type=float, metavar="SECONDS")
    faults.add_argument("--http-5xx-every", type=float, metavar="SECONDS")
    faults.add_argument("--http-5xx-burst", type=int, default=3, metavar="CALLS")
    faults.add_argument("--http-5xx-status", type=int, default=503)
    faults.add_argument("--rest-latency", type=float, metavar="SECONDS")
    for name in (
        "rest-truncate",
        "rest-malformed",
        "ws-truncate",
        "ws-malformed",
        "ws-duplicate",
        "ws-reorder",
    ):
        faults.add_argument(f"--{name}-every", type=int, metavar="N")
    faults.add_argument("--rate-limits", action="store_true", help="enforce the real limits")
    defaults = RateLimitSettings()
    faults.add_argument(
        "--binance-weight-per-minute", type=int, default=defaults.binance_weight_per_minute
    )
    faults.add_argument(
        "--binance-429s-before-ban", type=int, default=defaults.binance_429s_before_ban
    )
    faults.add_argument(
        "--binance-first-ban", type=float, default=defaults.binance_first_ban_s, metavar="SECONDS"
    )
    faults.add_argument("--kraken-max-counter", type=float, default=defaults.kraken_max_counter)
    faults.add_argument(
        "--kraken-decay-per-second", type=float, default=defaults.kraken_decay_per_s
    )
    faults.add_argument(
        "--delist",
        action="append",
        default=[],
        metavar="SYMBOL[@SECONDS]",
        help="delist a market SECONDS of exchange time after the start (default 0)",
    )
    return cli


def config_from(arguments: argparse.Namespace) -> ReplayConfig:
    limits = RateLimitSettings(
        binance_weight_per_minute=arguments.binance_weight_per_minute,
        binance_429s_before_ban=arguments.binance_429s_before_ban,
        binance_first_ban_s=arguments.binance_first_ban,
        kraken_max_counter=arguments.kraken_max_counter,
        kraken_decay_per_s=arguments.kraken_decay_per_second,
    )
    delistings = []
    for text in arguments.delist:
        symbol, _, after = text.partition("@")
        delistings.append((symbol.upper(), float(after or 0)))
    plan = FaultPlan(
        ws_close_every_s=arguments.ws_close_every,
        http_5xx_every_s=arguments.http_5xx_every,
        http_5xx_burst=arguments.http_5xx_burst,
        http_5xx_status=arguments.http_5xx_status,
        rest_latency_s=arguments.rest_latency,
        rest_truncate_every=arguments.rest_truncate_every,
        rest_malformed_every=arguments.rest_malformed_every,
        ws_truncate_every=arguments.ws_truncate_every,
        ws_malformed_every=arguments.ws_malformed_every,
        ws_duplicate_every=arguments.ws_duplicate_every,
        ws_reorder_every=arguments.ws_reorder_every,
        rate_limits=arguments.rate_limits,
        limits=limits,
        delistings=tuple(delistings),
    )
    return ReplayConfig(
        exchange=arguments.exchange,
        data=tuple(DataSpec.parse(text) for text in arguments.data),
        speed=arguments.speed,
        start_ms=arguments.start,
        history_ms=arguments.history,
        faults=plan,
        ground_truth_dir=arguments.ground_truth_dir,
    )


async def run(server: ReplayServer, *, host: str, port: int) -> None:
    await server.start(host=host, port=port)
    print(
        json.dumps(
            {
                "event": "listening",
                "port": server.port,
                "exchange": server.exchange_id,
                "ccxt_urls": server.ccxt_urls(),
            }
        ),
        flush=True,
    )
    await serve_until_signalled(server)


async def serve_until_signalled(server: ReplayServer) -> None:
    """Serve until SIGINT or SIGTERM, then stop cleanly (closing streams, writing ground truth)."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    try:
        await stopping.wait()
    finally:
        await server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    try:
        server = ReplayServer(config=config_from(arguments))  # loads the data
    except (ValueError, OSError) as error:
        print(f"replay exchange: {error}", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(server, host=arguments.host, port=arguments.port))
    return 0
