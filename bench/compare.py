#!/usr/bin/env python3
"""Side-by-side benchmark: gocxx against Go and Boost.Fiber.

The scenarios are those of bench/peers/go/SCENARIOS.md. Three implementations run them:
  gocxx        build-release/bench/peer_scenarios (bench/peer_scenarios.cpp)
  Go           build-release/go-peer (bench/peers/go)
  Boost.Fiber  build-release/boost-fiber-peer/boost-fiber-peer (bench/peers/boost_fiber),
               only the scenarios it can express
The peers share one CLI (`-scenario NAME -reps 1 -n N`, `-list`) and print `NAME VALUE UNIT
CHECKSUM` lines. For every scenario and GOMAXPROCS value the three run interleaved (gocxx, Go,
Boost.Fiber, gocxx, ...), one process per repetition, all with the same N. The table shows
medians with their spread, the ratio gocxx/Go of the medians (below 1: gocxx faster or smaller)
with its range min/max .. max/min, the ratio gocxx/Boost.Fiber, and a flag when checksums
disagree or a run fails. A missing binary or an unimplemented scenario shows `-`.

N: each peer's `-list` gives the scenario's default N (Go's first). The default run scales it
by --scale, except for the scenarios whose N is their point (spawn_join, skynet, net_idle_4000,
and names with 1m, 100k, 10k, 4x1m, 64x16k: they run at full size); --n overrides every N.

--paired: for a machine whose CPUs change speed within a second, each on its own
(docs/performance.md, Noise), gocxx and Go run as processes that take turns, run by run (the
peers' `-serve`), and the ratio is the median over the pairs of gocxx's run / Go's adjacent run.
At a GOMAXPROCS below the CPU count both processes are pinned to the same CPUs and serve the
whole cell; otherwise each pair is two fresh processes. Boost.Fiber is left out, and so are
scenarios that measure memory (parked_1m: the growth of a fresh process). The default run is one
process per repetition, as above.

Time bounds: a run slower than --slow seconds is not repeated; a run slower than 20 times the
other implementations' runs of the same scenario and GOMAXPROCS (and than 5 s) is stopped and
counts as a timeout, as does one over --timeout; a timed-out run is not repeated.

Written to --out (default out/): compare.csv, compare.json, compare.md (the tables as markdown,
with the machine) and compare.png (bar chart of the ratios, by gnuplot when installed).
--callgrind adds instruction counts under valgrind for single-threaded scenarios (GOMAXPROCS=1),
gocxx against Boost.Fiber (Go does not run under valgrind reliably): callgrind.csv, callgrind.md.
Instructions per op = (I(2N) - I(N)) / (ops(2N) - ops(N)), which cancels start-up and exit.
--reps 0 skips the timed runs. Standard library only.
"""

import argparse
import csv
import datetime
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIOS_MD = os.path.join("bench", "peers", "go", "SCENARIOS.md")
IMPLS = ("gocxx", "go", "boost")
LABELS = {"gocxx": "gocxx", "go": "Go", "boost": "Boost.Fiber"}

# Scenarios whose N is what they measure run at full size whatever --scale says.
FULL_SIZE = {"spawn_join", "skynet", "net_idle_4000", "stackless_spawn_join", "stackless_skynet",
             "stackless_net_idle_4000"}
FULL_SIZE_NAME = re.compile(r"(^|_|\dx)\d+[km](_|$)")

# --scenarios channels: the channel and select rows whose goal is at most half of Go's time:
# seven scenarios of our own and crossbeam-channel's suite.
CHANNELS = ["chan_pingpong", "chan_spsc_1", "chan_spsc_128", "chan_mpmc_4x4_0",
            "chan_mpmc_4x4_128", "select_recv4", "select_uncontended"] + [
    "cb_%s_%s" % (flavour, test)
    for flavour in ("bounded0", "bounded1", "boundedN", "unbounded")
    for test in ("seq", "spsc", "mpsc", "mpmc", "select_rx", "select_both_send",
                 "select_both_plain")
    if not (test == "seq" and flavour in ("bounded0", "bounded1"))]  # seq would deadlock

# What some rows compare besides one primitive, printed under each table of compare.md: a
# reader comparing the runtimes must know where the programs differ.
ROW_NOTES = {
    "ping_pong_hog": "Go's BenchmarkPingPongHog, whose hog never yields, but at the GOMAXPROCS "
                     "given: gocxx's sysmon takes the processor from a goroutine that runs 10 ms "
                     "without yielding and hands it to another thread, and the hog keeps its own "
                     "thread, so at GOMAXPROCS=1 the hog spins on a second core beside the "
                     "ping-pong, while Go time-shares one processor between them (it preempts "
                     "the hog every 10 ms): gocxx uses two cores where Go uses one",
    "spawn_join": "Go allocates each goroutine's stack at creation; gocxx takes a pooled stack "
                  "when the goroutine first runs",
    "pool_4x1m": "a library difference as much as a runtime one: each step selects on "
                 "ctx.Done(), which Go's select locks like any channel and gocxx's looks at "
                 "without a lock while the context is not cancelled",
    "pipeline_3stage_1m": "as pool_4x1m: every stage's select includes ctx.Done()",
    "fanin_8": "as pool_4x1m: every forwarder's select includes ctx.Done()",
    "limiter_allow": "an idiom difference: Go's rate.Limiter.Allow reads the wall clock and the "
                     "monotonic clock (time.Now), gocxx's the monotonic clock only",
}

