"""`make demo DEMO_SECONDS=N`, as a user runs it unattended: a cluster of its own comes up,
the chart collects Binance, Kraken, Hyperliquid and BitMEX into PostgreSQL, and the closing
report says the stored rows equal the exchanges' ground truth; afterwards nothing of it is left
running.
"""

import json
import os
import subprocess
from pathlib import Path

from tests.harness.tools import REPO_ROOT

SYMBOLS = {
    "binance BTC/USD",
    "binance BTC/USDC",
    "kraken BTC/USDT",
    "kraken BTC/USD",
    "hyperliquid BTC/USDC:USDC",
    "bitmex BTC/USD:BTC",
}
EXCHANGES = {"binance": "2", "kraken": "2", "hyperliquid": "1", "bitmex": "1"}  # name -> symbols


def test_make_demo_runs_the_operator_on_its_own_node_and_reports_complete_data() -> None:
    netns = f"ohlcv-demo-test-{os.getpid()}"
    demo = subprocess.run(
        ["make", "--no-print-directory", "demo", "DEMO_SECONDS=70", f"DEMO_NETNS={netns}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = demo.stdout + demo.stderr
    assert demo.returncode == 0, output[-6000:]
    assert "== node Ready after" in output
    shown, _, report_text = output.rpartition("== report: stored rows against")
    final_table = shown.rsplit("== after", 1)[1].splitlines()
    # `kubectl get ohlcvcollectors` rows: NAME EXCHANGE SYMBOLS REPLICAS HEALTHY LAG READY AGE
    cells = [line.split() for line in final_table]
    rows = {c[0]: c for c in cells if len(c) > 1 and c[0] in EXCHANGES and c[1] == c[0]}
    for name, symbols in EXCHANGES.items():
        assert rows[name][2:5] == [symbols, "1/1", f"{symbols}/{symbols}"], final_table
        assert rows[name][6] == "True", final_table
    report = json.loads(report_text[report_text.index("{") :])
    assert set(report) == SYMBOLS
    for symbol, figures in report.items():
        assert figures["candles_served"] > 0, (symbol, figures)
        assert figures["candles_missing"] == figures["candle_problems"] == 0, (symbol, figures)
        assert figures["trades_missing"] == figures["trades_duplicated"] == 0, (symbol, figures)
        assert figures["trade_problems"] == 0, (symbol, figures)
    assert report["kraken BTC/USDT"]["trades_stored"] > 0
    assert not Path(f"/run/netns/{netns}").exists()
    leftover = subprocess.run(["pgrep", "-f", "ohlcv-demo-"], capture_output=True, text=True)
    assert leftover.stdout == "", leftover.stdout
