// Goroutine stacks: how deep a goroutine may recurse by default, and what a pooled stack
// keeps resident (src/runtime/stack.cpp).
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "go/go.hpp"
#include "runtime/stack.hpp"

namespace {

// About 256 bytes a frame, as the recursion of a parser or a tree walk.
__attribute__((noinline)) int recurse(int depth) {
  volatile char frame[240];
  frame[0] = static_cast<char>(depth);
  if (depth == 0) return frame[0];
  int below = recurse(depth - 1);
  return below + frame[0] - static_cast<char>(depth);  // uses the frame after the call
}

bool strict_overcommit() {
  int mode = 0;
  std::ifstream f("/proc/sys/vm/overcommit_memory");
  return f >> mode && mode == 2;
}

bool resident(const void* page) {
  unsigned char in_core = 0;
  if (mincore(const_cast<void*>(page), static_cast<std::size_t>(sysconf(_SC_PAGESIZE)), &in_core) != 0) return false;
  return in_core & 1;
}

}  // namespace

// Go's stacks grow; ours are reserved as a thread's: 8 MiB of address space, committed as
// touched.
TEST(Stacks, DefaultReservationIsAThreadsStack) {
  if (strict_overcommit()) GTEST_SKIP() << "strict overcommit: 256 KiB";
  if (std::getenv("GOCXX_STACK_SIZE")) GTEST_SKIP() << "GOCXX_STACK_SIZE is set";
  EXPECT_EQ(go::default_stack_size(), std::size_t{8} << 20);
}

// 5,000 frames of about 250 bytes (1.2 MB) on a goroutine with the default stack.
TEST(Stacks, DefaultStackHoldsADeepRecursion) {
  if (strict_overcommit()) GTEST_SKIP() << "strict overcommit: 256 KiB";
  int result = go::run([] {
    auto done = go::make_chan<int>(1);
    go::spawn([done] { done << recurse(5000); });
    return *done.recv();
  });
  EXPECT_EQ(result, 0);
}

// A stack that a goroutine grew deep gives its deep pages back once pooled, and keeps its
// top pages.
TEST(Stacks, PooledStackGivesBackItsDeepPages) {
  using namespace go::detail;
  stack s = stack_take(nullptr);  // a plain thread's: the shared pool
  ASSERT_NE(s.base, nullptr);
  std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  std::memset(s.base, 1, s.size);  // as deep as it goes
  ASSERT_TRUE(resident(s.base));
  stack_release(nullptr, s);
  stack_release_deep_pages();
  EXPECT_FALSE(resident(s.base));
  EXPECT_FALSE(resident(s.base + s.size / 2));
  EXPECT_TRUE(resident(s.top() - page));
}
