"""The fullon backends, chosen automatically, through a full backfill-and-stream cycle.

The fullon libraries cannot be installed here, so tests/doubles holds doubles that
implement only their documented API (and raise on anything else); the `doubles` fixture
(tests.integration.fullon_doubles) puts them on sys.path for each test alone. The
market-data double runs on ccxt against the replay exchange, and the cache double writes
a real Redis, so candles, trades and health go all the way through.
"""

import asyncio
import json
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ohlcv_collector.backends.health import HealthReader, RedisHealth
from ohlcv_collector.backends.storage import open_sql_storage
from ohlcv_collector.models import MINUTE_MS, TimeRange
from ohlcv_collector.runtime import assembly
from ohlcv_collector.runtime.process import ProcessConfig, run_collector
from ohlcv_collector.runtime.symbol import CollectOptions
from ohlcv_collector.settings import CollectorSettings
from tests.harness.waiting import wait_until_async
from tests.integration.fullon_doubles import SYMBOLS, double, seed_orm
from tests.replay_exchange.datasets import shared_data_dir
from tests.replay_exchange.fixtures import ReplayProcess

pytestmark = pytest.mark.redis


def ground_truth(replay: ReplayProcess, *, kind: str, symbol: str) -> list[dict[str, Any]]:
    url = (
        f"http://127.0.0.1:{replay.port}/admin/ground-truth?kind={kind}&format=jsonl"
        f"&symbol={symbol.replace('/', '%2F')}"
    )
    with urllib.request.urlopen(url, timeout=10) as answer:
        return [json.loads(line) for line in answer.read().decode().splitlines() if line]


def differences(replay: ReplayProcess, stored: dict[Any, Any]) -> list[str]:
    """How the candles the fullon_ohlcv double holds differ from the replay's ground truth,
    from the first stored minute to the newest (empty: equal)."""
    found = []
    for symbol in SYMBOLS:
        candles = stored[(False, "binance", symbol)]["candles"]
        start, end = min(candles), max(candles) + timedelta(minutes=1)
        truth = {
            int(row["open_time_ms"]): tuple(
                float(row[k]) for k in ("open", "high", "low", "close", "volume")
            )
            for row in ground_truth(replay, kind="candles_1m", symbol=symbol)
            if start.timestamp() * 1000 <= int(row["open_time_ms"]) < end.timestamp() * 1000
        }
        got = {int(t.timestamp() * 1000): (c.open, c.high, c.low, c.close, c.vol)
               for t, c in candles.items()}  # fmt: skip
        for minute in sorted(set(got) | set(truth)):
            if got.get(minute) != truth.get(minute):
                found.append(
                    f"{symbol} {minute}: stored {got.get(minute)}, served {truth.get(minute)}"
                )
    return found


