"""`make bench BENCH=quick`: every scenario runs small and the JSON document has every field.

The benchmark is run as `make bench` runs it (`python -m bench`, its own PostgreSQL, Redis,
control plane and replay exchange processes, inside this run's network namespace), only with
the output going to a temporary file and the docs left alone. Figures are not asserted (speed
is for bench/ to measure, not for a test); their presence, types and consistency are, and so is
what a user checks first: a single collector loses no trade.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.report import render
from tests.harness.tools import REPO_ROOT

pytestmark = [pytest.mark.kubernetes, pytest.mark.postgres, pytest.mark.redis]

SCENARIOS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7")


def number(value: Any, *, positive: bool = False) -> float:
    assert isinstance(value, int | float), value
    assert not isinstance(value, bool), value
    assert value >= 0, value
    if positive:
        assert value > 0, value
    return float(value)


def share(value: Any) -> None:
    assert 0.0 <= number(value) <= 1.0, value


def served_window(run: dict[str, Any]) -> None:
    """The stretch of the replay a window measured: compared runs report theirs."""
    start, end = run["window_served_seconds"]
    assert 0 < number(start) < number(end), run


def cpu_block(cpu: dict[str, Any], *, processes: set[str]) -> None:
    assert processes <= set(cpu), cpu
    for entry in cpu.values():
        number(entry["cpu_seconds"])
        number(entry["cores"])


def collector_run(run: dict[str, Any]) -> None:
    number(run["trades_per_second"], positive=True)
    served_window(run)
    number(run["offered_trades_per_second"], positive=True)
    number(run["collector_cpu_seconds_per_1000_trades"], positive=True)
    number(run["collector_peak_rss_mb"], positive=True)
    share(run["replay_cpu_share"])
    cpu_block(run["cpu"], processes={"replay", "postgres"})
    assert run["trades_stored"] <= run["trades_served_by_clock"], run
    assert run["symbols_stored"] == run["symbols"], run
    # a hole open when the window closed is repaired over REST, never left for good
    assert run["trades_lost"] == 0, run
    assert run["trades_duplicated"] == 0, run
    number(run["trades_missing_at_window_end"])
    number(run["settle_seconds"])
    latency = run["latency_ms"]
    assert latency["p50"] <= latency["p99"] <= latency["max"], latency


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--mode", "quick", "--out", str(out)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=480, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    printed = json.loads(done.stdout)
    written: dict[str, Any] = json.loads(Path(out).read_text())
    assert printed == written
    return written


def test_the_document_describes_the_run_and_has_every_scenario(document: dict[str, Any]) -> None:
    assert document["mode"] == "quick"
    assert document["command"] == "make bench BENCH=quick"
    machine = document["machine"]
    number(machine["cores"], positive=True)
    assert machine["cpu"]
    assert machine["postgresql"]
    assert machine["cryptofeed"] == "2.4.1"
    for moment in ("load_before", "load_after"):
        number(document[moment]["1m"])
    assert tuple(document["scenarios"]) == SCENARIOS


def test_trade_ingest_stands_next_to_its_ceilings_and_loses_nothing(
    document: dict[str, Any],
) -> None:
    runs = document["scenarios"]["B1"]["runs"]
    assert [r["symbols"] for r in runs] == document["plan"]["b1_symbols"]
    for run in runs:
        collector_run(run["collector"])
        number(run["ccxt_ceiling"]["trades_per_second"], positive=True)
        number(run["ccxt_ceiling"]["offered_trades_per_second"], positive=True)
        served_window(run["ccxt_ceiling"])
        share(run["ccxt_ceiling"]["replay_cpu_share"])
        number(run["copy_ceiling"]["rows_per_second"], positive=True)
        expected = run["collector"]["trades_per_second"] / run["ccxt_ceiling"]["trades_per_second"]
        assert run["collector_to_ccxt_ratio"] == pytest.approx(expected, abs=0.001)


def test_backfill_and_rate_limits(document: dict[str, Any]) -> None:
    b2 = document["scenarios"]["B2"]
    for run in b2["runs"]:
        for side in ("collector", "ccxt_alone"):
            days = run[side]["days"]
            assert run[side]["candles"] >= run["symbols"] * days * 1440 * 0.99, run
            number(run[side]["candles_per_second"], positive=True)
            number(run[side]["replay_cpu_seconds"])
        number(run["collector"]["postgres_cpu_seconds"])
        number(run["collector_to_ccxt_ratio"], positive=True)
    assert [r["exchange"] for r in b2["rate_limited"]] == ["binance", "kraken"]
    for limited in b2["rate_limited"]:
        share(min(1.0, limited["share_of_permitted"]))
        number(limited["permitted_per_minute"], positive=True)
        for counter in ("http_429", "http_418", "kraken_refused", "calls"):
            assert isinstance(limited[counter], int), limited
        assert isinstance(limited["backfill_outlasted_window"], bool), limited


def test_the_peer_and_the_collector_are_judged_alike(document: dict[str, Any]) -> None:
    b3 = document["scenarios"]["B3"]
    assert b3["cryptofeed_version"] == "2.4.1"
    for side in ("collector", "cryptofeed"):
        entry = b3[side]
        number(entry["trades_per_second"], positive=True)
        number(entry["offered_trades_per_second"], positive=True)
        served_window(entry)
        number(entry["cpu_seconds_per_1000_trades"], positive=True)
        number(entry["peak_rss_mb"], positive=True)
        assert 0 < entry["trades_stored"] <= entry["trades_served_by_clock"], entry
        assert 0 <= entry["trades_lost"] <= entry["trades_missing_at_window_end"], entry
    # what a user checks first: this collector loses nothing (cryptofeed's losses are its own)
    assert b3["collector"]["trades_lost"] == 0, b3["collector"]
    assert b3["collector"]["trades_duplicated"] == 0, b3["collector"]


def test_latency_memory_operator_and_replicas(document: dict[str, Any]) -> None:
    scenarios = document["scenarios"]
    for run in scenarios["B4"]["runs"]:
        number(run["latency_ms"]["p99"], positive=True)
        assert run["latency_ms"]["trades"] > 0
    for run in scenarios["B5"]["runs"]:
        assert 0 < run["resources"] <= run["exchanges_asked"]
        number(run["seconds_to_all_deployments_and_status"], positive=True)
        number(run["idle_writes_per_resource_per_minute"])
        number(run["seconds_health_change_to_status"], positive=True)
        number(run["operator_peak_rss_mb"], positive=True)
    assert [r["symbols"] for r in scenarios["B6"]["runs"]] == document["plan"]["b1_symbols"]
    b7 = scenarios["B7"]
    assert [r["replicas"] for r in b7["runs"]] == [1, 2]
    assert len(b7["runs"][1]["replicas_peak_rss_mb"]) == 2
    for run in b7["runs"]:
        served_window(run)
        number(run["offered_trades_per_second"], positive=True)
    number(b7["speedup"], positive=True)


def test_every_goal_is_judged_and_the_docs_render(document: dict[str, Any]) -> None:
    judged = document["goals"]
    assert {g["scenario"] for g in judged} == set(SCENARIOS)
    for goal in judged:
        number(goal["measured"])
        assert isinstance(goal["met"], bool), goal
    text = render(document)
    assert "Quick mode figures" in text
    for scenario in SCENARIOS:
        assert f"### {scenario} " in text
