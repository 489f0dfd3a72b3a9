// The scheduler's state in numbers (Go's runtime/metrics, the /sched/ metrics), and
// GODEBUG=schedtrace.
//
//   Go                                         gocxx
//   metrics.Read (/sched/goroutines/...)       go::runtime_metrics()
//   GODEBUG=schedtrace=1000                    GODEBUG=schedtrace=1000 (the same line)
//
// runtime_metrics() reads the state at one moment without stopping anybody, so counts that
// change meanwhile may be off by the goroutines that moved while it read; at rest (nothing
// spawning, exiting, parking or waking) the goroutines by state add up to goroutines, which
// equals go::num_goroutine().
//
// GODEBUG=schedtrace=N (milliseconds) in the environment when the runtime starts makes a
// thread print one line to stderr every N ms, in Go's shape:
//   SCHED 1004ms: gomaxprocs=2 idleprocs=1 threads=4 spinningthreads=0 needspinning=0
//   idlethreads=1 runqueue=0 [0 0]
// (one line): time since the runtime started, GOMAXPROCS, slots whose worker is idle, threads
// of the runtime, workers spinning, 0 (Go's needspinning, which we do not track), spare and
// retired workers asleep, the global run queue's length, and each slot's local run queue.
// GODEBUG=schedtrace=N,scheddetail=1 adds Go's detail after each line: one line per slot
// (Go's P: its status, ticks, worker, run queue and timers) and one per worker (Go's M: its
// slot, its goroutine, whether it is in go::blocking, and its timers, which belong to workers
// here: how many, how far the earliest is, and whether it is the one that waits for them).
//
// Example:
//   go::metrics m = go::runtime_metrics();
//   std::printf("%d goroutines, %d waiting\n", m.goroutines, m.goroutines_waiting);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace go {

struct metrics {
  // Goroutines that exist (Go's /sched/goroutines:goroutines), and by state: running on a
  // worker, runnable (in a run queue, or created and not yet run), waiting (parked: a
  // channel, lock, sleep, I/O...), and in go::blocking (Go's not-in-go).
  int goroutines = 0;
  int goroutines_running = 0;
  int goroutines_runnable = 0;
  int goroutines_waiting = 0;
  int goroutines_syscall = 0;
  std::uint64_t goroutines_created = 0;  // since the runtime started

  int gomaxprocs = 0;
  int threads = 0;           // threads of the runtime: workers, the monitor, helpers
  int idle_procs = 0;        // slot holders asleep without work
  int spinning_workers = 0;  // workers looking for work to steal
  std::int64_t global_run_queue = 0;
  // Slots the monitor gave to another thread because their goroutine was inside go::blocking
  // or had run for long while goroutines waited (Go's retake), since the start.
  std::uint64_t slots_retaken = 0;
  std::vector<int> local_run_queues;     // by slot, the `next` slot included
  std::uint64_t steals = 0;              // run queue batches taken from other workers, since the start
  std::uint64_t parks = 0;               // goroutine parks that switched out, since the start
  std::int64_t timers_pending = 0;       // in the workers' timer heaps
  long stacks_in_use = 0;                // goroutine stacks held by goroutines
  long stacks_pooled = 0;                // mapped and free for reuse
  std::uint64_t stack_bytes_mapped = 0;  // address space of the mapped stacks, at the default size
};

// runtime_metrics returns the scheduler's state now (see the top for how exact it is).
metrics runtime_metrics();

namespace detail {
// schedtrace_now returns the SCHED line as GODEBUG=schedtrace prints it, and with `detailed`
// the scheddetail lines after it (a hang's diagnosis: the stress tests' watchdog).
std::string schedtrace_now(bool detailed);
}  // namespace detail

}  // namespace go
