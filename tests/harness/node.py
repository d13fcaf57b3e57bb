"""A real Kubernetes node for tests: containerd, runc, CNI bridge, kubelet, kube-scheduler.

With it, Deployments become Pods that run the project's own image, pass their probes and
talk to the test's servers, as on a user's cluster. It must run inside the network
namespace of tests/harness/netns.py: the node's address is the one on that namespace's veth
pair, the CNI bridge and every Pod's network live inside it, and nothing leaves it.

The settings are those measured on these machines (../shared/DESIGN.md, "Facts measured on
these machines for that node"): cgroup v1 with the cgroupfs driver (`failCgroupV1: false`,
`SystemdCgroup = false`); `restrict_oom_score_adj` because the VM lacks CAP_SYS_RESOURCE
(runc otherwise fails with "can't get final child's PID from pipe"); a non-loopback node IP;
the API server reaching the kubelet by its InternalIP.

Everything the node makes stays under one short directory (containerd's socket path must
fit in 108 bytes) and one cgroup parent of its own, so two nodes (the suite's and a demo's)
can run on one machine. Pods and containerd shims outlive a stopped kubelet and containerd,
so `stop` kills what runs in the node's cgroups, unmounts what they mounted and removes the
Pods' network namespaces, even after a failed test.
"""

import contextlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.harness.controlplane import ControlPlane
from tests.harness.images import PAUSE_IMAGE, pause_archive
from tests.harness.services import POD_SUBNET
from tests.harness.tools import ServerProcess, free_port, tool
from tests.harness.waiting import wait_until

NODE_NAME = "ohlcv-node"
POD_GATEWAY = "10.88.0.1"  # the bridge's address: how Pods reach the servers of the namespace
_CGROUP_V1 = Path("/sys/fs/cgroup")
_NETNS_DIR = Path("/run/netns")
_CNI_RESULTS = Path("/var/lib/cni/results")  # libcni's cache, fixed for containerd 1.6
_START_TIMEOUT = 120.0
# A file (set by netns.py) where each node records its directory, so that the namespace's
# clean-up can remove what the node left even when the test process was killed.
NODE_REGISTRY = "OHLCV_NETNS_NODES"


def _cgroup_hierarchies() -> list[Path]:
    """The mounted cgroup v1 hierarchies (cpu, memory, pids, ..., name=systemd)."""
    return sorted(path for path in _CGROUP_V1.iterdir() if path.is_dir() and not path.is_symlink())


