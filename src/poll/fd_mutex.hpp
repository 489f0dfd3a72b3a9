// fd_mutex: the lifetime of a file descriptor and the serialization of its readers and of its
// writers, in one word (Go's internal/poll/fd_mutex.go).
//
// state: closed (bit 0) | read lock (bit 1) | write lock (bit 2) | references (20 bits from
// bit 3) | read waiters (20 bits from bit 23) | write waiters (20 bits from bit 43).
// - A read holds the read lock and a reference, a write the write lock and a reference, any
//   other operation (a deadline, an option, close itself) a reference only. So one read and
//   one write run at a time (one waiter per direction on the poll descriptor), and the fd
//   number is not closed, hence not reused, while any operation may still use it.
// - incref_and_close sets closed: every later lock fails. It wakes the queued lockers, which
//   then fail too. The fd is closed by whoever drops the last reference (decref or
//   rw_unlock return true).
// - A locker that finds its lock taken counts itself a waiter and sleeps on the direction's
//   semaphore; unlock releases the semaphore once if there are waiters.
#pragma once

#include <atomic>
#include <cstdint>

#include "go/sync.hpp"
#include "runtime/scheduler.hpp"

namespace go::detail {

class fd_mutex {
 public:
  // incref adds a reference; false if closed.
  bool incref() noexcept {
    std::uint64_t old = state_.load(std::memory_order_relaxed);
    for (;;) {
      if (old & closed) return false;
      std::uint64_t next = old + ref;
      if ((next & ref_mask) == 0) fatal(overflow_msg);
      if (state_.compare_exchange_weak(old, next, std::memory_order_acq_rel)) return true;
    }
  }

  // incref_and_close sets closed and adds a reference; false if already closed.
  bool incref_and_close(sema& rsema, sema& wsema) noexcept {
    std::uint64_t old = state_.load(std::memory_order_relaxed);
    for (;;) {
      if (old & closed) return false;
      std::uint64_t next = (old | closed) + ref;
      if ((next & ref_mask) == 0) fatal(overflow_msg);
      next &= ~(rwait_mask | wwait_mask);
      if (state_.compare_exchange_weak(old, next, std::memory_order_acq_rel)) break;
    }
    for (std::uint64_t n = (old & rwait_mask) / rwait; n > 0; --n) semrelease(rsema, false);
    for (std::uint64_t n = (old & wwait_mask) / wwait; n > 0; --n) semrelease(wsema, false);
    return true;
  }

  // decref drops a reference; true if it was the last of a closed fd (the caller closes it).
  bool decref() noexcept {
    std::uint64_t old = state_.load(std::memory_order_relaxed);
    for (;;) {
      if ((old & ref_mask) == 0) fatal("inconsistent poll.fdMutex");
      std::uint64_t next = old - ref;
      if (state_.compare_exchange_weak(old, next, std::memory_order_acq_rel))
        return (next & (closed | ref_mask)) == closed;
    }
  }

  // rw_lock takes the read (read = true) or write lock and a reference; false if closed. It
  // waits in line on s (FIFO) while the lock is held.
  bool rw_lock(bool read, sema& s) noexcept {
    for (;;) {
      switch (rw_lock_step(read)) {
        case lock_taken: return true;
        case lock_closed: return false;
        case lock_queued: semacquire(s, false, wait_reason::semacquire, source_location::current()); break;
      }
    }
  }

  // rw_lock_step is one round of rw_lock, for a caller that sleeps on the semaphore in its
  // own way (a stackless goroutine, fd_async.cpp): lock_taken (the lock and a reference),
  // lock_closed, or lock_queued: the lock is held and the caller now counts as one of its
  // waiters, so it must acquire the direction's semaphore once (rw_unlock or close releases
  // it) and then take another round. A caller that gives up instead leaves one permit in the
  // semaphore, which costs the next waiter one extra round and nothing else.
  enum lock_step_result { lock_taken, lock_closed, lock_queued };
  lock_step_result rw_lock_step(bool read) noexcept {
    const std::uint64_t bit = read ? rlock : wlock, wait = read ? rwait : wwait, mask = read ? rwait_mask : wwait_mask;
    std::uint64_t old = state_.load(std::memory_order_relaxed);
    for (;;) {
      if (old & closed) return lock_closed;
      std::uint64_t next;
      if ((old & bit) == 0) {
        next = (old | bit) + ref;
        if ((next & ref_mask) == 0) fatal(overflow_msg);
      } else {
        next = old + wait;
        if ((next & mask) == 0) fatal(overflow_msg);
      }
      if (state_.compare_exchange_weak(old, next, std::memory_order_acq_rel)) {
        return (old & bit) == 0 ? lock_taken : lock_queued;
      }
    }
  }

  // rw_unlock releases the lock and its reference; true as decref.
  bool rw_unlock(bool read, sema& s) noexcept {
    const std::uint64_t bit = read ? rlock : wlock, wait = read ? rwait : wwait, mask = read ? rwait_mask : wwait_mask;
    std::uint64_t old = state_.load(std::memory_order_relaxed);
    for (;;) {
      if ((old & bit) == 0 || (old & ref_mask) == 0) fatal("inconsistent poll.fdMutex");
      std::uint64_t next = (old & ~bit) - ref;
      if (old & mask) next -= wait;
      if (state_.compare_exchange_weak(old, next, std::memory_order_acq_rel)) {
        if (old & mask) semrelease(s, false);
        return (next & (closed | ref_mask)) == closed;
      }
    }
  }

 private:
  static constexpr std::uint64_t closed = 1, rlock = 2, wlock = 4, ref = 8;
  static constexpr std::uint64_t ref_mask = ((std::uint64_t{1} << 20) - 1) << 3;
  static constexpr std::uint64_t rwait = std::uint64_t{1} << 23, rwait_mask = ((std::uint64_t{1} << 20) - 1) << 23;
  static constexpr std::uint64_t wwait = std::uint64_t{1} << 43, wwait_mask = ((std::uint64_t{1} << 20) - 1) << 43;
  static constexpr const char* overflow_msg = "too many concurrent operations on a single file or socket (max 1048575)";

  std::atomic<std::uint64_t> state_{0};
};

}  // namespace go::detail
