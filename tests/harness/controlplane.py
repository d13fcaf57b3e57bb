"""A real Kubernetes control plane for tests: etcd, kube-apiserver, kube-controller-manager.

Like controller-runtime's envtest, but with the controller manager too, so that
Deployments get ReplicaSets and Pods and ownerReference garbage collection runs. No
scheduler and no kubelet: Pods stay Pending, which is all most operator tests need; the
tests that run Pods add a real node (tests/harness/node.py) to a control plane that
listens on the node's address, which Pods can reach.
RBAC authorization is on, so ServiceAccount tokens minted here are held to their Roles
exactly as the operator's would be in a cluster.
"""

import base64
import json
import ssl
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from tests.harness.certs import CertificateAuthority, KeyPair
from tests.harness.tools import ServerProcess, free_port, tool

_START_TIMEOUT = 120.0


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _run(
    argv: list[str], *, check: bool, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=180)
    if check and result.returncode != 0:
        command = " ".join(argv[:1] + argv[2:])  # without the --kubeconfig flag
        raise AssertionError(
            f"{command} exited {result.returncode}:\n{result.stderr}{result.stdout}"
        )
    return result


class ControlPlane:
    """One throwaway control plane in `directory`, its API server on a free port of `host`."""

    def __init__(self, *, directory: Path, host: str = "127.0.0.1") -> None:
        self.directory = directory
        self.host = host
        self.port = 0
        self.server = ""
        self.admin_kubeconfig = directory / "admin.kubeconfig"
        self._processes: list[ServerProcess] = []
        self._ca = CertificateAuthority(directory=directory)
        self._admin = self._ca.issue(
            name="admin", common_name="admin", organization="system:masters"
        )

    def start(self) -> None:
        """Start etcd, the API server and the controller manager; return once all serve."""
        try:
            etcd_url = self._start_etcd()
            self._start_apiserver(etcd_url=etcd_url)
            self._start_controller_manager()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every process, newest first."""
        for process in reversed(self._processes):
            process.stop()
        self._processes.clear()

    def _start_etcd(self) -> str:
        client, peer = free_port(), free_port()
        client_url, peer_url = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
        etcd = ServerProcess(
            name="etcd",
            log=self.directory / "etcd.log",
            argv=[
                str(tool("etcd")),
                "--name=default",
                f"--data-dir={self.directory / 'etcd'}",
                f"--listen-client-urls={client_url}",
                f"--advertise-client-urls={client_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )
        self._processes.append(etcd)

        def healthy() -> bool:
            with urllib.request.urlopen(f"{client_url}/health", timeout=2) as response:  # noqa: S310
                return bool(json.load(response).get("health") == "true")

        etcd.wait_until(ready=healthy, timeout=_START_TIMEOUT, what="healthy")
        return client_url

    def _start_apiserver(self, *, etcd_url: str) -> None:
        self.port = port = free_port()
        self.server = f"https://{self.host}:{port}"
        serving = self._ca.issue(
            name="apiserver", common_name="kube-apiserver", server=True, addresses=(self.host,)
        )
        self._service_account = self._ca.service_account_signing_key()
        apiserver = ServerProcess(
            name="kube-apiserver",
            log=self.directory / "kube-apiserver.log",
            argv=[
                str(tool("kube-apiserver")),
                f"--etcd-servers={etcd_url}",
                f"--bind-address={self.host}",
                f"--advertise-address={self.host}",
                f"--secure-port={port}",
                "--kubelet-preferred-address-types=InternalIP",
                f"--cert-dir={self.directory / 'apiserver-certs'}",
                f"--tls-cert-file={serving.cert}",
                f"--tls-private-key-file={serving.key}",
                f"--client-ca-file={self._ca.cert_path}",
                "--authorization-mode=RBAC",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={self._service_account.cert}",
                f"--service-account-signing-key-file={self._service_account.key}",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--allow-privileged=true",
                "--profiling=false",
            ],
        )
        self._processes.append(apiserver)
        self._write_kubeconfig(
            path=self.admin_kubeconfig,
            user={
                "client-certificate-data": _b64(self._admin.cert),
                "client-key-data": _b64(self._admin.key),
            },
        )
        context = ssl.create_default_context(cafile=str(self._ca.cert_path))
        context.load_cert_chain(str(self._admin.cert), str(self._admin.key))

        def ready() -> bool:
            with urllib.request.urlopen(f"{self.server}/readyz", context=context, timeout=5) as r:  # noqa: S310
                return bool(r.status == 200)

        apiserver.wait_until(ready=ready, timeout=_START_TIMEOUT, what="answering /readyz")

    def _start_controller_manager(self) -> None:
        identity: KeyPair = self._ca.issue(
            name="controller-manager",
            common_name="system:kube-controller-manager",
            organization="system:masters",
        )
        kubeconfig = self.directory / "controller-manager.kubeconfig"
        self._write_kubeconfig(
            path=kubeconfig,
            user={
                "client-certificate-data": _b64(identity.cert),
                "client-key-data": _b64(identity.key),
            },
        )
        manager = ServerProcess(
            name="kube-controller-manager",
            log=self.directory / "kube-controller-manager.log",
            argv=[
                str(tool("kube-controller-manager")),
                f"--kubeconfig={kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                f"--cert-dir={self.directory / 'controller-manager-certs'}",
                "--authentication-skip-lookup=true",
                "--leader-elect=false",
                f"--root-ca-file={self._ca.cert_path}",
                f"--service-account-private-key-file={self._service_account.key}",
                "--use-service-account-credentials=false",
                "--controllers=*",
                # HorizontalPodAutoscalers are evaluated every 2 s instead of every 15 s: a
                # test that waits for one to act waits for seconds, not for its schedule.
                "--horizontal-pod-autoscaler-sync-period=2s",
                "--profiling=false",
            ],
        )
        self._processes.append(manager)

        def serviceaccounts_controller_running() -> bool:
            # The default ServiceAccount appears once the controllers run; Pods need it.
            result = self.kubectl("get", "serviceaccount", "default", "-n", "default", check=False)
            return result.returncode == 0

        manager.wait_until(
            ready=serviceaccounts_controller_running,
            timeout=_START_TIMEOUT,
            what="running controllers",
        )

    def _write_kubeconfig(self, *, path: Path, user: dict[str, str]) -> None:
        config: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "test",
                    "cluster": {
                        "server": self.server,
                        "certificate-authority-data": _b64(self._ca.cert_path),
                    },
                }
            ],
            "users": [{"name": "user", "user": user}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "user"}}],
            "current-context": "test",
        }
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)

    def kubectl(
        self,
        *args: str,
        kubeconfig: Path | None = None,
        check: bool = True,
        stdin: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run the real kubectl against this control plane (as admin unless told otherwise)."""
        config = kubeconfig or self.admin_kubeconfig
        return _run(
            [str(tool("kubectl")), f"--kubeconfig={config}", *args], check=check, stdin=stdin
        )

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the real helm against this control plane as admin."""
        return _run(
            [str(tool("helm")), f"--kubeconfig={self.admin_kubeconfig}", *args], check=check
        )

    def service_account_kubeconfig(self, *, namespace: str, name: str) -> Path:
        """A kubeconfig holding a freshly minted token of a ServiceAccount (TokenRequest API)."""
        token = self.kubectl(
            "create", "token", name, "-n", namespace, "--duration=2h"
        ).stdout.strip()
        path = self.directory / f"sa-{namespace}-{name}.kubeconfig"
        self._write_kubeconfig(path=path, user={"token": token})
        return path
