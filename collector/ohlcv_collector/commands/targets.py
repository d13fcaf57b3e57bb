"""``ohlcv-collector targets add|list|remove``: edit what the collectors collect.

The targets are the symbols of the configured user's (ADMIN_MAIL) active exchange
accounts, in the fullon_orm tables; a running collector picks up a change at its next
refresh, within a minute. Because these commands write without fullon_orm, they clear
fullon_orm's Redis read cache afterwards when CACHE_HOST is set.
"""

import argparse
import dataclasses
import difflib
import json

from ohlcv_collector.backends.targets.orm_cache import (
    INVALIDATED_PATTERNS,
    OrmCacheError,
    OrmCacheSettings,
    invalidate_orm_cache,
)
from ohlcv_collector.commands.common import (
    CommandError,
    add_targets_url,
    note,
    read_targets,
    run,
    settings,
    targets_url,
    user_mail,
)
from ohlcv_collector.models import Target
from ohlcv_collector.runtime import assembly

_COLUMNS = ("EXCHANGE", "SYMBOL", "BACKTEST_DAYS", "UPDATEFRAME")


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``targets`` and its actions."""
    targets = subparsers.add_parser("targets", help="list and edit the collection targets")
    actions = targets.add_subparsers(metavar="ACTION", required=True)

    add = actions.add_parser("add", help="collect a symbol of an exchange")
    add.add_argument("--exchange", required=True, help="ccxt exchange id, e.g. binance")
    add.add_argument("--symbol", required=True, help="ccxt unified symbol, e.g. BTC/USDT")
    add.add_argument(
        "--backtest-days", type=int, help="days of history to backfill (new symbols: 30)"
    )
    add.add_argument("--updateframe", help="fullon's refresh timeframe (new symbols: 1h)")
    add.set_defaults(handler=lambda args: run(_add(args)))

    listing = actions.add_parser("list", help="show the targets")
    listing.add_argument("--exchange", help="only this exchange")
    listing.add_argument("-o", "--output", choices=("table", "json"), default="table")
    listing.set_defaults(handler=lambda args: run(_list(args)))

    remove = actions.add_parser(
        "remove",
        help="stop collecting a symbol, or a whole exchange",
        description="With --symbol, delete the symbol's row: symbols belong to the exchange,"
        " so this stops it for every user. Without --symbol, deactivate the user's"
        " accounts on the exchange, which stops all its symbols for this user only"
        " (adding a symbol there activates an account again).",
    )
    remove.add_argument("--exchange", required=True, help="ccxt exchange id")
    remove.add_argument("--symbol", help="the symbol to delete")
    remove.set_defaults(handler=lambda args: run(_remove(args)))

    for action in (add, listing, remove):
        add_targets_url(action)


def _check_exchange(exchange: str) -> None:
    """Refuse an exchange id no market backend serves, suggesting the nearest ones."""
    known = assembly.market_exchanges()
    if exchange in known:
        return
    nearest = difflib.get_close_matches(exchange, sorted(known), n=3)
    hint = f"; did you mean {' or '.join(nearest)}?" if nearest else ""
    raise CommandError(f"unknown exchange {exchange!r}: not a ccxt exchange id{hint}")


async def _add(args: argparse.Namespace) -> int:
    _check_exchange(args.exchange)
    editor = assembly.open_target_editor(url=targets_url(args), user_mail=user_mail())
    try:
        added = await editor.add(
            exchange=args.exchange,
            symbol=args.symbol,
            backtest_days=args.backtest_days,
            updateframe=args.updateframe,
        )
    finally:
        await editor.close()
    for line in added.notes:
        print(line)
    target = added.target
    print(
        f"added {target.exchange} {target.symbol}:"
        f" {target.backtest_days} days of history, updateframe {target.updateframe}"
    )
    await _clear_orm_cache()
    return 0


async def _remove(args: argparse.Namespace) -> int:
    editor = assembly.open_target_editor(url=targets_url(args), user_mail=user_mail())
    try:
        if args.symbol is not None:
            await editor.remove(exchange=args.exchange, symbol=args.symbol)
            print(f"removed {args.exchange} {args.symbol}")
        else:
            accounts = await editor.deactivate_exchange(exchange=args.exchange)
            print(f"deactivated {', '.join(accounts)} of {editor.user_mail} on {args.exchange}")
    finally:
        await editor.close()
    await _clear_orm_cache()
    return 0


async def _list(args: argparse.Namespace) -> int:
    targets = await read_targets(args)
    if args.output == "json":
        print(json.dumps([dataclasses.asdict(target) for target in targets], indent=2))
    elif targets:
        print(_table(targets))
    else:
        note(f"no targets for {user_mail()}")
    return 0


def _table(targets: list[Target]) -> str:
    rows = [_COLUMNS] + [
        (t.exchange, t.symbol, str(t.backtest_days), t.updateframe) for t in targets
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(_COLUMNS))]
    return "\n".join(
        "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


async def _clear_orm_cache() -> None:
    """Best effort: a write without the ORM must not leave fullon_orm reading stale rows."""
    cache = settings(OrmCacheSettings)
    if cache.url() is None:
        note(
            "CACHE_HOST is not set, so no fullon_orm cache was cleared; a fullon_orm"
            " process with a Redis cache may see the old targets for up to 24 h"
        )
        return
    patterns = " and ".join(INVALIDATED_PATTERNS)
    try:
        deleted = await invalidate_orm_cache(cache)
    except OrmCacheError as error:
        note(f"could not clear fullon_orm's cache ({error}); it may serve old targets for 24 h")
        return
    note(f"cleared {deleted} fullon_orm cache keys ({patterns}) at {cache.url()}")
