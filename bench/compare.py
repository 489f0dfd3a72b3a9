#!/usr/bin/env python3
"""Side-by-side benchmark: gocxx (bench/peer_scenarios) against Go (bench/peers/go).

Both programs implement the scenarios of bench/peers/go/SCENARIOS.md with the
same CLI (`-scenario NAME -reps 1 [-n N]`) and output (`NAME VALUE UNIT
CHECKSUM` per line). For every scenario and every GOMAXPROCS value this script
runs the two programs interleaved (gocxx, Go, gocxx, Go, ...), one process per
repetition, and prints medians, spreads, the gocxx/Go ratio and a flag when the
checksums disagree. A side whose binary is missing or fails shows `-`.

Results go to out/compare.csv and out/compare.json (relative to the repo root
unless --out says otherwise). Standard library only.
"""

import argparse
import csv
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIOS_MD = os.path.join("bench", "peers", "go", "SCENARIOS.md")
SIDES = ("gocxx", "go")


def rel(path):
    """Path relative to the repo root, for messages and the JSON file."""
    try:
        return os.path.relpath(path, REPO)
    except ValueError:
        return path


def scenarios_from_md(path):
    names = []
    row = re.compile(r"^\|\s*`([A-Za-z0-9_]+)`\s*\|")
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = row.match(line)
            if m and m.group(1) not in names:
                names.append(m.group(1))
    return names


def run_once(binary, scenario, procs, n, timeout):
    """Runs one repetition; returns ({name: (value, unit, checksum)}, error)."""
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        return None, "missing"
    cmd = [binary, "-scenario", scenario, "-reps", "1"]
    if n:
        cmd += ["-n", str(n)]
    env = dict(os.environ, GOMAXPROCS=str(procs))
    try:
        p = subprocess.run(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, text=True)
    except subprocess.TimeoutExpired:
        return None, "timeout after %ss" % timeout
    except OSError as e:
        return None, str(e)
    if p.returncode != 0:
        err = (p.stderr.strip().splitlines() or [""])[-1]
        return None, "exit %d %s" % (p.returncode, err)
    out = {}
    for line in p.stdout.splitlines():
        parts = line.split()
        if len(parts) != 4:
            continue
        try:
            out[parts[0]] = (float(parts[1]), parts[2], int(parts[3]))
        except ValueError:
            continue
    if not out:
        return None, "no result lines"
    return out, None


