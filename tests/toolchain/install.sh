#!/usr/bin/env bash
# Installs what the test suite runs for real: PostgreSQL and Redis from Debian
# packages; the node's container runtime (containerd, runc, the CNI plugins) and the
# image builder (buildah, mmdebstrap) from Debian packages; and etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet, kubectl and helm built from their
# published Go modules at the versions pinned in the go.mod files beside this script.
#
# Builds land in a cache outside the checkout, keyed by version and by the hash of
# the go.mod/go.sum that pinned them, so a fresh clone on the same machine reuses them
# in seconds. The binaries are linked into the virtual environment's bin directory,
# where the test harness looks for them.
#
# Usage: install.sh <venv-bin-dir>
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv_bin=${1:?usage: install.sh <venv-bin-dir>}
cache=${OHLCV_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fullon-ohlcv}
min_go_minor=21 # Go >= 1.21 fetches the toolchain a go.mod asks for from the module proxy

log_prefix=toolchain
make_target=test
# shellcheck source=tests/toolchain/common.sh
source "$here/common.sh"

postgres_bindir() {
  local dir
  for dir in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/postgres" ] && [ -x "$dir/initdb" ]; then
      printf '%s\n' "$dir"
      return 0
    fi
  done
  return 1
}

ensure_services() {
  local missing=()
  postgres_bindir >/dev/null || missing+=(postgresql-15)
  command -v redis-server >/dev/null || missing+=(redis-server)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
  local pg
  pg=$(postgres_bindir) || fail "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin after installing postgresql-15"
  command -v redis-server >/dev/null || fail "redis-server not found after installing redis-server"
  for tool in postgres initdb pg_ctl; do ln -sfn "$pg/$tool" "$venv_bin/$tool"; done
  ln -sfn "$(command -v redis-server)" "$venv_bin/redis-server"
  say "PostgreSQL $("$pg/postgres" --version | awk '{print $3}') and $(redis-server --version | awk '{print $1, $2, $3}')"
}

ensure_node_runtime() {
  # The real node (tests/harness/node.py) and the image build (image.sh).
  local missing=()
  command -v containerd >/dev/null || missing+=(containerd)
  command -v runc >/dev/null || missing+=(runc)
  [ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
  command -v buildah >/dev/null || missing+=(buildah)
  command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
  command -v nsenter >/dev/null || missing+=(util-linux)
  command -v ip >/dev/null || missing+=(iproute2)
  command -v gcc >/dev/null || missing+=(gcc)
  [ -f /usr/lib/x86_64-linux-gnu/libc.a ] || [ -f /usr/lib/aarch64-linux-gnu/libc.a ] || missing+=(libc6-dev)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
  for tool in containerd ctr runc; do
    command -v "$tool" >/dev/null || fail "$tool not found after installing containerd and runc"
    ln -sfn "$(command -v "$tool")" "$venv_bin/$tool"
  done
  say "containerd $(containerd --version | awk '{print $3}'), runc $(runc --version | awk 'NR==1 {print $3}'), buildah $(buildah --version | awk '{print $3}')"
}

ensure_go() {
  if ! command -v go >/dev/null; then
    apt_install golang-go
  fi
  local minor
  minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
  if ! [ "$minor" -ge "$min_go_minor" ] 2>/dev/null; then
    fail "Go $(go env GOVERSION) is too old: Go >= 1.$min_go_minor is needed (it then fetches the pinned toolchain from the Go module proxy). On Debian bookworm: apt-get install -t bookworm-backports golang-1.23-go and put /usr/lib/go-1.23/bin first on PATH."
  fi
}

# build <name> <module-dir> <version> <ldflags> <package>...: go build the packages of the
# module into $cache/<name>-<version>-<hash>/bin unless that directory is already complete.
# The hash covers go.mod, go.sum, the flags and the packages, so any change rebuilds.
build() {
  local name=$1 module=$2 version=$3 ldflags=$4
  shift 4
  local key dest
  key=$({ cat "$module/go.mod" "$module/go.sum"; echo "$ldflags $*"; } | sha256sum | cut -c1-12)
  dest="$cache/$name-$version-$key"
  if [ ! -f "$dest/.complete" ]; then
    say "building $name $version from Go modules into $dest (first run only; minutes)"
    local tmp
    tmp=$(mktemp -d "$cache/.build-$name-XXXXXX")
    local started=$SECONDS
    if ! (cd "$module" && GOFLAGS=-buildvcs=false CGO_ENABLED=0 go build -trimpath -ldflags="-s -w $ldflags" -o "$tmp/bin/" "$@") >"$tmp/build.log" 2>&1; then
      tail -30 "$tmp/build.log" >&2
      fail "building $name $version failed (log above, full log in $tmp/build.log). Needs the Go module proxy (GOPROXY=$(go env GOPROXY)) and Go >= 1.$min_go_minor."
    fi
    touch "$tmp/.complete"
    rm -rf "$dest"
    mv "$tmp" "$dest"
    say "built $name $version in $((SECONDS - started)) s"
  fi
  local bin
  for bin in "$dest"/bin/*; do ln -sfn "$bin" "$venv_bin/$(basename "$bin")"; done
}

module_version() {
  # module_version <module-dir> <module-path>: the version go.mod requires
  awk -v m="$2" '$1 == "//" {next} $1 == m {print $2; exit} $2 == m {print $3; exit}' "$1/go.mod"
}

[ -d "$venv_bin" ] || fail "virtual environment bin directory $venv_bin does not exist"
mkdir -p "$cache"
ensure_services
ensure_node_runtime
ensure_go

kube=$(module_version "$here/kubernetes" k8s.io/kubernetes)
etcd=$(module_version "$here/etcd" go.etcd.io/etcd/server/v3)
helm=$(module_version "$here/helm" helm.sh/helm/v3)
# Release builds stamp their version with -X (hack/lib/version.sh); without it the
# binaries report v0.0.0-master, which kubectl refuses to parse.
kube_version_vars=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_version_vars+=" -X $pkg.gitVersion=$kube -X $pkg.gitTreeState=clean"
  kube_version_vars+=" -X $pkg.gitMajor=$(cut -d. -f1 <<<"${kube#v}") -X $pkg.gitMinor=$(cut -d. -f2 <<<"$kube")"
done
build kubernetes "$here/kubernetes" "$kube" "$kube_version_vars" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubectl
build etcd "$here/etcd" "$etcd" "" .
# As helm's own Makefile does: the Kubernetes version helm assumes offline (helm template,
# helm lint) follows the client-go it is built with, not the stale default v1.20.
helm_flags="-X helm.sh/helm/v3/internal/version.version=$helm"
client_go_minor=$(module_version "$here/helm" k8s.io/client-go | cut -d. -f2)
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  helm_flags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$client_go_minor"
done
build helm "$here/helm" "$helm" "$helm_flags" helm.sh/helm/v3/cmd/helm
# actionlint checks .github/workflows; the registry receives the chart (tests/release).
actionlint=$(module_version "$here/actionlint" github.com/rhysd/actionlint)
build actionlint "$here/actionlint" "$actionlint" "" github.com/rhysd/actionlint/cmd/actionlint
registry=$(module_version "$here/registry" github.com/google/go-containerregistry)
build registry "$here/registry" "$registry" "" github.com/google/go-containerregistry/cmd/registry
say "kubernetes $kube, etcd $etcd, helm $helm, actionlint $actionlint, registry $registry ready in $venv_bin"
