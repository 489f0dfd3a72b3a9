// A parker's persistent select waiters: what lets a select leave its losing cases queued
// (select.cpp, "Lazy withdrawal"). A goroutine keeps its cache at the top of its stack,
// above its first frame (goroutine_main, scheduler/schedule.cpp), a thread in its thread_parker
// (park.cpp). A goroutine's costs no memory of its own: its stack's first page is there
// anyway.
//
// Invariants (the owner is the one parker that selects with the cache):
// - Slot m's waiter w(m) is queued on w(m).chan (its sendq if is_send bit m, else its
//   recvq), or being dequeued by a waker that holds that lock, exactly when its tag is not
//   0. Only the owner queues it, under the channel's lock; the owner (under the lock) or a
//   waker's pop_front (ditto, take_lazy) dequeues it, and then sets its tag to 0, the last
//   thing either does to it.
// - w(m).chan holds a reference to its channel (chan_retain), so an owner may lock it to
//   withdraw the waiter with no handle of its own. The reference goes when the slot is
//   given another channel, and when the owner exits.
// - The owner's parker::sel_word is gen << 8 | state: state 0 while the select of
//   generation gen is open, 1 once it cancelled itself, and what the winning waiter's tag
//   says once a case won (select.cpp, lazy_won). A waiter wins only with the compare-
//   exchange from its tag's generation, open, to its tag, so a waiter left queued by an
//   earlier select never wins a later one.
#pragma once

#include <atomic>
#include <cstdint>
#include <new>

#include "runtime/chan.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/waiter.hpp"

namespace go::detail {

// Everything a select reads to match its cases to slots shares the first cache line with
// the first waiter, and a two-case select's waiters fit in two lines.
struct alignas(64) select_cache {
  static constexpr int slots_max = 4;  // a select with more channel cases withdraws eagerly
  std::uint32_t gen = 0;
  std::uint8_t n = 0;        // slots in use: w(0) .. w(n - 1); the rest is uninitialized
  std::uint8_t is_send = 0;  // bit m: w(m) waits to send, on w(m).chan->sendq
  std::uint8_t victim = 0;   // the next slot given a new channel when none is free
  alignas(waiter) unsigned char raw[slots_max * sizeof(waiter)];

  waiter& w(int m) noexcept { return *std::launder(reinterpret_cast<waiter*>(raw) + m); }
  wait_queue& queue(int m) noexcept { return (is_send >> m & 1) ? w(m).chan->sendq : w(m).chan->recvq; }

  select_cache() noexcept {}
  select_cache(const select_cache&) = delete;
  select_cache& operator=(const select_cache&) = delete;
  ~select_cache();  // withdraws every queued waiter and drops the references (select.cpp)
};

static_assert(sizeof(select_cache) % 64 == 0);  // the stack below stays aligned

void select_generation_set_for_test(std::uint32_t gen) noexcept;

// The thread's own cache (park.cpp); p is the calling thread's parker.
select_cache& thread_select_cache(parker* p) noexcept;

inline select_cache* select_cache_of(goroutine* g) noexcept {
  return reinterpret_cast<select_cache*>(g->stk.top() - sizeof(select_cache));
}

inline select_cache& select_cache_of(parker* p) noexcept {
  if (p->kind == parker_kind::goroutine) return *std::launder(select_cache_of(static_cast<goroutine*>(p)));
  return thread_select_cache(p);
}

}  // namespace go::detail