def fmt_num(v):
    if v is None:
        return "-"
    if v >= 1e6:
        return "%.4g" % v
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def fmt_spread(vals):
    if not vals:
        return "-"
    return "%s-%s" % (fmt_num(min(vals)), fmt_num(max(vals)))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5, help="repetitions per side (default 5)")
    ap.add_argument("--scenarios", default="",
                    help="comma-separated scenario names (default: all in %s)" % SCENARIOS_MD)
    ap.add_argument("--procs", default="1,2", help="GOMAXPROCS values (default 1,2)")
    ap.add_argument("--n", type=int, default=0, help="pass -n N to both sides")
    ap.add_argument("--go-bin", default=os.path.join("build-release", "go-peer"))
    ap.add_argument("--gocxx-bin", default=os.path.join("build-release", "bench", "peer_scenarios"))
    ap.add_argument("--timeout", type=float, default=120, help="seconds per process (default 120)")
    ap.add_argument("--out", default="out", help="output folder (default out)")
    args = ap.parse_args()

    bins = {
        "gocxx": os.path.join(REPO, args.gocxx_bin),
        "go": os.path.join(REPO, args.go_bin),
    }
    if args.scenarios:
        scenarios = [s for s in args.scenarios.split(",") if s]
    else:
        scenarios = scenarios_from_md(os.path.join(REPO, SCENARIOS_MD))
    procs_list = [int(p) for p in args.procs.split(",") if p]
    for side in SIDES:
        if not os.path.isfile(bins[side]):
            print("note: %s binary %s is missing; its columns will show -" % (side, rel(bins[side])),
                  file=sys.stderr)

    # samples[(result_name, procs)][side] = list of (value, checksum); units[(...)] = unit
    samples, units, errors, order = {}, {}, {}, []
    t_start = time.time()
    total = len(scenarios) * len(procs_list)
    done = 0
    for scen in scenarios:
        for procs in procs_list:
            done += 1
            print("[%d/%d] %s GOMAXPROCS=%d (%.0fs elapsed)" % (done, total, scen, procs,
                                                               time.time() - t_start),
                  file=sys.stderr, flush=True)
            seen = [scen]  # a scenario's own row shows even if every run fails
            for _ in range(args.reps):
                for side in SIDES:  # interleaved: gocxx, Go, gocxx, Go, ...
                    res, err = run_once(bins[side], scen, procs, args.n, args.timeout)
                    if err:
                        errors.setdefault((scen, procs, side), []).append(err)
                        continue
                    for name, (value, unit, checksum) in res.items():
                        if name not in seen:
                            seen.append(name)
                        samples.setdefault((name, procs), {}).setdefault(side, []).append(
                            (value, checksum))
                        units.setdefault((name, procs), unit)
            for name in seen:
                if (name, procs) not in order:
                    order.append((name, procs))

    rows = []
    for key in order:
        name, procs = key
        scen = name if any(name == s for s in scenarios) else next(
            (s for s in scenarios if name.startswith(s)), name)
        row = {"scenario": name, "procs": procs, "unit": units.get(key, "")}
        sums = {}
        for side in SIDES:
            got = samples.get(key, {}).get(side, [])
            vals = [v for v, _ in got]
            row[side + "_median"] = statistics.median(vals) if vals else None
            row[side + "_min"] = min(vals) if vals else None
            row[side + "_max"] = max(vals) if vals else None
            row[side + "_samples"] = vals
            row[side + "_checksums"] = sorted(set(c for _, c in got))
            row[side + "_errors"] = errors.get((scen, procs, side), [])
            sums[side] = set(c for _, c in got)
        gm, om = row["gocxx_median"], row["go_median"]
        row["ratio"] = gm / om if gm is not None and om else None
        flags = []
        if len(sums["gocxx"]) > 1 or len(sums["go"]) > 1 or (
                sums["gocxx"] and sums["go"] and sums["gocxx"] != sums["go"]):
            flags.append("CHECKSUM")
        for side in SIDES:
            errs = row[side + "_errors"]
            if errs and os.path.isfile(bins[side]):
                flags.append("%s failed %d/%d (%s)" % (side, len(errs), args.reps, errs[0]))
        row["flags"] = " ".join(flags)
        rows.append(row)

    # Table.
    head = ["scenario", "procs", "unit", "gocxx med", "Go med", "gocxx/Go",
            "gocxx min-max", "Go min-max", "flags"]
    table = [head]
    for r in rows:
        table.append([r["scenario"], str(r["procs"]), r["unit"] or "-",
                      fmt_num(r["gocxx_median"]), fmt_num(r["go_median"]),
                      "-" if r["ratio"] is None else "%.2f" % r["ratio"],
                      fmt_spread(r["gocxx_samples"]), fmt_spread(r["go_samples"]), r["flags"]])
    widths = [max(len(t[i]) for t in table) for i in range(len(head) - 1)]
    for t in table:
        cells = [t[i].ljust(widths[i]) if i in (0, 2) else t[i].rjust(widths[i])
                 for i in range(len(head) - 1)]
        print("  ".join(cells + [t[-1]]).rstrip())
    print("\nratio = gocxx median / Go median (below 1: gocxx faster or smaller); "
          "%d reps per side, %.0f s total" % (args.reps, time.time() - t_start))

    # Files.
    out_dir = os.path.join(REPO, args.out)
    os.makedirs(out_dir, exist_ok=True)
    cols = ["scenario", "procs", "unit", "gocxx_median", "go_median", "ratio",
            "gocxx_min", "gocxx_max", "go_min", "go_max", "gocxx_checksums", "go_checksums", "flags"]
    with open(os.path.join(out_dir, "compare.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in rows:
            w.writerow(["" if r[c] is None else
                        (" ".join(map(str, r[c])) if isinstance(r[c], list) else r[c])
                        for c in cols])
    meta = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "reps": args.reps,
        "procs": procs_list,
        "n_override": args.n or None,
        "binaries": {side: rel(bins[side]) for side in SIDES},
        "cpus": os.cpu_count(),
    }
    with open(os.path.join(out_dir, "compare.json"), "w", encoding="utf-8") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)
    print("wrote %s and %s" % (os.path.join(args.out, "compare.csv"),
                                os.path.join(args.out, "compare.json")))


if __name__ == "__main__":
    main()
