// go::rw_mutex (Go's sync.RWMutex, sync/rwmutex.go), built on go::mutex and two sema.
//
// reader_count_ is the number of readers holding or waiting for the read lock. A writer
// first takes writer_ (so writers queue among themselves), then subtracts max_readers from
// reader_count_: from then on the count is negative, which tells arriving readers to wait
// on reader_sem_, and the value the writer saw is the number r of readers still inside.
// The writer adds r to reader_wait_ and, unless that made it zero, waits on writer_sem_;
// each reader that leaves while the count is negative decrements reader_wait_, and the one
// that brings it to zero releases writer_sem_. (reader_wait_ may dip below zero when a
// reader leaves before the writer has added r; the sum still reaches zero exactly once.)
// unlock adds max_readers back, which lets new readers through, releases reader_sem_ once
// for each reader that queued meanwhile (exactly the count it sees), then unlocks writer_.
//
// A stackless goroutine's lock and r_lock (go/task.hpp's async_lock, async_rlock) are the
// same steps, with writer_'s and the semaphores' awaitable forms where these block.
//
// Memory order: every transfer of the lock is an RMW on reader_count_ or reader_wait_ (a
// release sequence) or a sema release/acquire, so each holder's writes happen before the
// next holder's reads, as Go's memory model requires.
#include "go/sync.hpp"
#include "go/task.hpp"

namespace go {

using namespace detail;

bool rw_mutex::announce_writer() noexcept {
  // r is the number of readers inside.
  std::int32_t r = reader_count_.fetch_sub(max_readers, std::memory_order_acq_rel);
  return r != 0 && reader_wait_.fetch_add(r, std::memory_order_acq_rel) + r != 0;
}

void rw_mutex::lock(const source_location& site) noexcept {
  if (!writer_.lock_fast()) writer_.lock_slow(wait_reason::rw_mutex_lock, site);
  if (announce_writer()) semacquire(writer_sem_, false, wait_reason::rw_mutex_lock, site);
}

go::task<void> rw_mutex::lock_slow_async(bool writer_held, source_location site) {
  if (!writer_held) {
    co_await writer_.lock_slow_async(wait_reason::rw_mutex_lock, site);
    if (!announce_writer()) co_return;
  }
  co_await semacquire_async(writer_sem_, false, wait_reason::rw_mutex_lock, site);
}

bool rw_mutex::try_lock() noexcept {
  if (!writer_.try_lock()) return false;
  std::int32_t none = 0;
  if (!reader_count_.compare_exchange_strong(none, -max_readers, std::memory_order_acquire,
                                             std::memory_order_relaxed)) {
    writer_.unlock();
    return false;
  }
  return true;
}

void rw_mutex::unlock() noexcept {
  // Announce to readers there is no active writer.
  std::int32_t r = reader_count_.fetch_add(max_readers, std::memory_order_release) + max_readers;
  if (r >= max_readers) sync_fatal("sync: Unlock of unlocked RWMutex");
  // Unblock the readers that queued behind this writer.
  for (std::int32_t i = 0; i < r; ++i) semrelease(reader_sem_, false);
  writer_.unlock();
}

bool rw_mutex::try_r_lock() noexcept {
  std::int32_t c = reader_count_.load(std::memory_order_relaxed);
  while (c >= 0) {
    if (reader_count_.compare_exchange_weak(c, c + 1, std::memory_order_acquire, std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

void rw_mutex::r_unlock_slow(std::int32_t r) noexcept {
  // r + 1 is the count before this r_unlock: 0 (no readers, no writer) or -max_readers
  // (a writer and no readers) means there was no read lock to release.
  if (r + 1 == 0 || r + 1 == -max_readers) sync_fatal("sync: RUnlock of unlocked RWMutex");
  // A writer is pending: the last departing reader unblocks it.
  if (reader_wait_.fetch_sub(1, std::memory_order_acq_rel) - 1 == 0) semrelease(writer_sem_, false);
}

}  // namespace go
