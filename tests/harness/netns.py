"""Run a command inside a network namespace of its own, with no route out of it.

    python -m tests.harness.netns -- pytest ...

The real node (tests/harness/node.py) runs Pods on a CNI bridge, and its servers
(PostgreSQL, Redis, the API server, the replay exchange) must listen on an address the
Pods can reach. Doing that on the machine's own interfaces would expose them and could
send test traffic elsewhere; inside a namespace made for the run, every address is the
run's own and nothing can leave: the namespace has a loopback and a veth pair whose both
ends stay inside it (this kernel has no dummy link type), and the node's address sits on
one end. The command learns the namespace from `OHLCV_NETNS` and the node's address from
`OHLCV_NODE_IP`.

The namespace is entered with `nsenter --net=`, not `ip netns exec`: the latter also
remounts /sys, which hides the cgroup mounts the kubelet needs. When the command ends
(or this process is interrupted), every process still in the namespace is killed and the
namespace is deleted; nodes started inside (tests/harness/node.py) write their directory to
the file named by `OHLCV_NETNS_NODES`, and whatever their Pods left outside the namespace is
removed too, so a failed, interrupted or killed run leaves nothing behind.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from tests.harness.node import NODE_REGISTRY, pod_traces, remove_leftovers

NODE_IP = "10.89.0.1"
NODE_PREFIX = 24
TERM_GRACE_SECONDS = 60  # after TERM, how long the command gets to clean up itself
_NAMESPACE_DIR = "/run/netns"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def create(*, name: str) -> None:
    """Make the namespace: loopback up, and the node's address on a veth pair inside it."""
    _ip("netns", "add", name)
    _ip("-n", name, "link", "set", "lo", "up")
    _ip("-n", name, "link", "add", "node0", "type", "veth", "peer", "name", "node1")
    _ip("-n", name, "addr", "add", f"{NODE_IP}/{NODE_PREFIX}", "dev", "node0")
    _ip("-n", name, "link", "set", "node0", "up")
    _ip("-n", name, "link", "set", "node1", "up")


def processes_inside(*, name: str) -> list[int]:
    """Processes whose network namespace is this one."""
    listed = _ip("netns", "pids", name, check=False).stdout.split()
    return [int(pid) for pid in listed if pid.isdigit()]


def destroy(*, name: str, nodes: Sequence[Path] = ()) -> None:
    """Kill whatever still runs inside (TERM, then KILL after 5 s), remove what the `nodes`
    started in namespaces and cgroups of their own (a run killed before its clean-up), then
    delete the namespace."""
    traces = {directory: pod_traces(directory) for directory in nodes if directory.exists()}
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 2.0)):
        for pid in processes_inside(name=name):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while processes_inside(name=name) and time.monotonic() < deadline:
            time.sleep(0.1)
    for directory, found in traces.items():
        remove_leftovers(directory, traces=found)
    _ip("netns", "delete", name, check=False)


def run(*, argv: Sequence[str], name: str) -> int:
    """Run `argv` in a new namespace called `name`; return its exit code."""
    if os.geteuid() != 0:
        raise SystemExit("netns: making a network namespace needs root")
    if os.path.exists(os.path.join(_NAMESPACE_DIR, name)):
        if processes_inside(name=name):
            raise SystemExit(f"netns: {name} is in use by another run (ip netns pids {name})")
        destroy(name=name)  # left by a run that was killed before it could clean up
    create(name=name)
    registry = Path(tempfile.mkdtemp(prefix="ohlcv-netns-")) / "nodes"
    registry.touch()
    env = {
        **os.environ,
        "OHLCV_NETNS": name,
        "OHLCV_NODE_IP": NODE_IP,
        NODE_REGISTRY: str(registry),
    }
    child = subprocess.Popen(["nsenter", f"--net={_NAMESPACE_DIR}/{name}", "--", *argv], env=env)

    terminating: list[float] = []

    def forward(signum: int, _frame: object) -> None:
        child.send_signal(signum)
        terminating.append(time.monotonic())

    # Ctrl-C reaches the child from the terminal already (same process group); TERM is
    # passed on so that the child's own clean-up runs before the namespace goes away.
    previous = {
        signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN),
        signal.SIGTERM: signal.signal(signal.SIGTERM, forward),
    }
    try:
        while True:
            try:
                return child.wait(timeout=1)
            except subprocess.TimeoutExpired:
                if terminating and time.monotonic() - terminating[0] > TERM_GRACE_SECONDS:
                    child.kill()  # it ignored TERM: the clean-up below must still run
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        nodes = [Path(line) for line in registry.read_text().splitlines() if line]
        destroy(name=name, nodes=nodes)
        shutil.rmtree(registry.parent, ignore_errors=True)


def main() -> None:
    argv = sys.argv[1:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        raise SystemExit("usage: python -m tests.harness.netns -- COMMAND [ARG...]")
    name = os.environ.get("OHLCV_NETNS_NAME", f"ohlcv-{os.getpid()}")
    sys.exit(run(argv=argv, name=name))


if __name__ == "__main__":
    main()
