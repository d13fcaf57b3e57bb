"""Collector Pod customisation on a real node, under the restricted Pod Security Standard:
the chart's scheduling and metadata values, a UID left to the platform (as OpenShift's
restricted-v2 needs it), and a /tmp size limit, on Pods that start and collect.
"""

import json

from tests.harness.cluster import Cluster
from tests.node.scene import installation

TARGETS = {"binance": ("BTC/USDT",)}
PRIORITY = "fullon-ohlcv-test-data"


def test_customised_collector_pods_run_restricted_with_the_images_uid(
    cluster: Cluster, cluster_namespace: str, postgres_dsn: str
) -> None:
    cluster.kubectl(
        "label", "namespace", cluster_namespace,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/enforce-version=latest",
    )  # fmt: skip
    priority = {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": PRIORITY},
        "value": 1000,
        "description": "collector Pods of the fullon-ohlcv node test",
    }
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(priority))
    try:
        with installation(
            cluster, namespace=cluster_namespace, dsn=postgres_dsn, targets=TARGETS
        ) as scene:
            values = scene.values()
            values["collector"] |= {
                "runAsUser": None,
                "tmpSizeLimit": "32Mi",
                "priorityClassName": PRIORITY,
                "podLabels": {"team": "market-data"},
                "podAnnotations": {"team.example.com/owner": "market-data"},
                "topologySpreadConstraints": [
                    {
                        "maxSkew": 1,
                        "topologyKey": "kubernetes.io/hostname",
                        "whenUnsatisfiable": "DoNotSchedule",
                        "labelSelector": {"matchLabels": {"app.kubernetes.io/instance": "binance"}},
                    }
                ],
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {
                                            "key": "kubernetes.io/os",
                                            "operator": "In",
                                            "values": ["linux"],
                                        }
                                    ]
                                }
                            ]
                        }
                    }
                },
            }
            values["imagePullSecrets"] = [{"name": "regcred"}]  # the image is local: unused
            cluster.install_chart(release="ohlcv", namespace=cluster_namespace, values=values)
            scene.wait_operator_ready()
            [name] = scene.wait_collectors_ready("binance", count=1)
            scene.wait_healthy("binance", symbols=1)

            pod = cluster.get("pod", name, namespace=cluster_namespace)
            assert pod is not None
            spec = pod["spec"]
            assert "runAsUser" not in spec["securityContext"]  # the platform's to choose
            assert spec["priorityClassName"] == PRIORITY
            assert spec["priority"] == 1000  # resolved by admission
            assert spec["imagePullSecrets"] == [{"name": "regcred"}]
            assert pod["metadata"]["labels"]["team"] == "market-data"
            assert pod["metadata"]["annotations"]["team.example.com/owner"] == "market-data"
            [tmp] = [v for v in spec["volumes"] if v["name"] == "tmp"]
            assert tmp["emptyDir"] == {"sizeLimit": "32Mi"}
            # It runs as the image's non-root user (USER 10001), which runAsNonRoot accepts.
            uid = cluster.kubectl(
                "exec", "-n", cluster_namespace, name, "--",
                "python", "-c", "import os; print(os.getuid())",
            )  # fmt: skip
            assert uid.stdout.strip() == "10001"
    finally:
        cluster.kubectl("delete", "priorityclass", PRIORITY, "--ignore-not-found")
