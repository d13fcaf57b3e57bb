#!/usr/bin/env bash
# Builds the project's container image from ./Dockerfile with buildah (no container
# engine or daemon needed) and exports it as an OCI archive, which containerd imports
# with `ctr -n k8s.io images import <archive>`.
#
# The Dockerfile's base, python:3.11-slim-bookworm, lives on Docker Hub, which a build
# machine may not reach. So the base is made here instead: a Debian bookworm root
# filesystem from mmdebstrap (Debian's Python 3.11 with pip and venv, CA certificates),
# committed as localhost/debian-python:3.11-bookworm and passed to the Dockerfile as its
# PYTHON_IMAGE build argument. The Dockerfile itself is unchanged, so docker and podman
# build it as before.
#
# Everything lands in a cache outside the checkout. The base is keyed by its package
# list, apt sources and config; the image by the content of every file the Dockerfile copies
# (tracked or untracked, unless ignored), the Dockerfile, .dockerignore, this script and
# the base's key. An archive already built for the same key is reused in seconds.
# buildah keeps its storage (vfs driver) in the cache too, so system storage is left
# alone; after the export only the base stays in it.
#
# Output: $cache/images/fullon-ohlcv-<key>.oci.tar holding the image
# localhost/fullon-ohlcv:<version>-<key>, fullon-ohlcv-<key>.json describing it, and
# <venv>/fullon-ohlcv-image.json linked to that description: the image of this checkout,
# which tests/harness/images.py reads (a checkout never runs another tree's image).
#
# Usage: image.sh <venv-bin-dir>   (its python reads pyproject.toml and writes the JSON)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
venv_bin=${1:?usage: image.sh <venv-bin-dir>}
python="$venv_bin/python"
cache=${OHLCV_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fullon-ohlcv}
images="$cache/images"
name=localhost/fullon-ohlcv
base_ref=localhost/debian-python:3.11-bookworm
base_packages=(python3 python3-pip python3-venv python-is-python3 ca-certificates)
# The environment python:3.11-slim-bookworm sets, without its Python build details.
base_config=(--env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  --env LANG=C.UTF-8 --cmd python3)
# The host's CA bundle is mounted read-only into the RUN steps (never copied into a
# layer), so pip trusts what the host trusts, a TLS-intercepting proxy included.
ca_bundle=/etc/ssl/certs/ca-certificates.crt
keep_archives=3 # older archives in $images are deleted

log_prefix=image
make_target=image
# shellcheck source=tests/toolchain/common.sh
source "$here/common.sh"

# buildah with its storage, run state and temporary files in the cache (TMPDIR also
# holds the RUN --mount=type=cache directories).
bh() {
  TMPDIR="$cache/buildah/tmp" buildah --root "$cache/buildah/storage" \
    --runroot "$cache/buildah/run" --storage-driver vfs "$@"
}

has_image() { bh inspect --type image "$1" >/dev/null 2>&1; }

# The apt sources mmdebstrap uses, one argument per line: the host's own if it runs
# Debian bookworm (that mirror is known to work from here, proxy and all), otherwise
# deb.debian.org.
debian_sources() {
  local file
  for file in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    if [ -s "$file" ] && grep -Eq '^[^#]*bookworm-security' "$file"; then
      printf '%s\n' "$file"
      return 0
    fi
  done
  printf '%s\n' "deb http://deb.debian.org/debian bookworm bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main"
}

