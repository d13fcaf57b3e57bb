"""`make demo`'s script, as a user runs it: it collects, shows progress, and leaves nothing behind.

The script starts two replay exchanges and two collectors; whether it ends on its own or
is interrupted (Ctrl-C, `timeout`), every process it started must be gone afterwards.
"""

import os
import re
import signal
import socket
import subprocess
from pathlib import Path

from tests.harness.tools import REPO_ROOT
from tests.harness.waiting import wait_until

SCRIPT = REPO_ROOT / "examples" / "embedded-demo.sh"
ROW = re.compile(r"^(binance|kraken)\s+(BTC/\S+)\s+(\S+)\s+(\S+)\s+([\d.]+)%\s+(\d+)\s+(\S+)$")


def free_port_pair() -> int:
    """A port that is free with the next one, below Linux's ephemeral range (32768 and up),
    where the demo's replay exchanges, bound to port 0, cannot take the second one."""
    for port in range(20_000 + os.getpid() % 5_000 * 2, 32_000, 2):
        with socket.socket() as first, socket.socket() as second:
            try:
                first.bind(("127.0.0.1", port))
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise RuntimeError("no two free ports in a row below the ephemeral range")


def start_demo(seconds: int, tmp_path: Path) -> subprocess.Popen[str]:
    """The demo in a session of its own, so that whatever it leaves running can be found."""
    env = {**os.environ, "OHLCV_DEMO_PORT": str(free_port_pair()), "TMPDIR": str(tmp_path)}
    return subprocess.Popen(
        ["bash", str(SCRIPT), str(seconds)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def session_members(session: int) -> list[str]:
    """Command lines of the live processes of `session`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        state, sid = fields[0], int(fields[3])
        if sid == session and state != "Z":
            found.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found


def status_tables(output: str) -> list[dict[tuple[str, str], tuple[str, float, int, str]]]:
    """Each status table printed: (exchange, symbol) -> (newest candle, backfill %, holes,
    not collectable)."""
    return [
        {
            (m[1], m[2]): (m[3], float(m[5]), int(m[6]), m[7])
            for m in (ROW.match(line.strip()) for line in block.splitlines())
            if m
        }
        for block in output.split("== after")[1:]
    ]


def test_the_demo_collects_every_target_and_stops_everything_it_started(tmp_path: Path) -> None:
    demo = start_demo(40, tmp_path)
    output, _ = demo.communicate(timeout=180)
    assert demo.returncode == 0, output
    tables = status_tables(output)
    assert len(tables) == 4, output
    first, last = tables[0], tables[-1]
    targets = {(e, s) for e in ("binance", "kraken") for s in ("BTC/USDT", "BTC/USD")}
    assert set(last) == targets, output
    for target, (newest, backfilled, holes, not_collectable) in last.items():
        assert (backfilled, holes, not_collectable) == (100.0, 0, "-"), (
            f"{target} incomplete\n{output}"
        )
        assert newest > first[target][0], f"{target}: no newer candle streamed\n{output}"
    assert "demo files (database, logs) are in" in output
    assert session_members(demo.pid) == []


def test_an_interrupted_demo_stops_everything_it_started(tmp_path: Path) -> None:
    demo = start_demo(600, tmp_path)
    assert demo.stdout is not None
    for line in demo.stdout:
        if line.startswith("kraken: metrics and probes"):
            break  # both replays and both collectors are running
    assert len(session_members(demo.pid)) >= 5  # the script, two replays, two collectors
    demo.send_signal(signal.SIGTERM)
    demo.communicate(timeout=60)
    assert demo.returncode == 143
    wait_until(
        lambda: session_members(demo.pid) == [], timeout=20, describe="every demo process ended"
    )
