// Timers: a 4-ary min-heap of pending timers per worker, as in Go (runtime/time.go), beside
// a queue of sleepers in deadline order; and the refcounted timer state behind go::timer,
// go::ticker, go::after and context deadlines.
//
// Heap invariants
// - A pending timer is in exactly one timer_heap, in its heap or (untracked only) its
//   sleepers queue; t->heap names the timer_heap and t->index is its heap slot (not
//   maintained for an untracked timer, which leaves only from the top). Both change only
//   under that heap's lock. Each slot caches the timer's `when`, so sifting
//   compares without touching the timers (Go 1.23's timerWhen).
// - The sleepers queue holds untracked timers in nondecreasing `when`: one whose deadline
//   is not before the queue's last goes there, any other to the heap. Sleeps of one
//   duration from one worker arrive in deadline order, so they cost O(1) with sequential
//   memory instead of a heap's O(log n) cache lines (bench sleep_100k: the heap's sifting
//   was a quarter of the run). The earliest timer is the earlier of the two fronts.
// - A timer's callback runs with no heap lock held, after the timer has left the heap
//   (t->heap is null again). It runs on a worker's scheduler stack: it must not block; it
//   may take short runtime locks, wake parkers, send without blocking and spawn goroutines.
// - `next_when` mirrors the heap's earliest deadline (INT64_MAX when empty) so idle workers
//   can compute how long to sleep without taking every lock. `size` mirrors the heap size.
// - add_timer reads t->when after it has published t, so whoever calls add_timer keeps t
//   alive (and its `when` unchanged) until add_timer returns, even if t fires at once.
//
// Timer state invariants (time.cpp has the protocol)
// - refs counts the references that keep a timer_state's memory: one per handle, one for
//   the heap while the node is in a heap, one per firing in flight (a callback running, or a
//   goroutine of after_func). handles counts only the go::timer / go::ticker handles.
// - `armed`, `period`, `delivered` and node.when (while the node is in no heap) are written
//   under mu, and node is pushed onto a heap only under mu. Lock order: mu, then a channel
//   lock, a heap lock or sched.lock. Nothing takes mu while holding a heap lock.
// - Stopping is lazy, as Go's deltimer: stop clears `armed` and leaves the node in its heap.
//   The node leaves when it comes due (its firing is then stale), when reset moves it, or
//   when a sweep takes it out; a heap sweeps once a quarter of it may be stopped or
//   unreachable timers, so such garbage stays bounded and stop is O(1).
// - Whoever takes the node out of a heap owns the heap's reference: run_expired (which hands
//   it to the callback), reset (remove_timer returned true), or a sweep (which hands it to
//   the callback too).
// - A firing delivers only if, under mu, the timer is armed and its node is in no heap: a
//   stop clears `armed`, a reset puts the node back in a heap, so a firing that lost the race
//   with either delivers nothing. Hence exactly one delivery per arming, and none after stop
//   or reset returns.
// - A chan timer's node enters a heap only once its channel exists (as Go 1.23 heaps a
//   channel timer only once someone waits on it): before that nobody can receive, so an
//   armed timer needs no firing; stop and reset just write under mu, and stop's answer
//   (true: armed, pending or fired unreceived) is the same. timer_chan, under mu, delivers
//   the due time at once if the deadline has passed, and heaps the node if still armed.
//   So a chan timer whose channel is never asked for is never in a heap, and its memory goes
//   with its last handle (bench timers_1m_start_stop).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstddef>
#include <memory>
#include <new>
#include <vector>

#include "go/time.hpp"
#include "runtime/lock.hpp"

