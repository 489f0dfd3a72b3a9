// Walking a parked goroutine's stack (unwind.cpp has how, and why it is safe while the
// goroutine may resume).
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

namespace go::detail {

struct goroutine;

// The goroutine whose stack parked_frames is reading, if any (unwind.cpp has the protocol).
extern std::atomic<goroutine*> stack_being_read;
void wait_stack_read(goroutine* g) noexcept;

// before_resume is called by the worker about to switch to g, after it has marked g running
// and before g's stack is used: it waits while parked_frames reads that stack. Off a
// profile or dump, one load of a global that nobody writes, and a branch (bench chan_sync).
inline void before_resume(goroutine* g) noexcept {
  std::atomic_signal_fence(std::memory_order_seq_cst);  // the membarrier orders the rest
  if (__builtin_expect(stack_being_read.load(std::memory_order_acquire) == g, 0)) wait_stack_read(g);
}

// parked_frames returns the return addresses on the stack of g, which is parked (or was a
// moment ago), innermost first; empty if it has no saved context or is no longer parked.
// g cannot resume while its stack is read (before_resume).
std::vector<std::uintptr_t> parked_frames(goroutine* g);

}  // namespace go::detail
