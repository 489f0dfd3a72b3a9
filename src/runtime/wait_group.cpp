// go::wait_group (Go's sync.WaitGroup).
//
// counter_ is the count. waiting_ counts goroutines between announcing they will wait and
// being woken; waiters_ is their list, guarded by lock_. wait() announces itself
// (waiting_++) under the lock and only then rereads the counter; add() that brings the
// counter to zero reads waiting_ after its update and, if anyone waits, takes the lock and
// wakes them all. Both sides are sequentially consistent, so either wait() sees zero or
// add() sees the waiter: no lost wake-up.
#include "go/sync.hpp"
#include "runtime/lock.hpp"
#include "runtime/waiter.hpp"

namespace go {

using namespace detail;

void wait_group::add(int delta) {
  std::int64_t v = counter_.fetch_add(delta, std::memory_order_seq_cst) + delta;
  if (v < 0) {
    counter_.fetch_sub(delta, std::memory_order_relaxed);
    throw sync_error("sync: negative WaitGroup counter");
  }
  if (v > 0 || waiting_.load(std::memory_order_seq_cst) == 0) return;
  detail::lock(lock_);
  auto* list = static_cast<waiter*>(waiters_);
  waiters_ = nullptr;
  waiting_.store(0, std::memory_order_relaxed);
  detail::unlock(lock_);
  while (list) {
    waiter* next = list->next;  // read before the wake: the waiter's frame may vanish after
    detail::wake(list->who);
    list = next;
  }
}

void wait_group::wait(detail::source_location site) noexcept {
  if (counter_.load(std::memory_order_seq_cst) == 0) return;
  detail::lock(lock_);
  waiting_.fetch_add(1, std::memory_order_seq_cst);
  if (counter_.load(std::memory_order_seq_cst) == 0) {
    waiting_.fetch_sub(1, std::memory_order_relaxed);
    detail::unlock(lock_);
    return;
  }
  waiter self;
  self.who = current_parker();
  self.next = static_cast<waiter*>(waiters_);
  waiters_ = &self;
  park(wait_reason::wait_group_wait, site, [](void* l) { detail::unlock(*static_cast<std::atomic<std::uint32_t>*>(l)); },
       &lock_);
}

}  // namespace go
