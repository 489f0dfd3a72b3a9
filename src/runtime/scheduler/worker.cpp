// The worker loop (Go's mstart, schedule and findRunnable): a worker holding a slot looks for
// a goroutine in its own queue, its inbox, the global queue, the network poller and the other
// workers' queues, in that order (every 61st schedule the global queue first), and runs it;
// finding nothing it goes idle (idle.cpp). A worker without a slot retires: it hands what it
// queued to the global queue and sleeps until a raise of GOMAXPROCS covers its slot again or
// a hand-off gives it one (a spare). Also: starting workers and the runtime, and GOMAXPROCS.
#include "runtime/scheduler/sched.hpp"
#include "runtime/bubble.hpp"
#include "runtime/netpoll.hpp"
#include "runtime/profile.hpp"
#include "runtime/rand.hpp"
#include "runtime/stack.hpp"

#include <cxxabi.h>
#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>

#include "platform/futex.hpp"
#include "platform/sanitizer.hpp"

namespace go::detail {

std::atomic<sched_state*> the_sched{nullptr};
std::atomic<bool> runtime_started{false};
__attribute__((tls_model("initial-exec"))) thread_local worker* tls_worker = nullptr;

namespace {

std::once_flag start_once;
std::mutex threads_mutex;  // serializes starting workers: their ids and the thread limit

}  // namespace

// Victims are all workers, not only those holding a slot: one whose slot sysmon took keeps
// running its goroutine, which may still ready goroutines into its ring.
task* steal_work(worker* w) noexcept {
  int n = sched().nworkers.load(std::memory_order_acquire);
  std::int64_t now = -1;
  for (int round = 0; round < 4; ++round) {
    bool last = round == 3;
    int start = cheaprandn(cheaprand(w->rng), n);
    for (int k = 0; k < n; ++k) {
      worker* v = sched().workers[(start + k) % n].load(std::memory_order_acquire);
      if (!v || v == w) continue;
      if (last && v->timers.next_when.load(std::memory_order_relaxed) != INT64_MAX) {
        if (now < 0) now = nanotime();
        if (v->timers.next_when.load(std::memory_order_relaxed) <= now && v->timers.try_run_expired(now)) {
          bool from_next;
          if (task* t = w->runq.pop(&from_next)) return t;
        }
      }
      if (v->runq.next.load(std::memory_order_relaxed) && v->current.load(std::memory_order_relaxed)) {
        // The owner is running the goroutine that readied its `next` (a hand-off), which
        // will most likely block soon and run it there, cache-hot: stealing it would split
        // the pair across workers for good. Go's stealer backs off (usleep(3)) before it
        // takes `next`. We back off before taking anything from such a worker: the ring
        // behind `next` holds the chain's other members, readied microseconds ago by the
        // goroutine that is running (a fan-in's receiver readies every forwarder it takes a
        // value from); a thief that takes them at once makes every hand-off of the chain
        // cross cores; chan_popular, whose readied goroutines share nothing, pays a little.
        // The sleep asks for 3 us, as Go's; the kernel's timer slack makes it longer, and
        // that is what works: the thief leaves the victim's lines alone while the chain
        // runs, where a precise short spin does not (docs/tuning.md, fanin_8).
        if (!last) continue;
        timespec ts{0, 3000};
        nanosleep(&ts, nullptr);
      }
      if (last && v->inbox.load(std::memory_order_relaxed) && v->current.load(std::memory_order_relaxed)) {
        // Debug migration: the owner is busy (maybe with a goroutine that never yields);
        // take what was sent to it rather than strand it. The goroutine may then run on the
        // worker it came from: progress over the debug guarantee.
        if (task* t = take_inbox(v)) return t;
      }
      std::uint32_t tail = w->runq.tail.load(std::memory_order_relaxed);
      task* batch[run_queue::capacity / 2];
      std::uint32_t got = v->runq.grab(batch, last);
      if (got == 0) continue;
      task* t = batch[got - 1];
      for (std::uint32_t i = 0; i + 1 < got; ++i)
        w->runq.slots[(tail + i) % run_queue::capacity].store(batch[i], std::memory_order_relaxed);
      if (got > 1) w->runq.tail.store(tail + got - 1, std::memory_order_seq_cst);
      w->steals.store(w->steals.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      return t;
    }
  }
  return nullptr;
}

bool any_work_anywhere() noexcept {
  if (sched().global_size.load(std::memory_order_seq_cst) > 0) return true;
  int n = sched().nworkers.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) {
    worker* v = sched().workers[i].load(std::memory_order_acquire);
    if (v && !v->runq.empty()) return true;
    if (v && v->inbox.load(std::memory_order_seq_cst) && v->current.load(std::memory_order_relaxed)) return true;
  }
  return false;
}

// Test hooks (scheduler.hpp, set_delay): the delay at each point, in nanoseconds.
std::atomic<std::int64_t> delays[static_cast<int>(delay_point::timer_wait_recheck) + 1];

void delay_at(delay_point p) noexcept {
  std::int64_t ns = delays[static_cast<int>(p)].load(std::memory_order_relaxed);
  if (__builtin_expect(ns == 0, 1)) return;
  timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  nanosleep(&ts, nullptr);
}

// retire puts w, which is beyond GOMAXPROCS, to sleep until set_max_procs covers it again.
// What its queues hold goes to the global queue on the way in, and its inbox again at every
// wake-up that leaves it beyond (see "Where runnable goroutines wait" at the top).
void retire(worker* w) noexcept {
  reset_spinning(w);
  bool moved = move_inbox(w);
  bool from_next;
  while (task* t = w->runq.pop(&from_next)) {
    global_put(t);
    moved = true;
  }
  if (moved) wakep();
  if (w->slot.load(std::memory_order_relaxed) == no_slot) {
    // A spare: handoff_slot may give it a slot.
    std::lock_guard lk(sched().lock);
    if (w->slot.load(std::memory_order_relaxed) == no_slot && !w->in_spares) {
      w->spare_next = sched().spares;
      sched().spares = w;
      w->in_spares = true;
    }
  }
  // Counted only now: check_dead does not look in the run queues of retired workers.
  sched().retired_sleeping.fetch_add(1);
  for (;;) {
    // An exchange, not a store: a store could take effect after the read of nprocs below
    // and wipe out the poke of a set_max_procs that came between them.
    w->wake_word.exchange(0, std::memory_order_seq_cst);
    if (w->slot.load(std::memory_order_seq_cst) < sched().nprocs.load(std::memory_order_seq_cst)) break;
    if (move_inbox(w)) wakep();
    check_dead();  // the last worker to fall asleep may be this one
    platform::futex_wait(&w->wake_word, 0);
    delay_at(delay_point::retire_wake);
  }
  sched().retired_sleeping.fetch_sub(1);
  wake_sysmon();
}

task* find_runnable(worker* w) noexcept {
  for (;;) {
    if (!holds_slot(w)) {
      retire(w);
      continue;
    }
    if (w->timers.next_when.load(std::memory_order_relaxed) != INT64_MAX) {
      std::int64_t now = nanotime();
      w->clock = now;  // the same clock's epoch, read here anyway (worker::clock)
      if (w->timers.next_when.load(std::memory_order_relaxed) <= now) w->timers.run_expired(now);
    } else {
      w->clock = coarse_nanotime();
    }
    std::uint32_t t61 = tick(w);
    if (task* t = take_inbox(w)) return new_slice(w, t);
    if (t61 % 61 == 0) {
      run_retired_timers();
      if (sched().global_size.load(std::memory_order_relaxed) > 0) {
        std::lock_guard lk(sched().lock);
        if (task* t = global_pop_locked()) return new_slice(w, t);
      }
    }
    if (task* t = pop_local(w)) return t;
    if (task* t = global_get(w)) return new_slice(w, t);
    if (poll_io(0) > 0) continue;  // what it woke is in our queue (or the global one)
    // Steal, unless enough workers are spinning already.
    int busy = sched().nprocs.load(std::memory_order_relaxed) - sched().npidle.load(std::memory_order_relaxed);
    if (w->spinning || 2 * sched().nmspinning.load(std::memory_order_relaxed) < busy) {
      if (!w->spinning) {
        w->spinning = true;
        sched().nmspinning.fetch_add(1, std::memory_order_seq_cst);
      }
      // A short bounded spin before sleeping: work often appears within microseconds
      // (a producer's next item), and a futex sleep and wake cost both sides a syscall.
      // While goroutines wait for I/O it also polls the network (without blocking) every
      // round: a reply on a socket is then picked up by this worker, not by a futex wake-up
      // of the one blocked in the poller (bench net_rtt_64 at GOMAXPROCS=2).
      bool io = netpoll_waiters.load(std::memory_order_relaxed) > 0;
      std::int64_t spin_until = nanotime() + spin_window_ns;
      do {
        if (task* t = steal_work(w)) return new_slice(w, t);
        if (sched().global_size.load(std::memory_order_relaxed) > 0) break;
        if (w->inbox.load(std::memory_order_relaxed)) break;
        if (io && poll_io(0) > 0) break;  // what it woke is in our queue
      } while (nanotime() < spin_until);
      if (sched().global_size.load(std::memory_order_relaxed) > 0 || w->inbox.load(std::memory_order_relaxed) ||
          !w->runq.empty()) {
        continue;
      }
    }
    // Nothing: go idle (see the protocol at the top of this file). Stop spinning first:
    // once on the idle list, wakep may take this worker and set `spinning` for it.
    if (w->spinning) {
      w->spinning = false;
      sched().nmspinning.fetch_sub(1, std::memory_order_seq_cst);
    }
    task* batch;
    {
      std::lock_guard lk(sched().lock);
      batch = global_take_batch_locked();
      if (!batch) idle_push_locked(w);
    }
    if (batch) return new_slice(w, run_batch(w, batch));
    bool inbox_nonempty;
    {
      std::lock_guard lk(w->inbox_lock);
      inbox_nonempty = w->inbox.load(std::memory_order_relaxed) != nullptr;
    }
    if (inbox_nonempty || any_work_anywhere()) {
      bool removed;
      {
        std::lock_guard lk(sched().lock);
        removed = idle_remove_locked(w);
      }
      if (removed) {
        w->spinning = true;
        sched().nmspinning.fetch_add(1, std::memory_order_seq_cst);
        continue;
      }
    }
    check_dead();
    // Idle: give surplus pooled stacks back to the kernel (Go's scavenger), off the
    // critical path of the goroutines that freed them.
    stack_trim([] { return any_work_anywhere(); });
    sleep_idle(w);
    if (!w->spinning) run_all_timers(nanotime());
  }
}

void* worker_main(void* arg) {
  auto* w = static_cast<worker*>(arg);
  pthread_setname_np(pthread_self(), "gocxx-worker");
  init_worker_thread(w);
  for (;;) {
    if (goroutine* g = w->lockedg) {
      // Its goroutine is wired to this thread and parked or queued: nothing else runs here.
      wait_locked(w, g);
      execute(w, g);
    } else {
      task* t = find_runnable(w);
      reset_spinning(w);
      execute(w, static_cast<goroutine*>(t));
    }
    if (w->exit_thread) break;
  }
  // A goroutine returned while wired to this thread: the thread ends with it (Go's rule).
  give_up_slot(w);
  return_records(w);
  sched().ndead.fetch_add(1);
  fini_worker_thread(w);
  return nullptr;
}

worker* start_worker(int slot) {
  std::lock_guard start_lk(threads_mutex);
  int id = sched().nworkers.load(std::memory_order_relaxed);
  int limit = sched().max_threads.load(std::memory_order_relaxed);
  if (id - sched().ndead.load() >= limit || id >= max_threads_limit) {
    std::fprintf(stderr, "runtime: program exceeds %d-thread limit\n", std::min(limit, max_threads_limit));
    fatal("thread exhaustion");
  }
  auto* w = new worker;
  w->id = id;
  w->slot.store(slot, std::memory_order_relaxed);
  w->rng = 0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(id + 1);
  w->stacks = stack_cache_new();
  sched().workers[id].store(w, std::memory_order_release);
  sched().nworkers.store(id + 1, std::memory_order_release);
  if (slot != no_slot) sched().slots[slot].store(w, std::memory_order_release);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 1 << 20);
  pthread_t th;
  int rc = pthread_create(&th, &attr, &worker_main, w);  // inherits the caller's signal mask
  pthread_attr_destroy(&attr);
  if (rc != 0) fatal("gocxx: cannot start a worker thread");
  return w;
}

