// The CPU profile and the profiler labels (go/pprof.hpp; Go's runtime/cpuprof.go, the
// SIGPROF half of signal_unix.go, and runtime/pprof's profile writer and label.go).
//
// Pieces:
// - The timer: setitimer(ITIMER_PROF) at `hz`, one for the process; Linux sends its SIGPROF
//   to a thread that is using CPU when it fires.
// - The handler (on_sigprof) runs on the interrupted thread and must be async-signal-safe:
//   it reads the interrupted registers, walks frame pointers within the stack the thread
//   was on (reads are bounded by that stack, so a chain through a frame without a frame
//   pointer ends the walk, it never faults), takes a reference on the labels of the
//   goroutine it interrupted (labels.hpp says why that node is alive), and stores it all in
//   a slot of `ring`. No allocation, no lock: the ring is preallocated and lock-free.
// - The ring: a bounded multi-producer, single-consumer queue of fixed-size slots (Vyukov's
//   bounded queue). Slot i's `seq` is i + k * capacity while it is free for the producer of
//   position i + k * capacity, and that position + 1 once that producer filled it. A producer
//   claims a position by CAS on `head`; a full ring drops the sample and counts it in `lost`.
// - The drainer: a thread that every 100 ms (and once more at stop) moves the ring's samples
//   into `counts`, keyed by stack and labels, releasing each sample's label reference.
//
// Protocol. start, under control_mutex: reset the ring and counts, set `profiling`, install
// the handler (once; it stays installed, since a SIGPROF sent before stop may arrive after
// it), start the drainer, arm the timer. stop, under control_mutex: disarm the timer, clear
// `profiling`, wait until no handler is inside (`in_handler` is 0), stop and join the
// drainer, drain, write. A handler increments in_handler before it reads profiling, and stop
// clears profiling before it reads in_handler (both sequentially consistent), so after stop's
// wait no handler touches the ring until the next start.
//
// Lock order: control_mutex, then counts_mutex (a leaf). The handler takes neither.
#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <ostream>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include "go/pprof.hpp"
#include "platform/context.hpp"
#include "runtime/labels.hpp"
#include "runtime/profile_proto.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/scheduler/sched.hpp"