namespace go::detail {

struct timer_heap;
struct chan_core;

struct timer {
  std::int64_t when = 0;  // nanotime() deadline
  void (*fire)(timer* t) = nullptr;
  void* arg = nullptr;
  std::atomic<timer_heap*> heap{nullptr};
  std::int32_t index = -1;  // its slot in `heap`; not kept up to date if untracked
  // Set before the push by a timer that leaves its heap only from the top, when it fires
  // (go::sleep's). Sifting then never writes to it: sleepers' timers live on their stacks,
  // a page each, and those writes miss the cache (docs/tuning.md, sleep_100k).
  bool untracked = false;
};

struct timer_heap {
  // A slot caches its timer's `when`, and marks an untracked timer (timer::untracked) in
  // the pointer's low bit, so that sifting writes no untracked timer's index.
  struct slot {
    std::int64_t when;
    std::uintptr_t bits;
    timer* t() const noexcept { return reinterpret_cast<timer*>(bits & ~std::uintptr_t{1}); }
    bool tracked() const noexcept { return (bits & 1) == 0; }
  };

  // The heap's array. Slot i lives at data[i + 3] of a 64-byte aligned block, so the four
  // children of slot i (4i+1 .. 4i+4) fill exactly one cache line: sift_down, which runs
  // for every timer that fires, reads one line per level instead of two.
  class slots {
   public:
    slots() = default;
    slots(const slots&) = delete;
    slots& operator=(const slots&) = delete;
    ~slots() { release(); }
    slot& operator[](std::size_t i) noexcept { return data_[i + pad]; }
    const slot& operator[](std::size_t i) const noexcept { return data_[i + pad]; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    void push_back(slot s) {
      if (size_ == cap_) grow();
      data_[pad + size_++] = s;
    }
    void pop_back() noexcept { --size_; }
    void resize(std::size_t n) noexcept { size_ = n; }  // shrinking only

   private:
    static constexpr std::size_t pad = 3;
    void grow() {
      std::size_t cap = cap_ ? 2 * cap_ : 61;  // 64 slots with the pad
      auto* d = static_cast<slot*>(::operator new((cap + pad) * sizeof(slot), std::align_val_t(64)));
      for (std::size_t i = 0; i < size_; ++i) d[pad + i] = data_[pad + i];
      release();
      data_ = d;
      cap_ = cap;
    }
    void release() noexcept {
      if (data_) ::operator delete(static_cast<void*>(data_), std::align_val_t(64));
    }
    slot* data_ = nullptr;
    std::size_t size_ = 0, cap_ = 0;
  };

  // A growable ring of slots in arrival order (the sleepers queue).
  class fifo {
   public:
    fifo() = default;
    fifo(const fifo&) = delete;
    fifo& operator=(const fifo&) = delete;
    ~fifo() { ::operator delete(data_); }
    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }
    const slot& front() const noexcept { return data_[head_]; }
    const slot& back() const noexcept { return data_[(head_ + size_ - 1) & (cap_ - 1)]; }
    void pop_front() noexcept {
      head_ = (head_ + 1) & (cap_ - 1);
      --size_;
    }
    void push_back(slot s) {
      if (size_ == cap_) grow();
      data_[(head_ + size_++) & (cap_ - 1)] = s;
    }

   private:
    void grow() {
      std::size_t cap = cap_ ? 2 * cap_ : 64;
      auto* d = static_cast<slot*>(::operator new(cap * sizeof(slot)));
      for (std::size_t i = 0; i < size_; ++i) d[i] = data_[(head_ + i) & (cap_ - 1)];
      ::operator delete(data_);
      data_ = d;
      cap_ = cap;
      head_ = 0;
    }
    slot* data_ = nullptr;
    std::size_t cap_ = 0, head_ = 0, size_ = 0;  // cap_ a power of two
  };

  runtime_lock lock{lock_rank::timers};
  slots heap;     // guarded by lock
  fifo sleepers;  // guarded by lock
  std::atomic<std::int64_t> next_when{INT64_MAX};
  std::atomic<std::size_t> size{0};
  // Since the last sweep: timers stopped in this heap, and channel timers left with no
  // handle while in it (both counted roughly: hints for maybe_sweep).
  std::atomic<std::size_t> garbage_hint{0};

  // Both under lock. erase finds t by its index: t must be tracked (not timer::untracked).
  void push(timer* t);
  void erase(timer* t) noexcept;