void start_runtime() {
  auto* s = new sched_state;
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read once at start-up; the library never calls setenv
  if (const char* e = std::getenv("GOCXX_DEBUG_MIGRATE")) s->debug_migrate = e[0] && e[0] != '0';
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read once at start-up; the library never calls setenv
  if (const char* e = std::getenv("GOCXX_STACK_SIZE")) {
    long v = std::atol(e);
    if (v >= 16 * 1024 && static_cast<unsigned long>(v) <= max_stack_size) {
      s->default_stack.store(static_cast<std::size_t>(v));
    }
  }
  the_sched.store(s, std::memory_order_release);
  int n = std::clamp(default_max_procs(), 1, max_workers);
  sched().nprocs.store(n);
  std::lock_guard lk(sched().resize_mutex);
  for (int i = 0; i < n; ++i) start_worker(i);
  start_sysmon();
  start_schedtrace();
  runtime_started.store(true, std::memory_order_release);
}

void init_worker_thread(worker* w) noexcept {
  tls_worker = w;
  w->eh_globals = reinterpret_cast<eh_state*>(abi::__cxa_get_globals());
  w->errno_at = &errno;
  w->tsan_fiber = platform::tsan_current_fiber();
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* addr;
    std::size_t size;
    pthread_attr_getstack(&attr, &addr, &size);
    w->g0_stack_bottom = addr;
    w->g0_stack_size = size;
    pthread_attr_destroy(&attr);
  }
  install_overflow_handler(w);
  cpu_profile_thread_start(w);
}