namespace go::detail {

namespace {

constexpr int hz = 100;
constexpr std::int64_t period_ns = 1'000'000'000 / hz;
constexpr int max_depth = 64;
constexpr std::size_t ring_capacity = 1024;  // a power of two: ten seconds of one busy thread

struct cpu_sample {
  std::atomic<std::uint64_t> seq{0};
  int depth = 0;
  label_node* labels = nullptr;   // a reference of the sample's
  std::uintptr_t pcs[max_depth];  // the interrupted address + 1, then return addresses
};

cpu_sample* ring = nullptr;          // ring_capacity slots, made by the first start, never freed
std::atomic<std::uint64_t> head{0};  // the next position a producer claims
std::uint64_t tail = 0;              // the next position the drainer reads; the drainer's
std::atomic<std::uint64_t> lost{0};
std::atomic<bool> profiling{false};
std::atomic<int> in_handler{0};

std::mutex control_mutex;  // guards the rest: one start or stop at a time
std::ostream* out = nullptr;
std::int64_t started_ns = 0;
std::int64_t started_wall_ns = 0;
bool handler_installed = false;
std::thread drainer;
std::mutex drainer_mutex;
std::condition_variable drainer_wake;
bool drainer_stop = false;  // under drainer_mutex

std::mutex counts_mutex;  // guards counts; a leaf
using sample_key = std::pair<std::vector<std::uintptr_t>, std::vector<std::pair<std::string, std::string>>>;
std::map<sample_key, std::int64_t> counts;

// The bounds of the stack the interrupted thread is on, and the goroutine it was running
// there (labels.hpp): a stackful goroutine if the interrupted stack pointer is in the
// goroutine's stack; a stackless one (task.cpp) if it is in the worker's scheduler stack
// while the worker runs it, which includes the scheduler's few instructions around its
// resumption (as a sample in Go's schedule() is charged to the goroutine it is starting).
struct stack_bounds {
  std::uintptr_t hi = 0;  // 0: unknown, walk nothing beyond the first frame
  goroutine* g = nullptr;
};

stack_bounds bounds_of(std::uintptr_t sp) noexcept {
  worker* w = current_worker();
  if (!w) return {};
  goroutine* g = w->current.load(std::memory_order_relaxed);
  if (g && g->kind == parker_kind::goroutine && g->stk.base) {
    auto lo = reinterpret_cast<std::uintptr_t>(g->stk.base), hi = reinterpret_cast<std::uintptr_t>(g->stk.top());
    if (sp >= lo && sp < hi) return {hi, g};
  }
  auto lo = reinterpret_cast<std::uintptr_t>(w->g0_stack_bottom);
  if (lo && sp >= lo && sp < lo + w->g0_stack_size) {
    return {lo + w->g0_stack_size, g && g->kind == parker_kind::coroutine ? g : nullptr};
  }
  return {};
}

void on_sigprof(int, siginfo_t*, void* ucontext) {
  int saved_errno = errno;
  in_handler.fetch_add(1);
  if (profiling.load()) {
    platform::interrupted r = platform::interrupted_registers(ucontext);
    std::uint64_t pos = head.load(std::memory_order_relaxed);
    cpu_sample* s = nullptr;
    for (;;) {
      cpu_sample* slot = &ring[pos & (ring_capacity - 1)];
      std::uint64_t seq = slot->seq.load(std::memory_order_acquire);
      auto diff = static_cast<std::int64_t>(seq - pos);
      if (diff == 0) {
        if (head.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          s = slot;
          break;
        }
      } else if (diff < 0) {
        break;  // full
      } else {
        pos = head.load(std::memory_order_relaxed);
      }
    }
    if (!s) {
      lost.fetch_add(1, std::memory_order_relaxed);
    } else {
      stack_bounds b = bounds_of(r.sp);
      s->pcs[0] = r.pc + 1;  // as a return address, which the writer takes 1 from
      int n = 1;
      for (std::uintptr_t fp = r.fp, lo = r.sp; n < max_depth;) {
        if (fp < lo || fp + 2 * sizeof(std::uintptr_t) > b.hi || (fp & (sizeof(std::uintptr_t) - 1))) break;
        auto* frame = reinterpret_cast<const std::uintptr_t*>(fp);
        std::uintptr_t caller_fp = frame[0], ret = frame[1];
        if (ret == 0) break;
        s->pcs[n++] = ret;
        if (caller_fp <= fp) break;  // a chain goes up the stack
        lo = fp + 2 * sizeof(std::uintptr_t);
        fp = caller_fp;
      }
      s->depth = n;
      s->labels = b.g ? labels_retain(b.g->labels.load(std::memory_order_relaxed)) : nullptr;
      s->seq.store(pos + 1, std::memory_order_release);
    }
  }
  in_handler.fetch_sub(1);
  errno = saved_errno;
}

// Moves the ring's samples into counts. The drainer's, or stop's once the drainer is gone.
void drain() {
  std::lock_guard lk(counts_mutex);
  for (;;) {
    cpu_sample& s = ring[tail & (ring_capacity - 1)];
    if (s.seq.load(std::memory_order_acquire) != tail + 1) break;
    sample_key key;
    key.first.assign(s.pcs, s.pcs + s.depth);
    if (s.labels) key.second = s.labels->labels;
    labels_release(s.labels);
    s.labels = nullptr;
    ++counts[std::move(key)];
    s.seq.store(tail + ring_capacity, std::memory_order_release);
    ++tail;
  }
}

void drain_loop() {
  std::unique_lock lk(drainer_mutex);
  while (!drainer_stop) {
    drainer_wake.wait_for(lk, std::chrono::milliseconds(100));
    lk.unlock();
    drain();
    lk.lock();
  }
}

void stop_drainer() {
  {
    std::lock_guard d(drainer_mutex);
    drainer_stop = true;
  }
  drainer_wake.notify_one();
  drainer.join();
  runtime_extra_threads.fetch_sub(1);
}

void set_timer(std::int64_t every_ns) {
  itimerval t{};
  t.it_interval.tv_sec = every_ns / 1'000'000'000;
  t.it_interval.tv_usec = every_ns % 1'000'000'000 / 1000;
  t.it_value = t.it_interval;
  if (setitimer(ITIMER_PROF, &t, nullptr) != 0) throw std::system_error(errno, std::generic_category(), "setitimer");
}

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

label_node* hold_goroutine_labels() noexcept {
  goroutine* g = current_goroutine();
  return g ? labels_retain(g->labels.load(std::memory_order_relaxed)) : nullptr;
}

void restore_goroutine_labels(label_node* labels) noexcept {
  goroutine* g = current_goroutine();
  // A handler on this thread reads the old node or the new one, each alive while it runs.
  if (g) labels_replace(g->labels, labels);
  else labels_release(labels);
}

}  // namespace go::detail

namespace go::pprof {

using namespace detail;

void start_cpu_profile(std::ostream& o) {
  std::lock_guard lk(control_mutex);
  if (out) throw std::logic_error("cpu profiling already in use");
  if (!ring) ring = new cpu_sample[ring_capacity];
  for (std::size_t i = 0; i < ring_capacity; ++i) ring[i].seq.store(i, std::memory_order_relaxed);
  head.store(0);
  tail = 0;
  lost.store(0);
  {
    std::lock_guard c(counts_mutex);
    counts.clear();
  }
  if (!handler_installed) {
    struct sigaction sa {};
    sa.sa_sigaction = on_sigprof;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPROF, &sa, nullptr) != 0) throw std::system_error(errno, std::generic_category(), "sigaction");
    handler_installed = true;
  }
  drainer_stop = false;
  // Counted among the runtime's threads, so that the deadlock check still works meanwhile.
  runtime_extra_threads.fetch_add(1);
  try {
    drainer = std::thread(drain_loop);
  } catch (...) {
    runtime_extra_threads.fetch_sub(1);
    throw;
  }
  out = &o;
  started_ns = nanotime();
  started_wall_ns = wall_ns();
  profiling.store(true);
  try {
    set_timer(period_ns);
  } catch (...) {
    profiling.store(false);
    stop_drainer();
    out = nullptr;
    throw;
  }
}

