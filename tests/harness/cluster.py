"""A whole single-node cluster for the tests that run Pods: the `cluster` fixture.

It is the control plane of controlplane.py listening on the node's address, the real node
of node.py with the project's image imported, and PostgreSQL and Redis reachable from the
Pods, all inside the test run's network namespace (netns.py); `make test` enters it. The
suite's own PostgreSQL server is shared (it listens on the node's address in the namespace);
Redis gets a server of its own on that address.

Pods reach the API server by its address, not through the `kubernetes` Service: there is no
kube-proxy, so the chart is given the address (`operator.extraEnv` setting
KUBERNETES_SERVICE_HOST/PORT, which win over the kubelet's), exactly as on a cluster whose
Service network does not route. That keeps the node to the parts a user's cluster must have
for this project (runtime, kubelet, scheduler) and keeps iptables out of the test run.
There is no cluster DNS either: Pods are given addresses, never names.
"""

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.harness.controlplane import ControlPlane
from tests.harness.images import project_image
from tests.harness.node import Node
from tests.harness.services import PostgresServer, node_address
from tests.harness.tools import REPO_ROOT, ServerProcess, free_port, tool
from tests.harness.waiting import wait_until

CHART = REPO_ROOT / "charts" / "fullon-ohlcv"


@dataclass
class Cluster:
    """What a test on the node uses: kubectl/helm, the image, the servers Pods reach."""

    control_plane: ControlPlane
    node: Node
    node_ip: str
    image: str
    redis_port: int
    postgres: PostgresServer

    def kubectl(
        self, *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.control_plane.kubectl(*args, check=check, stdin=stdin)

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.control_plane.helm(*args, check=check)

    def get(self, kind: str, name: str, *, namespace: str) -> dict[str, Any] | None:
        """One object as JSON, or None when it does not exist."""
        result = self.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
        return json.loads(result.stdout) if result.returncode == 0 else None

    def items(self, kind: str, *, namespace: str, selector: str = "") -> list[dict[str, Any]]:
        args = ["get", kind, "-n", namespace, "-o", "json"]
        if selector:
            args += ["-l", selector]
        return list(json.loads(self.kubectl(*args).stdout)["items"])

    def database_secret(self, *, namespace: str, database: str) -> None:
        """The `fullon-db` Secret the chart expects, pointing at the test database."""
        self._secret(
            namespace=namespace,
            name="fullon-db",
            data={
                "DB_HOST": self.node_ip,
                "DB_PORT": str(self.postgres.port),
                "DB_USER": "postgres",
                "DB_PASSWORD": "",
                "DB_NAME": database,
                "DB_OHLCV_NAME": database,
            },
        )

    def redis_secret(self, *, namespace: str) -> None:
        """The `fullon-redis` Secret the chart expects."""
        self._secret(
            namespace=namespace,
            name="fullon-redis",
            data={"REDIS_HOST": self.node_ip, "REDIS_PORT": str(self.redis_port)},
        )

    @property
    def redis_url(self) -> str:
        return f"redis://{self.node_ip}:{self.redis_port}/0"

    def _secret(self, *, namespace: str, name: str, data: dict[str, str]) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "stringData": data,
        }
        self.kubectl("apply", "-f", "-", stdin=json.dumps(body))

    def chart_values(self, *, image: str | None = None, **collector_env: str) -> dict[str, Any]:
        """Values for installing the chart on this cluster with the built image."""
        repository, _, tag = (image or self.image).rpartition(":")
        api = [
            {"name": "KUBERNETES_SERVICE_HOST", "value": self.node_ip},
            {"name": "KUBERNETES_SERVICE_PORT", "value": str(self.control_plane.port)},
        ]
        return {
            "image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
            "discovery": {"intervalSeconds": 10},
            "operator": {"extraEnv": api, "resyncSeconds": 3},
            "collector": {"env": [{"name": k, "value": v} for k, v in collector_env.items()]},
        }

    def install_chart(self, *, release: str, namespace: str, values: dict[str, Any]) -> None:
        path = self.control_plane.directory / f"values-{release}-{namespace}.json"
        path.write_text(json.dumps(values))
        self.helm(
            "upgrade", "--install", release, str(CHART), "-n", namespace,
            "-f", str(path), "--wait=false",
        )  # fmt: skip


def _start_redis(*, directory: Path, node_ip: str) -> tuple[ServerProcess, int]:
    port = free_port()
    redis = ServerProcess(
        name="redis-server",
        log=directory / "redis.log",
        argv=[
            str(tool("redis-server")), "--port", str(port), "--bind", f"127.0.0.1 {node_ip}",
            "--protected-mode", "no", "--save", "", "--appendonly", "no",
            "--dir", str(directory),
        ],
    )  # fmt: skip

    def answers() -> bool:
        import redis as redis_client

        with redis_client.Redis(host=node_ip, port=port, socket_timeout=2) as client:
            return bool(client.ping())

    redis.wait_until(ready=answers, timeout=30, what="answering PING")
    return redis, port


@contextmanager
def single_node_cluster(
    *, directory: Path, postgres: PostgresServer, node_ip: str
) -> Iterator[Cluster]:
    """Control plane, Redis and node started in `directory`; all stopped and cleaned after."""
    image, archive = project_image()
    plane = ControlPlane(directory=directory, host=node_ip)
    node = Node(control_plane=plane, node_ip=node_ip)
    redis: ServerProcess | None = None
    try:
        plane.start()
        redis, redis_port = _start_redis(directory=directory, node_ip=node_ip)
        node.start(images=[archive])
        yield Cluster(
            control_plane=plane,
            node=node,
            node_ip=node_ip,
            image=image,
            redis_port=redis_port,
            postgres=postgres,
        )
    finally:
        node.stop()
        if redis is not None:
            redis.stop()
        plane.stop()


def require_node_address() -> str:
    """The node's address, or an error saying how to run inside the test namespace."""
    node_ip = node_address()
    if node_ip is None:
        raise RuntimeError(
            "a real node runs inside its own network namespace: run through `make test` or "
            "`make demo`, or `python -m tests.harness.netns -- .venv/bin/pytest ...`"
        )
    return node_ip


@pytest.fixture(scope="session")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer
) -> Iterator[Cluster]:
    """The session's single-node cluster, torn down (Pods, mounts, namespaces) at the end."""
    with single_node_cluster(
        directory=tmp_path_factory.mktemp("cluster"),
        postgres=postgres_server,
        node_ip=require_node_address(),
    ) as running:
        yield running


@pytest.fixture
def cluster_namespace(cluster: Cluster) -> Iterator[str]:
    """A namespace of the cluster for one test; its Pods are gone when the test ends."""
    name = f"n-{os.urandom(4).hex()}"
    cluster.kubectl("create", "namespace", name)
    yield name
    with contextlib.suppress(Exception):
        cluster.kubectl("delete", "namespace", name, "--wait=true", "--timeout=60s")
    wait_until(
        lambda: cluster.get("namespace", name, namespace="default") is None,
        timeout=60,
        describe=f"namespace {name} deleted",
        details=lambda: (
            json.dumps(cluster.get("namespace", name, namespace="default"))
            + cluster.kubectl("get", "all,ohlcvcollectors", "-n", name, check=False).stdout
        ),
    )
