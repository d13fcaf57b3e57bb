"""Where the harness finds the real binaries it runs, and processes it owns.

`make tools` (tests/toolchain/install.sh) links every binary into the virtual
environment's bin directory; looking only there means a test never picks up some
other kubectl or postgres from PATH by accident, and a missing tool is an error that
says how to get it, never a skip.
"""

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.harness.waiting import wait_until

VENV_BIN = Path(sys.executable).parent
REPO_ROOT = Path(__file__).resolve().parents[2]


class MissingToolError(RuntimeError):
    """A binary the real test environment needs is not installed."""


def tool(name: str) -> Path:
    """Path of an installed test binary, or an error telling how to install it."""
    path = VENV_BIN / name
    if not os.access(path, os.X_OK):
        raise MissingToolError(
            f"{name} is not installed in {VENV_BIN}: run `make tools` "
            "(tests/toolchain/install.sh installs PostgreSQL and Redis from Debian packages "
            "and builds etcd, kube-apiserver, kube-controller-manager, kubectl and helm)"
        )
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A server started by the harness, its output kept in a log file for failures."""

    def __init__(
        self, *, name: str, argv: Sequence[str], log: Path, user: str | None = None
    ) -> None:
        self.name = name
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                list(argv), stdout=out, stderr=subprocess.STDOUT, user=user, start_new_session=True
            )

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's output, for error messages."""
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def wait_until(self, *, ready: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll `ready` until it holds; fail with the server's log if it exits or times out."""

        def ready_while_running() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with code {self.process.returncode} before {what}:\n"
                    f"{self.log_tail()}"
                )
            return ready()

        wait_until(
            ready_while_running,
            timeout=timeout,
            describe=f"{self.name} {what}",
            details=self.log_tail,
        )

    def stop(self, *, timeout: float = 10.0) -> None:
        """Terminate the server, and kill it if it does not exit in time."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
