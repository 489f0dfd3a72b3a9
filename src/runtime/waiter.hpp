// A waiter is one blocked operation on one wait queue: Go's sudog. It lives on the blocked
// parker's own stack (a goroutine's stack stays put while it is parked, so pointers to it
// are valid), which keeps blocking allocation-free.
//
// A waiter belongs to at most one queue, guarded by that queue's owner's lock. A select
// parks with one waiter per case; they share `select_done`, and the first waker to flip it
// from 0 owns the select: every other waker skips those waiters (Go's selectDone). The
// winner writes its case_index + 2 there (1 is a flag closed by its owner, done_waiter.cpp),
// so the select learns which case won from the word the waker had to write anyway.
//
// 48 bytes, so that a done_waiter keeps its flag in the cache line of its waiter
// (done_waiter.cpp): that line is what a partner on another worker misses on, once (bench
// fanin_8 at GOMAXPROCS=2: a waiter and its flag apart cost two or three misses).
#pragma once

#include <atomic>
#include <cstdint>

#include "go/detail/park.hpp"

namespace go::detail {

struct chan_core;

struct waiter {
  parker* who = nullptr;
  waiter* next = nullptr;
  waiter* prev = nullptr;
  void* elem = nullptr;                           // the value to send, or where to receive
  std::atomic<std::uint32_t>* select_done = nullptr;  // shared by the cases of one select
  int case_index = 0;
  bool success = false;  // the operation happened (false: woken by close)
};
static_assert(sizeof(waiter) <= 48);

// What a select's winning waker writes to select_done (0 open, 1 closed by a done_waiter).
constexpr std::uint32_t select_won(int case_index) noexcept { return static_cast<std::uint32_t>(case_index) + 2; }

// FIFO of waiters (Go's waitq). The owner's lock guards it; `head` is atomic only so that
// a lock-free fast path may peek at emptiness (relaxed loads: plain moves on x86).
struct wait_queue {
  std::atomic<waiter*> head{nullptr};
  waiter* last = nullptr;

  bool empty() const noexcept { return head.load(std::memory_order_relaxed) == nullptr; }

  void push_back(waiter* w) noexcept {
    w->next = nullptr;
    w->prev = last;
    if (last) last->next = w;
    else head.store(w, std::memory_order_relaxed);
    last = w;
  }

  // remove unlinks w if it is in this queue (a select withdrawing its losing cases).
  void remove(waiter* w) noexcept {
    if (w->prev) w->prev->next = w->next;
    else if (head.load(std::memory_order_relaxed) == w) head.store(w->next, std::memory_order_relaxed);
    else return;
    if (w->next) w->next->prev = w->prev;
    else last = w->prev;
    w->next = w->prev = nullptr;
  }

  // pop_front dequeues the first waiter that can still be woken: a select waiter whose
  // select has already been won by another case is dropped (its select removes the rest).
  waiter* pop_front() noexcept {
    while (waiter* w = head.load(std::memory_order_relaxed)) {
      waiter* rest = w->next;
      head.store(rest, std::memory_order_relaxed);
      if (rest) rest->prev = nullptr;
      else last = nullptr;
      w->next = w->prev = nullptr;
      if (w->select_done) {
        std::uint32_t expected = 0;
        // seq_cst: a done_waiter's flag (done_waiter.cpp) pairs it with a load of `closed`.
        if (!w->select_done->compare_exchange_strong(expected, select_won(w->case_index), std::memory_order_seq_cst)) continue;
      }
      return w;
    }
    return nullptr;
  }
};

}  // namespace go::detail
