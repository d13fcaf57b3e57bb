"""What every scenario measures the same way: processes it starts (CPU seconds over a window,
peak resident memory), counters sampled over a steady-state window, and the replay exchange
in its own process.

CPU is read from the kernel per process tree (psutil), so the collector, its peer, the replay
exchange and PostgreSQL are each charged for what they used in the same window: on a 2-core
machine shared with other work only such ratios hold, not the absolute figures.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any, Protocol

import psutil  # type: ignore[import-untyped]

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("OHLCV_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
CAPTURE = (
    SHARED_DATA / "trades/binance_spot_ws/btcusdt_20240808.gz",
    SHARED_DATA / "trades/binance_spot_ws/btcusdt_20240809.gz",
)
CAPTURE_START = "2024-08-08T23:54:00Z"  # the Binance trade capture's first minute
_TIME = itemgetter(1)  # of a served aggregate trade (id, exchange time in ms)


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live children (0 once it is gone)."""
    total = 0.0
    with contextlib.suppress(psutil.Error):
        root = psutil.Process(pid)
        for process in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system
    return total


def peak_rss_mb(pid: int) -> float:
    """The kernel's high-water mark of a process's resident memory (VmHWM), in MB."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


@dataclass
class Child:
    """A process a scenario started; its output goes to a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def cpu(self) -> float:
        return tree_cpu_seconds(self.pid)

    def peak_rss_mb(self) -> float:
        return peak_rss_mb(self.pid)

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def check_running(self) -> None:
        if self.popen.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.tail()}")

    def stop(self, *, timeout: float = 30) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def start(
    name: str, argv: Sequence[str], *, directory: Path, env: dict[str, str] | None = None
) -> Child:
    log = directory / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            list(argv), cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT,
            env=os.environ.copy() if env is None else env,
        )  # fmt: skip
    return Child(name, popen, log)


@dataclass
class Replay:
    """`python -m bench.replay` in its own process."""

    child: Child
    port: int
    ccxt_urls: dict[str, Any]
    tls_port: int | None = None

    def tls_urls(self) -> dict[str, Any]:
        """ccxt's URLs with the WebSocket on the wss:// port (REST stays plain)."""
        text = json.dumps(self.ccxt_urls)
        plain, tls = f"ws://127.0.0.1:{self.port}", f"wss://127.0.0.1:{self.tls_port}"
        urls: dict[str, Any] = json.loads(text.replace(plain, tls))
        return urls

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.base + path, timeout=60) as answer:  # noqa: S310
            return json.loads(answer.read())

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.get("/bench/stats")
        return stats

    def recording_origin(self) -> float:
        """The wall time (epoch s) at which the replay was at its start position (`--start`).

        Served times are recorded times shifted by whole minutes, so a replay started in a
        minute's 40th second serves from 40 recorded seconds after its start position on:
        runs over "the same" seconds of replay measured stretches of a bursty recording up
        to a minute apart (500 symbols at speed 1 were offered 6,687 to 8,576 trades a
        second). Counting from this moment, equal seconds are equal stretches.
        """
        stats = self.stats()
        started, speed = float(stats["started_ms"]) / 1000, float(stats["speed"])
        return started - started % 60 / speed

    def served_aggtrades(self, *, symbol: str) -> list[tuple[int, int]]:
        """(id, exchange time in ms) of the aggregate trades served so far, oldest first
        (every symbol is the same recording)."""
        url = f"{self.base}/admin/ground-truth?kind=aggtrades&symbol={symbol}&format=jsonl"
        with urllib.request.urlopen(url, timeout=60) as answer:  # noqa: S310 (loopback)
            lines = answer.read().decode().splitlines()
        rows = (json.loads(line) for line in lines if line)
        return [(int(row["agg_id"]), int(row["time_ms"])) for row in rows]