  // run_expired fires every timer due at `now`; returns how many fired.
  int run_expired(std::int64_t now) noexcept;
  bool try_run_expired(std::int64_t now) noexcept;  // skips if the lock is busy

  // sweep takes out the stopped timers and the channel timers nobody can receive from any
  // more, and drops them. Takes the lock; call without it.
  void sweep() noexcept;
  // maybe_sweep sweeps once a quarter of the heap may be garbage: each sweep costs O(n) and
  // follows n/4 stops or orphanings, so O(1) amortized; a heap of live timers is never
  // scanned.
  void maybe_sweep() noexcept {
    std::size_t n = size.load(std::memory_order_relaxed);
    if (n >= 64 && 4 * garbage_hint.load(std::memory_order_relaxed) >= n) sweep();
  }

 private:
  std::int64_t earliest() const noexcept {
    std::int64_t h = heap.empty() ? INT64_MAX : heap[0].when;
    std::int64_t s = sleepers.empty() ? INT64_MAX : sleepers.front().when;
    return h < s ? h : s;
  }
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;
  void erase_at(std::size_t i) noexcept;
  void place(std::size_t i, slot s) noexcept {
    heap[i] = s;
    if (s.tracked()) s.t()->index = static_cast<std::int32_t>(i);
  }
  void publish() noexcept {
    size.store(heap.size() + sleepers.size(), std::memory_order_relaxed);
    // The store is the heap's half of the timer-waiter protocol (scheduler/idle.cpp); it matters
    // only when the earliest deadline changes, and skipping it otherwise saves a fence on
    // every push of a later timer and every erase of a non-minimal one.
    std::int64_t when = earliest();
    if (next_when.load(std::memory_order_relaxed) != when) next_when.store(when, std::memory_order_seq_cst);
  }
};

enum class timer_kind : std::uint8_t {
  chan,      // sends the time on c (go::timer, go::ticker, go::after, go::tick)
  func,      // runs func in a new goroutine (go::after_func)
  callback,  // calls callback(callback_arg) on the firing worker, under mu (runtime use)
};

struct timer_state {
  timer node;  // node.arg == this
  runtime_lock mu{lock_rank::timer};
  std::atomic<std::int32_t> refs{1};
  std::atomic<std::int32_t> handles{1};
  timer_kind kind = timer_kind::chan;
  std::atomic<bool> armed{false};  // written under mu; a sweep reads it as a hint
  bool delivered = false;          // guarded by mu: a value was sent since the last drain
  std::int64_t period = 0;         // guarded by mu; > 0 for a ticker
  // The channel of a chan timer, made on first use (timer_chan): `ch` is set once under mu
  // and then published in `c`. The node enters a heap only then (see the invariants).
  chan<steady_clock::time_point> ch;
  std::atomic<chan_core*> c{nullptr};
  std::unique_ptr<boxed_func> func;
  void (*callback)(void*) noexcept = nullptr;
  void* callback_arg = nullptr;
  timer_state* sweep_next = nullptr;  // a sweep's list of nodes it took out
};

// timer_chan_ops are the elem_ops of every timer and ticker channel: those of
// steady_clock::time_point, in an object of their own, by which chan_len and chan_cap
// recognise such a channel and report 0, as Go 1.23 does for a synchronous timer channel
// (len(t.C) and cap(t.C) are always 0). The channel keeps its one-value buffer: it is what
// holds a due value until it is received or a stop or reset drains it.
extern const elem_ops timer_chan_ops;

// timer_new_callback makes an armed timer that calls cb(arg) at `when`, on a worker's
// scheduler stack with the timer's lock held; cb must be short and must not block. The
// state holds one handle reference: the owner calls timer_stop and timer_release_handle. After timer_stop returns, cb is not running and will not run.
timer_state* timer_new_callback(std::int64_t when, void (*cb)(void*) noexcept, void* arg);

}  // namespace go::detail
