"""Backfill (B2): closed 1m candles stored per second from REST by the real collector process,
timed from its first candle request to the last candle committed (its CPU is the process's
whole, start-up included).

Without a rate limit the collector is compared with ccxt alone fetching and parsing the same
pages in the same run (bench/ccxt_ceiling.py). With the replay exchange enforcing Binance's
real public limit (6,000 request weight a minute, 429 then 418 bans) and Kraken's decaying call
counter, the collector runs with its normal settings and the figure is the share of the
permitted rate it uses, and how many answers were refusals.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import asyncpg

from bench.lab import Lab, fetch
from bench.measure import SHARED_DATA, cpu_report, replay, steady_window
from bench.replay import symbol_names

BINANCE_CANDLES = SHARED_DATA / "candles_1m/binanceus_BTCUSD_1m_20230301_20230321.csv"
KRAKEN_CANDLES = SHARED_DATA / "candles_1m/kraken_XBTUSD_1m_fromtrades_20230301_20230321.csv"
# When the `$1`-th candle was committed (the Lab's PostgreSQL tracks commit timestamps).
COMPLETED_AT = """SELECT committed FROM (SELECT pg_xact_commit_timestamp(xmin) AS committed
    FROM ohlcv_candle_rows) AS rows ORDER BY committed OFFSET $1 - 1 LIMIT 1"""
# The candle minutes the collector's coverage vouches for, which it commits with the rows.
COVERED_MINUTES = """SELECT coalesce(sum(extract(epoch FROM end_ts - start_ts)), 0) / 60
    FROM ohlcv_coverage WHERE kind = 'candles'"""
STORED = "SELECT count(*) FROM ohlcv_candle_rows"
BINANCE_WEIGHT_PER_MINUTE = 6000
KRAKEN_CALLS_PER_MINUTE = 60
CANDLE_ARGS = ("--no-trades", "--repair-interval", "3600")


async def _mid_minute() -> None:
    """Wait, when needed, until the clock is between a minute's 5th and 50th second.

    A collector whose pass starts in a minute's first 2 s (`POLL_GRACE_MS`) leaves the bar
    that just closed to its next pass, because the exchange may not have published it yet,
    and the next pass is 2 s later: two 1-symbol runs in 45 measured that wait (1.5 and
    2.0 s) instead of 0.12 s of storing. The replay's minutes are the wall clock's at
    speed 1, and the collector's pass starts about a second after the process.
    """
    second = time.time() % 60
    if not 5 <= second < 50:
        await asyncio.sleep((65 - second) % 60)


async def collector_backfill(lab: Lab, *, symbols: int, days: int) -> dict[str, Any]:
    """From the first stored candle to every symbol's window stored, no rate limit."""
    names = symbol_names(symbols, quote="USD")
    history = ("--history", f"{days + 1}d")
    with replay(exchange="binance", symbols=symbols, data=[BINANCE_CANDLES],
                directory=lab.directory, args=history) as served:  # fmt: skip
        dsn = await lab.collector_database(exchange="binance", symbols=names, days=days)
        expected = symbols * days * 1440
        replay_before = served.child.cpu()  # its start-up (loading the recording) left out
        # The server's processes, the collector's backends among them once it connects: the
        # backfill's other bound, sharing the machine's cores with the collector.
        postgres = lab.postgres_process()
        postgres_before = postgres.cpu()
        await _mid_minute()
        collector = lab.collector(
            name=f"backfill-{symbols}", exchange="binance", dsn=dsn, ccxt_urls=served.ccxt_urls,
            args=(*CANDLE_ARGS, "--backfill-days", str(days)),
        )  # fmt: skip
        connection = await asyncpg.connect(dsn)
        try:
            deadline = time.monotonic() + 600
            # Coverage first, then rows: counting 720,000 rows took 32 ms of the server's
            # CPU, so counting every 50 ms competed with the collector for the two cores.
            for query in (COVERED_MINUTES, STORED):
                while (done := int(await connection.fetchval(query))) < expected:
                    collector.check_running()
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"backfill reached {done} of {expected} in 600 s")
                    await asyncio.sleep(0.05)
            stored = done
            # From its first candle request (ccxt alone is timed from there too) to the commit
            # that brought the count to `expected`, which the poll only sees up to 50 ms later.
            completed = await connection.fetchval(COMPLETED_AT, expected)
            seconds = completed.timestamp() - float(served.stats()["first_candle_call"])
            cpu, peak = collector.cpu(), collector.peak_rss_mb()
            replay_cpu = served.child.cpu() - replay_before
            postgres_cpu = postgres.cpu() - postgres_before
        finally:
            await connection.close()
            collector.stop()
    return {"symbols": symbols, "days": days, "candles": stored, "seconds": round(seconds, 2),
            "candles_per_second": round(stored / seconds, 1), "cpu_seconds": round(cpu, 2),
            "peak_rss_mb": peak, "replay_cpu_seconds": round(replay_cpu, 2),
            "postgres_cpu_seconds": round(postgres_cpu, 2)}  # fmt: skip


