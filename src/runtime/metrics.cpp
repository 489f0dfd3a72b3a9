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

// GODEBUG=...,key=N,...: N, or 0.
long godebug_number(const std::string& key) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read once at start-up; the library never calls setenv
  const char* e = std::getenv("GODEBUG");
  if (!e) return 0;
  std::string s = e;
  for (std::size_t at = 0; at <= s.size();) {
    std::size_t comma = s.find(',', at);
    std::string item = s.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    if (item.rfind(key + "=", 0) == 0) return std::atol(item.c_str() + key.size() + 1);
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return 0;
}

// The id of the goroutine w runs, or -1.
long long current_id(worker* w) {
  goroutine* g = w->current.load(std::memory_order_relaxed);
  return g ? static_cast<long long>(listed(g->id).load(std::memory_order_relaxed)) : -1;
}

// Go's scheddetail lines: one per slot (Go's P) and one per worker (Go's M). Timers belong to
// workers here, so each M line has its heap's length and how far its earliest timer is
// from now; an M line also says whether its inbox (debug migration) holds goroutines.
std::string scheddetail_lines() {
  std::string out;
  char line[256];
  int nprocs = sched().nprocs.load(std::memory_order_relaxed);
  for (int s = 0; s < nprocs; ++s) {
    worker* w = sched().slots[s].load(std::memory_order_acquire);
    if (!w) continue;
    int status = w->in_syscall.load(std::memory_order_relaxed) ? 2 : current_id(w) >= 0 ? 1 : 0;  // Go's _P*
    std::snprintf(line, sizeof line, "  P%d: status=%d schedtick=%u syscalltick=%u m=%d runqsize=%d timerslen=%zu\n", s,
                  status, w->sched_tick.load(std::memory_order_relaxed),
                  w->syscall_tick.load(std::memory_order_relaxed), w->id, local_queue_length(w),
                  w->timers.size.load(std::memory_order_relaxed));
    out += line;
  }
  std::int64_t now = nanotime();
  worker* waiter = sched().timer_waiter.load(std::memory_order_relaxed);
  int n = sched().nworkers.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) {
    worker* w = sched().workers[i].load(std::memory_order_acquire);
    int slot = w->slot.load(std::memory_order_relaxed);
    std::int64_t next = w->timers.next_when.load(std::memory_order_relaxed);
    std::string next_timer = next == INT64_MAX ? "none" : std::to_string((next - now) / 1000) + "us";
    std::snprintf(line, sizeof line,
                  "  M%d: p=%d curg=%lld blocked=%s timerwaiter=%s timerslen=%zu nexttimer=%s inbox=%s\n", w->id,
                  slot == no_slot ? -1 : slot, current_id(w),
                  w->in_syscall.load(std::memory_order_relaxed) ? "true" : "false", w == waiter ? "true" : "false",
                  w->timers.size.load(std::memory_order_relaxed), next_timer.c_str(),
                  w->inbox.load(std::memory_order_relaxed) ? "true" : "false");
    out += line;
  }
  return out;
}

}  // namespace

// One line of Go's schedtrace (runtime/proc.go, schedtrace), and with `detailed` the
// scheddetail lines after it.
std::string schedtrace_line(std::int64_t since_start_ns, bool detailed) {
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
  std::string out = line + queues + "]\n";
  if (detailed) out += scheddetail_lines();
  return out;
}

namespace {
std::atomic<std::int64_t> runtime_start{0};  // SCHED lines count from here
}  // namespace

std::string schedtrace_now(bool detailed) {
  ensure_started();
  return schedtrace_line(nanotime() - runtime_start.load(std::memory_order_relaxed), detailed);
}

void start_schedtrace() noexcept {
  std::int64_t start = nanotime();
  runtime_start.store(start, std::memory_order_relaxed);
  long period = godebug_number("schedtrace");
  if (period <= 0) return;
  bool detailed = godebug_number("scheddetail") == 1;
  runtime_extra_threads.fetch_add(1, std::memory_order_relaxed);
  try {
    std::thread([period, start, detailed] {
      for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(period));
        std::string line = schedtrace_line(nanotime() - start, detailed);
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