# Single-threaded scenarios for --callgrind, and ops per unit of N (ops = factor * N when N is a
# multiple of 4000, see SCENARIOS.md).
CALLGRIND_SCENARIOS = {
    "yield_pingpong": 2,
    "spawn_join": 1,
    "create_goroutines": 1,
    "ping_pong_hog": 1,
    "chan_pingpong": 1,
    "chan_spsc_1": 1,
    "chan_spsc_128": 1,
    "chan_sync": 1,
    "chan_prod_cons_0": 1,
    "chan_prod_cons_100": 1,
    "cb_boundedN_seq": 1,
    "select_uncontended": 1,
}


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


def parse_lines(stdout):
    out = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) != 4:
            continue
        try:
            out[parts[0]] = (float(parts[1]), parts[2], int(parts[3]))
        except ValueError:
            continue
    return out


def run_process(cmd, procs, timeout):
    """Runs cmd with GOMAXPROCS=procs; returns (CompletedProcess, error)."""
    env = dict(os.environ, GOMAXPROCS=str(procs))
    try:
        p = subprocess.run(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, text=True)
    except subprocess.TimeoutExpired:
        return None, "timeout after %.0fs" % timeout
    except OSError as e:
        return None, str(e)
    if p.returncode != 0:
        lines = [l for l in p.stderr.strip().splitlines() if l.strip() and not l.startswith("==")]
        err = lines[-1] if lines else ""
        return None, ("exit %d %s" % (p.returncode, err)).strip()
    return p, None


class PeerProgram:
    """A program with the peers' CLI (SCENARIOS.md)."""

    def __init__(self, path):
        self.path = path
        self.defaults = {}  # scenario -> default N
        self.present = os.path.isfile(path) and os.access(path, os.X_OK)
        if self.present:
            try:
                p = subprocess.run([path, "-list"], stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True, timeout=30)
                for line in p.stdout.splitlines():
                    parts = line.split()
                    if len(parts) == 2 and parts[1].isdigit():
                        self.defaults[parts[0]] = int(parts[1])
            except (OSError, subprocess.TimeoutExpired):
                pass

    def has(self, scen):
        return scen in self.defaults

    def command(self, scen, n):
        return [self.path, "-scenario", scen, "-reps", "1"] + (["-n", str(n)] if n else [])

    def run(self, scen, procs, n, timeout):
        p, err = run_process(self.command(scen, n), procs, timeout)
        if err:
            return None, err
        out = parse_lines(p.stdout)
        return (out, None) if out else (None, "no result lines")


def fmt_num(v):
    if v is None:
        return "-"
    if abs(v) >= 1e6:
        return "%.4g" % v
    if abs(v) >= 100:
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.2f" % v


def fmt_med(med, vals):
    """Median with its spread: the larger distance to min or max, in % of the median."""
    if med is None:
        return "-"
    if len(vals) < 2 or med == 0:
        return fmt_num(med)
    spread = max(max(vals) - med, med - min(vals)) / abs(med) * 100
    return "%s ±%.0f%%" % (fmt_num(med), spread)


def fmt_ratio(r):
    return "-" if r is None else "%.2f" % r


def print_table(table, left_cols):
    widths = [max(len(t[i]) for t in table) for i in range(len(table[0]) - 1)]
    for t in table:
        cells = [t[i].ljust(widths[i]) if i in left_cols else t[i].rjust(widths[i])
                 for i in range(len(widths))]
        print("  ".join(cells + [t[-1]]).rstrip())


def machine_info(bins):
    """A few lines on the machine and toolchains, for compare.md and compare.json."""
    info = {}
    try:
        lscpu = subprocess.run(["lscpu"], stdout=subprocess.PIPE, text=True).stdout
        fields = dict(line.split(":", 1) for line in lscpu.splitlines() if ":" in line)
        get = lambda k: fields.get(k, "").strip()
        info["cpu"] = "%s (family %s model %s), %s CPUs, %s thread(s) per core%s" % (
            get("Model name"), get("CPU family"), get("Model"), get("CPU(s)"),
            get("Thread(s) per core"), ", L3 " + get("L3 cache") if get("L3 cache") else "")
        if get("Hypervisor vendor"):
            info["cpu"] += ", virtualized (%s)" % get("Hypervisor vendor")
    except OSError:
        pass
    info["kernel"] = platform.release()

    def first_line(cmd):
        try:
            return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True).stdout.splitlines()[0].strip()
        except (OSError, IndexError):
            return ""

    compiler = ""
    cache = os.path.join(REPO, "build-release", "CMakeCache.txt")
    if os.path.isfile(cache):
        with open(cache, encoding="utf-8") as f:
            m = re.search(r"^CMAKE_CXX_COMPILER:\w+=(.*)$", f.read(), re.M)
            if m:
                compiler = first_line([m.group(1), "--version"])
    info["compiler"] = compiler or first_line(["c++", "--version"])
    info["go"] = first_line(["go", "version"])
    try:
        boost = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libboost-fiber-dev"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
        info["boost"] = "Boost.Fiber " + boost if boost else ""
    except OSError:
        info["boost"] = ""
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            kb = int(f.readline().split()[1])
        info["memory"] = "%.0f GiB" % (kb / 2**20)
    except (OSError, ValueError, IndexError):
        pass
    return info


