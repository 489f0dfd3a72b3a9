// The runtime's one random generator (Go's cheaprand, runtime/rand.go): wyrand, an add, a
// 64x64->128 multiply and an xor per draw. Fast and well spread, not for secrets. Each user
// keeps its own state word: a thread's (fastrand in select.cpp, declared in go/runtime.hpp:
// select's choice among ready cases, go::retry's jitter), a worker's for where it starts
// stealing (worker.cpp), a synctest bubble's for its seeded schedule (bubble.cpp). Any state
// is valid, zero included.
#pragma once

#include <cstdint>

namespace go::detail {

inline std::uint64_t cheaprand(std::uint64_t& s) noexcept {
  s += 0xa0761d6478bd642full;
  unsigned __int128 t = static_cast<unsigned __int128>(s) * (s ^ 0xe7037ed1a0b428dbull);
  return static_cast<std::uint64_t>(t >> 64) ^ static_cast<std::uint64_t>(t);
}

// cheaprandn maps the high 32 bits of r to an index below n by multiply-shift (Go's
// cheaprandn): uniform up to n / 2^32, with no division.
inline int cheaprandn(std::uint64_t r, int n) noexcept {
  return static_cast<int>(((r >> 32) * static_cast<std::uint32_t>(n)) >> 32);
}

}  // namespace go::detail
