// go::mutex (Go's sync.Mutex, sync/mutex.go), on the runtime's parking semaphore
// (src/runtime/sema.cpp).
//
// Mutex state word (mutex::state_): locked | woken | starving | waiters << 3, exactly Go's.
// - woken: a waiter has been woken (or a spinner has announced itself) and is competing for
//   the lock, so unlock need not wake another. At most one such waiter at a time.
// - In normal mode, unlock clears `locked` and, if there are waiters and nobody is woken,
//   takes one off the count, sets woken and releases the semaphore; the woken waiter then
//   races new arrivals with a CAS on the word, as a newcomer would.
// - A waiter that has waited over 1 ms (starvation_threshold) sets `starving` with its next
//   CAS. In starvation mode arrivals never take the lock and queue at the back; unlock
//   leaves `locked` clear and hands the semaphore's permit to the front waiter, which then
//   sets `locked`, takes itself off the count and, if it is the last waiter or waited less
//   than 1 ms, clears `starving`.
// - Both forms of lock, lock_slow and a stackless goroutine's lock_slow_async (go/task.hpp's
//   async_lock), are lock_or_queue and lock_woken around their own semacquire: one
//   algorithm, so goroutines of both kinds and threads compete under the same rules.
// - Lock order: a mutex's state word is never held; its sema lock is a leaf.
#include <thread>

#include "go/sync.hpp"
#include "go/task.hpp"
#include "runtime/lock.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/waiter.hpp"

namespace go {

namespace detail {

// sync_fatal is Go's fatal for a misused lock: the message and the goroutine dump on stderr,
// exit status 2; nothing can catch it.
void sync_fatal(const char* msg) noexcept { fatal_with_dump(msg); }

}  // namespace detail

using namespace detail;

namespace {

// Go's values: 4 rounds of 30 pauses before parking.
constexpr int active_spin = 4;
constexpr int active_spin_pauses = 30;
constexpr std::int64_t starvation_threshold_ns = 1'000'000;

// can_spin: spinning pays only if the holder may be running on another CPU right now and
// nothing else waits to run on our worker (Go's sync_runtime_canSpin, minus its idle-P
// count). A plain thread asks the hardware, so that a program without goroutines does not
// start the scheduler here.
bool can_spin(int iter) noexcept {
  if (iter >= active_spin) return false;
  worker* w = current_worker();
  if (!w) {
    static const bool multicore = std::thread::hardware_concurrency() > 1;
    return multicore;
  }
  return max_procs() > 1 && w->runq.empty();
}

void spin() noexcept {
  for (int i = 0; i < active_spin_pauses; ++i) platform::cpu_relax();
}

}  // namespace

bool mutex::lock_or_queue(lock_wait& st) noexcept {
  std::int32_t& old = st.old;
  for (;;) {
    // Spin only in normal mode while locked: in starvation mode ownership is handed off to
    // a waiter, so spinning cannot win.
    if ((old & (locked | starving)) == locked && can_spin(st.iter)) {
      // Announce ourselves (woken) so unlock does not wake a waiter we would race.
      if (!st.awoke && !(old & woken) && (old >> waiter_shift) != 0 &&
          state_.compare_exchange_weak(old, old | woken, std::memory_order_relaxed)) {
        st.awoke = true;
      }
      spin();
      ++st.iter;
      old = state_.load(std::memory_order_relaxed);
      continue;
    }
    std::int32_t next = old;
    if (!(old & starving)) next |= locked;  // do not take a starving mutex: queue instead
    if (old & (locked | starving)) next += 1 << waiter_shift;
    // Switch to starvation mode only if still locked: unlock expects waiters in that mode.
    if (st.is_starving && (old & locked)) next |= starving;
    if (st.awoke) next &= ~woken;  // we are about to park again or own the lock
    if (!state_.compare_exchange_weak(old, next, std::memory_order_acquire, std::memory_order_relaxed)) {
      continue;
    }
    if (!(old & (locked | starving))) return true;  // took it with the CAS
    st.lifo = st.wait_start != 0;
    if (st.wait_start == 0) st.wait_start = nanotime();
    return false;
  }
}

bool mutex::lock_woken(lock_wait& st) noexcept {
  st.is_starving = st.is_starving || nanotime() - st.wait_start > starvation_threshold_ns;
  std::int32_t old = state_.load(std::memory_order_relaxed);
  if (old & starving) {
    // Handed off: unlock left `locked` clear and us counted as a waiter.
    std::int32_t delta = locked - (1 << waiter_shift);
    if (!st.is_starving || (old >> waiter_shift) == 1) delta -= starving;  // back to normal
    state_.fetch_add(delta, std::memory_order_acq_rel);
    return true;
  }
  st.old = old;
  st.awoke = true;
  st.iter = 0;
  return false;
}

void mutex::lock_slow(wait_reason reason, const source_location& site) noexcept {
  lock_wait st{state_.load(std::memory_order_relaxed)};
  while (!lock_or_queue(st)) {
    semacquire(sema_, st.lifo, reason, site);
    if (lock_woken(st)) return;
  }
}

go::task<void> mutex::lock_slow_async(wait_reason reason, source_location site) {
  lock_wait st{state_.load(std::memory_order_relaxed)};
  while (!lock_or_queue(st)) {
    co_await semacquire_async(sema_, st.lifo, reason, site);
    if (lock_woken(st)) co_return;
  }
}

// seen: the word as unlock's compare-exchange found it.
void mutex::unlock_slow(std::int32_t seen) noexcept {
  // Unlocked: misuse, fatal as in Go (sync.hpp says why).
  if (!(seen & locked)) sync_fatal("sync: unlock of unlocked mutex");
  // Locked, and only its holder clears `locked`: one add, as Go's Unlock. (A compare-exchange
  // loop retried against every waiter's and spinner's update of the word: bench
  // sync_mutex_contended_4 at GOMAXPROCS=2.) Only two unlocks racing, both misuse, can find
  // the bit gone here.
  std::int32_t now = state_.fetch_sub(locked, std::memory_order_release) - locked;
  if (!((now + locked) & locked)) sync_fatal("sync: unlock of unlocked mutex");
  if (now & starving) {
    semrelease(sema_, true);  // hand the lock to the front waiter
    return;
  }
  std::int32_t old = now;
  for (;;) {
    // Nobody to wake, or someone already took the lock, or a woken/spinning goroutine is
    // already competing for it, or it went starving (its owner will hand it off).
    if ((old >> waiter_shift) == 0 || (old & (locked | woken | starving))) return;
    if (state_.compare_exchange_weak(old, (old - (1 << waiter_shift)) | woken, std::memory_order_relaxed)) {
      semrelease(sema_, false);
      return;
    }
  }
}

}  // namespace go
