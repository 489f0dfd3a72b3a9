// parker: what can block. A goroutine (scheduler.hpp) or a plain thread (park.cpp); park.cpp
// has the park and wake protocol.
#pragma once

#include <atomic>
#include <cstdint>

#include "go/detail/park.hpp"

namespace go::detail {

// What can wait: a goroutine with a stack, a plain thread, or a stackless goroutine (a
// goroutine record whose code is a C++20 coroutine, runtime/task.cpp). Wakes treat the two
// goroutine kinds alike; only resuming and parking differ.
enum class parker_kind : std::uint8_t { goroutine, thread, coroutine };

// park_state of a goroutine (see park.cpp for the protocol).
enum : std::uint32_t { park_running = 0, park_parked = 1, park_notified = 2, park_runnable = 3, park_dead = 4 };

// listed(field): a record's identity field (its kind, and a goroutine's id, parent, spawn
// site and bubble), as a dump or profile that lists every record reads it and as a reuse of
// the record writes it. The record's own code reads these after the synchronization that
// handed the record over; a listing has no such order with a reuse, so both go through
// relaxed atomics (plain moves on x86-64 and arm64).
template <class T>
std::atomic_ref<T> listed(T& field) noexcept {
  return std::atomic_ref<T>(field);
}

struct parker {
  parker_kind kind;
  // goroutine: park_running/parked/notified/runnable; thread: 0 = no token, 1 = token.
  std::atomic<std::uint32_t> state{0};
  // The word of its selects with persistent waiters (select_cache.hpp), here in the line
  // that a wake and a resume touch anyway.
  std::atomic<std::uint32_t> sel_word{0};
  explicit parker(parker_kind k) noexcept : kind(k) {}
};

}  // namespace go::detail
