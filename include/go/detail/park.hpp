// The one park/wake primitive every blocking operation of gocxx is built on.
//
// A parker is the thing that waits: a goroutine (parked by switching to its worker's
// scheduler), a plain OS thread (parked on a futex), or a stackless goroutine (a C++20
// coroutine that parks by suspending at a co_await, go/task.hpp; runtime/task.cpp has its
// side of this contract). Channels, sync, timers and the netpoller never see the difference.
//
// Contract (runtime/park.cpp owns the implementation and its proof):
// - park() blocks the calling parker until one wake() targets it. A wake that arrives
//   before the park completes (even before park is called) is not lost: park then
//   returns at once. Exactly one wake per park; a second concurrent wake is a bug the
//   caller's wait queue must rule out (it dequeues the waiter under its lock).
// - park(reason, site, unlock, arg) calls unlock(arg) once the parker can no longer
//   run on its old stack frame (a goroutine: on the scheduler stack, after the switch),
//   so a waker that finds the waiter under that lock never wakes a running goroutine.
// - park_sole is park for the common wait: unlock releases the one lock under which every
//   waker finds the waiter (it dequeues the waiter holding it), or several such locks,
//   and unlock reads nothing on the parker's stack after its first release. park_sole
//   relies on that to save a locked instruction.
// - wake() may be called from any thread, goroutine or not, and never blocks.
#pragma once

#include <cstdint>
#include "go/detail/source_location.hpp"

namespace go::detail {

// Why a goroutine is blocked, in the words of Go's runtime (runtime/runtime2.go).
enum class wait_reason : std::uint8_t {
  none,
  chan_receive,
  chan_send,
  chan_receive_nil,  // "chan receive (nil chan)"
  chan_send_nil,     // "chan send (nil chan)"
  select,
  select_no_cases,  // "select (no cases)"
  sleep,
  mutex_lock,       // "sync.Mutex.Lock"
  rw_mutex_rlock,   // "sync.RWMutex.RLock"
  rw_mutex_lock,    // "sync.RWMutex.Lock"
  wait_group_wait,  // "sync.WaitGroup.Wait"
  cond_wait,        // "sync.Cond.Wait"
  semacquire,
  io_wait,        // "IO wait"
  syscall,        // inside go::blocking: "syscall" (the goroutine runs; its state says so)
  main_wait,      // the thread inside go::run waiting for main to return
  synctest_run,   // "synctest.Run": waiting for a bubble to finish
  synctest_wait,  // "synctest.Wait"
};

const char* to_string(wait_reason r) noexcept;

struct parker;  // opaque: a goroutine or a thread

// The parker of the caller: its goroutine, or the calling thread's own parker.
parker* current_parker() noexcept;

void park(wait_reason reason, const detail::source_location& site, void (*unlock)(void*) = nullptr,
          void* arg = nullptr) noexcept;

void park_sole(wait_reason reason, const detail::source_location& site, void (*unlock)(void*), void* arg) noexcept;

void wake(parker* p) noexcept;

}  // namespace go::detail
