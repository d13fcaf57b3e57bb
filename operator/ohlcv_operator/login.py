"""How the operator logs in to the Kubernetes API: in-cluster config, else kubeconfig.

kopf's own `login_with_service_account` always talks to `https://kubernetes.default.svc`,
which needs cluster DNS. The standard in-cluster configuration (client-go's
`rest.InClusterConfig`, the official Python client's `load_incluster_config`) takes the
apiserver address from `KUBERNETES_SERVICE_HOST`/`KUBERNETES_SERVICE_PORT` instead, which
the kubelet sets in every Pod and which works without DNS or kube-proxy.

The files are read on every call, never cached: bound ServiceAccount tokens are rotated by
the kubelet, and kopf calls the login handler again when the API answers 401.
"""

import os
from collections.abc import Mapping
from pathlib import Path

import kopf

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class NotInClusterError(kopf.PermanentError):
    """A ServiceAccount token is mounted but the apiserver address is not in the env.

    Permanent: the environment of a running process does not change, so retrying the
    login would only hide a broken Pod spec; the operator stops and says why.
    """


def join_host_port(*, host: str, port: str) -> str:
    """`host:port`, with IPv6 hosts in brackets, as Go's `net.JoinHostPort` does."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def in_cluster_connection(
    *,
    environ: Mapping[str, str],
    sa_dir: Path = SERVICE_ACCOUNT_DIR,
    trust_env: bool = False,
) -> kopf.ConnectionInfo | None:
    """The in-cluster credentials, or None when not running in a Pod (no token file).

    Mirrors client-go: the server comes from the env, the token, CA and namespace from
    the mounted ServiceAccount directory. A token without the env is an error (client-go's
    ErrNotInCluster), not a silent fallback to some other cluster's kubeconfig.
    """
    token_path = sa_dir / "token"
    if not token_path.is_file():
        return None
    host = environ.get("KUBERNETES_SERVICE_HOST", "")
    port = environ.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise NotInClusterError(
            "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and"
            " KUBERNETES_SERVICE_PORT must be defined"
        )
    ca_path = sa_dir / "ca.crt"
    ns_path = sa_dir / "namespace"
    namespace = ns_path.read_text(encoding="utf-8").strip() if ns_path.is_file() else ""
    token = token_path.read_text(encoding="utf-8").strip()
    return kopf.ConnectionInfo(
        server=f"https://{join_host_port(host=host, port=port)}",
        ca_path=str(ca_path) if ca_path.is_file() else None,
        scheme="Bearer" if token else None,  # an empty "Bearer" header is a 401, not anonymous
        token=token or None,
        default_namespace=namespace or None,
        trust_env=trust_env,
    )


def load_connection(
    *,
    settings: kopf.OperatorSettings,
    environ: Mapping[str, str] = os.environ,
    sa_dir: Path = SERVICE_ACCOUNT_DIR,
) -> kopf.ConnectionInfo | None:
    """In-cluster credentials when in a Pod, else the developer's kubeconfig."""
    trust_env = settings.networking.trust_env
    info = in_cluster_connection(environ=environ, sa_dir=sa_dir, trust_env=trust_env)
    return info or kopf.login_with_kubeconfig(settings=settings)
