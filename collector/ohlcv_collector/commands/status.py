"""``ohlcv-collector status``: how complete each target's candles are, from the database alone.

For every target symbol (of one exchange, or of all): the newest stored candle, how far
the stored data trails the clock (from the later of that candle's end and the coverage's end:
covered minutes without a candle had no trades), the share of the backfill window that is
stored completely, and the number of holes left in it. A range the exchange cannot serve
(older than its candle history, with no trade history to build it from) is shown as not
collectable, not as holes, as the collector's health records and /metrics count it (the
collector keeps it beside the coverage). Everything comes from the targets and the
storage's coverage, so it works whether or not a collector is running, and agrees with
what they store.
"""

import argparse
import json
from dataclasses import asdict, dataclass

from ohlcv_collector.backends.targets import redact_url
from ohlcv_collector.commands.common import (
    CommandError,
    add_targets_url,
    note,
    read_targets,
    run,
    settings,
    user_mail,
)
from ohlcv_collector.commands.db import STORAGE_ERRORS
from ohlcv_collector.core.coverage import (
    collection_window,
    covered_duration,
    exchange_clock,
    holes,
    lag_ms,
)
from ohlcv_collector.core.formatting import format_lag, format_utc_ms
from ohlcv_collector.core.progress import progress_of
from ohlcv_collector.models import (
    DAY_MS,
    MINUTE_MS,
    SeriesKind,
    Target,
    TimeRange,
    floor_minute,
    now_ms,
)
from ohlcv_collector.ports import Storage
from ohlcv_collector.runtime import assembly
from ohlcv_collector.settings import DatabaseSettings

COLUMNS = ("EXCHANGE", "SYMBOL", "NEWEST-CANDLE", "LAG", "BACKFILL", "HOLES", "NOT-COLLECTABLE")


@dataclass(frozen=True, slots=True)
class SymbolReport:
    """One row of the status table."""

    exchange: str
    symbol: str
    backtest_days: int
    newest_candle: str | None  # ISO 8601, UTC
    newest_candle_ms: int | None
    lag_seconds: float | None
    backfill_progress: float
    holes: int
    not_collectable_seconds: float  # of the backfill window: older than the exchange serves


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``status``."""
    parser = subparsers.add_parser(
        "status",
        help="show how complete each target symbol's candles are",
        description="Per target symbol: the newest stored candle, its lag behind the clock,"
        " the share of the backfill window stored completely, and the holes left in it,"
        " read from the database.",
    )
    parser.add_argument("--exchange", help="only this exchange (default: every exchange)")
    parser.add_argument("-o", "--output", choices=("table", "json"), default="table")
    parser.add_argument("--storage-url", metavar="URL", help="the OHLCV database")
    add_targets_url(parser)
    parser.set_defaults(handler=lambda args: run(_status(args)))


async def _status(args: argparse.Namespace) -> int:
    targets = await read_targets(args)
    url = str(args.storage_url or settings(DatabaseSettings).storage_url())
    try:
        storage = await assembly.open_storage(url)
        try:
            now = now_ms()
            reports = [await report(storage, target, now=now) for target in targets]
        finally:
            await storage.close()
    except STORAGE_ERRORS as error:
        text = str(error) or type(error).__name__
        raise CommandError(
            f"OHLCV storage {redact_url(url)}: {text} (run `ohlcv-collector db init`?)"
        ) from error
    if args.output == "json":
        print(json.dumps([asdict(r) for r in reports], indent=2))
    elif reports:
        print(table(reports))
    else:
        note(f"no targets for {user_mail()}")
    return 0


async def report(storage: Storage, target: Target, *, now: int) -> SymbolReport:
    """The status of one target at `now` (epoch ms), as the collector's window sees it."""
    covered = await storage.coverage(
        exchange=target.exchange, symbol=target.symbol, kind=SeriesKind.CANDLES
    )
    now = exchange_clock(clock=now, covered=covered)
    end = floor_minute(now) - MINUTE_MS  # the newest closed minute is the stream's
    window = collection_window(now=now, end=end, days=target.backtest_days)
    uncollectable = await storage.coverage(
        exchange=target.exchange, symbol=target.symbol, kind=SeriesKind.UNCOLLECTABLE_CANDLES
    )
    settled = [*covered, *uncollectable]  # as the collector counts: nothing left to do
    newest = None
    if covered:  # stored candles lie inside the coverage; minutes without trades have none
        recent = TimeRange(max(covered[0].start, covered[-1].end - DAY_MS), covered[-1].end)
        candles = await storage.candles(
            exchange=target.exchange, symbol=target.symbol, window=recent
        )
        newest = candles[-1].start if candles else None
    lag = lag_ms(now=now, newest_candle=newest, covered_until=covered[-1].end if covered else None)
    return SymbolReport(
        exchange=target.exchange,
        symbol=target.symbol,
        backtest_days=target.backtest_days,
        newest_candle=None if newest is None else format_utc_ms(newest),
        newest_candle_ms=newest,
        lag_seconds=None if lag is None else lag / 1000,
        backfill_progress=round(progress_of(window=window, covered=settled), 6),
        holes=len(holes(window=window, covered=settled)),
        not_collectable_seconds=covered_duration(window=window, covered=uncollectable) / 1000,
    )


def table(reports: list[SymbolReport]) -> str:
    """The reports as an aligned text table."""
    rows = [COLUMNS] + [
        (
            r.exchange,
            r.symbol,
            r.newest_candle or "-",
            format_lag(r.lag_seconds),
            f"{r.backfill_progress:.1%}",
            str(r.holes),
            format_lag(r.not_collectable_seconds or None),
        )
        for r in reports
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(COLUMNS))]
    return "\n".join(
        "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
