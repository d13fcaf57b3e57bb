"""The collector's hot path under load: py-spy samples the collector process during a B1-style
run and the collapsed stacks are summed into the frames that cost the most.

    python -m bench.profile [SYMBOLS [SECONDS]]      # inside the namespace, like make bench

Prints JSON: the run's figures, the top frames by own time (where the CPU is spent) and by
total time (what it is spent for), and each sample charged to the innermost frame of ccxt,
the collector, asyncpg or aiohttp (else the interpreter and asyncio; idle waits apart). The
raw stacks are kept for a flame graph (`bench/results/profile-N.txt`).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]

from bench.ingest import collector_run
from bench.lab import Lab
from bench.measure import REPO_ROOT
from bench.plans import FULL

# Each sample is charged to the innermost frame of a known package: where the time went.
# The collector comes first: its own ccxt adapter lives under ohlcv_collector/backends/ccxt/.
AREAS = (("collector", "ohlcv_collector/"), ("ccxt", "ccxt/"), ("asyncpg", "asyncpg/"),
         ("aiohttp", "aiohttp/"), ("pycares (resolver thread)", "pycares/"))  # fmt: skip
IDLE = ("select (selectors.py", "_run_safe_shutdown_loop")


def summarize(path: Path, *, top: int = 20) -> dict[str, Any]:
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = stack.split(";")
        samples += n
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
        areas[_area(frames)] += n

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(frame, round(n / samples, 3)) for frame, n in counter.most_common(top)]

    return {"samples": samples, "own": share(own), "total": share(total),
            "areas": {area: round(n / samples, 3) for area, n in areas.items()}}  # fmt: skip


def _area(frames: list[str]) -> str:
    if frames[-1].startswith(IDLE) or any(mark in frames[-1] for mark in IDLE):
        return "idle"
    for frame in reversed(frames):
        for area, marker in AREAS:
            if marker in frame:
                return area
    return "python and asyncio"


async def profiled(lab: Lab, *, symbols: int, seconds: float, out: Path) -> dict[str, Any]:
    run = asyncio.create_task(collector_run(
        lab, symbols=symbols, speed=FULL.speed(symbols), warmup=FULL.warmup, duration=seconds,
    ))  # fmt: skip
    me = psutil.Process()
    collectors: list[Any] = []
    while not collectors:  # another process's state: nothing to wait on but polling
        await asyncio.sleep(0.2)
        collectors = [p for p in me.children(recursive=True)
                      if "ohlcv-collector" in " ".join(p.cmdline())]  # fmt: skip
    await asyncio.sleep(FULL.warmup + 5)  # start-up (markets, subscriptions) is not the hot path
    pid = collectors[0].pid
    spy = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid), "--format",
        "raw", "--rate", "200", "--duration", str(int(seconds - 10)), "--output", str(out),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    _, err = await spy.communicate()
    if spy.returncode != 0:
        raise RuntimeError(f"py-spy failed: {err.decode()}")
    return {"run": await run, "profile": summarize(out)}


if __name__ == "__main__":
    symbols = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 40
    results = REPO_ROOT / "bench/results"
    results.mkdir(parents=True, exist_ok=True)
    lab = Lab(results)
    lab.start()  # synchronous: the harness's servers start with event loops of their own
    try:
        out = results / f"profile-{symbols}.txt"
        print(json.dumps(asyncio.run(profiled(lab, symbols=symbols, seconds=seconds, out=out)),
                         indent=1))  # fmt: skip
    finally:
        lab.stop()
