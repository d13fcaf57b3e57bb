"""The operator logs in like client-go: apiserver from the env, credentials from the SA dir."""

from pathlib import Path

import kopf
import pytest

from ohlcv_operator.login import NotInClusterError, in_cluster_connection, load_connection

ENV = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "6443"}


@pytest.fixture
def sa_dir(tmp_path: Path) -> Path:
    """A mounted ServiceAccount directory with a token, a CA and a namespace."""
    (tmp_path / "token").write_text("token-1")
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "namespace").write_text("markets\n")
    return tmp_path


def test_server_comes_from_the_env_not_cluster_dns(sa_dir: Path) -> None:
    info = in_cluster_connection(environ=ENV, sa_dir=sa_dir)
    assert info is not None
    assert info.server == "https://10.0.0.1:6443"
    assert info.scheme == "Bearer"
    assert info.token == "token-1"
    assert info.ca_path == str(sa_dir / "ca.crt")
    assert info.as_http_headers() == {"Authorization": "Bearer token-1"}


def test_ipv6_host_is_bracketed(sa_dir: Path) -> None:
    environ = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    info = in_cluster_connection(environ=environ, sa_dir=sa_dir)
    assert info is not None
    assert info.server == "https://[fd00::1]:443"


def test_namespace_is_read_from_the_sa_dir(sa_dir: Path) -> None:
    info = in_cluster_connection(environ=ENV, sa_dir=sa_dir)
    assert info is not None
    assert info.default_namespace == "markets"


def test_missing_ca_and_namespace_are_left_unset(sa_dir: Path) -> None:
    (sa_dir / "ca.crt").unlink()
    (sa_dir / "namespace").unlink()
    info = in_cluster_connection(environ=ENV, sa_dir=sa_dir)
    assert info is not None
    assert info.ca_path is None
    assert info.default_namespace is None


def test_no_token_file_means_not_in_a_pod(tmp_path: Path) -> None:
    assert in_cluster_connection(environ=ENV, sa_dir=tmp_path) is None


def test_outside_a_pod_the_kubeconfig_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_kubeconfig = kopf.ConnectionInfo(server="https://127.0.0.1:6443", token="dev")
    monkeypatch.setattr(kopf, "login_with_kubeconfig", lambda **_: from_kubeconfig)
    settings = kopf.OperatorSettings()
    assert load_connection(settings=settings, environ=ENV, sa_dir=tmp_path) is from_kubeconfig


def test_in_a_pod_the_kubeconfig_is_not_consulted(
    sa_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def kubeconfig(**_: object) -> None:
        raise AssertionError("the kubeconfig was read inside a Pod")

    monkeypatch.setattr(kopf, "login_with_kubeconfig", kubeconfig)
    settings = kopf.OperatorSettings()
    settings.networking.trust_env = True
    info = load_connection(settings=settings, environ=ENV, sa_dir=sa_dir)
    assert info is not None
    assert info.server == "https://10.0.0.1:6443"
    assert info.trust_env is True


@pytest.mark.parametrize(
    "environ",
    [{}, {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, {"KUBERNETES_SERVICE_PORT": "6443"}],
)
def test_token_without_the_env_is_a_clear_permanent_error(
    sa_dir: Path, environ: dict[str, str]
) -> None:
    with pytest.raises(NotInClusterError, match="KUBERNETES_SERVICE_HOST and") as raised:
        in_cluster_connection(environ=environ, sa_dir=sa_dir)
    assert isinstance(raised.value, kopf.PermanentError)  # kopf must not retry it forever


def test_rotated_token_is_read_on_the_next_login(sa_dir: Path) -> None:
    first = in_cluster_connection(environ=ENV, sa_dir=sa_dir)
    (sa_dir / "token").write_text("token-2")  # the kubelet rotated the bound token
    second = in_cluster_connection(environ=ENV, sa_dir=sa_dir)
    assert first is not None
    assert second is not None
    assert (first.token, second.token) == ("token-1", "token-2")