class Node:
    """One node registered with `control_plane` as NODE_NAME, at `node_ip`."""

    def __init__(self, *, control_plane: ControlPlane, node_ip: str) -> None:
        self.control_plane = control_plane
        self.node_ip = node_ip
        self.directory = Path(tempfile.mkdtemp(prefix="ohlcv-node-", dir="/tmp"))
        self.socket = self.directory / "state" / "containerd.sock"
        if registry := os.environ.get(NODE_REGISTRY):
            with open(registry, "a") as nodes:
                nodes.write(f"{self.directory}\n")
        self._processes: list[ServerProcess] = []

    # -- start -------------------------------------------------------------------------

    def start(self, *, images: list[Path]) -> None:
        """Start containerd with `images` imported, then the kubelet and the scheduler."""
        try:
            for root in _cgroup_roots(self.directory):
                root.mkdir(exist_ok=True)
            self._start_containerd()
            for archive in [pause_archive(directory=self.directory), *images]:
                self.import_image(archive)
            self._start_kubelet()
            self._start_scheduler()
        except BaseException:
            self.stop()
            raise

    def _start_containerd(self) -> None:
        cni_conf = self.directory / "cni"
        cni_conf.mkdir()
        (cni_conf / "10-bridge.conflist").write_text(self._cni_config())
        config = self.directory / "containerd.toml"
        config.write_text(
            f"""version = 2
root = "{self.directory / "root"}"
state = "{self.directory / "state"}"
[grpc]
  address = "{self.socket}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni_conf}"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
"""
        )
        containerd = ServerProcess(
            name="containerd",
            log=self.directory / "containerd.log",
            argv=[str(tool("containerd")), f"--config={config}"],
        )
        self._processes.append(containerd)
        containerd.wait_until(
            ready=lambda: self._ctr("version", check=False).returncode == 0,
            timeout=_START_TIMEOUT,
            what="answering on its socket",
        )

    def _cni_config(self) -> str:
        bridge = {
            "type": "bridge",
            "bridge": "cni0",
            "isGateway": True,
            "ipMasq": False,  # nothing is routed out of the namespace
            "hairpinMode": True,
            "ipam": {
                "type": "host-local",
                "ranges": [[{"subnet": POD_SUBNET, "gateway": POD_GATEWAY}]],
                "routes": [{"dst": "0.0.0.0/0"}],
                "dataDir": str(self.directory / "cni-ipam"),
            },
        }
        return json.dumps({"cniVersion": "1.0.0", "name": "pods", "plugins": [bridge]})

    def _ctr(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(tool("ctr")), f"--address={self.socket}", "--namespace=k8s.io", *args],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"ctr {' '.join(args)} failed:\n{result.stderr}{result.stdout}")
        return result

    def import_image(self, archive: Path) -> None:
        """Import an OCI archive into the node (what `kubectl` Pods can then run)."""
        self._ctr("images", "import", "--no-unpack=false", str(archive))

    def tag_image(self, *, source: str, target: str) -> None:
        """Give an imported image a second name (a new tag to roll out to)."""
        self._ctr("images", "tag", "--force", source, target)

    def _start_kubelet(self) -> None:
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "failCgroupV1": False,
            "failSwapOn": False,
            "cgroupDriver": "cgroupfs",
            "cgroupRoot": f"/{self.directory.name}",  # the parent _cgroup_roots names
            "containerRuntimeEndpoint": f"unix://{self.socket}",
            # A test node inside a namespace nothing else can reach: the API server talks to
            # it without credentials (logs, exec).
            "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False}},
            "authorization": {"mode": "AlwaysAllow"},
            "address": self.node_ip,
            "port": 10250,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": free_port(),
            "podLogsDir": str(self.directory / "pod-logs"),
            "evictionHard": {
                "memory.available": "100Mi",
                "nodefs.available": "1%",
                "imagefs.available": "1%",
            },
            # Images cannot be pulled again here: never collect them.
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "serializeImagePulls": False,
            "syncFrequency": "5s",
            "fileCheckFrequency": "5s",
            "nodeStatusUpdateFrequency": "5s",
        }
        path = self.directory / "kubelet.yaml"
        path.write_text(yaml.safe_dump(config))
        kubelet = ServerProcess(
            name="kubelet",
            log=self.directory / "kubelet.log",
            argv=[
                str(tool("kubelet")),
                f"--config={path}",
                f"--kubeconfig={self.control_plane.admin_kubeconfig}",
                f"--root-dir={self.directory / 'kubelet'}",
                f"--cert-dir={self.directory / 'kubelet-pki'}",
                f"--hostname-override={NODE_NAME}",
                f"--node-ip={self.node_ip}",
                "--v=1",
            ],
        )
        self._processes.append(kubelet)

        def ready() -> bool:
            result = self.control_plane.kubectl(
                "get", "node", NODE_NAME, "-o",
                'jsonpath={.status.conditions[?(@.type=="Ready")].status}', check=False,
            )  # fmt: skip
            return result.stdout.strip() == "True"

        kubelet.wait_until(ready=ready, timeout=_START_TIMEOUT, what="registering a Ready node")

    def _start_scheduler(self) -> None:
        port = free_port()
        scheduler = ServerProcess(
            name="kube-scheduler",
            log=self.directory / "kube-scheduler.log",
            argv=[
                str(tool("kube-scheduler")),
                f"--kubeconfig={self.control_plane.admin_kubeconfig}",
                f"--authentication-kubeconfig={self.control_plane.admin_kubeconfig}",
                f"--authorization-kubeconfig={self.control_plane.admin_kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
                "--leader-elect=false",
            ],
        )
        self._processes.append(scheduler)
        unverified = ssl.create_default_context()
        unverified.check_hostname, unverified.verify_mode = False, ssl.CERT_NONE

        def healthy() -> bool:
            url = f"https://127.0.0.1:{port}/healthz"
            with urllib.request.urlopen(url, context=unverified, timeout=2) as response:
                return bool(response.status == 200)

        scheduler.wait_until(ready=healthy, timeout=_START_TIMEOUT, what="answering /healthz")

    # -- stop --------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop the node and remove every trace of it: processes, mounts, namespaces, cgroups."""
        for process in reversed(self._processes):
            process.stop()
        self._processes.clear()
        remove_leftovers(self.directory)

    def logs(self) -> str:
        """The tail of every node process's log, for failure messages."""
        return "\n".join(f"--- {p.name}\n{p.log_tail(20)}" for p in self._processes)


