"""Trade ingest (B1), latency (B4), memory (B6) and replicas (B7): the real collector process
against the replay exchange's Binance trade stream served as N symbols, into PostgreSQL.

Throughput is the growth of committed rows in a steady-state window; next to it, in the same
run, the two ceilings on the same frames: ccxt alone receiving and parsing the stream (nothing
stored), and asyncpg's COPY of the same rows. Nothing lost is checked per symbol against the
replay's ground truth: every aggregate trade id between the first and the last stored one must
be stored, once.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from bench.lab import Lab, fetch
from bench.measure import (
    CAPTURE,
    CAPTURE_START,
    cpu_report,
    offered_per_second,
    replay,
    start,
    steady_window,
)
from bench.replay import symbol_names

# The collector's default repair interval, on the replay's clock: a hole a dropped connection
# leaves is repaired as soon, in exchange minutes, as it would be in production.
REPAIR_INTERVAL_EXCHANGE_S = 60.0
# A hole in the minute a connection dropped is repairable once that minute and the next have
# closed (the newest closed minute is left to the reconnected stream), then at the next pass.
SETTLE_EXCHANGE_S = 3 * 60.0
SETTLE_SLACK_S = 10.0


def collect_args(speed: float) -> tuple[str, ...]:
    interval = f"{REPAIR_INTERVAL_EXCHANGE_S / speed:g}"
    return ("--no-candles", "--repair-interval", interval, "--backfill-days", "1")


def stream_args(speed: float) -> tuple[str, ...]:
    return ("--speed", str(speed), "--start", CAPTURE_START)


async def collector_run(
    lab: Lab, *, symbols: int, speed: float, warmup: float, duration: float, replicas: int = 1,
    tls: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """One or more collector processes of one exchange taking N symbols' trades (over wss://
    with `tls`, trusting the replay's throwaway CA)."""
    names = symbol_names(symbols, quote="USDT")
    tls_dir = lab.directory / "tls"
    args = (*stream_args(speed), *(("--tls-dir", str(tls_dir)) if tls else ()))
    with replay(exchange="binance", symbols=symbols, data=CAPTURE, directory=lab.directory,
                args=args) as served:  # fmt: skip
        dsn = await lab.collector_database(exchange="binance", symbols=names, days=1)
        urls = served.tls_urls() if tls else served.ccxt_urls
        options = {"enableRateLimit": False} | ({"cafile": str(tls_dir / "ca.crt")} if tls else {})
        collectors = [
            lab.collector(name=f"collector-{symbols}-{i}", exchange="binance", dsn=dsn,
                          ccxt_urls=urls, args=collect_args(speed), redis=replicas > 1,
                          ccxt_options=options)
            for i in range(replicas)
        ]  # fmt: skip
        connection = await asyncpg.connect(dsn)
        try:

            async def stored() -> int:
                return int(await connection.fetchval("SELECT count(*) FROM ohlcv_trade_rows"))

            processes = {c.name: c for c in collectors} | {
                "replay": served.child,
                "postgres": lab.postgres_process(),
            }
            window = await steady_window(
                counter=stored, processes=processes, warmup=warmup, duration=duration,
                replay_origin=served.recording_origin(), speed=speed,
            )  # fmt: skip
            peak = {c.name: c.peak_rss_mb() for c in collectors}
            stats = served.stats()
            by_window_end = served.served_aggtrades(symbol=names[0])
            truth = [agg_id for agg_id, _ in by_window_end]
            offered = offered_per_second(by_window_end, window=window, stats=stats,
                                         symbols=symbols)  # fmt: skip
            latency = await latency_ms(connection, window_start=window.wall_start,
                                       window_end=window.wall_end, stats=stats)  # fmt: skip
        finally:
            await connection.close()
        integrity = await settled_integrity(
            dsn, served=served, symbols=names, truth=truth, speed=speed
        )
        for collector in collectors:
            collector.stop()
    cpu = cpu_report(window, per="trades")
    collector_cpu = sum(cpu[c.name]["cpu_seconds"] for c in collectors)
    return {
        "symbols": symbols,
        "replicas": replicas,
        "speed": speed,
        "offered_trades_per_second": round(offered, 1),
        "window_seconds": round(window.seconds, 2),
        "window_served_seconds": window.served_seconds(),
        "trades_in_window": window.count,
        "trades_per_second": round(window.rate(), 1),
        "collector_cpu_seconds_per_1000_trades": _per_thousand(collector_cpu, window.count),
        "collector_peak_rss_mb": max(peak.values()),
        "replicas_peak_rss_mb": peak,
        "cpu": cpu,
        "replay_cpu_share": _share(cpu, "replay"),
        "latency_ms": latency,
        **integrity,
    }


