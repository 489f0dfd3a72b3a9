// The netpoller's side of the scheduler (Go's netpoll.go interface: netpollinit, netpoll,
// netpollBreak, netpollAnyWaiters).
//
// The poller (netpoll.cpp, epoll) registers itself on first use; a program that never does
// I/O through the runtime pays nothing. The scheduler calls it:
// - without blocking, from a worker that found nothing in its queues, before it steals;
// - blocking until the earliest timer, from the idle worker that waits for timers, instead of
//   its futex, so a ready fd wakes a goroutine with no extra thread in between;
// - without blocking, from sysmon when nobody polled for force_handoff_ns (all workers busy).
// A worker that must wake the one blocked in the poller calls interrupt().
#pragma once

#include <atomic>
#include <cstdint>

namespace go::detail {

struct netpoller {
  // Wakes (go::detail::wake) every parker whose I/O is ready and returns how many it woke.
  // delay_ns < 0 blocks until an event or interrupt(); 0 does not block; > 0 blocks at most
  // that long. Called by one thread at a time (the scheduler serializes it).
  int (*poll)(std::int64_t delay_ns) noexcept;
  // Makes a poll blocked in another thread return soon. Safe from any thread.
  void (*interrupt)() noexcept;
};

// Called once by the poller when it starts; p lives forever.
void netpoll_register(const netpoller* p) noexcept;

// Parkers blocked waiting for I/O readiness. The poller adds one before a parker parks and
// removes it when it wakes it (or the wait ends otherwise). While it is above zero the
// scheduler polls, and an idle program is not deadlocked (a peer may still write).
extern std::atomic<int> netpoll_waiters;

// The poller calls it when netpoll_waiters goes from 0 to 1: an idle worker then moves from
// its futex into the poller (the timer waiter, or one that becomes it).
void netpoll_first_waiter() noexcept;

}  // namespace go::detail
