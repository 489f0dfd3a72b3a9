// The runtime's own mutex (Go's runtime.mutex, lock_futex.go): a word that is 0 (unlocked),
// 1 (locked) or 2 (locked, maybe with sleepers). Lock spins twice, then sleeps on a futex.
// It is held only for short critical sections inside the runtime and never across a park,
// except that park() may release it after the goroutine is off its stack (park's unlock).
//
// It blocks the thread, so it is only for the runtime's internal state (channel, wait queue,
// run queue), where holders never block; user-level mutual exclusion is go::mutex.
#pragma once

#include <sched.h>

#include <atomic>
#include <cstdint>

#include "platform/futex.hpp"
#include "runtime/lock_rank.hpp"

namespace go::detail {

// Spinning barely: a spinner's loads pull the lock's cache line away from the holder, which
// on a channel shared by two busy workers is usually about to take the lock again; never
// spinning is slower with several senders on one channel (docs/tuning.md, lock_spins).
constexpr int lock_spins = 2;

// Taking the lock is a seq_cst read-modify-write (on x86 the same instruction as acquire):
// closing a channel without its lock relies on it (chan_close_begin, chan.hpp).
inline void lock_slow(std::atomic<std::uint32_t>& word) noexcept {
  for (int spin = 0; spin < lock_spins; ++spin) {
    std::uint32_t c = word.load(std::memory_order_relaxed);
    if (c == 0 && word.compare_exchange_weak(c, 1, std::memory_order_seq_cst, std::memory_order_relaxed)) return;
    platform::cpu_relax();
  }
  while (word.exchange(2, std::memory_order_seq_cst) != 0) platform::futex_wait(&word, 2);
}

inline void lock(std::atomic<std::uint32_t>& word) noexcept {
  std::uint32_t c = 0;
  if (!word.compare_exchange_strong(c, 1, std::memory_order_seq_cst, std::memory_order_relaxed)) lock_slow(word);
}

inline bool try_lock(std::atomic<std::uint32_t>& word) noexcept {
  std::uint32_t c = 0;
  return word.compare_exchange_strong(c, 1, std::memory_order_acquire);
}

inline void unlock(std::atomic<std::uint32_t>& word) noexcept {
  if (word.exchange(0, std::memory_order_release) == 2) platform::futex_wake(&word, 1);
}

// unlock_word is park's unlock callback (include/go/detail/park.hpp) for a lock word passed
// as its argument: the parked goroutine's lock is released once it is off its stack.
inline void unlock_word(void* word) noexcept { unlock(*static_cast<std::atomic<std::uint32_t>*>(word)); }

// The channels' lock (spin_lock, spin_unlock): the same word without sleepers, 0 or 1.
// Unlock is a plain store (release) where unlock above needs an exchange to find sleepers,
// which saves one of the two locked instructions of every channel operation that locks
// (docs/tuning.md, spin_unlock). A waiter never
// sleeps on the word: it spins lock_spins times, then gives its CPU away (sched_yield)
// between tries. That suits a channel, whose holders run a few hundred instructions and
// never block; its goroutines wait in its queues, never on its lock.
inline void spin_lock_slow(std::atomic<std::uint32_t>& word) noexcept {
  for (int spin = 0;; ++spin) {
    if (spin < lock_spins) platform::cpu_relax();
    else sched_yield();
    std::uint32_t c = word.load(std::memory_order_relaxed);
    if (c == 0 && word.compare_exchange_weak(c, 1, std::memory_order_seq_cst, std::memory_order_relaxed)) return;
  }
}

inline void spin_lock(std::atomic<std::uint32_t>& word) noexcept {
  std::uint32_t c = 0;
  if (!word.compare_exchange_strong(c, 1, std::memory_order_seq_cst, std::memory_order_relaxed)) spin_lock_slow(word);
}

inline void spin_unlock(std::atomic<std::uint32_t>& word) noexcept { word.store(0, std::memory_order_release); }

// runtime_lock wraps the word for std::lock_guard, with its place in the lock order
// (lock_rank.hpp; checked in the sanitizer builds).
class runtime_lock {
 public:
  constexpr explicit runtime_lock(lock_rank rank = lock_rank::leaf) noexcept : rank_(rank) {}
  void lock() noexcept {
    lock_rank_acquire(rank_, this);
    detail::lock(word_);
  }
  bool try_lock() noexcept {
    if (!detail::try_lock(word_)) return false;
    lock_rank_acquire(rank_, this, false);
    return true;
  }
  void unlock() noexcept {
    lock_rank_release(rank_, this);
    detail::unlock(word_);
  }

 private:
  std::atomic<std::uint32_t> word_{0};
  lock_rank rank_;
};

}  // namespace go::detail
