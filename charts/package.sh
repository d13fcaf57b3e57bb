#!/usr/bin/env bash
# make chart: the Helm chart packaged as <out>/fullon-ohlcv-<version>.tgz.
#
# The version comes from one place, pyproject.toml's [project] version (the Python packages
# and the image are built from it too). The packaged copy gets it as the chart's version and
# appVersion (the default image tag) and as the CRD's app.kubernetes.io/version label; the
# tree is not changed (tests/release checks that its copies agree). With EXPECT_VERSION set,
# as the release workflow sets it from the tag vX.Y.Z, a different version is an error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
out=${1:?usage: package.sh <output-directory>}
helm=${HELM:-helm}
python=${PYTHON:-python3}

fail() { echo "chart: $*" >&2; exit 1; }

version=$("$python" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' "$repo/pyproject.toml")
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || fail "pyproject.toml version $version is not SemVer (Helm requires it)"
if [ -n "${EXPECT_VERSION:-}" ] && [ "$EXPECT_VERSION" != "$version" ]; then
  fail "the tag asks for version $EXPECT_VERSION but pyproject.toml says $version: change pyproject.toml, then tag"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$repo/charts/fullon-ohlcv" "$work/"
chart="$work/fullon-ohlcv"
sed -i -E "s/^version: .*/version: $version/; s/^appVersion: .*/appVersion: \"$version\"/" "$chart/Chart.yaml"
sed -i -E "s|^(    app.kubernetes.io/version: ).*|\1\"$version\"|" "$chart/files/crd-ohlcvcollectors.yaml"
grep -q "^    app.kubernetes.io/version: \"$version\"$" "$chart/files/crd-ohlcvcollectors.yaml" \
  || fail "the CRD has no app.kubernetes.io/version label to stamp"

"$helm" lint --strict "$chart" >/dev/null || { "$helm" lint --strict "$chart" >&2; fail "helm lint failed"; }
mkdir -p "$out"
"$helm" package "$chart" --destination "$out" >/dev/null
echo "chart: $out/fullon-ohlcv-$version.tgz (version and appVersion $version)"
