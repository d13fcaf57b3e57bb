"""`helm install` on a real node: the operator and the collectors run as Pods of the image
built from this tree, and the database fills with exactly what the exchanges served.

Nothing is stubbed: the kubelet starts the containers under containerd and runc, probes
them over the Pod network, the operator Pod reaches the API server with its
ServiceAccount's token, and the collector Pods reach PostgreSQL, Redis and the replay
exchanges through the node's address.
"""

from tests.harness.cluster import Cluster
from tests.node.scene import installation

TARGETS = {"binance": ("BTC/USDT", "BTC/USD"), "kraken": ("BTC/USDT",)}


def test_helm_install_collects_database_targets_with_pods_equal_to_the_ground_truth(
    cluster: Cluster, cluster_namespace: str, postgres_dsn: str
) -> None:
    with installation(
        cluster, namespace=cluster_namespace, dsn=postgres_dsn, targets=TARGETS
    ) as scene:
        scene.install()
        operator_pod = scene.wait_operator_ready()
        pod = scene.cluster.get("pod", operator_pod, namespace=cluster_namespace)
        assert pod is not None
        assert pod["spec"]["serviceAccountName"] == "ohlcv-operator"
        assert pod["spec"]["containers"][0]["image"] == cluster.image

        for exchange, symbols in TARGETS.items():
            [collector] = scene.wait_collectors_ready(exchange, count=1)
            scene.started_ms[exchange] = scene.replays[exchange].now_ms()
            collector_pod = scene.cluster.get("pod", collector, namespace=cluster_namespace)
            assert collector_pod is not None
            assert collector_pod["spec"]["containers"][0]["image"] == cluster.image
            row = scene.wait_healthy(exchange, symbols=len(symbols))
            assert row["EXCHANGE"] == exchange
            assert row["REPLICAS"] == "1/1"

        for exchange in TARGETS:
            replay = scene.replays[exchange]
            replay.wait_exchange_ms(replay.now_ms() + 2 * 60_000, timeout=60)
            scene.wait_complete(exchange)
            scene.wait_shared(exchange, pods=scene.wait_collectors_ready(exchange, count=1))
