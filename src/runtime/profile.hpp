// The profiling hooks in the runtime's blocking paths (pprof.cpp owns the profiles), and in
// the life of a worker thread (cpuprof.cpp's per-thread timers).
//
// Off (both rates 0, the default) a hook is one relaxed load of a global and a branch that
// is not taken: park_with's (bench chan_sync, chan_pingpong) and semacquire's. On, the park
// of a profiled wait reads the clock before and after the switch; an event that is sampled
// walks the caller's stack and adds it to its profile's table under that table's lock.
#pragma once

#include <atomic>
#include <cstdint>

#include "go/detail/park.hpp"

namespace go::detail {

extern std::atomic<std::int64_t> block_profile_rate;  // ns; 0: off
extern std::atomic<int> mutex_profile_rate;           // 1 in rate events; 0: off

std::int64_t block_start_slow(wait_reason r) noexcept;
void record_block(std::int64_t start) noexcept;
std::int64_t mutex_start_slow(wait_reason r) noexcept;
void record_mutex(std::int64_t since) noexcept;

// A stackless goroutine's wait (task.cpp): its stack, the coroutines' frames on its worker's
// stack, exists only while it suspends, so block_suspend_slow takes it then, with the time,
// into an event that block_resumed records once it runs again (and frees). nullptr: not
// profiled.
struct suspended_block;
suspended_block* block_suspend_slow(wait_reason r) noexcept;
void block_resumed(suspended_block* e) noexcept;
inline suspended_block* block_suspend(wait_reason r) noexcept {
  if (__builtin_expect(block_profile_rate.load(std::memory_order_relaxed) == 0, 1)) return nullptr;
  return block_suspend_slow(r);
}

// cpu_profile_thread_start registers the calling thread, worker w's, for a CPU-profile timer
// of its own (armed at once if a profile runs); cpu_profile_thread_exit disarms it and
// unregisters the thread, which must be w's and about to end.
struct worker;
void cpu_profile_thread_start(worker* w) noexcept;
void cpu_profile_thread_exit(worker* w) noexcept;

// block_start returns the time a park for `r` starts if the block profile is on and counts
// such waits, else 0; a park that got one calls record_block(start) once it resumes.
inline std::int64_t block_start(wait_reason r) noexcept {
  if (__builtin_expect(block_profile_rate.load(std::memory_order_relaxed) == 0, 1)) return 0;
  return block_start_slow(r);
}

// mutex_start returns the time a lock's waiter starts waiting if the mutex profile is on and
// `r` is a lock's wait, else 0; the unlock that wakes it calls record_mutex(since).
inline std::int64_t mutex_start(wait_reason r) noexcept {
  if (__builtin_expect(mutex_profile_rate.load(std::memory_order_relaxed) == 0, 1)) return 0;
  return mutex_start_slow(r);
}

}  // namespace go::detail
