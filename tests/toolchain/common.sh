# Shared by install.sh and image.sh (sourced): messages and Debian package installs.
# The sourcing script sets $log_prefix ("toolchain", "image") and $make_target.

fail() {
  printf '%s: %s\n' "$log_prefix" "$*" >&2
  exit 1
}
say() { printf '%s: %s\n' "$log_prefix" "$*"; }

apt_install() {
  # $@: Debian package names
  if [ "$(id -u)" -ne 0 ]; then
    fail "missing Debian packages: $*. Install them with: sudo apt-get install -y $*"
  fi
  say "installing Debian packages: $*"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; } >/tmp/ohlcv-apt.log 2>&1; then
    tail -20 /tmp/ohlcv-apt.log >&2
    fail "apt-get install $* failed (log above); install them by hand and run make $make_target again"
  fi
}
