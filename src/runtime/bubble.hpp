// A synctest bubble (bubble.cpp has the design): goroutines that run on one thread of their
// own, in an order chosen by a seed, under a fake clock that moves only when all of them
// are blocked.
//
// Invariants
// - A goroutine belongs to the bubble of the thread that created it (g->bub, set at spawn):
//   goroutines spawned by a bubble's goroutines, or by its timers' callbacks, are its own.
//   A bubble's goroutines run only on the bubble's thread, whose worker (`w`) is in no
//   worker array: nobody steals from it, and it never runs anything else.
// - `runnable`, `now`, `waiter`, `live` and `rng` belong to the bubble's thread. Other
//   threads that ready one of its goroutines put it in `inbox` under inbox_lock.
// - `live` counts the bubble's goroutines that have not exited (the root included).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <vector>

#include "runtime/lock.hpp"
#include "runtime/scheduler.hpp"

namespace go::detail {

struct bubble {
  worker w;  // the bubble thread's worker (w.bub == this)
  std::deque<goroutine*> runnable;
  runtime_lock inbox_lock{lock_rank::inbox};
  std::vector<goroutine*> inbox;
  std::atomic<bool> inbox_nonempty{false};
  std::int64_t now = 0;  // the fake clock, in nanotime() units
  bool random = false;   // pick the next goroutine at random (seeded) rather than FIFO
  std::uint64_t rng = 0;
  goroutine* waiter = nullptr;  // the goroutine in synctest::wait
  std::int64_t live = 0;
};

// Hooks the scheduler calls for goroutines of a bubble.
void bubble_ready(goroutine* g) noexcept;  // g->bub != null; from any thread

}  // namespace go::detail