void fini_worker_thread(worker* w) noexcept {
  if (tls_worker != w) return;
  cpu_profile_thread_exit(w);
  uninstall_overflow_handler();
  tls_worker = nullptr;
}

__attribute__((noinline)) worker* current_worker() noexcept { return tls_worker; }

__attribute__((noinline)) goroutine* current_goroutine() noexcept {
  worker* w = tls_worker;
  return w ? w->current.load(std::memory_order_relaxed) : nullptr;
}

void start_runtime_once() noexcept { std::call_once(start_once, start_runtime); }

int worker_count() noexcept { return sched().nworkers.load(std::memory_order_acquire); }
worker* worker_at(int i) noexcept { return sched().workers[i].load(std::memory_order_acquire); }

bool debug_migrating() noexcept { return sched().debug_migrate; }

void set_delay(delay_point p, std::int64_t ns) noexcept {
  delays[static_cast<int>(p)].store(ns, std::memory_order_relaxed);
}

std::int64_t nanotime() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace go::detail

namespace go {

using namespace detail;

int num_goroutine() noexcept {
  if (!the_sched.load(std::memory_order_acquire)) return 0;
  std::int64_t n = sched().external_created.load(std::memory_order_relaxed);
  int workers = worker_count();
  for (int i = 0; i < workers; ++i) {
    worker* w = worker_at(i);
    n += w->created.load(std::memory_order_relaxed);
    n -= w->exited.load(std::memory_order_relaxed);
  }
  return static_cast<int>(n);
}

int max_procs() noexcept {
  ensure_started();
  return sched().nprocs.load(std::memory_order_relaxed);
}

int set_max_procs(int n) {
  ensure_started();
  std::lock_guard lk(sched().resize_mutex);
  int old = sched().nprocs.load();
  if (n < 1) return old;
  n = std::min(n, max_workers);
  for (int i = old; i < n; ++i) {
    if (!sched().slots[i].load(std::memory_order_acquire)) start_worker(i);
  }
  sched().nprocs.store(n, std::memory_order_seq_cst);
  for (int i = 0; i < sched().nworkers.load(); ++i) signal_worker(worker_at(i), wake_poke);
  return old;
}

}  // namespace go
