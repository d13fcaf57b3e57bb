"""pytest plugin: replay exchanges in the test's event loop or in their own process.

Fixtures:
    replay_server_factory   async (exchange=..., speed=..., data=..., faults=..., ...) -> a
                            started ReplayServer on 127.0.0.1 (free port), stopped at teardown
    binance_replay, kraken_replay   a started server with the default data at speed 1
    replay_ccxt             (server, pro=False, options=None) -> a ccxt client of the server's
                            exchange pointed at it, rate limiter off, large trade cache; closed
                            at teardown
    replay_process_factory  (exchange=..., args=[...]) -> ReplayProcess, the standalone server in
                            a subprocess (`python -m tests.replay_exchange`), stopped at teardown
"""

from __future__ import annotations

import importlib
import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.replay_exchange.ccxt_urls import point_ccxt
from tests.replay_exchange.datasets import DataSpec
from tests.replay_exchange.exchange import DEFAULT_HISTORY_MS, ReplayConfig
from tests.replay_exchange.faults import FaultPlan
from tests.replay_exchange.server import ReplayServer

REPO_ROOT = Path(__file__).resolve().parents[2]

StartServer = Callable[..., Awaitable[ReplayServer]]
MakeClient = Callable[..., Any]


@pytest.fixture
async def replay_server_factory() -> AsyncIterator[StartServer]:
    servers: list[ReplayServer] = []

    async def start(
        *,
        exchange: str,
        speed: float = 1.0,
        data: Sequence[DataSpec] = (),
        faults: FaultPlan | None = None,
        start_ms: int | None = None,
        history_ms: int = DEFAULT_HISTORY_MS,
        ground_truth_dir: Path | None = None,
    ) -> ReplayServer:
        config = ReplayConfig(
            exchange=exchange,
            data=tuple(data),
            speed=speed,
            start_ms=start_ms,
            history_ms=history_ms,
            faults=faults or FaultPlan(),
            ground_truth_dir=ground_truth_dir,
        )
        server = ReplayServer(config=config)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def binance_replay(replay_server_factory: StartServer) -> ReplayServer:
    return await replay_server_factory(exchange="binance")


@pytest.fixture
async def kraken_replay(replay_server_factory: StartServer) -> ReplayServer:
    return await replay_server_factory(exchange="kraken")


@pytest.fixture
async def replay_ccxt() -> AsyncIterator[MakeClient]:
    clients: list[Any] = []

    def make(
        server: ReplayServer, *, pro: bool = False, options: dict[str, Any] | None = None
    ) -> Any:
        # Imported on first use: ccxt.pro takes about a second to import.
        module = importlib.import_module("ccxt.pro" if pro else "ccxt.async_support")
        config = {"enableRateLimit": False, "options": {"tradesLimit": 100_000}, **(options or {})}
        client = getattr(module, server.exchange_id)(config)
        point_ccxt(client, urls=server.ccxt_urls())
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@dataclass
class ReplayProcess:
    """A standalone replay exchange in a subprocess, and what it printed when it listened."""

    process: subprocess.Popen[str]
    port: int
    ccxt_urls: dict[str, Any]
    host: str = "127.0.0.1"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self, *, timeout_s: float = 20.0) -> int:
        """SIGTERM (which writes the ground truth, if asked for) and wait; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def start_replay_process(
    *, exchange: str, args: Sequence[str] = (), host: str = "127.0.0.1"
) -> ReplayProcess:
    """Start `python -m tests.replay_exchange` from the repository root on a free port of
    `host` (the node's address when Pods must reach it)."""
    command = [sys.executable, "-m", "tests.replay_exchange", "--exchange", exchange,
               "--host", host, "--port", "0"]  # fmt: skip
    process = subprocess.Popen(
        [*command, *args], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait(timeout=10)
        raise RuntimeError(
            f"replay exchange did not start: {process.stderr.read() if process.stderr else ''}"
        )
    listening = json.loads(line)
    return ReplayProcess(
        process=process, port=listening["port"], ccxt_urls=listening["ccxt_urls"], host=host
    )


@pytest.fixture
def replay_process_factory() -> Iterator[Callable[..., ReplayProcess]]:
    started: list[ReplayProcess] = []

    def start(*, exchange: str, args: Sequence[str] = ()) -> ReplayProcess:
        replay = start_replay_process(exchange=exchange, args=args)
        started.append(replay)
        return replay

    yield start
    for replay in started:
        replay.stop()
        for stream in (replay.process.stdout, replay.process.stderr):
            if stream is not None:
                stream.close()