async def test_fullon_backends_backfill_and_stream_through_the_doubles(
    doubles: None,
    redis_url: str,
    replay_process_factory: Callable[..., ReplayProcess],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    data = shared_data_dir()
    replay = replay_process_factory(
        exchange="binance",
        args=["--speed", "6", "--history", "3m",
              "--data", f"BTC/USDT={data / 'trades/binance_spot_ws/btcusdt_20240808.gz'}",
              "--data", f"BTC/USD={data / 'candles_1m/binanceus_BTCUSD_1m_20230301_20230321.csv'}"],
    )  # fmt: skip
    host, port = redis_url.removeprefix("redis://").split("/")[0].split(":")
    monkeypatch.setenv("REDIS_HOST", host)
    monkeypatch.setenv("REDIS_PORT", port)
    monkeypatch.setenv("FULLON_EXCHANGE_DOUBLE_URLS", json.dumps(replay.ccxt_urls))
    await seed_orm(backtest_days=1)
    assembly.configure_logs(level="INFO")
    fullon_log = double("fullon_log")
    stored = double("fullon_ohlcv.repositories.ohlcv").stored

    assert fullon_log.configured[-1]["level"] == "INFO"  # ours, after fullon_cache's import
    settings = CollectorSettings(
        http_port=0, instance="f1", heartbeat_seconds=1, heartbeat_timeout_seconds=6,
        targets_refresh_seconds=2,
    )  # fmt: skip
    config = ProcessConfig(
        exchange="binance",
        targets_url="sqlite:///unused-with-fullon-orm",
        storage_url=f"sqlite:///{tmp_path / 'coverage.sqlite'}",
        collector=settings,
        options=CollectOptions(repair_interval_seconds=5),
        redis_url=redis_url,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(run_collector(config, stop=stop))
    health = RedisHealth.from_url(redis_url)
    reader = HealthReader(health, window=timedelta(seconds=30), stale_after=timedelta(seconds=3))

    def newest_stored() -> dict[str, datetime]:
        return {sym: max(v["candles"]) for (_, _, sym), v in stored.items() if v["candles"]}

    async def streaming() -> bool:
        """Both symbols report streaming and their backfilled candles reached the repository.

        The writer flushes on its own schedule (at most a second later), so the health
        message can run ahead of the repository by one batch.
        """
        seen.update(
            health={
                h.symbol: (h.collector, h.message) for h in await reader.symbol_health("binance")
            },
            stored=newest_stored(),
        )
        return seen["health"] == dict.fromkeys(SYMBOLS, ("f1", "streaming")) and set(
            seen["stored"]
        ) == set(SYMBOLS)

    seen: dict[str, Any] = {}
    try:
        await wait_until_async(
            streaming, timeout=40, describe=lambda: f"both symbols streaming through fullon: {seen}"
        )
        first = newest_stored()

        async def streamed() -> dict[str, datetime]:
            newest = newest_stored()
            return newest if all(newest[s] > first[s] for s in SYMBOLS) else {}

        await wait_until_async(
            streamed, timeout=30, describe=f"a streamed candle after {first} on every symbol"
        )
        collectors = await reader.live_collectors("binance")
        assert [(c.instance, c.symbols) for c in collectors] == [("f1", 2)]
        # A minute the stream missed is repaired over REST within the repair interval.
        unequal: list[str] = []

        async def complete() -> bool:
            unequal[:] = differences(replay, stored)
            return not unequal

        await wait_until_async(
            complete, timeout=15, describe=lambda: f"candles equal the ground truth: {unequal}"
        )
    finally:
        stop.set()
        await asyncio.wait_for(running, 20)
        left_active = await reader.symbol_health("binance")
        await health.close()
    assert left_active == []  # stopped records left the active hash

    assert {key[1:] for key in stored} == {("binance", s) for s in SYMBOLS}
    assert all(key[0] is False for key in stored)  # test=False, never the test database
    for symbol in SYMBOLS:
        assert max(stored[(False, "binance", symbol)]["candles"]) > first[symbol]  # streamed
    trades = stored[(False, "binance", "BTC/USDT")]["trades"]
    served = {
        (int(r["time_ms"]), float(r["price"]), float(r["amount"]), r["side"].upper())
        for r in ground_truth(replay, kind="aggtrades", symbol="BTC/USDT")
    }
    got = {(int(t.timestamp.timestamp() * 1000), t.price, t.volume, t.side) for t in trades}
    assert got <= served
    # Every trade served between the first and the newest stored one was stored (the
    # newest millisecond itself may have had more trades in flight at the stop).
    oldest, newest = min(got)[0], max(got)[0]
    assert newest > oldest
    assert {t for t in got if t[0] < newest} == {t for t in served if oldest <= t[0] < newest}
    logged = {r["component"] for r in fullon_log.records}
    assert {"fullon.ohlcv.symbol", "fullon.ohlcv.assembly"} <= logged
    chosen = next(r["message"] for r in fullon_log.records if r["message"].startswith("backends"))
    assert chosen == (
        "backends: targets FullonTargetSource, market FullonMarket, storage FullonStorage,"
        " health FullonHealth"
    )


async def test_fullon_storage_reads_back_through_the_repositories(
    doubles: None, tmp_path: Path
) -> None:
    from decimal import Decimal

    from ohlcv_collector.backends.fullon.storage import FullonStorage
    from ohlcv_collector.models import Candle, SeriesKind, Side, Trade
    from ohlcv_collector.ports import Coverage, WriteBatch

    storage = FullonStorage(coverage=await open_sql_storage(f"sqlite:///{tmp_path / 'c.sqlite'}"))
    await storage.migrate()
    start = 1_700_000_040_000
    candles = [Candle(exchange="binance", symbol="BTC/USDT", start=start + i * MINUTE_MS,
                      open=Decimal("1.5"), high=Decimal(2), low=Decimal(1), close=Decimal("1.25"),
                      volume=Decimal("0.5")) for i in (0, 2)]  # fmt: skip
    trade = Trade(exchange="binance", symbol="BTC/USDT", trade_id="7", time=start + 5,
                  price=Decimal("1.5"), amount=Decimal("0.25"), side=Side.SELL)  # fmt: skip
    window = TimeRange(start, start + 3 * MINUTE_MS)
    coverage = Coverage(exchange="binance", symbol="BTC/USDT", kind=SeriesKind.CANDLES,
                        range=window)  # fmt: skip
    await storage.write(WriteBatch(candles=candles, trades=[trade], coverage=[coverage]))
    await storage.write(WriteBatch(candles=candles))  # a repeat is ignored
    read = await storage.candles(exchange="binance", symbol="BTC/USDT", window=window)
    # fullon's view fills the minute without a candle from the last close, volume 0.
    assert [(c.start, c.close, c.volume) for c in read] == [
        (start, Decimal("1.25"), Decimal("0.5")),
        (start + MINUTE_MS, Decimal("1.25"), Decimal("0.0")),
        (start + 2 * MINUTE_MS, Decimal("1.25"), Decimal("0.5")),
    ]
    trades = await storage.trades(exchange="binance", symbol="BTC/USDT", window=window)
    assert [(t.trade_id, t.time, t.amount, t.side) for t in trades] == [
        ("", start + 5, Decimal("0.25"), Side.SELL)
    ]
    kinds = await storage.coverage(exchange="binance", symbol="BTC/USDT", kind=SeriesKind.CANDLES)
    assert kinds == [window]
    await storage.close()


def test_credentials_come_back_in_the_handlers_order(
    doubles: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ohlcv_collector.backends.fullon.market import credentials

    account = double("fullon_orm.models").Exchange(uid=1, cat_ex_id=1, name="binance1", ex_id=42)
    assert credentials(account) == ("", "")  # public data needs none
    monkeypatch.setenv("EX_ID_42_KEY", "the-key")
    monkeypatch.setenv("EX_ID_42_SECRET", "the-secret")
    assert credentials(account) == ("the-key", "the-secret")
