// The execution trace's hooks in the scheduler (trace.cpp owns the buffers and the writer).
//
// Each hook is one relaxed load of `tracing` and a branch that is not taken while no trace
// runs (bench chan_sync, chan_pingpong, spawn_join guard the scheduler's paths); on, it
// appends an event to the calling thread's buffer.
#pragma once

#include <atomic>
#include <cstdint>

#include "go/detail/park.hpp"

namespace go::detail {

struct goroutine;
struct worker;

enum class trace_kind : std::uint8_t {
  go_create,     // g created (arg: its parent's id)
  go_start,      // g starts running on this worker
  go_stop,       // g switches out (arg: its switch_action); recorded as one of the next three
  go_block,      // g parks (its reason and wait site)
  go_yield,      // g yields
  go_exit,       // g returns
  go_unblock,    // g is woken by this thread
  worker_idle,   // this worker goes to sleep without work
  worker_wake,   // and wakes
  slot_handoff,  // a worker's slot goes to another worker (arg: worker id << 32 | slot)
};

extern std::atomic<bool> tracing;

void trace_event_slow(trace_kind kind, goroutine* g, std::uint64_t arg) noexcept;

inline void trace_event(trace_kind kind, goroutine* g, std::uint64_t arg = 0) noexcept {
  if (__builtin_expect(tracing.load(std::memory_order_relaxed), 0)) trace_event_slow(kind, g, arg);
}

}  // namespace go::detail
