#!/usr/bin/env bash
# bench/nats_compare.sh [BUILD_DIR] [REPS] [OTHER_BUILD_DIR]: gocxx::nats against Go with
# nats.go, side by side against one nats-server (JetStream in a temporary folder): a queue
# group of 4 subscribers receiving 128-byte publishes, sequential request/reply (median and
# p99), a JetStream work queue with 4 workers acking each job. Each scenario alternates the
# peers REPS times (default 3) so that all see the same machine state; request/reply also
# alternates nats_floor (libnats alone, no gocxx) where BUILD_DIR has it, and every scenario
# the nats_peer of OTHER_BUILD_DIR when given (an A/B of two builds, printed as "other").
# Builds what is missing: nats_peer and nats_floor in BUILD_DIR (default build; needs
# libnats-dev) and the Go peer (bench/peers/nats, nats.go from the module proxy).
# NATS_COMPARE_ONLY=SCENARIO (qpub, reqrep or jsq) runs that scenario alone.
# Results: docs/nats.md.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
reps=${2:-3}
other=${3:-}
[ -x "$build/nats_peer" ] && [ -x "$build/nats_floor" ] ||
  { cmake -S . -B "$build" >/dev/null && cmake --build "$build" -j2 --target nats_peer nats_floor; }
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
(cd bench/peers/nats && go build -o "$work/nats-peer-go" .)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
nats-server -a 127.0.0.1 -p "$port" -js -sd "$work/js" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.05; done
url=nats://127.0.0.1:$port
echo "nats-server $(nats-server --version | awk '{print $2}'), $(go version | awk '{print $3}'), nats.go $(grep 'nats.go v' bench/peers/nats/go.mod | awk '{print $3}'), libnats $(pkg-config --modversion libnats), $(nproc) CPUs"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
only=${NATS_COMPARE_ONLY:-}
for scenario in "qpub 500000" "reqrep 20000" "jsq 100000"; do
  [ -z "$only" ] || [ "${scenario%% *}" = "$only" ] || continue
  for _ in $(seq "$reps"); do
    "$build/nats_peer" "$url" $scenario
    if [ -n "$other" ]; then echo -n "other: "; "$other/nats_peer" "$url" $scenario; fi
    "$work/nats-peer-go" "$url" $scenario
    if [ "${scenario%% *}" = reqrep ]; then "$build/nats_floor" "$url" $scenario; fi
  done
done
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
