// go::wait_group (Go's sync.WaitGroup, sync/waitgroup.go).
//
// state_ holds the counter v (high 32 bits, signed) and the number of waiters w (low 32
// bits) in one word; waiters_ lists the parked waiters, guarded by lock_. A singly linked
// stack, not a wait_list (runtime/wait_list.hpp): every waiter is woken at once, so there
// is no order to keep and no waiter leaves alone.
// - wait() returns at once if v == 0. Otherwise, under lock_, it increments w with a CAS
//   that requires v != 0, queues itself and parks (park releases lock_ off its stack). So
//   under lock_, w equals the length of waiters_.
// - add(delta) updates v with one RMW and learns w from it. If v > 0 or w == 0 it returns
//   without touching the object again: a waiter that sees v == 0 may return and end the
//   wait_group's life at once (the usual `wg.done()` as a goroutine's last act). Otherwise
//   it set v to zero with waiters present: no wait() can add itself now (v == 0), so under
//   lock_ it takes the whole list, resets the state to 0 and wakes them after unlocking.
//   Waiters cannot return before that wake, so the object outlives the add.
// A stackless goroutine's wait (go/task.hpp's async_wait) is the same: its waiter lives in
// its goroutine record (coroutine_waiter), and its park is a suspension (wait_suspend).
// Memory order: every add is an acq_rel RMW on state_, so the adds before the one that
// reaches zero happen before a wait that reads zero (acquire) or is woken by it.
#include "go/sync.hpp"
#include "go/task.hpp"
#include "runtime/lock.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/waiter.hpp"

namespace go {

using namespace detail;

namespace {

constexpr std::int32_t counter_of(std::uint64_t state) noexcept {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(state >> 32));
}
constexpr std::uint32_t waiters_of(std::uint64_t state) noexcept { return static_cast<std::uint32_t>(state); }

}  // namespace

void wait_group::add_slow(int delta, std::uint64_t state) {
  std::int32_t v = counter_of(state);
  std::uint32_t w = waiters_of(state);
  if (v < 0) {
    state_.fetch_sub(counter_delta(delta), std::memory_order_relaxed);
    throw sync_error("sync: negative WaitGroup counter");
  }
  if (w != 0 && delta > 0 && v == delta) {
    // The counter was zero with waiters not yet woken: this add races their wake-up.
    state_.fetch_sub(counter_delta(delta), std::memory_order_relaxed);
    throw sync_error("sync: WaitGroup misuse: Add called concurrently with Wait");
  }
  if (v > 0 || w == 0) return;
  detail::lock(lock_);
  auto* list = static_cast<waiter*>(waiters_);
  waiters_ = nullptr;
  state_.store(0, std::memory_order_relaxed);
  detail::unlock(lock_);
  while (list) {
    waiter* next = list->next;  // read before the wake: the waiter's frame may vanish after
    detail::wake(list->who);
    list = next;
  }
}

// A waiter is wait's local, and it leaves the list before wait returns: g++ 12's
// -Wdangling-pointer, which sees the local's address stored in the list once this is
// inlined into wait, is off here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif
bool wait_group::wait_queue(void* w) noexcept {
  detail::lock(lock_);
  std::uint64_t state = state_.load(std::memory_order_acquire);
  do {
    if (counter_of(state) == 0) {
      detail::unlock(lock_);
      return false;
    }
  } while (!state_.compare_exchange_weak(state, state + 1, std::memory_order_acq_rel, std::memory_order_acquire));
  auto* self = static_cast<waiter*>(w);
  self->who = current_parker();
  self->next = static_cast<waiter*>(waiters_);
  waiters_ = self;
  return true;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

void wait_group::wait(const source_location& site) noexcept {
  if (at_zero()) return;
  waiter self;
  if (wait_queue(&self)) park_sole(wait_reason::wait_group_wait, site, detail::unlock_word, &lock_);
}

bool wait_group::wait_suspend(void* handle, const source_location& site) noexcept {
  waiter* self = coroutine_waiter();  // in the goroutine's record
  return wait_queue(self) &&
         park_coroutine(handle, wait_reason::wait_group_wait, site, detail::unlock_word, &lock_, true);
}

}  // namespace go