void stop_cpu_profile() {
  std::lock_guard lk(control_mutex);
  if (!out) return;
  set_timer(0);
  profiling.store(false);
  while (in_handler.load() != 0) std::this_thread::yield();
  stop_drainer();
  drain();
  profile_builder p;
  p.sample_types = {{"samples", "count"}, {"cpu", "nanoseconds"}};
  p.period_type = {"cpu", "nanoseconds"};
  p.period = period_ns;
  p.time_nanos = started_wall_ns;
  p.duration_nanos = nanotime() - started_ns;
  {
    std::lock_guard c(counts_mutex);
    for (auto& [key, n] : counts) p.samples.push_back({key.first, {n, n * period_ns}, key.second, ""});
    counts.clear();
  }
  if (std::int64_t n = lost.load()) p.samples.push_back({{}, {n, n * period_ns}, {}, "(lost samples)"});
  std::ostream& o = *out;
  out = nullptr;
  p.write(o);
}

label_set goroutine_labels() {
  label_set all;
  goroutine* g = current_goroutine();
  if (label_node* n = g ? g->labels.load(std::memory_order_relaxed) : nullptr)
    all.insert(n->labels.begin(), n->labels.end());
  return all;
}

void set_goroutine_labels(const label_set& labels) {
  if (!current_goroutine()) return;
  label_node* n = nullptr;
  if (!labels.empty()) {
    n = new label_node;
    n->labels.assign(labels.begin(), labels.end());
  }
  restore_goroutine_labels(n);
}

}  // namespace go::pprof
