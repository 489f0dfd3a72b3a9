#!/usr/bin/env bash
# Builds the Go peer and the gocxx scenario binary, then runs compare.py.
# Usage: bench/compare.sh [compare.py arguments...]   (e.g. --reps 3 --scenarios spawn_join,chan_pingpong)
# Everything it builds stays under build-release/ (Go's build cache included);
# results go to out/compare.csv and out/compare.json.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if ! command -v go >/dev/null 2>&1; then
  echo "go not found; installing golang-go with apt-get" >&2
  if [ "$(id -u)" -eq 0 ]; then apt-get install -y golang-go; else sudo apt-get install -y golang-go; fi
fi

mkdir -p build-release
echo "building the Go peer -> build-release/go-peer" >&2
(cd bench/peers/go &&
  GOCACHE="$root/build-release/go-cache" GOFLAGS=-mod=mod GOPROXY=off GO111MODULE=on \
    go build -o "$root/build-release/go-peer" .)

echo "building the gocxx peer -> build-release/bench/peer_scenarios" >&2
if ! { cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release &&
       cmake --build build-release -j2 --target peer_scenarios; }; then
  echo "warning: the gocxx build failed; its columns will show -" >&2
fi

exec python3 bench/compare.py "$@"
