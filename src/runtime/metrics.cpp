// go::runtime_metrics and GODEBUG=schedtrace (go/metrics.hpp): the scheduler's state read
// without stopping it.
//
// Every count is read from where the scheduler keeps it, with relaxed loads: goroutine
// states from the registry of records (for_each_goroutine, under its lock; each state is
// an atomic; a goroutine in go::blocking from its worker's in_syscall), run queues from their head and tail, counters that only their worker writes
// (created, exited, parks, steals, stacks in use per cache) by summing over the workers. No
// lock of the scheduler is taken, so a reading is a blur over the moment it takes; at rest
// it is exact.
//
// schedtrace: a thread of its own (counted in runtime_extra_threads) sleeps the period and
// prints Go's line to stderr; it starts with the runtime when GODEBUG says so, and never
// ends (the runtime has no shutdown).
#include "go/metrics.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "runtime/scheduler/sched.hpp"
#include "runtime/stack.hpp"

namespace go::detail {

namespace {

int local_queue_length(worker* w) {
  std::uint32_t h = w->runq.head.load(std::memory_order_relaxed);
  std::uint32_t t = w->runq.tail.load(std::memory_order_relaxed);
  int n = static_cast<int>(t - h);
  if (n < 0 || n > static_cast<int>(run_queue::capacity)) n = 0;  // read apart: a blur
  return n + (w->runq.next.load(std::memory_order_relaxed) ? 1 : 0);
}

int runtime_threads() {
  return sched().nworkers.load(std::memory_order_relaxed) - sched().ndead.load(std::memory_order_relaxed) + 1 +
         runtime_extra_threads.load(std::memory_order_relaxed);  // + 1: sysmon
}

// GODEBUG=...,schedtrace=N,...: N, or 0.
long schedtrace_period_ms() {
  const char* e = std::getenv("GODEBUG");
  if (!e) return 0;
  std::string s = e;
  for (std::size_t at = 0; at <= s.size();) {
    std::size_t comma = s.find(',', at);
    std::string item = s.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    if (item.rfind("schedtrace=", 0) == 0) return std::atol(item.c_str() + 11);
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return 0;
}

}  // namespace

// One line of Go's schedtrace (runtime/proc.go, schedtrace with detailed = false).
std::string schedtrace_line(std::int64_t since_start_ns) {
  int nprocs = sched().nprocs.load(std::memory_order_relaxed);
  std::string queues;
  for (int s = 0; s < nprocs; ++s) {
    worker* w = sched().slots[s].load(std::memory_order_acquire);
    if (s) queues += ' ';
    queues += std::to_string(w ? local_queue_length(w) : 0);
  }
  char line[256];
  std::snprintf(line, sizeof line,
                "SCHED %lldms: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d needspinning=0 "
                "idlethreads=%d runqueue=%lld [",
                static_cast<long long>(since_start_ns / 1'000'000), nprocs,
                sched().npidle.load(std::memory_order_relaxed), runtime_threads(),
                sched().nmspinning.load(std::memory_order_relaxed),
                sched().retired_sleeping.load(std::memory_order_relaxed) +
                    sched().locked_sleeping.load(std::memory_order_relaxed),
                static_cast<long long>(sched().global_size.load(std::memory_order_relaxed)));
  return line + queues + "]\n";
}

void start_schedtrace() noexcept {
  long period = schedtrace_period_ms();
  if (period <= 0) return;
  runtime_extra_threads.fetch_add(1, std::memory_order_relaxed);
  std::int64_t start = nanotime();
  try {
    std::thread([period, start] {
      for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(period));
        std::string line = schedtrace_line(nanotime() - start);
        std::fputs(line.c_str(), stderr);
      }
    }).detach();
  } catch (...) {  // no thread: no trace
    runtime_extra_threads.fetch_sub(1, std::memory_order_relaxed);
  }
}

}  // namespace go::detail

namespace go {

using namespace detail;

metrics runtime_metrics() {
  ensure_started();
  metrics m;
  for_each_goroutine(
      [](goroutine* g, void* arg) {
        auto* m = static_cast<metrics*>(arg);
        switch (g->state.load(std::memory_order_acquire)) {
          case park_dead: return;
          case park_parked: ++m->goroutines_waiting; break;
          case park_runnable: ++m->goroutines_runnable; break;
          default: ++m->goroutines_running;  // or notified: running until its park returns at once
        }
        ++m->goroutines;
      },
      &m);
  m.goroutines_created = static_cast<std::uint64_t>(sched().external_created.load(std::memory_order_relaxed));
  int n = worker_count();
  std::vector<stack_cache*> caches;
  for (int i = 0; i < n; ++i) {
    worker* w = worker_at(i);
    m.goroutines_created += static_cast<std::uint64_t>(w->created.load(std::memory_order_relaxed));
    m.parks += w->parks.load(std::memory_order_relaxed);
    m.steals += w->steals.load(std::memory_order_relaxed);
    m.timers_pending += static_cast<std::int64_t>(w->timers.size.load(std::memory_order_relaxed));
    caches.push_back(w->stacks);
    // A goroutine in go::blocking runs, on its worker's thread, which says so (a running
    // goroutine's wait reason is its own to write: not read here).
    if (w->in_syscall.load(std::memory_order_acquire) && m.goroutines_running > 0) {
      --m.goroutines_running;
      ++m.goroutines_syscall;
    }
  }
  m.gomaxprocs = sched().nprocs.load(std::memory_order_relaxed);
  for (int s = 0; s < m.gomaxprocs; ++s) {
    worker* w = sched().slots[s].load(std::memory_order_acquire);
    m.local_run_queues.push_back(w ? local_queue_length(w) : 0);
  }
  m.threads = runtime_threads();
  m.slots_retaken = sched().slots_retaken.load(std::memory_order_relaxed);
  m.idle_procs = sched().npidle.load(std::memory_order_relaxed);
  m.spinning_workers = sched().nmspinning.load(std::memory_order_relaxed);
  m.global_run_queue = sched().global_size.load(std::memory_order_relaxed);
  long mapped = stacks_mapped();
  m.stacks_in_use = stacks_in_use(caches.data(), static_cast<int>(caches.size()));
  m.stacks_pooled = std::max(mapped - m.stacks_in_use, 0L);
  m.stack_bytes_mapped = static_cast<std::uint64_t>(mapped) * (default_stack_size() + stack_page_size());
  return m;
}

}  // namespace go