async def ccxt_ceiling(lab: Lab, *, symbols: int, speed: float, warmup: float, duration: float
                       ) -> dict[str, Any]:  # fmt: skip
    """ccxt.pro alone on the same stream: trades received and parsed per second."""
    names = symbol_names(symbols, quote="USDT")
    count_file = lab.directory / f"ccxt-count-{symbols}.txt"
    count_file.unlink(missing_ok=True)
    with replay(exchange="binance", symbols=symbols, data=CAPTURE, directory=lab.directory,
                args=stream_args(speed)) as served:  # fmt: skip
        argv = [sys.executable, "-m", "bench.ccxt_ceiling", "trades",
                json.dumps(served.ccxt_urls), str(count_file), *names]  # fmt: skip
        ccxt = start(f"ccxt-trades-{symbols}", argv, directory=lab.directory)
        try:

            async def parsed() -> int:
                try:
                    return int(count_file.read_text() or 0)
                except FileNotFoundError:
                    return 0

            window = await steady_window(
                counter=parsed, processes={"ccxt": ccxt, "replay": served.child},
                warmup=warmup, duration=duration, replay_origin=served.recording_origin(),
                speed=speed,
            )  # fmt: skip
            peak = ccxt.peak_rss_mb()
            offered = offered_per_second(
                served.served_aggtrades(symbol=names[0]), window=window, stats=served.stats(),
                symbols=symbols,
            )  # fmt: skip
        finally:
            ccxt.stop()
    cpu = cpu_report(window, per="trades")
    return {
        "symbols": symbols,
        "offered_trades_per_second": round(offered, 1),
        "trades_per_second": round(window.rate(), 1),
        "window_served_seconds": window.served_seconds(),
        "ccxt_cpu_seconds_per_1000_trades": cpu["ccxt"]["cpu_seconds_per_1000_trades"],
        "ccxt_peak_rss_mb": peak,
        "cpu": cpu,
        "replay_cpu_share": _share(cpu, "replay"),
    }


async def copy_ceiling(lab: Lab, *, symbols: int, rows: int) -> dict[str, Any]:
    """asyncpg COPY of trade rows shaped as the collector's, in its batch size (5,000)."""
    dsn = await lab.collector_database(exchange="binance", symbols=[], days=1)
    names = symbol_names(symbols, quote="USDT")
    base = datetime(2024, 8, 8, 23, 54, tzinfo=UTC)
    connection = await asyncpg.connect(dsn)
    try:
        # The series numbers the collector gives its rows (schema version 4).
        series = [
            await connection.fetchval(
                "INSERT INTO ohlcv_series (exchange, symbol) VALUES ('binance', $1) RETURNING id",
                name,
            )
            for name in names
        ]
        records = [
            (series[i % symbols], base + timedelta(milliseconds=i), str(3735683259 + i),
             Decimal("61828.00000000"), Decimal("0.00123000"), "buy" if i % 2 else "sell")
            for i in range(rows)
        ]  # fmt: skip
        columns = ["series", "ts", "trade_id", "price", "amount", "side"]
        began = time.perf_counter()
        for offset in range(0, rows, 5000):
            async with connection.transaction():
                await connection.copy_records_to_table(
                    "ohlcv_trade_rows", records=records[offset : offset + 5000], columns=columns
                )
        seconds = time.perf_counter() - began
    finally:
        await connection.close()
    return {"symbols": symbols, "rows": rows, "rows_per_second": round(rows / seconds, 1)}


async def latency_ms(
    connection: asyncpg.Connection, *, window_start: float, window_end: float,
    stats: dict[str, Any],
) -> dict[str, float | int | None]:  # fmt: skip
    """From the moment the replay served a trade (its exchange time on the replay clock, mapped
    back to the wall clock) to the row being written, for the rows written in the window."""
    started, speed = float(stats["started_ms"]), float(stats["speed"])
    row = await connection.fetchrow(
        """SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lat) AS p50,
                  percentile_cont(0.99) WITHIN GROUP (ORDER BY lat) AS p99,
                  max(lat) AS max, count(*) AS n
           FROM (SELECT extract(epoch FROM bench_written_at) * 1000
                        - ($1 + (extract(epoch FROM ts) * 1000 - $1) / $2) AS lat
                 FROM ohlcv_trade_rows
                 WHERE bench_written_at BETWEEN to_timestamp($3) AND to_timestamp($4)) AS rows""",
        started, speed, window_start, window_end,
    )  # fmt: skip
    assert row is not None
    keys = ("p50", "p99", "max")
    rounded = {k: None if row[k] is None else round(float(row[k]), 1) for k in keys}
    return {**rounded, "trades": int(row["n"])}


async def check_integrity(
    dsn: str, *, truth: list[int], symbols: int, table: str = "ohlcv_trades"
) -> dict[str, Any]:
    """Stored versus served, per symbol: gaps inside the stored id range and duplicates.

    Only ids up to the newest one in `truth` count: trades stored after the truth was taken
    would otherwise count as stored ones it lacks (a negative loss).
    """
    if not truth:
        return {"trades_stored": 0, "trades_served_by_clock": 0, "symbols_stored": 0,
                "trades_lost": 0, "trades_duplicated": 0}  # fmt: skip
    # the table is one of two constants
    columns = "symbol, count(*) AS n, count(DISTINCT trade_id) AS d, min(trade_id::int8) AS lo"
    sql = (f"SELECT {columns}, max(trade_id::int8) AS hi FROM {table}"  # noqa: S608
           " WHERE trade_id::int8 <= $1 GROUP BY symbol")  # fmt: skip
    rows = await fetch(dsn, sql, truth[-1])
    lost = sum(
        bisect.bisect_right(truth, r["hi"]) - bisect.bisect_left(truth, r["lo"]) - r["d"]
        for r in rows
    )
    stored = sum(int(r["n"]) for r in rows)
    return {
        "trades_stored": stored,
        "trades_served_by_clock": len(truth) * symbols,
        "symbols_stored": len(rows),
        "trades_lost": int(lost),
        "trades_duplicated": stored - sum(int(r["d"]) for r in rows),
    }


