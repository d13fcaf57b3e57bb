#!/usr/bin/env bash
# The main job, end to end on one machine: Binance and Kraken replayed on loopback from
# recorded market data, one collector per exchange keeping four symbols complete in an
# embedded SQLite database, and `ohlcv-collector status` watching them backfill and stream.
#
# Usage: examples/demo.sh [SECONDS]   (run by `make demo`; needs ../shared/data beside the repo)
set -euo pipefail

seconds=${1:-60}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin="$repo/.venv/bin"
work=$(mktemp -d "${TMPDIR:-/tmp}/ohlcv-demo-XXXXXX")
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "demo files (database, logs) are in $work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_replay <exchange> <variable>: a replay exchange on a free port; its ccxt URL
# override goes into <variable>. It runs in this shell, so cleanup can stop it.
start_replay() {
  local log="$work/replay-$1.log"
  (cd "$repo" && exec "$bin/python" -m tests.replay_exchange --exchange "$1" --port 0 --speed 10 >"$log" 2>&1) &
  pids+=($!)
  for _ in $(seq 100); do
    if grep -q '"listening"' "$log" 2>/dev/null; then
      printf -v "$2" '%s' "$("$bin/python" -c 'import json,sys; print(json.dumps(json.loads(sys.stdin.readline())["ccxt_urls"]))' <"$log")"
      return
    fi
    sleep 0.1
  done
  echo "the $1 replay exchange did not start:" >&2
  cat "$log" >&2
  exit 1
}

export DB_SQLITE_PATH="$work/demo.sqlite" OHLCV_HTTP_HOST=127.0.0.1 OHLCV_TARGETS_REFRESH_SECONDS=5
echo "== replay exchanges (recorded data, 10x speed) and an embedded database in $work"
start_replay binance binance_urls
start_replay kraken kraken_urls
"$bin/ohlcv-collector" db init
for target in binance:BTC/USDT binance:BTC/USD kraken:BTC/USDT kraken:BTC/USD; do
  "$bin/ohlcv-collector" targets add --exchange "${target%%:*}" --symbol "${target#*:}" --backtest-days 1 2>/dev/null
done
"$bin/ohlcv-collector" targets list

echo "== one collector per exchange (JSON logs in $work/collector-*.log)"
port=${OHLCV_DEMO_PORT:-18480}  # metrics and probes of the first collector; the next gets +1
for exchange in binance kraken; do
  urls=$binance_urls
  [ "$exchange" = kraken ] && urls=$kraken_urls
  OHLCV_CCXT_URLS="$urls" OHLCV_CCXT_OPTIONS='{"rateLimit": 50}' OHLCV_HTTP_PORT=$port \
    "$bin/ohlcv-collector" run --exchange "$exchange" --repair-interval 5 >"$work/collector-$exchange.log" 2>&1 &
  pids+=($!)
  echo "$exchange: metrics and probes at http://127.0.0.1:$port/metrics"
  port=$((port + 1))
done

for elapsed in $(seq 10 10 "$seconds"); do
  sleep 10
  echo "== after ${elapsed} s"
  "$bin/ohlcv-collector" status
done
