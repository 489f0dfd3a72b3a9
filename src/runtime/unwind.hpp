// Walking a parked goroutine's stack (unwind.cpp has how, and why it is safe while the
// goroutine may resume).
#pragma once

#include <cstdint>
#include <vector>

namespace go::detail {

struct goroutine;

// parked_frames returns the return addresses on the stack of g, which is parked (or was a
// moment ago), innermost first; empty if it has no saved context.
std::vector<std::uintptr_t> parked_frames(goroutine* g);

}  // namespace go::detail