async def settled_integrity(
    dsn: str, *, served: Any, symbols: list[str], truth: list[int], speed: float
) -> dict[str, Any]:
    """Stored versus served once the collector has repaired what it can.

    A connection that drops leaves a hole the collector fills over REST a few exchange minutes
    later, so a hole open at the window's end is not yet a loss: what is still missing after
    SETTLE_EXCHANGE_S on the replay's clock is. Both figures are reported; `truth` is what the
    replay had served when the window closed.
    """
    began = time.monotonic()
    deadline = began + SETTLE_EXCHANGE_S / speed + SETTLE_SLACK_S
    first = last = await check_integrity(dsn, truth=truth, symbols=len(symbols))
    while last["trades_lost"] and time.monotonic() < deadline:
        await asyncio.sleep(1)
        truth = [agg_id for agg_id, _ in served.served_aggtrades(symbol=symbols[0])]
        last = await check_integrity(dsn, truth=truth, symbols=len(symbols))
    return last | {
        "trades_missing_at_window_end": first["trades_lost"],
        "settle_seconds": round(time.monotonic() - began, 1),
    }


def _share(cpu: dict[str, Any], name: str) -> float:
    total = sum(entry["cpu_seconds"] for entry in cpu.values())
    return round(cpu[name]["cpu_seconds"] / total, 3) if total else 0.0


def _per_thousand(seconds: float, count: int) -> float | None:
    return round(seconds / (count / 1000), 4) if count else None


async def b1(lab: Lab, plan: Any) -> dict[str, Any]:
    runs = []
    for symbols in plan.b1_symbols:
        kwargs = {"symbols": symbols, "speed": plan.speed(symbols), "warmup": plan.warmup,
                  "duration": plan.duration}  # fmt: skip
        collector = await collector_run(lab, **kwargs)
        ceiling = await ccxt_ceiling(lab, **kwargs)
        copy = await copy_ceiling(lab, symbols=symbols, rows=plan.copy_rows)
        ratio = collector["trades_per_second"] / ceiling["trades_per_second"]
        runs.append({
            "symbols": symbols, "collector": collector, "ccxt_ceiling": ceiling,
            "copy_ceiling": copy, "collector_to_ccxt_ratio": round(ratio, 3),
        })  # fmt: skip
    return {"runs": runs, "goal": "collector/ccxt >= 0.70 at 100 symbols, nothing lost"}


async def b4(lab: Lab, plan: Any) -> dict[str, Any]:
    runs = []
    for symbols in plan.b4_symbols:
        run = await collector_run(lab, symbols=symbols, speed=1.0, warmup=plan.warmup,
                                  duration=plan.duration)  # fmt: skip
        runs.append({"symbols": symbols, "latency_ms": run["latency_ms"],
                     "trades_per_second": run["trades_per_second"],
                     "trades_lost": run["trades_lost"]})  # fmt: skip
    return {"runs": runs, "goal": "p99 < 1500 ms"}


async def b7(lab: Lab, plan: Any) -> dict[str, Any]:
    runs = []
    for replicas in (1, 2):
        run = await collector_run(lab, symbols=plan.b7_symbols, speed=plan.speed(plan.b7_symbols),
                                  warmup=plan.warmup + 4, duration=plan.duration,
                                  replicas=replicas)  # fmt: skip
        runs.append({key: run[key] for key in (
            "replicas", "symbols", "window_served_seconds", "offered_trades_per_second",
            "trades_per_second",
            "collector_cpu_seconds_per_1000_trades",
            "replicas_peak_rss_mb", "replay_cpu_share", "trades_missing_at_window_end",
            "trades_lost", "trades_duplicated", "cpu",
        )})  # fmt: skip
    speedup = runs[1]["trades_per_second"] / runs[0]["trades_per_second"]
    return {"runs": runs, "speedup": round(speedup, 3),
            "goal": ">= 1.7x with 2 replicas while a core is free for each"}  # fmt: skip


def b6(b1_result: dict[str, Any]) -> dict[str, Any]:
    """Peak RSS of the collector processes measured in B1."""
    runs = [
        {
            "symbols": r["symbols"],
            "collector_peak_rss_mb": r["collector"]["collector_peak_rss_mb"],
            "ccxt_alone_peak_rss_mb": r["ccxt_ceiling"]["ccxt_peak_rss_mb"],
        }
        for r in b1_result["runs"]
    ]
    return {"runs": runs, "goal": "< 250 MB at 100 symbols"}
