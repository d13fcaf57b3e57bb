"""The peer (B3): cryptofeed, what a fullon user would otherwise run, next to this collector on
the same replayed Binance trade stream, both storing into PostgreSQL.

cryptofeed (PyPI, its newest release) runs with its own PostgreSQL backend (`TradePostgres`,
table `trades` as its documentation creates it) in its own process. Its Binance feed takes its
addresses from class attributes, so a subclass points it at the replay exchange. cryptofeed
refuses anything but a wss:// address, so the replay also serves TLS with a throwaway
certificate (SSL_CERT_FILE trusts its CA), and for a like-for-like figure the collector takes
the same wss:// stream in this scenario (ccxt's `cafile` option). Both subscribe to
`<symbol>@aggTrade`.

    python -m bench.peer HTTP_URL WS_URL DSN SYMBOL [SYMBOL ...]     # the cryptofeed process
"""

from __future__ import annotations

import asyncio
import os
import sys
from importlib.metadata import version
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from bench.ingest import check_integrity, collector_run, stream_args
from bench.lab import Lab
from bench.measure import CAPTURE, cpu_report, offered_per_second, replay, start, steady_window
from bench.replay import symbol_names

# cryptofeed's documented trades table (its examples' schema), plus the benchmark's column.
TRADES_TABLE = """CREATE TABLE trades (
    id serial PRIMARY KEY, timestamp TIMESTAMP, receipt_timestamp TIMESTAMP,
    exchange VARCHAR(32), symbol VARCHAR(32), side VARCHAR(8), amount NUMERIC(64, 32),
    price NUMERIC(64, 32), trade_id VARCHAR(64), type VARCHAR(32),
    bench_written_at timestamptz DEFAULT clock_timestamp())"""


async def cryptofeed_run(
    lab: Lab, *, symbols: int, speed: float, warmup: float, duration: float
) -> dict[str, Any]:
    names = symbol_names(symbols, quote="USDT")
    tls_dir = lab.directory / "tls"
    args = (*stream_args(speed), "--tls-dir", str(tls_dir))
    with replay(exchange="binance", symbols=symbols, data=CAPTURE, directory=lab.directory,
                args=args) as served:  # fmt: skip
        dsn = await lab.database()
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(TRADES_TABLE)
            argv = [sys.executable, "-m", "bench.peer", served.base,
                    f"wss://127.0.0.1:{served.tls_port}", dsn, *names]  # fmt: skip
            env = os.environ | {"SSL_CERT_FILE": str(tls_dir / "ca.crt")}
            peer = start(f"cryptofeed-{symbols}", argv, directory=lab.directory, env=env)

            async def stored() -> int:
                return int(await connection.fetchval("SELECT count(*) FROM trades"))

            processes = {"cryptofeed": peer, "replay": served.child,
                         "postgres": lab.postgres_process()}  # fmt: skip
            window = await steady_window(
                counter=stored, processes=processes, warmup=warmup, duration=duration,
                replay_origin=served.recording_origin(), speed=speed,
            )  # fmt: skip
            peak = peer.peak_rss_mb()
        finally:
            await connection.close()
        peer.stop()
        by_window_end = served.served_aggtrades(symbol=names[0])
        truth = [agg_id for agg_id, _ in by_window_end]
        offered = offered_per_second(by_window_end, window=window, stats=served.stats(),
                                     symbols=symbols)  # fmt: skip
        integrity = await check_integrity(dsn, truth=truth, symbols=symbols, table="trades")
    cpu = cpu_report(window, per="trades")
    return {
        "symbols": symbols,
        "offered_trades_per_second": round(offered, 1),
        "trades_per_second": round(window.rate(), 1),
        "window_served_seconds": window.served_seconds(),
        "cpu_seconds_per_1000_trades": cpu["cryptofeed"]["cpu_seconds_per_1000_trades"],
        "peak_rss_mb": peak,
        "cpu": cpu,
        **integrity,
        "trades_missing_at_window_end": integrity["trades_lost"],  # it has no repair
    }


async def b3(lab: Lab, plan: Any) -> dict[str, Any]:
    symbols = plan.b3_symbols
    kwargs = {"symbols": symbols, "speed": plan.speed(symbols), "warmup": plan.warmup,
              "duration": plan.duration}  # fmt: skip
    ours = await collector_run(lab, tls=True, **kwargs)
    theirs = await cryptofeed_run(lab, **kwargs)
    keys = ("offered_trades_per_second", "trades_per_second", "window_served_seconds",
            "trades_stored", "trades_served_by_clock", "trades_lost",
            "trades_missing_at_window_end", "settle_seconds", "trades_duplicated")  # fmt: skip
    collector = {k: ours[k] for k in keys} | {
        "cpu_seconds_per_1000_trades": ours["collector_cpu_seconds_per_1000_trades"],
        "peak_rss_mb": ours["collector_peak_rss_mb"],
    }
    return {
        "symbols": plan.b3_symbols,
        "cryptofeed_version": version("cryptofeed"),
        "collector": collector,
        "cryptofeed": theirs,
        "throughput_ratio": round(ours["trades_per_second"] / theirs["trades_per_second"], 3),
        "goal": "ahead on throughput and CPU per trade; nothing lost",
    }  # fmt: skip


def main(argv: list[str]) -> None:
    """The cryptofeed process: Binance aggregate trades of SYMBOLs into PostgreSQL."""
    from cryptofeed import FeedHandler
    from cryptofeed.backends.postgres import TradePostgres
    from cryptofeed.connection import RestEndpoint, Routes, WebsocketEndpoint
    from cryptofeed.defines import TRADES
    from cryptofeed.exchanges import Binance

    http_url, ws_url, dsn, symbols = argv[0], argv[1], argv[2], argv[3:]

    class ReplayBinance(Binance):  # type: ignore[misc]
        websocket_endpoints = [WebsocketEndpoint(ws_url)]  # noqa: RUF012 (cryptofeed's API)
        rest_endpoints = [  # noqa: RUF012
            RestEndpoint(http_url, routes=Routes("/api/v3/exchangeInfo",
                         l2book="/api/v3/depth?symbol={}&limit={}"))
        ]  # fmt: skip

    url = urlsplit(dsn)
    backend = TradePostgres(host=url.hostname, port=url.port, user=url.username,
                            db=url.path.lstrip("/"), table="trades")  # fmt: skip
    handler = FeedHandler(config={"uvloop": True, "log": {"filename": "/dev/null",
                                                          "level": "WARNING"}})  # fmt: skip
    pairs = [symbol.replace("/", "-") for symbol in symbols]
    handler.add_feed(ReplayBinance(symbols=pairs, channels=[TRADES], callbacks={TRADES: backend}))
    # cryptofeed asks for the current loop, which uvloop's policy no longer creates implicitly
    asyncio.set_event_loop(asyncio.new_event_loop())
    handler.run()


if __name__ == "__main__":
    main(sys.argv[1:])