def fill_impl(row, impl, got, errs):
    """Puts impl's figures for one cell in row: got is its [(value, checksum)]."""
    vals = [v for v, _ in got]
    row[impl + "_median"] = statistics.median(vals) if vals else None
    row[impl + "_min"] = min(vals) if vals else None
    row[impl + "_max"] = max(vals) if vals else None
    row[impl + "_samples"] = vals
    row[impl + "_checksums"] = sorted(set(c for _, c in got))
    row[impl + "_errors"] = errs


def collect(args, impls, scenarios, procs_list, n_for):
    """Runs the timed comparison; returns the rows."""
    samples, units, errors, order = {}, {}, {}, []
    slow = set()  # (scenario, procs, impl) whose run took more than --slow seconds
    t_start = time.time()
    total = len(scenarios) * len(procs_list)
    done = 0
    for scen in scenarios:
        for procs in procs_list:
            done += 1
            print("[%d/%d] %s GOMAXPROCS=%d n=%s (%.0fs elapsed)" % (
                done, total, scen, procs, n_for(scen) or "default", time.time() - t_start),
                file=sys.stderr, flush=True)
            seen = [scen]  # a scenario's own row shows even if every run fails
            run_seconds = {}  # impl -> its slowest successful run of this cell
            for _ in range(args.reps):
                for impl in IMPLS:  # interleaved: gocxx, Go, Boost.Fiber, gocxx, ...
                    prog = impls[impl]
                    if not prog.has(scen):
                        continue
                    if (scen, procs, impl) in slow:
                        continue  # keeps the whole run's time bounded
                    # A run far slower than the others' runs of this cell is stopped: a
                    # pathological case (say, spinning threads on a loaded machine) must not eat
                    # the time budget of the whole comparison.
                    others = [t for i, t in run_seconds.items() if i != impl]
                    limit = args.timeout
                    if others:
                        limit = min(limit, max(5.0, 20 * max(others)))
                    t_run = time.time()
                    res, err = prog.run(scen, procs, n_for(scen), limit)
                    seconds = time.time() - t_run
                    if seconds > args.slow or (err or "").startswith("timeout"):
                        slow.add((scen, procs, impl))
                    if err and err.startswith("timeout") and limit < args.timeout:
                        err += " (20x the other implementations)"
                    if err:
                        errors.setdefault((scen, procs, impl), []).append(err)
                        continue
                    run_seconds[impl] = max(run_seconds.get(impl, 0), seconds)
                    for name, (value, unit, checksum) in res.items():
                        if name not in seen:
                            seen.append(name)
                        samples.setdefault((name, procs), {}).setdefault(impl, []).append(
                            (value, checksum))
                        units.setdefault((name, procs), unit)
            for name in seen:
                if (name, procs) not in order:
                    order.append((name, procs))

    rows = []
    for key in order:
        name, procs = key
        scen = name if name in scenarios else next(
            (s for s in scenarios if name.startswith(s)), name)
        row = {"scenario": name, "procs": procs, "unit": units.get(key, ""), "n": n_for(scen)}
        sums = {}
        for impl in IMPLS:
            fill_impl(row, impl, samples.get(key, {}).get(impl, []),
                      errors.get((scen, procs, impl), []))
            sums[impl] = set(row[impl + "_checksums"])
        for other in ("go", "boost"):
            gm, om = row["gocxx_median"], row[other + "_median"]
            ok = gm is not None and om
            row["ratio_" + other] = gm / om if ok else None
            row["ratio_%s_lo" % other] = row["gocxx_min"] / row[other + "_max"] if ok else None
            row["ratio_%s_hi" % other] = row["gocxx_max"] / row[other + "_min"] if ok and \
                row[other + "_min"] else None
        flags = []
        all_sums = set().union(*sums.values())
        if len(all_sums) > 1:
            flags.append("CHECKSUM " + " ".join(
                "%s=%s" % (LABELS[i], "/".join(map(str, sorted(sums[i])))) for i in IMPLS
                if sums[i]))
        for impl in IMPLS:
            errs = row[impl + "_errors"]
            if errs:
                flags.append("%s failed %d/%d (%s)" % (LABELS[impl], len(errs), args.reps,
                                                       errs[0]))
            elif (scen, procs, impl) in slow and args.reps > 1 and \
                    len(row[impl + "_samples"]) < args.reps:
                flags.append("%s %d rep (slower than %gs)" % (LABELS[impl],
                                                             len(row[impl + "_samples"]),
                                                             args.slow))
        row["flags"] = "; ".join(flags)
        rows.append(row)
    return rows


