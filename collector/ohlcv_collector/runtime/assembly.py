"""Which backend serves each port: the fullon library where it imports, else the built-in.

The one place where backends are chosen: `run`, `status`, `db`, `targets` and the
operator open their targets, storage, health and budget here, so that every entry point
reads what the collectors write. Each concern is decided on its own (fullon-contract.md
lists why the libraries may be missing), so a partial fullon installation still uses
what it has. Health and the shared request budget need Redis (REDIS_HOST); without it a
collector runs alone.
"""

import logging

from ohlcv_collector.backends.budget import SharedBudget
from ohlcv_collector.backends.fullon import available
from ohlcv_collector.backends.health import RedisHealth
from ohlcv_collector.backends.storage import open_sql_storage
from ohlcv_collector.backends.targets import SqlTargetEditor, SqlTargetSource
from ohlcv_collector.observability.logs import configure_json_logging
from ohlcv_collector.ports import HealthStore, Market, Storage, TargetSource
from ohlcv_collector.settings import CollectorSettings

log = logging.getLogger("ohlcv_collector.assembly")


def configure_logs(*, level: str) -> None:
    """fullon_log when installed, else JSON lines on stdout."""
    if available("fullon_log"):
        from ohlcv_collector.backends.fullon.logs import configure_fullon_logging

        configure_fullon_logging(level=level)
    else:
        configure_json_logging(level=level)


def open_targets(*, url: str, user_mail: str) -> TargetSource:
    """fullon_orm's DatabaseContext, else SQL over the fullon_orm tables at `url`."""
    if available("fullon_orm"):
        from ohlcv_collector.backends.fullon.targets import FullonTargetSource

        return FullonTargetSource(user_mail=user_mail)
    return SqlTargetSource(url, user_mail=user_mail)


def open_target_editor(*, url: str, user_mail: str) -> SqlTargetEditor:
    """SQL over the fullon_orm tables at `url`, with or without fullon_orm.

    fullon_orm has no schema creation and no deletion of symbols, so `db init` and
    `targets add|remove` write the tables themselves (and clear fullon_orm's cache).
    """
    return SqlTargetEditor(url, user_mail=user_mail)


def market_exchanges() -> frozenset[str]:
    """Exchange ids a market backend serves: ccxt's, and BitMEX through the built-in backend."""
    # Imported here: ccxt takes a moment to import, and only callers that check ids need it.
    from ohlcv_collector.backends.bitmex.market import EXCHANGE_ID
    from ohlcv_collector.backends.ccxt.client import exchange_ids

    return exchange_ids() | {EXCHANGE_ID}


def open_market(
    *,
    exchange: str,
    settings: CollectorSettings,
    targets: TargetSource,
    budget: SharedBudget | None,
) -> Market:
    """fullon_exchange's handlers (which pace themselves), else ccxt with the shared budget,
    else, for BitMEX (the pinned ccxt has no bitmex class), the built-in BitMEX backend."""
    if available("fullon_exchange") and available("fullon_orm"):
        from ohlcv_collector.backends.fullon.market import FullonMarket

        return FullonMarket(exchange_id=exchange, user_mail=settings.user_mail, targets=targets)
    # Imported here: ccxt takes a moment to import, and the other commands don't need it.
    from ohlcv_collector.backends.bitmex.market import EXCHANGE_ID, BitmexMarket
    from ohlcv_collector.backends.ccxt.client import exchange_ids
    from ohlcv_collector.backends.ccxt.market import CcxtMarket

    urls = settings.ccxt_urls_by_exchange.get(exchange, settings.ccxt_urls)
    if exchange == EXCHANGE_ID and exchange not in exchange_ids():
        pace = settings.ccxt_options.get("enableRateLimit") is not False
        return BitmexMarket(urls=urls, pace=pace, budget=budget)
    return CcxtMarket(exchange_id=exchange, options=settings.ccxt_options, urls=urls, budget=budget)


async def open_storage(url: str) -> Storage:
    """fullon_ohlcv's repositories (coverage kept at `url`), else the built-in at `url`."""
    storage = await open_sql_storage(url)
    if available("fullon_ohlcv"):
        from ohlcv_collector.backends.fullon.storage import FullonStorage

        return FullonStorage(coverage=storage)
    return storage


def open_health(redis_url: str | None) -> HealthStore | None:
    """fullon_cache's ProcessCache, else the built-in store; None without Redis."""
    if redis_url is None:
        return None
    if available("fullon_cache"):
        from ohlcv_collector.backends.fullon.health import FullonHealth

        return FullonHealth()
    return RedisHealth.from_url(redis_url)


def open_budget(*, redis_url: str | None, exchange: str) -> SharedBudget | None:
    """The exchange's request budget shared by its replicas; None without Redis."""
    return SharedBudget.from_url(redis_url, exchange=exchange) if redis_url else None


def chosen(*, targets: object, market: object, storage: object, health: object) -> None:
    """Log which backend serves each port, once at start."""
    log.info(
        "backends: targets %s, market %s, storage %s, health %s",
        *(type(b).__name__ for b in (targets, market, storage, health)),
    )
