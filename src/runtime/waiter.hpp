// A waiter is one blocked operation on one wait queue: Go's sudog. It lives on the blocked
// parker's own stack (a goroutine's stack stays put while it is parked, so pointers to it
// are valid), which keeps blocking allocation-free; a stackless goroutine's lives in its
// record or, for a select, in its coroutine frame (task.cpp).
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

#include "runtime/parker.hpp"

namespace go::detail {

struct chan_core;

struct waiter {
  parker* who = nullptr;
  waiter* next = nullptr;
  waiter* prev = nullptr;
  void* elem = nullptr;  // the value to send, or where to receive
  union {
    std::atomic<std::uint32_t>* select_done = nullptr;  // shared by the cases of one select
    chan_core* chan;                                    // lazy: the channel it is queued on, or was last
  };
  // A parker's persistent select waiter (`lazy`, select_cache.hpp) stays queued after its
  // select ends. Its word is its parker's sel_word; its tag is what that word becomes when
  // this waiter wins: the select's generation << 8 | its state. 0: not queued. A waker that
  // dequeues it sets the tag to 0 last (take_lazy), which hands the waiter back to its owner.
  std::atomic<std::uint32_t> tag{0};
  std::uint16_t case_index = 0;
  bool success = false;  // the operation happened (false: woken by close)
  bool lazy = false;
};
static_assert(sizeof(waiter) <= 48);

// What a select's winning waker writes to select_done (0 open, 1 closed by a done_waiter).
// A lazy select's word keeps its generation above the low byte (select.cpp).
constexpr std::uint32_t select_won(int case_index) noexcept { return static_cast<std::uint32_t>(case_index) + 2; }
constexpr std::uint32_t select_state_mask = 0xff;
constexpr std::uint32_t lazy_closed = 0x80;  // in a lazy select's word: woken by a close

// set_closed records that w, just dequeued, is woken by its channel's close. A lazy waiter's
// owner reads that from its word, the line its wake touches anyway (bench chan_popular).
inline void set_closed(waiter* w) noexcept {
  w->success = false;
  if (w->lazy) {  // the word is this waker's until the wake: the owner waits for it
    std::atomic<std::uint32_t>& word = w->who->sel_word;
    word.store(word.load(std::memory_order_relaxed) | lazy_closed, std::memory_order_relaxed);
  }
}

// take_lazy decides for a lazy waiter (select_cache.hpp) just unlinked by a waker that holds
// its queue's lock: true if the waker won its select, false if it was left by an earlier one.
// Either way the tag ends 0, which hands the waiter back to its owner; then nothing but a
// winner touches it or its owner. Until then the owner can neither withdraw it nor exit
// (both take this lock), but it can re-arm it (a compare-exchange of the tag, with its
// select's word open): a stale verdict is dropped if the tag moved since it was read.
inline bool take_lazy(waiter* w) noexcept {
  std::atomic<std::uint32_t>& word = w->who->sel_word;
  std::uint32_t t = w->tag.load(std::memory_order_acquire);
  for (;;) {
    std::uint32_t open = t & ~select_state_mask;  // its select's word while open
    // A word that is not `open` now never will be (generations only grow; select.cpp
    // withdraws every waiter before the wrap): a load, not a failing compare-exchange, tells
    // a waiter left by an earlier select (bench cb_bounded0_select_both_send). seq_cst, as a
    // done_waiter's flag (below).
    if (word.load(std::memory_order_relaxed) == open &&
        word.compare_exchange_strong(open, t, std::memory_order_seq_cst)) {
      w->tag.store(0, std::memory_order_relaxed);  // its owner touches it only once woken
      return true;
    }
    if (w->tag.compare_exchange_strong(t, 0, std::memory_order_acq_rel)) return false;
  }
}

// FIFO of waiters (Go's waitq). The owner's lock guards it; `head` is atomic only so that
// a lock-free fast path may peek at emptiness. The peek is a relaxed load, ordered with
// nothing: a fast path that must read it before another word fences (chan.cpp's recv).
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
      if (w->lazy && !take_lazy(w)) continue;
      if (!w->lazy && w->select_done) {
        std::uint32_t expected = 0;
        if (w->select_done->load(std::memory_order_relaxed) != 0) continue;  // won or closed: for good
        // seq_cst: a done_waiter's flag (done_waiter.cpp) pairs it with a load of `closed`.
        if (!w->select_done->compare_exchange_strong(expected, select_won(w->case_index), std::memory_order_seq_cst))
          continue;
      }
      return w;
    }
    return nullptr;
  }
};

}  // namespace go::detail
