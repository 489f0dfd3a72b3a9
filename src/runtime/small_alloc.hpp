// The small-object pool: stackless goroutines' frames (go/task.hpp's frame_alloc) and
// channels' blocks (chan.cpp) come from it, cache-line aligned without glibc's memalign,
// which splits and frees a chunk for every aligned allocation.
//
// Blocks are rounded up to a class of small_align multiples, up to small_max bytes; larger
// ones come from operator new. Every block is aligned to small_align. small_free must be
// given the size that small_alloc was. Any thread may free a block that another allocated.
#pragma once

#include <cstddef>

namespace go::detail {

inline constexpr std::size_t small_align = 64;
inline constexpr std::size_t small_max = 1024;

// small_alloc returns a block of at least `bytes`, aligned to small_align; throws
// std::bad_alloc.
void* small_alloc(std::size_t bytes);
void small_free(void* p, std::size_t bytes) noexcept;

}  // namespace go::detail
