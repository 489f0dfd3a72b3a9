// Lock ranks (Go's lockrank.go): the order in which the runtime's locks may be taken, as
// docs/runtime.md's "Lock order" table gives it, and a check of that order in the builds
// that define GOCXX_LOCK_RANK (the CMake option: on in Debug and sanitizer builds).
//
// A thread that holds a lock of rank r takes only locks of a higher rank, or of the same
// rank where the rank allows several (a context's parent then child; a select's channels,
// by address). A lock that is none of these, or is taken out of order, ends the process
// with both locks' names: a deadlock that needs two threads to happen is found by one.
// Locks on a park's unlock path are released on the scheduler stack of the same thread,
// so the record of what a thread holds is per thread: a count per rank.
//
// Ranked: every runtime_lock (lock.hpp) by the rank it is declared with, and the channels'
// locks (chan.hpp's chan_lock). The leaf locks held as raw words (the parking semaphore's,
// go::cond's, go::wait_group's, go::semaphore's) take nothing while held and are not
// recorded.
#pragma once

#include <cstdint>

namespace go::detail {

enum class lock_rank : std::uint8_t {
  context = 1,    // a context node's mu (parent before child)
  timer = 3,      // a timer state's mu
  poll_desc = 4,  // a poll descriptor's lock
  bubble = 5,     // a synctest bubble's done lock
  chan = 6,       // channel locks (several: a select's, by address)
  sched = 7,      // sched().lock
  timers = 8,     // a worker's timer heap
  inbox = 9,      // a worker's or a bubble's inbox
  leaf = 10,      // takes nothing: the poller's descriptor cache, the goroutine record cache
};

// lock_rank_acquire records that the thread takes `lock` of rank r, checking the order
// first unless `check` is false (a try-lock, which cannot wait); lock_rank_release forgets it.
#ifdef GOCXX_LOCK_RANK
void lock_rank_acquire(lock_rank r, const void* lock, bool check = true) noexcept;
void lock_rank_release(lock_rank r, const void* lock) noexcept;
#else
inline void lock_rank_acquire(lock_rank, const void*, bool = true) noexcept {}
inline void lock_rank_release(lock_rank, const void*) noexcept {}
#endif

}  // namespace go::detail
