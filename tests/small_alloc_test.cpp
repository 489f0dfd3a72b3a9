// The small-object pool (src/runtime/small_alloc.hpp): alignment, reuse, and blocks freed on
// a thread other than the one that allocated them.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include "platform/sanitizer.hpp"
#include "runtime/small_alloc.hpp"

namespace go::detail {
namespace {

bool aligned(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % small_align == 0; }

TEST(SmallAlloc, EveryBlockIsAlignedAndHoldsWhatWasAskedFor) {
  std::vector<std::pair<void*, std::size_t>> blocks;
  for (std::size_t bytes = 1; bytes <= small_max + 3 * small_align; bytes += 7) {
    void* p = small_alloc(bytes);
    EXPECT_TRUE(aligned(p)) << bytes;
    std::memset(p, static_cast<int>(bytes & 0xff), bytes);  // ASan reports a block too short
    blocks.emplace_back(p, bytes);
  }
  for (auto [p, bytes] : blocks) {
    auto* b = static_cast<unsigned char*>(p);
    EXPECT_EQ(b[0], bytes & 0xff);
    EXPECT_EQ(b[bytes - 1], bytes & 0xff);  // no two blocks overlap
    small_free(p, bytes);
  }
}

TEST(SmallAlloc, AFreedBlockIsTheNextOneOfItsClass) {
  if (platform::asan) GTEST_SKIP() << "under AddressSanitizer every block comes from operator new";
  void* a = small_alloc(200);
  small_free(a, 200);
  void* b = small_alloc(250);  // the same class of small_align multiples
  EXPECT_EQ(a, b);
  small_free(b, 250);
  void* big = small_alloc(small_max + 1);  // beyond the pool: operator new's, and back to it
  EXPECT_TRUE(aligned(big));
  small_free(big, small_max + 1);
}

TEST(SmallAlloc, BlocksFreedOnAnotherThreadAreReusedThere) {
  if (platform::asan) GTEST_SKIP() << "under AddressSanitizer every block comes from operator new";
  constexpr int n = 2000;  // more than a thread caches: some go through the shared pool
  std::vector<void*> made(n);
  for (void*& p : made) {
    p = small_alloc(96);
    std::memset(p, 0xab, 96);
  }
  std::set<void*> theirs(made.begin(), made.end());
  std::vector<void*> again;
  std::thread([&] {
    for (void* p : made) small_free(p, 96);
    for (int i = 0; i < n; ++i) again.push_back(small_alloc(128));
  }).join();
  int reused = 0;
  for (void* p : again) reused += theirs.count(p) ? 1 : 0;
  EXPECT_EQ(reused, n);  // the freeing thread used up those blocks before it carved any
  for (void* p : again) small_free(p, 128);
}

}  // namespace
}  // namespace go::detail
