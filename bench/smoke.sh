#!/usr/bin/env bash
# The benchmark suite's smoke test (CI): builds the three implementations as bench/compare.sh
# does (a peer whose toolchain is missing and cannot be installed is skipped, with a message),
# runs every scenario of every implementation once with a tiny N at GOMAXPROCS=2, and fails if
# one crashes or hangs or if their checksums disagree. Never looks at the times.
set -euo pipefail
cd "$(dirname "$0")/.."
bench/compare.sh --build-only
exec timeout 300 python3 bench/compare.py --smoke --timeout 60 "$@"