@contextlib.contextmanager
def replay(
    *, exchange: str, symbols: int, data: Sequence[Path], directory: Path, args: Sequence[str] = ()
) -> Iterator[Replay]:
    """A replay exchange serving `symbols` copies of the market recorded in `data`."""
    argv = [sys.executable, "-m", "bench.replay", "--exchange", exchange,
            "--symbols", str(symbols), *(f"--data={path}" for path in data), *args]  # fmt: skip
    log = directory / f"replay-{exchange}-{symbols}.log"
    with log.open("wb") as err:
        popen = subprocess.Popen(argv, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=err)
    child = Child(f"replay-{exchange}", popen, log)
    try:
        assert popen.stdout is not None
        line = popen.stdout.readline()
        if not line:
            popen.wait(timeout=30)
            raise RuntimeError(f"the replay exchange did not start:\n{child.tail()}")
        listening = json.loads(line)
        yield Replay(child, int(listening["port"]), listening["ccxt_urls"], listening["tls_port"])
    finally:
        child.stop()
        if popen.stdout is not None:
            popen.stdout.close()


class Measured(Protocol):
    def cpu(self) -> float: ...

    def check_running(self) -> None: ...


@dataclass
class Window:
    """A steady-state window: a counter and every process's CPU at its start and end."""

    count: int
    seconds: float
    cpu: dict[str, float]
    wall_start: float
    wall_end: float
    served: tuple[float, float] | None = None  # its seconds after the replay's origin

    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def served_seconds(self) -> list[float] | None:
        """[start, end] of the window in seconds after the replay's origin, for the JSON."""
        return [round(self.served[0], 1), round(self.served[1], 1)] if self.served else None


async def steady_window(
    *,
    counter: Callable[[], Awaitable[int]],
    processes: dict[str, Measured],
    warmup: float,
    duration: float,
    replay_origin: float | None = None,
    speed: float = 1.0,
    start_timeout: float = 180,
) -> Window:
    """Wait for the first counted item, let it settle for `warmup` s, then measure `duration` s
    of counter growth and each process's CPU seconds.

    With `replay_origin` (see `Replay.recording_origin`) the window starts `2 * warmup +
    60 / speed` s after it, the first moment every replay at `speed` has passed (one starts
    up to a recorded minute after its origin), so that runs compared with each other (the
    collector and ccxt alone, the collector and the peer, one replica and two) measure the
    same stretch of a bursty recording however long each took to start.
    """
    deadline = time.monotonic() + start_timeout
    while await counter() == 0:
        for child in processes.values():
            child.check_running()
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing counted after {start_timeout:.0f} s")
        await asyncio.sleep(0.2)
    await asyncio.sleep(warmup)
    if replay_origin is not None:
        late = time.time() - (replay_origin + 2 * warmup + 60 / speed)
        if late > 1:
            print(f"the window starts {late:.1f} s late: it measures a later stretch of the"
                  " recording than runs it is compared with", file=sys.stderr)  # fmt: skip
        await asyncio.sleep(max(0.0, -late))
    began, wall_start, first = time.monotonic(), time.time(), await counter()
    cpu_first = {name: child.cpu() for name, child in processes.items()}
    await asyncio.sleep(duration)
    last = await counter()
    seconds, wall_end = time.monotonic() - began, time.time()
    cpu = {name: round(child.cpu() - cpu_first[name], 2) for name, child in processes.items()}
    served = None
    if replay_origin is not None:
        served = (wall_start - replay_origin, wall_end - replay_origin)
    return Window(last - first, seconds, cpu, wall_start, wall_end, served)


def offered_per_second(
    served: Sequence[tuple[int, int]], *, window: Window, stats: dict[str, Any], symbols: int
) -> float:
    """Trades a second the replay served during `window`, over all `symbols` (each serves the
    same recording): `served` is one symbol's `Replay.served_aggtrades`, and `stats` the
    replay's (`/bench/stats`), whose clock runs `speed` times the wall's."""
    started, speed = float(stats["started_ms"]), float(stats["speed"])
    low, high = (started + (wall * 1000 - started) * speed
                 for wall in (window.wall_start, window.wall_end))  # fmt: skip
    count = bisect.bisect_left(served, high, key=_TIME) - bisect.bisect_left(served, low, key=_TIME)
    return count * symbols / window.seconds if window.seconds else 0.0


def cpu_report(window: Window, *, per: str) -> dict[str, Any]:
    """CPU seconds of each process in the window, as cores used and per 1,000 of `per`."""
    thousands = window.count / 1000
    return {
        name: {
            "cpu_seconds": seconds,
            "cores": round(seconds / window.seconds, 3) if window.seconds else 0.0,
            f"cpu_seconds_per_1000_{per}": round(seconds / thousands, 4) if thousands else None,
        }
        for name, seconds in window.cpu.items()
    }
