#!/usr/bin/env python3
"""Does pinning move Go's figure? compare.py --paired pins both peers to one CPU at
GOMAXPROCS=1, where Go's monitor thread (sysmon) shares that CPU with the benchmark's thread.
This runs the Go peer twice per scenario, as two -serve processes taking turns run by run (as
--paired does): one pinned to the first allowed CPU, one free to use every CPU. It prints the
median of each pair's pinned/unpinned time (1: pinning costs Go nothing), with the smallest and
largest pair in brackets.

Usage: bench/pin_check.py [--reps 21] [--scenarios a,b,...] [--go-bin build-release/go-peer]
Build the peer first (bench/compare.sh --build-only)."""
import argparse
import os
import statistics
import sys
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402

DEFAULT = ["chan_pingpong", "chan_spsc_1", "select_uncontended", "cb_bounded0_select_both_send",
           "spawn_join", "skynet", "sync_mutex_uncontended", "timers_1m_start_stop", "pool_4x1m"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=21)
    ap.add_argument("--scenarios", default=",".join(DEFAULT))
    ap.add_argument("--go-bin", default=os.path.join("build-release", "go-peer"))
    ap.add_argument("--timeout", type=float, default=60)
    args = ap.parse_args()
    peer = types.SimpleNamespace(path=os.path.join(compare.REPO, args.go_bin))
    cpu = {sorted(os.sched_getaffinity(0))[0]}
    print("| scenario | Go pinned ns | Go unpinned ns | pinned/unpinned |")
    print("|---|--:|--:|--:|")
    for scen in args.scenarios.split(","):
        servers = {"pinned": compare.Server(peer, scen, 1, cpu), "free": compare.Server(peer, scen, 1)}
        times = {k: [] for k in servers}
        ratios = []
        try:
            for k in servers:  # one unmeasured run each
                servers[k].run(0, args.timeout)
            for rep in range(args.reps):
                got = {}
                for k in (("pinned", "free") if rep % 2 == 0 else ("free", "pinned")):
                    res, err = servers[k].run(0, args.timeout)
                    if err:
                        sys.exit("%s %s: %s" % (scen, k, err))
                    got[k] = res[scen][0]
                    times[k].append(got[k])
                ratios.append(got["pinned"] / got["free"])
        finally:
            for srv in servers.values():
                srv.close()
        print("| `%s` | %s | %s | %.2f (%.2f-%.2f) |" % (
            scen, compare.fmt_num(statistics.median(times["pinned"])),
            compare.fmt_num(statistics.median(times["free"])), statistics.median(ratios),
            min(ratios), max(ratios)), flush=True)


if __name__ == "__main__":
    main()