async def ccxt_backfill(lab: Lab, *, symbols: int, days: int) -> dict[str, Any]:
    """ccxt alone paging through the same candles (nothing stored)."""
    names = symbol_names(symbols, quote="USD")
    with replay(exchange="binance", symbols=symbols, data=[BINANCE_CANDLES],
                directory=lab.directory, args=("--history", f"{days + 1}d")) as served:  # fmt: skip
        replay_before = served.child.cpu()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.ccxt_ceiling", "candles", json.dumps(served.ccxt_urls),
            str(lab.directory / "ccxt-candles.txt"), str(days), *names,
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await process.communicate()
        replay_cpu = served.child.cpu() - replay_before
    result = json.loads(out.decode().splitlines()[-1])
    return {"symbols": symbols, "days": days, "candles": result["candles"],
            "seconds": round(result["seconds"], 2),
            "candles_per_second": round(result["candles"] / result["seconds"], 1),
            "cpu_seconds": round(result["cpu_seconds"], 2),
            "replay_cpu_seconds": round(replay_cpu, 2)}  # fmt: skip


async def limited(lab: Lab, *, exchange: str, symbols: int, days: int, plan: Any) -> dict[str, Any]:
    """The collector with its normal settings against the real limits, over a window."""
    quote = "USD"
    names = symbol_names(symbols, quote=quote)
    data = BINANCE_CANDLES if exchange == "binance" else KRAKEN_CANDLES
    args = ("--rate-limits", "--history", f"{days + 1}d")
    with replay(exchange=exchange, symbols=symbols, data=[data], directory=lab.directory,
                args=args) as served:  # fmt: skip
        dsn = await lab.collector_database(exchange=exchange, symbols=names, days=days)
        collector = lab.collector(
            name=f"limited-{exchange}", exchange=exchange, dsn=dsn, ccxt_urls=served.ccxt_urls,
            args=(*CANDLE_ARGS, "--backfill-days", str(days)), ccxt_options={},
        )  # fmt: skip
        try:

            async def used() -> int:  # Binance: request weight; Kraken: calls
                stats = served.stats()
                if exchange == "binance":
                    return int(stats["binance_weight_used"])
                return sum(stats["calls"].values())

            window = await steady_window(counter=used, processes={"collector": collector,
                                         "replay": served.child}, warmup=plan.warmup,
                                         duration=plan.limited_duration)  # fmt: skip
            last = served.stats()
            # A backfill that ended inside the window leaves it idle for the rest, and the
            # share then measures the plan, not the pacing.
            stored = int((await fetch(dsn, STORED))[0][0])
        finally:
            collector.stop()
    statuses = last["calls"]
    minutes = window.seconds / 60
    per_minute = window.count / minutes
    result: dict[str, Any] = {
        "exchange": exchange, "symbols": symbols, "window_seconds": round(window.seconds, 1),
        "calls": sum(statuses.values()),
        "http_429": int(statuses.get("429", 0)), "http_418": int(statuses.get("418", 0)),
        "kraken_refused": int(last["kraken_refusals"]),
        "backfill_outlasted_window": stored < symbols * days * 1440,
        "cpu": cpu_report(window, per="weight" if exchange == "binance" else "calls"),
    }  # fmt: skip
    if exchange == "binance":
        permitted = BINANCE_WEIGHT_PER_MINUTE
        result |= {"weight_per_minute": round(per_minute, 1)}
    else:  # one call a second decays each counter (the replay's default, Kraken's public tier)
        permitted = KRAKEN_CALLS_PER_MINUTE
        result |= {"calls_per_minute": round(per_minute, 1)}
    return result | {"permitted_per_minute": permitted,
                     "share_of_permitted": round(per_minute / permitted, 3)}  # fmt: skip


async def b2(lab: Lab, plan: Any) -> dict[str, Any]:
    runs = []
    for symbols in plan.b2_symbols:
        collector = await collector_backfill(lab, symbols=symbols, days=plan.b2_days)
        ccxt = await ccxt_backfill(lab, symbols=symbols, days=plan.b2_days)
        ratio = collector["candles_per_second"] / ccxt["candles_per_second"]
        runs.append({"symbols": symbols, "collector": collector, "ccxt_alone": ccxt,
                     "collector_to_ccxt_ratio": round(ratio, 3)})  # fmt: skip
    rate_limited = [
        await limited(lab, exchange=exchange, symbols=plan.limited_symbols, days=plan.b2_days,
                      plan=plan)
        for exchange in ("binance", "kraken")
    ]  # fmt: skip
    goal = "collector/ccxt >= 0.70; >= 90% of Binance's weight; zero 429 and 418"
    return {"runs": runs, "rate_limited": rate_limited, "goal": goal}