class Server:
    """A peer run with -serve (--paired): one process that runs its scenario once per request."""

    def __init__(self, prog, scen, procs, cpus=None):
        env = dict(os.environ, GOMAXPROCS=str(procs))
        pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
        self.p = subprocess.Popen([prog.path, "-scenario", scen, "-serve"], env=env, cwd=REPO,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True, bufsize=1,
                                  preexec_fn=pin)

    def run(self, n, timeout):
        """One run of N; returns (results, error). A run over timeout kills the process."""
        watchdog = threading.Timer(timeout, self.p.kill)
        watchdog.start()
        try:
            self.p.stdin.write("%d\n" % (n or 0))
            self.p.stdin.flush()
            lines = []
            for line in self.p.stdout:
                if line.strip() == "end":
                    out = parse_lines("".join(lines))
                    return (out, None) if out else (None, "no result lines")
                lines.append(line)
        except OSError as e:
            return None, str(e)
        finally:
            timed_out = not watchdog.is_alive() and self.p.poll() is not None
            watchdog.cancel()
        return None, "timeout after %gs" % timeout if timed_out else \
            "exit %s" % self.p.wait()

    def close(self):
        try:
            self.p.stdin.close()
            self.p.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.p.kill()
            self.p.wait()


def collect_paired(args, impls, scenarios, procs_list, n_for):
    """--paired: for each cell, gocxx and Go run as two -serve processes, alternately (gocxx
    first in even pairs, Go first in odd ones), after one unmeasured run each (two fresh
    processes per pair where they are not pinned, below). The ratio is the
    median over the pairs of gocxx's run / Go's adjacent run: on a machine whose speed changes
    within a second, the two runs of a pair see the same speed far more often than two
    processes' medians do (docs/performance.md, Noise). Where GOMAXPROCS is below the CPUs this
    process may use, both processes are pinned to the same first GOMAXPROCS of them: this
    machine's CPUs change speed independently of each other, so two processes that the kernel
    keeps on different CPUs would not be paired at all. Boost.Fiber is not run."""
    allowed = sorted(os.sched_getaffinity(0))
    rows = []
    t_start = time.time()
    cells = [(s, p) for s in scenarios for p in procs_list]
    for done, (scen, procs) in enumerate(cells, 1):
        n = n_for(scen)
        print("[%d/%d] %s GOMAXPROCS=%d n=%s paired (%.0fs elapsed)" % (
            done, len(cells), scen, procs, n or "default", time.time() - t_start),
            file=sys.stderr, flush=True)
        pair = ("gocxx", "go")
        samples = {i: {} for i in pair}  # impl -> name -> [(value, checksum)]
        errors = {i: [] for i in pair}
        ratios = {}  # name -> [gocxx/Go per pair]
        units = {}
        unpaired = False
        if all(impls[i].has(scen) for i in pair):
            cpus = set(allowed[:procs]) if procs < len(allowed) else None
            servers = {}
            try:
                for rep in range(args.reps):
                    if not servers or cpus is None:
                        # Unpinned, a long-lived process keeps its threads on the CPUs where
                        # the kernel first put them, maybe the slow one for every run: fresh
                        # processes each pair, so that placement falls either way.
                        for srv in servers.values():
                            srv.close()
                        servers = {i: Server(impls[i], scen, procs, cpus) for i in pair}
                        for impl in pair:  # the unmeasured first run
                            res, err = servers[impl].run(n, args.timeout)
                            if err:
                                errors[impl].append(err)
                            elif any(unit != "ns/op" for _, unit, _ in res.values()):
                                # Memory per goroutine (parked_1m) is the growth of a fresh
                                # process; in one that has run before it means nothing.
                                unpaired = True
                    if unpaired:
                        break
                    got = {}
                    if not any(errors.values()):
                        for impl in (pair if rep % 2 == 0 else pair[::-1]):
                            res, err = servers[impl].run(n, args.timeout)
                            if err:
                                errors[impl].append(err)
                            got[impl] = res or {}
                    if any(errors.values()):
                        break
                    for name, (value, unit, checksum) in got["gocxx"].items():
                        units[name] = unit
                        for impl in pair:
                            if name in got[impl]:
                                samples[impl].setdefault(name, []).append(
                                    (got[impl][name][0], got[impl][name][2]))
                        if name in got["go"] and got["go"][name][0]:
                            ratios.setdefault(name, []).append(value / got["go"][name][0])
            finally:
                for srv in servers.values():
                    srv.close()
        for name in (list(units) or [scen]):
            row = {"scenario": name, "procs": procs, "unit": units.get(name, ""), "n": n,
                   "paired": True}
            for impl in IMPLS:
                fill_impl(row, impl, samples.get(impl, {}).get(name, []), errors.get(impl, []))
            r = ratios.get(name, [])
            row["pair_ratios"] = r
            row["ratio_go"] = statistics.median(r) if r else None
            row["ratio_go_lo"] = min(r) if r else None
            row["ratio_go_hi"] = max(r) if r else None
            row["ratio_go_of_medians"] = row["gocxx_median"] / row["go_median"] \
                if row["gocxx_median"] is not None and row["go_median"] else None
            row["ratio_boost"] = row["ratio_boost_lo"] = row["ratio_boost_hi"] = None
            flags = []
            if len(set(row["gocxx_checksums"]) | set(row["go_checksums"])) > 1:
                flags.append("CHECKSUM gocxx=%s Go=%s" % (
                    "/".join(map(str, row["gocxx_checksums"])),
                    "/".join(map(str, row["go_checksums"]))))
            for impl in pair:
                if row[impl + "_errors"]:
                    flags.append("%s failed (%s)" % (LABELS[impl], row[impl + "_errors"][0]))
            if not all(impls[i].has(scen) for i in pair):
                flags.append("not in both peers")
            if unpaired:
                flags.append("not paired: it measures memory (run it without --paired)")
            row["flags"] = "; ".join(flags)
            rows.append(row)
    return rows


