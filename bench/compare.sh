#!/usr/bin/env bash
# The side-by-side benchmark in one command: builds gocxx (Release), the Go peer and the
# Boost.Fiber peer, then runs bench/compare.py, which prints the table and writes out/compare.*
# (csv, json, md, png). Installs what is missing with apt-get when it can: golang-go,
# libboost-fiber-dev, gnuplot-nox, and valgrind for --callgrind. A peer that cannot be built is
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

# apt_install PACKAGE...: apt-get as root or through passwordless sudo; refreshes the package
# lists once if the first attempt fails.
apt_install() {
  local sudo=
  if [ "$(id -u)" -ne 0 ]; then
    if have sudo && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
      echo "cannot install $* (not root, no passwordless sudo)" >&2
      return 1
    fi
  fi
  have apt-get || { echo "cannot install $* (no apt-get)" >&2; return 1; }
  echo "installing $* with apt-get" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2 ||
    { $sudo apt-get update -q >&2 &&
      $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2; }
}

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
  have go || apt_install golang-go || true
  if ! have go; then
    skip_peer Go build-release/go-peer "no Go toolchain (apt-get install golang-go)"
    return
  fi
  # golang.org/x/time (limiter_allow) from Debian's package, copied where the peer's go.mod
  # points: module builds must not read outside the repository's tree by absolute path.
  local xtime=/usr/share/gocode/src/golang.org/x/time
  [ -f "$xtime/rate/rate.go" ] || apt_install golang-golang-x-time-dev || true
  rm -rf build-release/gomod/x-time
  mkdir -p build-release/gomod
  [ -d "$xtime" ] && cp -r "$xtime" build-release/gomod/x-time
  echo "building the Go peer -> build-release/go-peer" >&2
  if ! (cd bench/peers/go &&
        GOCACHE="$root/build-release/go-cache" GOFLAGS=-mod=mod GOPROXY=off GO111MODULE=on \
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
