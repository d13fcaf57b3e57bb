"""The fullon library doubles (tests/doubles) made importable for one test, and seeded.

A pytest plugin (tests/conftest.py): a test asks for the `doubles` fixture.

The fullon libraries cannot be installed here, so tests/doubles holds doubles that
implement only their documented API (and raise on anything else); `doubles` puts them on
sys.path for one test alone, after which the collector chooses the fullon backends.
"""

import importlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

DOUBLES = Path(__file__).resolve().parents[1] / "doubles"
DOUBLED = ("fullon_orm", "fullon_exchange", "fullon_ohlcv", "fullon_cache", "fullon_log",
           "fullon_credentials")  # fmt: skip
SYMBOLS = ["BTC/USD", "BTC/USDT"]


@pytest.fixture
def doubles(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The doubles importable for this test only; logging restored afterwards."""
    monkeypatch.syspath_prepend(str(DOUBLES))
    handlers = logging.getLogger().handlers[:]
    yield
    logging.getLogger().handlers = handlers
    for name in [m for m in sys.modules if m.split(".")[0] in DOUBLED]:
        del sys.modules[name]


def double(module: str) -> Any:
    """A module of the doubles (imported by name: they are not on mypy's path)."""
    return importlib.import_module(module)


async def seed_orm(*, backtest_days: int) -> None:
    """The admin's binance account and symbols, behind ten other catalog exchanges;
    ETH/USDT is ticker-only, so SYMBOLS are the targets."""
    fullon_orm = double("fullon_orm")
    models = double("fullon_orm.models")
    exchange_model, symbol_model = models.Exchange, models.Symbol

    fullon_orm._reset()
    uid = fullon_orm._add_user("admin@fullon")
    async with fullon_orm.DatabaseContext() as db:
        for name in ("kraken", "bitmex", "hyperliquid", "yahoo", "okx", "bybit", "coinbase",
                     "gate", "mexc", "htx"):  # fmt: skip
            await db.exchanges.create_cat_exchange(name, "")
        binance = await db.exchanges.create_cat_exchange("binance", "")
        await db.exchanges.add_user_exchange(
            exchange_model(uid=uid, cat_ex_id=binance.cat_ex_id, name="binance1")
        )
        for symbol in [*SYMBOLS, "ETH/USDT"]:
            await db.symbols.add_symbol(
                symbol_model(symbol=symbol, cat_ex_id=binance.cat_ex_id, backtest=backtest_days,
                       updateframe="1m", only_ticker=symbol == "ETH/USDT")
            )  # fmt: skip
        await db.commit()
