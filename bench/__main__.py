"""`make bench`: every scenario (B1..B7) in one run, one JSON document, the docs regenerated.

    python -m bench [--mode full|quick] [--out bench/results/latest.json] [--docs]

Run it inside the test network namespace (`make bench` does): the replay exchange, PostgreSQL,
Redis and the control plane all listen there. The JSON goes to stdout and to --out; --docs
rewrites the generated part of docs/benchmarks.md and the plots next to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import asyncpg

from bench import backfill, ingest, operator_load, peer
from bench.lab import Lab
from bench.measure import REPO_ROOT
from bench.plans import PLANS, Plan
from bench.report import goals, write_docs

SCENARIOS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7")


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo
                  if line.startswith("model name")), platform.processor())  # fmt: skip
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    memory_kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "ccxt": version("ccxt"),
        "cryptofeed": version("cryptofeed"),
    }


def load() -> dict[str, float]:
    one, five, fifteen = os.getloadavg()
    return {"1m": round(one, 2), "5m": round(five, 2), "15m": round(fifteen, 2)}


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT,
                          capture_output=True, text=True, check=False)  # fmt: skip
    return done.stdout.strip() or "unknown"


async def scenarios(lab: Lab, plan: Plan, only: set[str], partial: Path) -> dict[str, Any]:
    """Each scenario's results, also saved to `partial` as each ends (a long run that fails
    late keeps what it measured)."""
    results: dict[str, Any] = {}
    started = time.monotonic()
    for name, run in (
        ("B1", ingest.b1), ("B2", backfill.b2), ("B3", peer.b3), ("B4", ingest.b4),
        ("B5", operator_load.b5), ("B7", ingest.b7),
    ):  # fmt: skip
        if name not in only and not (name == "B1" and "B6" in only):
            continue
        await lab.drop_databases()
        began = time.monotonic()
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        results[name] = await run(lab, plan) | {"seconds": round(time.monotonic() - began, 1)}
        if name == "B1":
            results["B6"] = ingest.b6(results["B1"])
        text = json.dumps({"mode": plan.name, "scenarios": results}, indent=1)
        await asyncio.to_thread(_save, partial, text)
    print(f"bench: done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return {name: results[name] for name in SCENARIOS if name in results}


def command(plan: Plan, only: list[str]) -> str:
    """What reproduces this run."""
    if set(only) == set(SCENARIOS):
        return "make bench" + ("" if plan.name == "full" else f" BENCH={plan.name}")
    inner = f".venv/bin/python -m bench --mode {plan.name} --only {' '.join(only)}"
    return f"OHLCV_NETNS_NAME=ohlcv-bench .venv/bin/python -m tests.harness.netns -- {inner}"


def _save(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


async def postgres_version(lab: Lab) -> str:
    connection = await asyncpg.connect(lab.postgres.dsn())
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


def main() -> None:
    cli = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    cli.add_argument("--mode", choices=sorted(PLANS), default="full")
    cli.add_argument("--out", type=Path, default=REPO_ROOT / "bench/results/latest.json")
    cli.add_argument("--docs", action="store_true", help="regenerate docs/benchmarks.md")
    cli.add_argument("--only", nargs="+", choices=SCENARIOS, default=SCENARIOS,
                     help="only these scenarios (the docs are then left alone)")  # fmt: skip
    arguments = cli.parse_args()
    plan = PLANS[arguments.mode]
    with tempfile.TemporaryDirectory(prefix="ohlcv-bench-") as directory:
        lab = Lab(Path(directory))
        lab.start()  # synchronous: the harness's servers start with event loops of their own
        try:
            load_before, began = load(), datetime.now(UTC)
            partial = arguments.out.with_suffix(".partial.json")
            results = asyncio.run(scenarios(lab, plan, set(arguments.only), partial))
            pg = asyncio.run(postgres_version(lab))
        finally:
            lab.stop()
    document = {
        "mode": plan.name,
        "command": command(plan, arguments.only),
        "started": began.isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": machine() | {"postgresql": pg},
        "load_before": load_before,
        "load_after": load(),
        "plan": asdict(plan),
        "scenarios": results,
    }
    if set(results) == set(SCENARIOS):
        document["goals"] = goals(results)
    text = json.dumps(document, indent=1)
    print(text)
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(text + "\n")
    if arguments.docs and "goals" in document:
        write_docs(document)


if __name__ == "__main__":
    main()
