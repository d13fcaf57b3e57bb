"""One exchange's collection in this process: what it says about symbols it cannot start
yet, and about symbols it stops.

Real parts throughout: targets in a SQLite fullon_orm database, ccxt against the replay
exchange (or against a port nothing listens on), SQLite storage, the batch writer.
"""

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ohlcv_collector.backends.ccxt.market import CcxtMarket
from ohlcv_collector.backends.storage import open_sql_storage
from ohlcv_collector.backends.targets import SqlTargetEditor, SqlTargetSource
from ohlcv_collector.core.phases import Phase
from ohlcv_collector.runtime.exchange import ExchangeCollector
from ohlcv_collector.runtime.symbol import CollectOptions
from ohlcv_collector.runtime.writer import BatchWriter
from tests.harness.tools import free_port
from tests.replay_exchange.ccxt_urls import ccxt_api_urls
from tests.replay_exchange.server import ReplayServer

StartServer = Callable[..., Awaitable[ReplayServer]]
EXCHANGE_LOG = "ohlcv_collector.exchange"
SYMBOLS = ("BTC/USD", "BTC/USDC")


@dataclass
class Scene:
    """The targets, storage and writer an exchange collector runs on."""

    targets: SqlTargetSource
    writer: BatchWriter
    storage_url: str

    @contextlib.asynccontextmanager
    async def collector(
        self, urls: dict[str, Any], *, assignment: Callable[..., Awaitable[set[str]]]
    ) -> AsyncIterator[ExchangeCollector]:
        """The exchange's collector; its symbols are stopped and connections closed after."""
        market = CcxtMarket(exchange_id="binance", options={"enableRateLimit": False}, urls=urls)
        storage = await open_sql_storage(self.storage_url)
        collector = ExchangeCollector(
            exchange="binance", targets=self.targets, market=market, storage=storage,
            writer=self.writer, options=CollectOptions(trades=False), refresh_seconds=60,
            assignment=assignment,
        )  # fmt: skip
        try:
            yield collector
        finally:
            await collector.stop()
            await market.close()
            await storage.close()


@pytest.fixture
async def scene(tmp_path: Path) -> AsyncIterator[Scene]:
    url = f"sqlite://{tmp_path / 'fullon.sqlite'}"
    editor = SqlTargetEditor(url, user_mail="admin@fullon")
    await editor.init_schema()
    for symbol in SYMBOLS:
        await editor.add(exchange="binance", symbol=symbol, backtest_days=0)
    await editor.close()
    storage = await open_sql_storage(url)
    await storage.migrate()
    targets = SqlTargetSource(url, user_mail="admin@fullon")
    try:
        async with BatchWriter(storage, max_rows=500, max_seconds=0.2, buffer_max_rows=50_000) as w:
            yield Scene(targets=targets, writer=w, storage_url=url)
    finally:
        await targets.close()
        await storage.close()


async def take_all(symbols: Collection[str]) -> set[str]:
    return set(symbols)


async def test_an_unreachable_exchange_keeps_its_symbols_waiting_not_delisted(
    scene: Scene, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()  # nothing listens there: the exchange cannot be reached
    urls = ccxt_api_urls(
        exchange_id="binance", http_url=f"http://127.0.0.1:{port}", ws_url=f"ws://127.0.0.1:{port}"
    )
    with caplog.at_level(logging.INFO, logger=EXCHANGE_LOG):
        async with scene.collector(urls, assignment=take_all) as collector:
            await collector.reconcile()
    waiting = "waiting: the markets of binance could not be loaded yet"
    assert {
        s: (st.phase, st.message, st.last_error) for s, st in collector.statuses.items()
    } == dict.fromkeys(SYMBOLS, (Phase.STARTING, waiting, None))
    logged = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == EXCHANGE_LOG]
    assert len(logged) == 1, logged  # one line for the exchange, none per symbol
    assert logged[0][0] == "WARNING"
    assert logged[0][1].startswith(
        "the markets of binance could not be loaded yet, so its symbols wait: "
    )


async def test_a_symbol_handed_to_another_replica_is_said_to_be_handed_over(
    scene: Scene, replay_server_factory: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = await replay_server_factory(exchange="binance")
    mine = set(SYMBOLS)

    async def assignment(symbols: Collection[str]) -> set[str]:
        """This replica's share, as the fleet decides it: a peer joins and takes one."""
        return set(symbols) & mine

    with caplog.at_level(logging.INFO, logger=EXCHANGE_LOG):
        async with scene.collector(server.ccxt_urls(), assignment=assignment) as collector:
            await collector.reconcile()
            mine.discard("BTC/USDC")
            await collector.reconcile()
    assert [r.getMessage() for r in caplog.records if r.name == EXCHANGE_LOG] == [
        "collecting BTC/USD",
        "collecting BTC/USDC",
        "stopped collecting BTC/USDC: handed over to another replica",
        "stopped collecting BTC/USD",
    ]
