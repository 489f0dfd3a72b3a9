// go::cond (Go's sync.Cond) and its notify list (Go's notifyList, runtime/sema.go).
//
// Tickets. wait_ is the next ticket to hand out, notify_ the next ticket to notify; tickets
// in [notify_, wait_) belong to goroutines inside wait() that have not been notified. wait()
// takes its ticket before it unlocks L, so a signal issued after that unlock (by whoever
// locks L next) is owed to it, whether or not it has parked yet. Then, under lock_, it
// either finds its ticket already notified and returns at once, or queues itself and parks
// (park releases lock_ once the goroutine is off its stack). Nothing that can wake it is
// published before that park, so L's unlock may itself block or yield.
//
// signal, under lock_, advances notify_ by one and wakes the queued waiter holding that
// ticket; if none is queued, its holder is between taking the ticket and queueing, and will
// see the ticket notified and not park. broadcast sets notify_ = wait_ and wakes every
// queued waiter. Both first compare wait_ and notify_ without the lock and return if equal:
// a waiter whose ticket-taking happened before the call (as it does when the caller holds L
// or locked it after the waiter unlocked it) is seen by those loads.
//
// A ticket whose wait() threw (L's unlock threw) is cancelled so it cannot absorb a signal:
// if it was already notified, the notification is passed on with signal(); otherwise a
// heap-allocated tombstone (who == nullptr) is queued under that ticket, and signal skips
// it to the next ticket. Only this error path allocates.
//
// A stackless goroutine's wait (go/task.hpp's async_wait) takes the same steps (wait_begin,
// wait_queue), its waiter in its coroutine frame and its park a suspension, and relocks L
// with the awaitable of L's go:: lock, whose lock() would block.
//
// The queue is ordered by arrival, which is ticket order except for waiters that took
// tickets concurrently; signal searches it for its ticket. lock_ is a leaf lock.
#include <new>

#include "go/sync.hpp"
#include "go/task.hpp"
#include "runtime/lock.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/wait_list.hpp"

namespace go {

using namespace detail;

namespace {

struct cond_waiter {
  parker* who;  // null: a cancelled ticket's tombstone, on the heap
  std::uint32_t ticket;
  cond_waiter* prev = nullptr;
  cond_waiter* next = nullptr;
};

// before reports whether ticket a comes before ticket b (tickets wrap around).
bool before(std::uint32_t a, std::uint32_t b) noexcept { return static_cast<std::int32_t>(a - b) < 0; }

wait_list<cond_waiter> queue(void*& head, void*& tail) noexcept { return {head, tail}; }

}  // namespace

cond::~cond() {
  // Only tombstones can be left (destroying a cond that goroutines wait on is undefined).
  for (auto* w = static_cast<cond_waiter*>(head_); w;) {
    auto* next = w->next;
    if (!w->who) delete w;
    w = next;
  }
}

std::uint32_t cond::wait_begin() {
  std::uint32_t ticket = wait_.fetch_add(1, std::memory_order_seq_cst);
  try {
    L.unlock();
  } catch (...) {
    detail::lock(lock_);
    if (before(ticket, notify_.load(std::memory_order_relaxed))) {
      detail::unlock(lock_);
      signal();  // the notification meant for us goes to the next waiter
    } else {
      if (auto* tomb = new (std::nothrow) cond_waiter{nullptr, ticket}) queue(head_, tail_).push_back(tomb);
      // Out of memory: the ticket stays owed and absorbs one signal.
      detail::unlock(lock_);
    }
    throw;
  }
  return ticket;
}

bool cond::wait_queue(std::uint32_t ticket, void* w) noexcept {
  detail::lock(lock_);
  if (before(ticket, notify_.load(std::memory_order_relaxed))) {
    detail::unlock(lock_);  // notified between our unlock of L and here
    return false;
  }
  auto* self = static_cast<cond_waiter*>(w);
  self->who = current_parker();
  self->ticket = ticket;
  queue(head_, tail_).push_back(self);
  return true;
}

void cond::wait(const source_location& site) {
  std::uint32_t ticket = wait_begin();
  cond_waiter self{};
  if (wait_queue(ticket, &self)) park_sole(wait_reason::cond_wait, site, unlock_word, &lock_);
  L.lock();
}

namespace {

// cond_park is the park of async_wait: it queues the waiter, unless its ticket is notified.
class cond_park {
 public:
  cond_park(bool queued, std::atomic<std::uint32_t>& lock, const source_location& site) noexcept
      : queued_(queued), lock_(lock), site_(site) {}
  bool await_ready() const noexcept { return !queued_; }
  bool await_suspend(std::coroutine_handle<> h) noexcept {
    return park_coroutine(h.address(), wait_reason::cond_wait, site_, unlock_word, &lock_, true);
  }
  void await_resume() const noexcept {}

 private:
  bool queued_;
  std::atomic<std::uint32_t>& lock_;
  source_location site_;
};

}  // namespace

go::task<void> async_wait(cond& c, source_location site) {
  std::uint32_t ticket = c.wait_begin();
  cond_waiter self{};
  co_await cond_park(c.wait_queue(ticket, &self), c.lock_, site);
  // L again, with the awaitable of a go:: lock: its lock() would block the goroutine.
  switch (c.L.kind_) {
    case locker::kind::mutex:
      co_await lock_awaiter<mutex_lock_op>({*static_cast<mutex*>(c.L.object_)}, call_site::of(site));
      break;
    case locker::kind::rw_mutex:
      co_await lock_awaiter<rw_lock_op>({*static_cast<rw_mutex*>(c.L.object_)}, call_site::of(site));
      break;
    case locker::kind::rw_mutex_read:
      co_await lock_awaiter<rw_rlock_op>({*static_cast<rw_mutex*>(c.L.object_)}, call_site::of(site));
      break;
    case locker::kind::other: c.L.lock(); break;
  }
}

void cond::signal() noexcept {
  if (wait_.load(std::memory_order_seq_cst) == notify_.load(std::memory_order_seq_cst)) return;
  detail::lock(lock_);
  for (;;) {
    std::uint32_t t = notify_.load(std::memory_order_relaxed);
    if (t == wait_.load(std::memory_order_relaxed)) break;  // nobody new since the last notify
    notify_.store(t + 1, std::memory_order_relaxed);
    cond_waiter* w = queue(head_, tail_).take_first([t](cond_waiter* q) { return q->ticket == t; });
    if (!w) break;  // t's holder has not queued yet: it will see t notified and not park
    if (!w->who) {
      delete w;  // a cancelled ticket: notify the next one instead
      continue;
    }
    parker* who = w->who;  // read before the wake: w's frame may be gone after it
    detail::unlock(lock_);
    wake(who);
    return;
  }
  detail::unlock(lock_);
}

void cond::broadcast() noexcept {
  if (wait_.load(std::memory_order_seq_cst) == notify_.load(std::memory_order_seq_cst)) return;
  detail::lock(lock_);
  cond_waiter* list = queue(head_, tail_).take_all();
  notify_.store(wait_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  detail::unlock(lock_);
  while (list) {
    cond_waiter* next = list->next;  // read before the wake
    if (list->who) wake(list->who);
    else delete list;
    list = next;
  }
}

}  // namespace go