# Sets sources, mmdebstrap_args and base_key, the hash of those and the base's config.
base_recipe() {
  mapfile -t sources < <(debian_sources)
  local include
  include=$(
    IFS=,
    echo "${base_packages[*]}"
  )
  # shellcheck disable=SC2016 # "$1" in the hook is the chroot, which mmdebstrap passes
  mmdebstrap_args=(
    --variant=apt --include="$include"
    # merged /usr without the usrmerge package, which would pull in perl
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
    # as in debian:bookworm-slim: no manuals, documentation (but copyrights) or translations
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/lintian/*'
    # mmdebstrap copies these two from the host; the container runtime provides its own
    --customize-hook='rm -f "$1/etc/resolv.conf" "$1/etc/hostname" && touch "$1/etc/resolv.conf" "$1/etc/hostname"'
    bookworm
  )
  base_key=$({
    printf '%s\n' "${mmdebstrap_args[@]}" "${sources[@]}" "${base_config[@]}"
    local source
    for source in "${sources[@]}"; do [ ! -f "$source" ] || cat "$source"; done
  } | sha256sum | cut -c1-12)
}

# ensure_base: the buildah image $base_ref, committed from a cached mmdebstrap tarball.
ensure_base() {
  local rootfs="$cache/base/debian-python-bookworm-$base_key.tar"
  local keyed_ref="localhost/debian-python:bookworm-$base_key"
  local ctr old
  if has_image "$keyed_ref"; then
    bh tag "$keyed_ref" "$base_ref"
    return 0
  fi
  if [ ! -f "$rootfs" ]; then
    command -v mmdebstrap >/dev/null || apt_install mmdebstrap
    say "building the Debian bookworm base (${base_packages[*]}) with mmdebstrap (first run only; a minute)"
    mkdir -p "$cache/base"
    local tmp log="$cache/base/mmdebstrap.log" started=$SECONDS
    tmp=$(mktemp "$cache/base/.rootfs-XXXXXX.tar")
    if ! mmdebstrap "${mmdebstrap_args[@]}" "$tmp" "${sources[@]}" >"$log" 2>&1; then
      rm -f "$tmp"
      tail -30 "$log" >&2
      fail "mmdebstrap failed (log above, full log in $log). It needs a Debian mirror: the host's apt sources or deb.debian.org."
    fi
    chmod 644 "$tmp"
    mv "$tmp" "$rootfs"
    for old in "$cache"/base/debian-python-bookworm-*.tar; do [ "$old" = "$rootfs" ] || rm -f "$old"; done
    say "built the base root filesystem in $((SECONDS - started)) s"
  fi
  say "committing $rootfs as $base_ref"
  ctr=$(bh from --quiet scratch)
  bh add --quiet "$ctr" "$rootfs" / >/dev/null
  bh config "${base_config[@]}" "$ctr"
  bh commit --quiet --rm "$ctr" "$keyed_ref" >/dev/null
  bh tag "$keyed_ref" "$base_ref"
  # Earlier bases are no longer needed.
  while read -r old; do
    case $old in
      "$keyed_ref") ;;
      localhost/debian-python:bookworm-*) bh rmi "$old" >/dev/null ;;
    esac
  done < <(bh images --format '{{.Name}}:{{.Tag}}')
}

# The files the Dockerfile copies, as .dockerignore filters them, and the Dockerfile
# and .dockerignore themselves: NUL-separated paths relative to the repository, sorted.
build_inputs() {
  local paths=(Dockerfile .dockerignore constraints.txt pyproject.toml README.md operator collector)
  if git -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$repo" ls-files -z --cached --others --exclude-standard -- "${paths[@]}"
  else
    (cd "$repo" && find "${paths[@]}" -type f -print0)
  fi | grep -zvE '(^|/)(__pycache__|\.mypy_cache|\.ruff_cache|\.pytest_cache|[^/]*\.egg-info)/|\.py[cod]$' |
    sort -zu | while IFS= read -r -d '' path; do
    # tracked files deleted in the working tree are not in the build context
    if [ -f "$repo/$path" ]; then printf '%s\0' "$path"; fi
  done
}

# Keeps the newest $keep_archives archives (a cache hit counts as use) and their JSON.
prune_archives() {
  local old
  while read -r old; do
    rm -f "$old" "${old%.oci.tar}.json"
  done < <(find "$images" -maxdepth 1 -type f -name 'fullon-ohlcv-*.oci.tar' -printf '%T@ %p\n' |
    sort -rn | tail -n +$((keep_archives + 1)) | cut -d' ' -f2-)
}

point_current() {
  ln -sfn "$description" "$venv_bin/../fullon-ohlcv-image.json"
}

[ -x "$python" ] || fail "no python in the virtual environment $venv_bin"
command -v buildah >/dev/null || apt_install buildah
mkdir -p "$images" "$cache/buildah/tmp"
# One build at a time per cache: a second `make image` waits, then finds the archive.
exec 9>"$images/.lock"
flock 9

started=$SECONDS
base_recipe
version=$("$python" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' \
  "$repo/pyproject.toml")
key=$({
  echo "base $base_key"
  sha256sum <"$here/image.sh"
  build_inputs | (cd "$repo" && xargs -0 -r sha256sum)
} | sha256sum | cut -c1-12)
tag="$version-$key"
image="$name:$tag"
archive="$images/fullon-ohlcv-$key.oci.tar"
description="$images/fullon-ohlcv-$key.json"

if [ -f "$archive" ] && [ -f "$description" ]; then
  touch "$archive" "$description"
  point_current
  say "$image is cached (nothing it is built from changed): $archive"
  exit 0
fi

ensure_base
say "building $image from the Dockerfile with buildah (a minute or two)"
build_args=(
  --build-arg PYTHON_IMAGE="$base_ref"
  --build-arg VERSION="$version"
  --build-arg REVISION="$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)"
  --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
)
# docker hands the proxy variables to RUN steps as predefined build arguments; so do we.
for var in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  if [ -n "${!var:-}" ]; then build_args+=(--build-arg "$var=${!var}"); fi
done
volumes=()
if [ -f "$ca_bundle" ]; then volumes+=(--volume "$ca_bundle:$ca_bundle:ro"); fi
build_started=$SECONDS
log="$images/build.log"
if ! (cd "$repo" && bh bud --isolation chroot --pull=never --layers=false \
  "${build_args[@]}" "${volumes[@]}" \
  --label org.opencontainers.image.base.name="$base_ref" \
  -t "$image" .) >"$log" 2>&1; then
  bh rm --all >/dev/null 2>&1 || true
  tail -40 "$log" >&2
  fail "buildah bud failed (log above, full log in $log)"
fi

tmp=$(mktemp -u "$images/.fullon-ohlcv-XXXXXX.oci.tar")
if ! bh push --quiet "$image" "oci-archive:$tmp:$image" >>"$log" 2>&1; then
  rm -f "$tmp"
  tail -20 "$log" >&2
  fail "exporting $image to an OCI archive failed (log above, full log in $log)"
fi
build_seconds=$((SECONDS - build_started))
mv "$tmp" "$archive"
"$python" - "$description" "$image" "$archive" "$build_seconds" "$base_ref" <<'EOF'
"""Describe the image: where it is, the archive's size and the layers' size unpacked."""

import gzip
import json
import os
import sys
import tarfile

path, image, archive, seconds, base = sys.argv[1:]
unpacked = 0
with tarfile.open(archive) as layout:

    def blob(digest):
        return layout.extractfile("blobs/sha256/" + digest.removeprefix("sha256:"))

    index = json.load(layout.extractfile("index.json"))
    manifest = json.load(blob(index["manifests"][0]["digest"]))
    for layer in manifest["layers"]:
        raw = blob(layer["digest"])
        stream = gzip.open(raw) if layer["mediaType"].endswith("+gzip") else raw
        while chunk := stream.read(1 << 20):
            unpacked += len(chunk)
description = {
    "image": image,
    "archive": archive,
    "build_seconds": int(seconds),
    "size_bytes": os.path.getsize(archive),
    "uncompressed_bytes": unpacked,
    "base": base,
}
with open(path + ".tmp", "w") as out:
    json.dump(description, out, indent=2)
    out.write("\n")
os.replace(path + ".tmp", path)
EOF
point_current

# The archive is the product: the image and any build containers leave buildah's storage
# (vfs keeps a full copy of every layer); the base stays for the next build.
bh rm --all >/dev/null
while read -r old; do
  case $old in "$name":*) bh rmi "$old" >/dev/null ;; esac
done < <(bh images --format '{{.Name}}:{{.Tag}}')
bh rmi --prune >/dev/null 2>&1 || true
prune_archives

say "built $image in $build_seconds s ($((SECONDS - started)) s in all)"
say "archive: $archive ($(du -m "$archive" | cut -f1) MiB)"
say "import it with: ctr -n k8s.io images import $archive"
