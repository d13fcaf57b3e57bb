"""Credentials on a real node: a CloudNativePG-style Secret read by its own key names, and a
Secret without the database settings, which must stop the collectors with that reason in
the resource's status (never a silent SQLite file inside the Pod).
"""

import json

from tests.harness.cluster import Cluster
from tests.harness.waiting import wait_until
from tests.node.scene import installation

TARGETS = {"binance": ("BTC/USDT",)}
MISSING = "the database Secret lacks the database settings"


def test_a_cloudnativepg_secret_feeds_operator_and_collectors_and_an_empty_one_is_an_error(
    cluster: Cluster, cluster_namespace: str, postgres_dsn: str
) -> None:
    database = postgres_dsn.rsplit("/", 1)[1]
    uri = f"postgresql://postgres@{cluster.node_ip}:{cluster.postgres.port}/{database}"
    # What CloudNativePG writes into <cluster>-app (its keys, not fullon's DB_* names).
    cnpg = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "pg-app", "namespace": cluster_namespace},
        "stringData": {
            "host": cluster.node_ip,
            "port": str(cluster.postgres.port),
            "dbname": database,
            "user": "postgres",
            "password": "",
            "uri": uri,
        },
    }
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(cnpg))
    with installation(
        cluster, namespace=cluster_namespace, dsn=postgres_dsn, targets=TARGETS
    ) as scene:
        values = scene.values()
        values["database"] = {
            "secretName": "pg-app",
            "secretKeys": {"uri": "uri"},
            "ohlcvName": database,
        }
        cluster.install_chart(release="ohlcv", namespace=cluster_namespace, values=values)
        scene.wait_operator_ready()  # its discovery reads the targets through DB_URI
        [pod] = scene.wait_collectors_ready("binance", count=1)
        row = scene.wait_healthy("binance", symbols=1)  # candles stored through DB_URI
        assert row["REPLICAS"] == "1/1"
        collector = cluster.get("pod", pod, namespace=cluster_namespace)
        assert collector is not None
        [container] = collector["spec"]["containers"]
        env = {e["name"]: e.get("valueFrom") for e in container["env"]}
        assert env["DB_URI"] == {"secretKeyRef": {"name": "pg-app", "key": "uri"}}

        # The Secret loses its settings (here its uri is emptied, as a half-written rotation
        # would leave it), and the collectors restart as the README says after a rotation;
        # the running operator still has the old settings and reports why they fail.
        cluster.kubectl(
            "patch", "secret", "pg-app", "-n", cluster_namespace, "--type=merge",
            "-p", json.dumps({"stringData": {"uri": ""}}),
        )  # fmt: skip
        scene.kubectl("rollout", "restart", "deployment/binance-collector")

        def stalled_with_the_reason() -> bool:
            resource = scene.resource("binance") or {}
            conditions = {
                c["type"]: c for c in (resource.get("status") or {}).get("conditions", [])
            }
            stalled = conditions.get("Stalled", {})
            return stalled.get("status") == "True" and MISSING in stalled.get("message", "")

        wait_until(
            stalled_with_the_reason,
            timeout=180,
            describe="Stalled=True naming the missing database settings",
            details=lambda: scene.describe("binance"),
        )
        pods = cluster.items(
            "pods", namespace=cluster_namespace, selector="app.kubernetes.io/instance=binance"
        )
        logs = "".join(
            scene.kubectl("logs", p["metadata"]["name"], "--previous", check=False).stdout
            for p in pods
        )
        assert MISSING in logs
