// The parking semaphore under go::mutex, go::rw_mutex and go::wait_group's kin (Go's runtime
// sema, runtime/sema.go; the declaration is detail::sema in include/go/sync.hpp).
//
// `count` is the number of permits; `nwait` counts waiters that
// are queued or hold `lock` while about to recheck `count`; the queue holds detail::waiter
// objects on the parked goroutines' stacks, guarded by `lock` (a runtime lock, never held
// across anything that blocks). Invariant: while `lock` is held and nobody inside it is
// between nwait++ and its recheck, nwait equals the queue length.
// - semacquire: take a permit without the lock if there is one; otherwise, under the lock,
//   nwait++, then recheck count (and leave if a permit came), else queue and park; park
//   releases the lock once the goroutine is off its stack. A woken waiter owns a permit
//   only if the releaser handed it one (waiter::success); otherwise it competes for one
//   again. (mutex waiters woken without the lock call again with lifo, to keep their place.)
// - semrelease: count++, then read nwait; if zero, nobody can be left sleeping. Both sides
//   are sequentially consistent (a Dekker pair), so either the acquirer's recheck sees the
//   permit or the releaser sees the waiter. Otherwise it dequeues the front waiter under
//   the lock, and after releasing it wakes it (reading waiter::who first: the waiter's frame
//   may be gone once it runs). With handoff it first takes the permit for the waiter, and a
//   goroutine releaser then yields so the new owner runs at once (Go's semrelease handoff).
// - The mutex profile (profile.hpp): a lock's waiter notes when it first queued; the release
//   that dequeues it charges the wait to its own stack, after the lock is released.
// - semacquire_async is semacquire for a stackless goroutine (go/task.hpp): the same steps
//   (sema_queue, sema_woken), its waiter in its coroutine frame, each park a suspension
//   (sema_park). A coroutine cannot suspend again from the await_resume that finds it woken
//   without a permit, so the loop is the task's.
#include "go/sync.hpp"
#include "go/task.hpp"
#include "runtime/lock.hpp"
#include "runtime/profile.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/wait_list.hpp"
#include "runtime/waiter.hpp"

namespace go::detail {

namespace {

// The waiters of a sema's queue: every one is a semacquire's.
struct sema_waiter : waiter {
  std::int64_t since = 0;  // when it first queued, if the mutex profile wants it
};

bool can_acquire(std::atomic<std::uint32_t>& count) noexcept {
  std::uint32_t v = count.load(std::memory_order_seq_cst);
  while (v != 0) {
    if (count.compare_exchange_weak(v, v - 1, std::memory_order_seq_cst)) return true;
  }
  return false;
}

wait_list<waiter> queue(sema& s) noexcept { return {s.head, s.tail}; }

// sema_queue is one round of semacquire up to its park: false if it took a permit; true if
// `self` is queued and s.lock held, for the park to release.
bool sema_queue(sema& s, sema_waiter& self, bool lifo) noexcept {
  detail::lock(s.lock);
  s.nwait.fetch_add(1, std::memory_order_seq_cst);
  if (can_acquire(s.count)) {
    s.nwait.fetch_sub(1, std::memory_order_relaxed);
    detail::unlock(s.lock);
    return false;
  }
  self.success = false;
  if (lifo) queue(s).push_front(&self);
  else queue(s).push_back(&self);
  return true;
}

// sema_woken: after the park, whether the waiter holds a permit (handed to it, or taken).
bool sema_woken(sema& s, const sema_waiter& self) noexcept { return self.success || can_acquire(s.count); }

// sema_park is one round of semacquire_async: true once it holds a permit.
class sema_park {
 public:
  sema_park(sema& s, sema_waiter& self, bool lifo, wait_reason reason, const source_location& site) noexcept
      : s_(s), self_(self), lifo_(lifo), reason_(reason), site_(site) {}
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) noexcept {
    parked_ = sema_queue(s_, self_, lifo_) && park_coroutine(h.address(), reason_, site_, unlock_word, &s_.lock, true);
    return parked_;
  }
  bool await_resume() const noexcept { return !parked_ || sema_woken(s_, self_); }

 private:
  sema& s_;
  sema_waiter& self_;
  bool lifo_;
  wait_reason reason_;
  source_location site_;
  bool parked_ = false;
};

}  // namespace

void semacquire(sema& s, bool lifo, wait_reason reason, const source_location& site) noexcept {
  if (can_acquire(s.count)) return;
  sema_waiter self;
  self.who = current_parker();
  self.since = mutex_start(reason);
  while (sema_queue(s, self, lifo)) {
    park_sole(reason, site, unlock_word, &s.lock);
    if (sema_woken(s, self)) return;
  }
}

go::task<void> semacquire_async(sema& s, bool lifo, wait_reason reason, source_location site) {
  if (can_acquire(s.count)) co_return;
  sema_waiter self;
  self.who = current_parker();
  self.since = mutex_start(reason);
  while (!co_await sema_park(s, self, lifo, reason, site)) {
  }
}

void semrelease(sema& s, bool handoff) noexcept {
  s.count.fetch_add(1, std::memory_order_seq_cst);
  if (s.nwait.load(std::memory_order_seq_cst) == 0) return;
  detail::lock(s.lock);
  waiter* w = s.nwait.load(std::memory_order_relaxed) == 0 ? nullptr : queue(s).pop_front();
  if (w) s.nwait.fetch_sub(1, std::memory_order_relaxed);
  detail::unlock(s.lock);
  if (!w) return;
  // w is ours now: it stays parked (its frame valid) until the wake below.
  bool handed = handoff && can_acquire(s.count);
  w->success = handed;
  parker* who = w->who;
  std::int64_t since = static_cast<sema_waiter*>(w)->since;
  wake(who);
  if (since) record_mutex(since);
  if (handed && current_goroutine()) go::yield();
}

}  // namespace go::detail
