"""The standalone replay exchange in its own process, as benchmarks and the demo run it.

It prints where it listens, serves ccxt from another process, and on SIGTERM writes the ground
truth of what it served and exits 0.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import ccxt.async_support as ccxt_async

from tests.replay_exchange.ccxt_urls import point_ccxt
from tests.replay_exchange.datasets import shared_data_dir
from tests.replay_exchange.fixtures import REPO_ROOT, ReplayProcess


async def test_standalone_server_serves_ccxt_and_writes_ground_truth_on_sigterm(
    replay_process_factory: Callable[..., ReplayProcess], tmp_path: Path
) -> None:
    data = shared_data_dir() / "trades/kraken_XBTUSDT_rest_trades_20251110.json"
    replay = replay_process_factory(
        exchange="kraken",
        args=["--data", str(data), "--speed", "60", "--ground-truth-dir", str(tmp_path)],
    )
    kraken = ccxt_async.kraken({"enableRateLimit": False})
    point_ccxt(kraken, urls=replay.ccxt_urls)
    try:
        assert list(await kraken.load_markets()) == ["BTC/USDT"]
        trades = await kraken.fetch_trades("BTC/USDT")
    finally:
        await kraken.close()
    assert replay.stop() == 0
    with (tmp_path / "kraken_BTC-USDT_trades.csv").open() as handle:
        served = list(csv.DictReader(handle))
    assert [t["id"] for t in trades] == [row["trade_id"] for row in served][: len(trades)]
    assert (tmp_path / "kraken_BTC-USDT_candles_1m.csv").exists()


def test_a_missing_data_file_fails_fast_with_a_message() -> None:
    command = ["-m", "tests.replay_exchange", "--exchange", "kraken", "--data", "/nonexistent.csv"]
    finished = subprocess.run(
        [sys.executable, *command],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 2
    assert "nonexistent" in finished.stderr
