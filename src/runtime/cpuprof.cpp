// The CPU profile and the profiler labels (go/pprof.hpp; Go's runtime/cpuprof.go, the
// SIGPROF half of signal_unix.go, and runtime/pprof's profile writer and label.go).
//
// Pieces:
// - The timers (Go's setThreadCPUProfiler and validSIGPROF, runtime/os_linux.go). Each worker
//   thread has one of its own while a profile runs: a POSIX timer on that thread's CPU clock
//   (timer_create on its pthread_getcpuclockid, SIGEV_THREAD_ID), so that its SIGPROF comes
//   every 10 ms of that thread's CPU time, to that thread. One process-wide timer
//   (setitimer(ITIMER_PROF)) samples the other threads: its signal comes every 10 ms of the
//   whole process's CPU time, to a thread Linux picks (the one running when it fires, or
//   any other that does not block it), and Linux sends at most one at a time, so with it
//   alone the samples of busy threads land on others or are lost. The handler counts a
//   signal from the thread's own timer (si_code SI_TIMER) on a thread that has one, and one
//   from setitimer (SI_KERNEL) on a thread that has none; a signal sent otherwise (kill)
//   always. A worker thread started during a profile arms its timer as it starts
//   (cpu_profile_thread_start); one whose timer cannot be made is sampled by setitimer.
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
// it), start the drainer, arm the timers (the workers' under timers_mutex, then setitimer).
// stop, under control_mutex: disarm the timers, clear `profiling`, wait until no handler is
// inside (`in_handler` is 0), stop and join the drainer, drain, write. A handler increments
// in_handler before it reads profiling, and stop clears profiling before it reads
// in_handler (both sequentially consistent), so after stop's wait no handler touches the
// ring until the next start.
//
// Lock order: control_mutex, then counts_mutex or timers_mutex (leaves). The handler takes
// none.
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

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
#include "runtime/profile.hpp"
#include "runtime/profile_proto.hpp"
#include "runtime/rand.hpp"
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

std::mutex timers_mutex;          // guards timed_threads, timers_on, and workers' cpu_timer; a leaf
worker* timed_threads = nullptr;  // the worker threads that run now, through cpu_timer.next
bool timers_on = false;           // between start and stop: worker threads have timers

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

// Whether the handler counts this signal (Go's validSIGPROF): on a thread with a timer of its
// own only that timer's, elsewhere only setitimer's; a signal sent otherwise always.
bool counts_signal(const siginfo_t* info) noexcept {
  bool from_setitimer = info->si_code == SI_KERNEL, from_own_timer = info->si_code == SI_TIMER;
  if (!from_setitimer && !from_own_timer) return true;
  worker* w = current_worker();
  if (w && w->cpu_timer.valid.load(std::memory_order_relaxed)) return from_own_timer;
  return from_setitimer;
}

void on_sigprof(int, siginfo_t* info, void* ucontext) {
  int saved_errno = errno;
  in_handler.fetch_add(1);
  if (profiling.load() && counts_signal(info)) {
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

// Arms a timer on w's thread's CPU clock that sends SIGPROF to that thread every period, the
// first after a random part of one (threads that start together do not sample in step).
// Leaves the thread to setitimer if the kernel cannot. Under timers_mutex.
void arm_thread_timer(worker* w) noexcept {
  thread_cpu_timer& t = w->cpu_timer;
  clockid_t clock;
  if (t.armed || pthread_getcpuclockid(t.thread, &clock) != 0) return;
  sigevent ev{};
  ev.sigev_notify = SIGEV_THREAD_ID;
  ev.sigev_signo = SIGPROF;
  ev._sigev_un._tid = t.tid;  // sigev_notify_thread_id, which glibc 2.36 does not name
  if (timer_create(clock, &ev, &t.id) != 0) return;
  static std::uint64_t seed = static_cast<std::uint64_t>(nanotime());
  itimerspec spec{};
  spec.it_interval.tv_nsec = period_ns;
  spec.it_value.tv_nsec = 1 + static_cast<long>(cheaprand(seed) % period_ns);
  if (timer_settime(t.id, 0, &spec, nullptr) != 0) {
    timer_delete(t.id);
    return;
  }
  t.armed = true;
  t.valid.store(true, std::memory_order_relaxed);
}

// Deletes w's thread's timer, if armed: setitimer samples the thread again. Under
// timers_mutex.
void disarm_thread_timer(worker* w) noexcept {
  thread_cpu_timer& t = w->cpu_timer;
  if (!t.armed) return;
  t.valid.store(false, std::memory_order_relaxed);
  timer_delete(t.id);
  t.armed = false;
}

void set_thread_timers(bool on) noexcept {
  std::lock_guard lk(timers_mutex);
  timers_on = on;
  for (worker* w = timed_threads; w; w = w->cpu_timer.next) {
    if (on) arm_thread_timer(w);
    else disarm_thread_timer(w);
  }
}

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void cpu_profile_thread_start(worker* w) noexcept {
  std::lock_guard lk(timers_mutex);
  thread_cpu_timer& t = w->cpu_timer;
  t.tid = static_cast<int>(gettid());
  t.thread = pthread_self();
  t.prev = nullptr;
  t.next = timed_threads;
  if (timed_threads) timed_threads->cpu_timer.prev = w;
  timed_threads = w;
  t.registered = true;
  if (timers_on) arm_thread_timer(w);
}

void cpu_profile_thread_exit(worker* w) noexcept {
  std::lock_guard lk(timers_mutex);
  thread_cpu_timer& t = w->cpu_timer;
  if (!t.registered) return;
  disarm_thread_timer(w);
  (t.prev ? t.prev->cpu_timer.next : timed_threads) = t.next;
  if (t.next) t.next->cpu_timer.prev = t.prev;
  t.prev = t.next = nullptr;
  t.registered = false;
}

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
  set_thread_timers(true);
  try {
    set_timer(period_ns);
  } catch (...) {
    set_thread_timers(false);
    profiling.store(false);
    stop_drainer();
    out = nullptr;
    throw;
  }
}

void stop_cpu_profile() {
  std::lock_guard lk(control_mutex);
  if (!out) return;
  set_thread_timers(false);
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
