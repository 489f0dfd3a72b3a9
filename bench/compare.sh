#!/usr/bin/env bash
# The side-by-side benchmark in one command: builds gocxx (Release), the Go peer and the
# Boost.Fiber peer, then runs bench/compare.py, which prints the table and writes out/compare.*
# (csv, json, md, png). Installs what is missing with apt-get when it can (tools/apt-install):
# libboost-fiber-dev, gnuplot-nox, and valgrind for --callgrind. Go is the machine's (go on the
# PATH, at least the version in bench/peers/go/go.mod). A peer that cannot be built is
# left out with a message (its binary is removed, so no stale one runs; its column shows -).
#
# Usage: bench/compare.sh [compare.py arguments...]
#   e.g. --reps 5, --procs 1,2,4,8,16, --scenarios spawn_join,chan_pingpong, --callgrind
#        bench/compare.sh --build-only   (what bench/smoke.sh uses)
# Everything it builds stays under build-release/ (Go's build cache included):
#   build-release/bench/peer_scenarios, build-release/go-peer,
#   build-release/boost-fiber-peer/boost-fiber-peer (its own CMake project, never part of the
#   main build, so that the main build does not need Boost).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

have() { command -v "$1" >/dev/null 2>&1; }

apt_install() { tools/apt-install "$@"; }

skip_peer() {  # skip_peer NAME BINARY REASON
  echo "SKIP the $1 peer: $3" >&2
  rm -f "$2"
}

build_gocxx() {
  echo "building gocxx -> build-release/bench/peer_scenarios" >&2
  if ! { cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null &&
         cmake --build build-release -j2 --target peer_scenarios >&2; }; then
    skip_peer gocxx build-release/bench/peer_scenarios "the gocxx build failed"
  fi
}

build_go() {
  # The Go peer needs the Go named in bench/peers/go/go.mod (go on the PATH, or Go's own
  # /usr/local/go); Debian's golang-go is older. golang.org/x/time comes through Go's module
  # proxy, checked against the committed go.sum.
  have go || [ ! -x /usr/local/go/bin/go ] || PATH=$PATH:/usr/local/go/bin
  if ! have go; then
    skip_peer Go build-release/go-peer "no Go toolchain (go on the PATH)"
    return
  fi
  echo "building the Go peer ($(go env GOVERSION)) -> build-release/go-peer" >&2
  if ! (cd bench/peers/go &&
        GOCACHE="$root/build-release/go-cache" GOFLAGS=-mod=readonly GOTOOLCHAIN=local \
          go build -o "$root/build-release/go-peer" .); then
    skip_peer Go build-release/go-peer "go build failed"
  fi
}

build_boost() {
  local bin=build-release/boost-fiber-peer/boost-fiber-peer
  [ -f /usr/include/boost/fiber/all.hpp ] || apt_install libboost-fiber-dev || true
  echo "building the Boost.Fiber peer -> $bin" >&2
  if ! { cmake -S bench/peers/boost_fiber -B build-release/boost-fiber-peer \
           -DCMAKE_BUILD_TYPE=Release >/dev/null &&
         cmake --build build-release/boost-fiber-peer -j2 >&2; }; then
    skip_peer Boost.Fiber "$bin" "its build failed (is libboost-fiber-dev installed?)"
  fi
}

mkdir -p build-release
build_gocxx
build_go
build_boost
[ "${1:-}" = --build-only ] && exit 0

have gnuplot || apt_install gnuplot-nox || echo "warning: no gnuplot, so no chart" >&2
for arg in "$@"; do
  if [ "$arg" = --callgrind ]; then
    have valgrind || apt_install valgrind || echo "warning: no valgrind, so no callgrind" >&2
  fi
done

GOCXX_COMPARE_COMMAND=bench/compare.sh exec python3 bench/compare.py "$@"