def write_timed(args, rows, procs_list, meta, out_dir):
    head = ["scenario", "procs", "unit", "gocxx", "Go", "Boost.Fiber", "gocxx/Go",
            "(min-max)", "gocxx/Boost", "flags"]
    table = [head]
    for r in rows:
        rng = "-" if r["ratio_go_lo"] is None or r["ratio_go_hi"] is None else \
            "(%.2f-%.2f)" % (r["ratio_go_lo"], r["ratio_go_hi"])
        table.append([r["scenario"], str(r["procs"]), r["unit"] or "-"] +
                     [fmt_med(r[i + "_median"], r[i + "_samples"]) for i in IMPLS] +
                     [fmt_ratio(r["ratio_go"]), rng, fmt_ratio(r["ratio_boost"]), r["flags"]])
    print_table(table, (0, 2))
    if args.paired:
        print("\nvalues: median ±(larger distance to min or max) of the runs of one process; "
              "gocxx/Go = median over the %d pairs of gocxx's run / Go's adjacent run (below 1: "
              "gocxx faster), (min-max) = the smallest and largest of those" % args.reps)
    else:
        print("\nvalues: median ±(larger distance to min or max); ratio = gocxx median / peer "
              "median (below 1: gocxx faster or smaller), (min-max) = gocxx min / Go max .. "
              "gocxx max / Go min; %d reps per implementation" % args.reps)

    cols = ["scenario", "procs", "unit", "n"]
    for impl in IMPLS:
        cols += [impl + "_median", impl + "_min", impl + "_max"]
    cols += ["ratio_go", "ratio_go_lo", "ratio_go_hi", "ratio_boost", "ratio_boost_lo",
             "ratio_boost_hi"] + [i + "_checksums" for i in IMPLS] + ["flags"]
    with open(os.path.join(out_dir, "compare.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in rows:
            w.writerow(["" if r[c] is None else
                        (" ".join(map(str, r[c])) if isinstance(r[c], list) else r[c])
                        for c in cols])
    with open(os.path.join(out_dir, "compare.json"), "w", encoding="utf-8") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)

    # Markdown: one table per GOMAXPROCS value.
    md = ["Machine: %s; %s memory; Linux %s; %s; %s; %s." % (
        meta["machine"].get("cpu", "?"), meta["machine"].get("memory", "?"),
        meta["machine"].get("kernel", "?"), meta["machine"].get("compiler", "?"),
        meta["machine"].get("go", "?"), meta["machine"].get("boost", "?")),
        "", "Run %s: `%s`, %d reps per implementation, %.0f s; load average %.1f at the start, "
        "%.1f at the end (%d CPUs)." % (meta["date"], meta["command"], args.reps, meta["seconds"],
                                        meta["load_average"][0], meta["load_average"][1],
                                        os.cpu_count())]
    if args.paired:
        md += ["", "Paired: gocxx and Go ran as processes (`-serve`) taking turns, run by run, "
               "after one unmeasured run each; gocxx/Go is the median over the %d pairs of "
               "gocxx's run / Go's adjacent run, with the smallest and largest in brackets. Where "
               "GOMAXPROCS is below the CPU count, one process each, pinned to the same first "
               "GOMAXPROCS CPUs, served the whole cell; otherwise each pair was two fresh "
               "processes." % args.reps]
    go_version = meta["machine"].get("go", "?").replace("go version ", "")
    for procs in procs_list:
        md += ["", "#### GOMAXPROCS=%d, against %s" % (procs, go_version), "",
               "| scenario | unit | gocxx | Go | Boost.Fiber | gocxx/Go | gocxx/Boost.Fiber | notes |",
               "|---|---|--:|--:|--:|--:|--:|---|"]
        for r in rows:
            if r["procs"] != procs:
                continue
            rng = "" if r["ratio_go_lo"] is None or r["ratio_go_hi"] is None else \
                " (%.2f-%.2f)" % (r["ratio_go_lo"], r["ratio_go_hi"])
            ratio = fmt_ratio(r["ratio_go"])
            if r["ratio_go"] is not None and r["ratio_go"] < 1:
                ratio = "**%s**" % ratio
            md.append("| `%s` | %s | %s | %s | %s | %s%s | %s | %s |" % (
                r["scenario"], r["unit"] or "-",
                *[fmt_med(r[i + "_median"], r[i + "_samples"]) for i in IMPLS],
                ratio, rng, fmt_ratio(r["ratio_boost"]),
                r["flags"]))
        noted = [name for name in ROW_NOTES if any(r["scenario"] == name for r in rows)]
        if noted:
            md += [""] + ["- `%s`: %s." % (name, ROW_NOTES[name]) for name in noted]
    with open(os.path.join(out_dir, "compare.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(md) + "\n")


def write_chart(rows, procs_list, out_dir):
    """compare.png: gocxx/Go (top) and gocxx/Boost.Fiber (bottom) per scenario, one bar per
    GOMAXPROCS value, on a log scale around 1, with the min-max range as an error bar."""
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        print("note: gnuplot not found; no chart (apt-get install gnuplot-nox)", file=sys.stderr)
        return
    names = []
    for r in rows:
        if r["scenario"] not in names and (r["ratio_go"] is not None or
                                           r["ratio_boost"] is not None):
            names.append(r["scenario"])
    if not names:
        return
    by_key = {(r["scenario"], r["procs"]): r for r in rows}
    dat = os.path.join(out_dir, "compare_chart.dat")
    with open(dat, "w", encoding="utf-8") as f:
        f.write("# x scenario then, per GOMAXPROCS: go lo hi boost lo hi\n")
        for x, name in enumerate(names):
            cells = []
            for procs in procs_list:
                r = by_key.get((name, procs), {})
                for key in ("ratio_go", "ratio_go_lo", "ratio_go_hi",
                            "ratio_boost", "ratio_boost_lo", "ratio_boost_hi"):
                    v = r.get(key)
                    cells.append("NaN" if v is None else "%.4f" % v)
            f.write("%d %s %s\n" % (x, name, " ".join(cells)))
    k = len(procs_list)
    width = 0.8 / k
    png = os.path.join(out_dir, "compare.png")
    plots = {}
    for panel, base in (("go", 3), ("boost", 6)):
        parts = []
        for j, procs in enumerate(procs_list):
            c = base + 6 * j  # column of the ratio (1-based: x, name, then 6 per procs)
            off = -0.4 + width * (j + 0.5)
            parts.append(
                "'%s' using ($1%+.3f):(sqrt($%d)):($1%+.3f):($1%+.3f):(1):%d "
                "with boxxyerror fs solid 0.7 lc %d title 'GOMAXPROCS=%d'" % (
                    dat, off, c, off - width / 2, off + width / 2, c, j + 1, procs))
            parts.append("'%s' using ($1%+.3f):%d:%d:%d with yerrorbars lc rgb '#444444' "
                         "ps 0 notitle" % (dat, off, c, c + 1, c + 2))
        plots[panel] = ", ".join(parts)
    def y_axis(peer):
        """Powers of two around 1 that hold every ratio to peer (and at least 1/4..4)."""
        ratios = [r[k % peer] for r in rows for k in ("ratio_%s", "ratio_%s_lo", "ratio_%s_hi")
                  if (r.get(k % peer) or 0) > 0] or [1]  # a log scale: no zero or below
        lo = min(-2, math.floor(math.log2(min(ratios))))
        hi = max(2, math.ceil(math.log2(max(ratios))))
        tics = ", ".join("'%s' %g" % ("1/%d" % 2**-e if e < 0 else "%d" % 2**e, 2.0**e)
                         for e in range(lo, hi + 1))
        return "set yrange [%g:%g]\nset ytics (%s)" % (2.0**lo, 2.0**hi, tics)
    script = """
set terminal pngcairo size %(w)d,%(h)d font 'sans,10' noenhanced
set output '%(png)s'
set datafile missing 'NaN'
set logscale y 2
set grid ytics
set xrange [-0.6:%(xmax)f]
set key top right horizontal opaque width 2 samplen 2
set multiplot layout %(panels)d,1
set title 'gocxx time / Go time (below 1: gocxx faster; memory rows: bytes)'
set xtics rotate by 60 right font ',8'
set xtics (%(xtics)s)
set bmargin 14
%(y_go)s
plot %(go)s, 1 lc rgb 'black' lw 1 notitle, 0.5 lc rgb 'red' dt 2 title 'goal: 0.5'
%(boost_panel)s
unset multiplot
"""
    # The Boost.Fiber panel only where Boost.Fiber ran (--paired runs gocxx and Go alone).
    has_boost = any(r["ratio_boost"] is not None for r in rows)
    boost_panel = """set title 'gocxx time / Boost.Fiber time (scenarios Boost.Fiber can express)'
%s
plot %s, 1 lc rgb 'black' lw 1 notitle""" % (y_axis("boost"), plots["boost"]) if has_boost else ""
    script = script % {"w": max(1200, 26 * len(names) + 200), "png": png, "xmax": len(names) - 0.4,
       "h": 1100 if has_boost else 600, "panels": 2 if has_boost else 1, "boost_panel": boost_panel,
       "y_go": y_axis("go"),
       "xtics": ", ".join("'%s' %d" % (n, i) for i, n in enumerate(names)),
       "go": plots["go"]}
    try:
        p = subprocess.run([gnuplot], input=script, text=True, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        print("warning: gnuplot failed: %s" % e, file=sys.stderr)
        return
    if p.returncode != 0 or not os.path.isfile(png):
        print("warning: gnuplot failed: %s" % p.stderr.strip()[-500:], file=sys.stderr)


def callgrind_count(cmd, procs, timeout):
    """Total instructions of cmd under callgrind; (count, error)."""
    fd, path = tempfile.mkstemp(prefix="callgrind.", dir=None)
    os.close(fd)
    try:
        p, err = run_process(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + path] +
                             cmd, procs, timeout)
        if err:
            return None, err
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                m = re.match(r"^(summary|totals):\s+(\d+)", line)
                if m:
                    return int(m.group(2)), None
        return None, "no callgrind summary"
    finally:
        os.unlink(path)


def run_callgrind(args, impls, out_dir):
    if not shutil.which("valgrind"):
        print("note: valgrind not found; no callgrind section (apt-get install valgrind)",
              file=sys.stderr)
        return
    n1 = args.callgrind_n
    n2 = 2 * n1
    rows = []
    print("\ncallgrind: instructions per op at GOMAXPROCS=1, (I(%d) - I(%d)) / ops" % (n2, n1),
          file=sys.stderr)
    for scen, factor in CALLGRIND_SCENARIOS.items():
        row = {"scenario": scen, "n1": n1, "n2": n2}
        for impl, peer in (("gocxx", impls["gocxx"]), ("boost", impls["boost"])):
            row[impl] = None
            if not peer.has(scen):
                continue
            print("  %s %s" % (LABELS[impl], scen), file=sys.stderr, flush=True)
            i1, e1 = callgrind_count(peer.command(scen, n1), 1, args.timeout * 5)
            i2, e2 = callgrind_count(peer.command(scen, n2), 1, args.timeout * 5)
            if e1 or e2:
                row[impl + "_error"] = e1 or e2
                continue
            row[impl] = (i2 - i1) / float(factor * (n2 - n1))
        if row["gocxx"] is None and row["boost"] is None:
            if not any(k.endswith("_error") for k in row):
                continue
        row["ratio"] = row["gocxx"] / row["boost"] if row["gocxx"] and row["boost"] else None
        rows.append(row)
    table = [["scenario", "gocxx instr/op", "Boost.Fiber instr/op", "gocxx/Boost", "errors"]]
    md = ["| scenario | gocxx instructions/op | Boost.Fiber instructions/op | gocxx/Boost.Fiber |",
          "|---|--:|--:|--:|"]
    for r in rows:
        errs = "; ".join("%s: %s" % (LABELS[i], r[i + "_error"]) for i in ("gocxx", "boost")
                         if r.get(i + "_error"))
        table.append([r["scenario"], fmt_num(r["gocxx"]), fmt_num(r["boost"]),
                      fmt_ratio(r["ratio"]), errs])
        md.append("| `%s` | %s | %s | %s |" % (r["scenario"], fmt_num(r["gocxx"]),
                                               fmt_num(r["boost"]), fmt_ratio(r["ratio"])))
    print("\n== callgrind: instructions per op, GOMAXPROCS=1, N=%d vs %d" % (n1, n2))
    print_table(table, (0,))
    with open(os.path.join(out_dir, "callgrind.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["scenario", "n1", "n2", "gocxx_instr_per_op", "boost_instr_per_op",
                    "ratio", "errors"])
        for r in rows:
            w.writerow([r["scenario"], r["n1"], r["n2"],
                        "" if r["gocxx"] is None else "%.1f" % r["gocxx"],
                        "" if r["boost"] is None else "%.1f" % r["boost"],
                        "" if r["ratio"] is None else "%.3f" % r["ratio"],
                        "; ".join(r.get(i + "_error", "") for i in ("gocxx", "boost")).strip("; ")])
    with open(os.path.join(out_dir, "callgrind.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(md) + "\n")
    print("wrote %s and %s" % (os.path.join(args.out, "callgrind.csv"),
                                os.path.join(args.out, "callgrind.md")))


def smoke(args, impls, scenarios):
    """Runs every scenario of every implementation once with a tiny N (default N / 500) at
    GOMAXPROCS=2 and checks that each exits cleanly, that the checksums agree, and that gocxx
    and Go (the reference) have every scenario; never looks at the times. Returns the exit
    status."""
    failures = 0
    t_start = time.time()
    for scen in scenarios:
        default = next((impls[i].defaults[scen] for i in ("go", "gocxx", "boost")
                        if scen in impls[i].defaults), None)
        n = args.n or max(1, (default or 1) // 500)
        sums, problems, ran = {}, [], []
        for impl in IMPLS:
            prog = impls[impl]
            if not prog.present:
                continue
            if not prog.has(scen):
                if impl != "boost":  # Boost.Fiber runs only what it can express
                    problems.append("%s lacks it" % LABELS[impl])
                continue
            res, err = prog.run(scen, 2, n, args.timeout)
            ran.append(LABELS[impl])
            if err:
                problems.append("%s: %s" % (LABELS[impl], err))
                continue
            for name, (_, _, checksum) in res.items():
                sums.setdefault(name, {})[LABELS[impl]] = checksum
        for name, by_impl in sums.items():
            if len(set(by_impl.values())) > 1:
                problems.append("%s checksums differ: %s" % (name, ", ".join(
                    "%s %d" % kv for kv in by_impl.items())))
        status = "FAIL" if problems else "ok"
        failures += bool(problems)
        print("%-4s %-32s n=%-6d %s%s" % (status, scen, n, " ".join(ran),
                                          ("  " + "; ".join(problems)) if problems else ""),
              flush=True)
    # --paired's -serve: two runs in one process each, with the same checksums.
    serve = [i for i in ("gocxx", "go") if impls[i].present and impls[i].has("chan_pingpong")]
    sums, problems = set(), []
    for impl in serve:
        srv = Server(impls[impl], "chan_pingpong", 2)
        try:
            for _ in range(2):
                res, err = srv.run(1000, args.timeout)
                if err:
                    problems.append("%s: %s" % (LABELS[impl], err))
                    break
                sums.add(res["chan_pingpong"][2] if "chan_pingpong" in res else None)
        finally:
            srv.close()
    if len(sums) > 1:
        problems.append("checksums differ: %s" % sorted(sums, key=str))
    failures += bool(problems)
    print("%-4s %-32s n=%-6d %s%s" % ("FAIL" if problems else "ok", "-serve chan_pingpong", 1000,
                                      " ".join(LABELS[i] for i in serve),
                                      ("  " + "; ".join(problems)) if problems else ""))
    print("%d scenarios and -serve, %d failed, %.1f s" % (len(scenarios), failures,
                                                         time.time() - t_start))
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3,
                    help="repetitions per implementation (default 3; 0: no timed runs)")
    ap.add_argument("--scenarios", default="",
                    help="comma-separated scenario names, or channels (the 33 channel "
                         "and select rows) (default: all in %s)" % SCENARIOS_MD)
    ap.add_argument("--procs", default="1,2", help="GOMAXPROCS values (default 1,2)")
    ap.add_argument("--scale", type=float, default=0.1,
                    help="factor on the default N (default 0.1; full-size scenarios excepted)")
    ap.add_argument("--n", type=int, default=0, help="pass -n N to every implementation")
    ap.add_argument("--go-bin", default=os.path.join("build-release", "go-peer"))
    ap.add_argument("--gocxx-bin", default=os.path.join("build-release", "bench", "peer_scenarios"))
    ap.add_argument("--boost-bin", default=os.path.join("build-release", "boost-fiber-peer",
                                                        "boost-fiber-peer"))
    ap.add_argument("--timeout", type=float, default=60, help="seconds per process (default 60)")
    ap.add_argument("--slow", type=float, default=10,
                    help="a run slower than this many seconds is not repeated (default 10)")
    ap.add_argument("--paired", action="store_true",
                    help="gocxx and Go as processes taking turns run by run, pinned to the same "
                         "CPUs where GOMAXPROCS allows; the ratio is the median of the pairs' "
                         "ratios (no Boost.Fiber)")
    ap.add_argument("--callgrind", action="store_true",
                    help="add instruction counts under valgrind (GOMAXPROCS=1)")
    ap.add_argument("--callgrind-n", type=int, default=20000,
                    help="N of the callgrind runs (and twice N; default 20000, a multiple of 4000)")
    ap.add_argument("--out", default="out", help="output folder (default out)")
    ap.add_argument("--smoke", action="store_true",
                    help="bench/smoke.sh: run everything once with a tiny N, check only that it "
                         "runs and that the checksums agree")
    args = ap.parse_args()

    impls = {
        "gocxx": PeerProgram(os.path.join(REPO, args.gocxx_bin)),
        "go": PeerProgram(os.path.join(REPO, args.go_bin)),
        "boost": PeerProgram(os.path.join(REPO, args.boost_bin)),
    }
    for impl in IMPLS:
        if not impls[impl].present:
            print("note: %s binary %s is missing; its column will show -" % (
                LABELS[impl], rel(impls[impl].path)), file=sys.stderr)

    if args.scenarios:
        scenarios = []
        for s in args.scenarios.split(","):
            scenarios += CHANNELS if s == "channels" else [s] if s else []
    else:
        scenarios = scenarios_from_md(os.path.join(REPO, SCENARIOS_MD))
        for impl in ("go", "gocxx"):  # implemented ahead of the spec: still compared
            scenarios += [s for s in impls[impl].defaults if s not in scenarios]
    procs_list = [int(p) for p in args.procs.split(",") if p]
    if args.smoke:
        if not impls["gocxx"].present:
            print("FAIL: the gocxx binary %s is missing" % rel(impls["gocxx"].path),
                  file=sys.stderr)
            return 1
        return smoke(args, impls, scenarios)

    def n_for(scen):
        if args.n:
            return args.n
        default = impls["go"].defaults.get(scen) or impls["gocxx"].defaults.get(scen) or \
            impls["boost"].defaults.get(scen)
        if not default or scen in FULL_SIZE or FULL_SIZE_NAME.search(scen):
            return default
        return max(1, int(default * args.scale))

    out_dir = os.path.join(REPO, args.out)
    os.makedirs(out_dir, exist_ok=True)
    t_start = time.time()
    load_start = os.getloadavg()[0]
    if args.reps > 0:
        rows = (collect_paired if args.paired else collect)(args, impls, scenarios, procs_list,
                                                              n_for)
        meta = {
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "command": " ".join([os.environ.get("GOCXX_COMPARE_COMMAND", "bench/compare.py")] +
                                sys.argv[1:]),
            "reps": args.reps,
            "procs": procs_list,
            "scale": args.scale,
            "n_override": args.n or None,
            "binaries": {i: rel(impls[i].path) for i in IMPLS},
            "machine": machine_info(impls),
            "seconds": round(time.time() - t_start),
            "load_average": [round(load_start, 1), round(os.getloadavg()[0], 1)],
        }
        write_timed(args, rows, procs_list, meta, out_dir)
        write_chart(rows, procs_list, out_dir)
        print("wrote %s" % ", ".join(os.path.join(args.out, f) for f in (
            "compare.csv", "compare.json", "compare.md", "compare.png")
            if os.path.isfile(os.path.join(out_dir, f))))
    if args.callgrind:
        run_callgrind(args, impls, out_dir)
    print("total %.0f s" % (time.time() - t_start))


if __name__ == "__main__":
    sys.exit(main())