def _cgroup_roots(directory: Path) -> list[Path]:
    """The node's cgroup parent (named after its directory) in every hierarchy."""
    return [hierarchy / directory.name for hierarchy in _cgroup_hierarchies()]


def _cgroup_pids(directory: Path) -> set[int]:
    pids: set[int] = set()
    for root in _cgroup_roots(directory):
        for procs in root.rglob("cgroup.procs") if root.exists() else ():
            with contextlib.suppress(OSError, ValueError):
                pids.update(int(pid) for pid in procs.read_text().split())
    return pids


def _mount_points() -> list[str]:
    with open("/proc/self/mountinfo") as mountinfo:
        return [line.split()[4] for line in mountinfo]


@dataclass(frozen=True)
class PodTraces:
    """What identifies a node's Pods outside its directory: their network namespaces (by
    inode) and their container ids (libcni caches results under them). Taken while the
    Pods still run: once their shims are gone, the cgroups that name them go too."""

    namespaces: frozenset[int]
    containers: frozenset[str]


def pod_traces(directory: Path) -> PodTraces:
    namespaces = set()
    for pid in _cgroup_pids(directory):
        with contextlib.suppress(OSError):
            namespaces.add(os.stat(f"/proc/{pid}/ns/net").st_ino)
    roots = [root for root in _cgroup_roots(directory) if root.exists()]
    containers = {p.name for root in roots for p in root.rglob("*") if p.is_dir()}
    return PodTraces(namespaces=frozenset(namespaces), containers=frozenset(containers))


def remove_leftovers(directory: Path, *, traces: PodTraces | None = None) -> None:
    """Remove what a node in `directory` left, whether it stopped cleanly or its test run
    was killed: the Pods' processes (found by the node's cgroup parent), the containerd
    shims (their command names the node's socket), the Pods' network namespaces and
    libcni's cached results (`traces`, taken now unless given), every mount under the
    directory, the cgroups and the directory itself."""
    traces = traces or pod_traces(directory)
    for _ in range(50):
        pids = _cgroup_pids(directory)
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    marker = str(directory / "state" / "containerd.sock").encode()
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError):
            cmdline = (proc / "cmdline").read_bytes()
            if b"containerd-shim" in cmdline and marker in cmdline:
                os.kill(int(proc.name), signal.SIGKILL)
    for path in _CNI_RESULTS.glob("*"):
        if any(f"-{container}-" in path.name for container in traces.containers):
            with contextlib.suppress(OSError):
                path.unlink()
    mounted = _mount_points()
    for path in _NETNS_DIR.glob("cni-*"):
        with contextlib.suppress(OSError):
            if os.stat(path).st_ino in traces.namespaces and str(path) in mounted:
                subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)
                path.unlink()
    prefix = f"{directory}/"
    for point in sorted((p for p in mounted if p.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)
    for root in _cgroup_roots(directory):
        if root.exists():
            nested = sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
            for cgroup in [*nested, root]:
                with contextlib.suppress(OSError):
                    cgroup.rmdir()
    shutil.rmtree(directory, ignore_errors=True)


def wait_for_pods_ready(
    control_plane: ControlPlane, *, namespace: str, selector: str, count: int, timeout: float
) -> list[str]:
    """Names of `count` Ready Pods matching `selector`, once that many are Ready."""
    names: list[str] = []

    def ready() -> bool:
        nonlocal names
        result = control_plane.kubectl(
            "get", "pods", "-n", namespace, "-l", selector, "-o",
            'jsonpath={range .items[?(@.status.phase=="Running")]}{.metadata.name} '
            '{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
            check=False,
        )  # fmt: skip
        names = [line.split()[0] for line in result.stdout.splitlines() if line.endswith(" True")]
        return len(names) == count

    def details() -> str:
        pods = control_plane.kubectl("get", "pods", "-n", namespace, "-o", "wide", check=False)
        events = control_plane.kubectl(
            "get", "events", "-n", namespace, "--sort-by=.lastTimestamp", check=False
        )
        return f"{pods.stdout}\n{events.stdout[-3000:]}"

    wait_until(
        ready,
        timeout=timeout,
        describe=f"{count} Ready Pods with {selector} in {namespace}",
        details=details,
    )
    return names
