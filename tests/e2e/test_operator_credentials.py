"""The operator's API credentials change under it, as when the kubelet rotates its token.

The operator runs as the chart's ServiceAccount with a token bound to a Secret; the token in
its kubeconfig is replaced and the old one revoked (its Secret deleted), so every request with
the old token is answered 401 by the real API server from then on.
"""

import base64
import json
from pathlib import Path

import pytest
import yaml

from tests.e2e.operator_harness import StartOperator, add_target, get, wait_until
from tests.harness.controlplane import ControlPlane
from tests.harness.tools import REPO_ROOT
from tests.harness.waiting import wait_until as wait

pytestmark = [pytest.mark.kubernetes, pytest.mark.postgres, pytest.mark.redis]

ACCOUNT = "ohlcv-operator"


def secret_token(kube: ControlPlane, *, namespace: str, name: str) -> str:
    """A token of the operator's ServiceAccount bound to Secret `name` (revoked with it)."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/service-account-token",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": {"kubernetes.io/service-account.name": ACCOUNT},
        },
    }
    kube.kubectl("apply", "-f", "-", stdin=json.dumps(secret))

    def token() -> str:
        found = get(kube, "secret", name, namespace) or {}
        return base64.b64decode((found.get("data") or {}).get("token", "")).decode()

    wait(token, timeout=30, describe=f"the token controller filled {name}")
    return token()


def write_kubeconfig(kube: ControlPlane, path: Path, *, token: str) -> None:
    """The admin kubeconfig's cluster with `token` as the user, replaced in one rename."""
    config = yaml.safe_load(kube.admin_kubeconfig.read_text())
    config["users"] = [{"name": "user", "user": {"token": token}}]
    staged = path.with_suffix(".new")
    staged.write_text(yaml.safe_dump(config))
    staged.replace(path)


def test_discovery_and_status_go_on_after_the_token_is_replaced_and_the_old_one_revoked(
    kube: ControlPlane,
    namespace: str,
    postgres_dsn: str,
    tmp_path: Path,
    start_operator: StartOperator,
) -> None:
    chart = REPO_ROOT / "charts/fullon-ohlcv"
    kube.helm("install", "ohlcv", str(chart), "-n", namespace, "--set", "crds.install=false")
    kubeconfig, revoked = tmp_path / "operator.kubeconfig", tmp_path / "revoked.kubeconfig"
    write_kubeconfig(kube, kubeconfig, token=secret_token(kube, namespace=namespace, name="t1"))
    write_kubeconfig(kube, revoked, token=secret_token(kube, namespace=namespace, name="t1"))
    fresh = secret_token(kube, namespace=namespace, name="t2")
    add_target(postgres_dsn, exchange="binance", symbol="BTC/USDT")
    with start_operator(kubeconfig=kubeconfig) as operator:
        wait_until(
            lambda: get(kube, "deployment", "binance-collector", namespace) is not None,
            what="discovery with the first token",
            operator=operator,
        )
        write_kubeconfig(kube, kubeconfig, token=fresh)
        kube.kubectl("delete", "secret", "t1", "-n", namespace)
        # The API server caches a token's success for 10 s: from now on it is refused.
        wait(
            lambda: (
                "Unauthorized"
                in kube.kubectl(
                    "get", "ohlcv", "-n", namespace, kubeconfig=revoked, check=False
                ).stderr
            ),
            timeout=30,
            describe="the old token refused",
        )
        add_target(postgres_dsn, exchange="kraken", symbol="BTC/USD")

        def kraken_found() -> bool:
            resource = get(kube, "ohlcv", "kraken", namespace) or {}
            conditions = (resource.get("status") or {}).get("conditions", [])
            return any(c["type"] == "TargetsFound" and c["status"] == "True" for c in conditions)

        wait_until(
            kraken_found,
            what="discovery and the status write with the new token",
            operator=operator,
            timeout=30,
        )
        assert get(kube, "deployment", "kraken-collector", namespace) is not None
        assert "logging in again with fresh credentials" in operator.log.read_text()
