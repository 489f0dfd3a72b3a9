// park and wake: the one blocking primitive (include/go/detail/park.hpp has the contract).
//
// A goroutine's parker state moves running -> parked -> runnable -> running. A wake that
// arrives while the goroutine is still running (it has published a waiter but not yet
// switched off its stack) moves running -> notified instead, and the park that follows
// consumes it without blocking:
//
//   waker                                   parking goroutine (then its worker's g0)
//   s == parked:   store runnable,          g: switch to g0 (or the next goroutine) with
//                  then ready(g)               action park
//   s == running:  CAS running -> notified  g0: without unlock, CAS running -> parked; if
//                  (park will not block)       that fails the state is notified: set
//                                              running and run g again at once.
//                                              park_sole: store parked, then unlock(arg).
//
// Exactly one CAS wins in each race, so a goroutine is never made runnable twice, never
// runs on two workers, and never sleeps through its wake. Two wakes for one park are a bug
// in the caller's wait queue and end the process ("wake of a goroutine that is not parked")
// when the second sees the first's state.
//
// Plain stores where the states cannot race (each saves a locked instruction, two per
// channel hand-off; bench chan_sync):
// - parked -> runnable: only the one waker of this park leaves parked.
// - running -> parked in park_sole: the caller's wakers find the waiter only under the
//   lock that unlock releases (park.hpp), so none can have seen g running; the store comes
//   before the unlock's release, which a waker's lock acquires. The unlock must not read
//   g's stack after its first release: a select copies its channels off the stack first
//   (unlock_all_sole; reading them between releases, TSan saw a woken select's frame
//   overwritten under it).
//
// A plain thread parks on a futex over its own word: 1 means a wake token is waiting.
#include <atomic>

#include "go/detail/park.hpp"
#include "go/runtime.hpp"
#include "platform/futex.hpp"
#include "runtime/profile.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/select_cache.hpp"
#include "runtime/trace.hpp"

namespace go::detail {

namespace {

struct thread_parker : parker {
  select_cache cache;
  thread_parker() noexcept : parker(parker_kind::thread) {}
};

thread_parker& this_thread_parker() noexcept {
  static thread_local thread_parker p;
  return p;
}

}  // namespace

const char* to_string(wait_reason r) noexcept {
  switch (r) {
    case wait_reason::none: return "running";
    case wait_reason::chan_receive: return "chan receive";
    case wait_reason::chan_send: return "chan send";
    case wait_reason::chan_receive_nil: return "chan receive (nil chan)";
    case wait_reason::chan_send_nil: return "chan send (nil chan)";
    case wait_reason::select: return "select";
    case wait_reason::select_no_cases: return "select (no cases)";
    case wait_reason::sleep: return "sleep";
    case wait_reason::mutex_lock: return "sync.Mutex.Lock";
    case wait_reason::rw_mutex_rlock: return "sync.RWMutex.RLock";
    case wait_reason::rw_mutex_lock: return "sync.RWMutex.Lock";
    case wait_reason::wait_group_wait: return "sync.WaitGroup.Wait";
    case wait_reason::cond_wait: return "sync.Cond.Wait";
    case wait_reason::semacquire: return "semacquire";
    case wait_reason::io_wait: return "IO wait";
    case wait_reason::syscall: return "syscall";
    case wait_reason::main_wait: return "main wait";
    case wait_reason::synctest_run: return "synctest.Run";
    case wait_reason::synctest_wait: return "synctest.Wait";
  }
  return "unknown";
}

select_cache& thread_select_cache(parker* p) noexcept { return static_cast<thread_parker*>(p)->cache; }

parker* current_parker() noexcept {
  if (goroutine* g = current_goroutine()) return g;
  return &this_thread_parker();
}

namespace {

void park_with(wait_reason reason, const detail::source_location& site, void (*unlock)(void*), void* arg,
               bool sole) noexcept {
  worker* w = current_worker();
  goroutine* g = w ? w->current.load(std::memory_order_relaxed) : nullptr;
  if (!g) {
    thread_parker& p = this_thread_parker();
    if (unlock) unlock(arg);
    while (p.state.exchange(0, std::memory_order_acquire) != 1) platform::futex_wait(&p.state, 0);
    return;
  }
  // A stackless goroutine parks only by suspending at a co_await (task.cpp): it has no
  // stack of its own to switch away from.
  if (g->kind == parker_kind::coroutine) fatal("blocking call in a stackless goroutine (use co_await)", g);
  // Already woken (e.g. a timer that fired before we got here): no switch needed. Looked
  // at first: a failed compare-exchange costs a locked instruction on every park.
  std::uint32_t s = park_notified;
  if (g->state.load(std::memory_order_relaxed) == park_notified &&
      g->state.compare_exchange_strong(s, park_running, std::memory_order_acquire)) {
    if (unlock) unlock(arg);
    if (debug_migrating()) go::yield();  // the debug mode moves g at every park, this one too
    return;
  }
  prepare_park(w, g, reason, site, unlock, arg, sole);
  std::int64_t block_since = block_start(reason);
  switch_to_scheduler(w, g, switch_action::park);
  g->reason.store(wait_reason::none, std::memory_order_relaxed);
  if (block_since) record_block(block_since);
}

}  // namespace

void park(wait_reason reason, const detail::source_location& site, void (*unlock)(void*), void* arg) noexcept {
  park_with(reason, site, unlock, arg, false);
}

void park_sole(wait_reason reason, const detail::source_location& site, void (*unlock)(void*), void* arg) noexcept {
  park_with(reason, site, unlock, arg, true);
}

void wake(parker* p) noexcept {
  if (p->kind == parker_kind::thread) {
    p->state.store(1, std::memory_order_release);
    platform::futex_wake(&p->state, 1);
    return;
  }
  auto* g = static_cast<goroutine*>(p);
  trace_event(trace_kind::go_unblock, g);
  std::uint32_t s = g->state.load(std::memory_order_acquire);
  for (;;) {
    if (s == park_parked) {
      // Only this park's one waker leaves parked: no other thread writes the state now.
      g->state.store(park_runnable, std::memory_order_relaxed);
      ready(g, true);
      return;
    }
    if (s == park_running) {
      if (g->state.compare_exchange_weak(s, park_notified, std::memory_order_acq_rel)) return;
    } else {
      fatal("wake of a goroutine that is not parked");
    }
  }
}

}  // namespace go::detail
