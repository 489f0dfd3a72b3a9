// Timers: a 4-ary min-heap of pending timers per worker, as in Go (runtime/time.go).
//
// Invariants
// - A pending timer is in exactly one heap; t->heap names it and t->index is its slot. Both
//   change only under that heap's lock.
// - A timer's callback runs on a worker's scheduler stack with no runtime lock held, after
//   the timer has left the heap. It must not block; it may wake parkers and send without
//   blocking.
// - `next_when` mirrors the heap's earliest deadline (INT64_MAX when empty) so idle workers
//   can compute how long to sleep without taking every lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "runtime/lock.hpp"

namespace go::detail {

struct timer_heap;

struct timer {
  std::int64_t when = 0;  // nanotime() deadline
  void (*fire)(timer* t) = nullptr;
  void* arg = nullptr;
  std::atomic<timer_heap*> heap{nullptr};
  std::int32_t index = -1;
};

struct timer_heap {
  runtime_lock lock;
  std::vector<timer*> heap;  // guarded by lock
  std::atomic<std::int64_t> next_when{INT64_MAX};

  // Both under lock.
  void push(timer* t);
  void erase(timer* t) noexcept;

  // run_expired fires every timer due at `now`; returns how many fired.
  int run_expired(std::int64_t now) noexcept;
  bool try_run_expired(std::int64_t now) noexcept;  // skips if the lock is busy

 private:
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;
  void publish() noexcept { next_when.store(heap.empty() ? INT64_MAX : heap[0]->when, std::memory_order_seq_cst); }
};

}  // namespace go::detail
