// No heap allocation on the fast paths of send, receive and select with a fixed number of
// cases. The test binary replaces the global operator new to count allocations.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "go/go.hpp"
#include "test_scale.hpp"

namespace {
std::atomic<long> allocations{0};
thread_local bool counting = false;
}  // namespace

#ifndef GOCXX_TEST_SANITIZED
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  if (counting) allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop
#endif

TEST(Alloc, ChannelAndSelectFastPathsDoNotAllocate) {
  if (gocxx_test::sanitized) GTEST_SKIP() << "the sanitizers replace operator new themselves";
  go::run([] {
    auto buffered = go::make_chan<int>(4);
    auto unbuffered = go::make_chan<int>();
    auto other = go::make_chan<int>(1);
    // A partner that keeps the unbuffered channel busy (hand-off path, parking included).
    go::spawn([unbuffered] {
      for (int i = 0; i < 2000; ++i) unbuffered << i;
    });
    counting = true;
    long before = allocations.load();
    for (int i = 0; i < 1000; ++i) {
      buffered.send(i);
      buffered.recv();
      buffered.try_send(i);
      (void)buffered.try_recv();
      unbuffered.recv();
      go::select(go::recv_case(unbuffered), go::recv_case(other));
      go::select(go::send_case(buffered, i), go::recv_case(other), go::default_case());
      buffered.recv();
    }
    long after = allocations.load();
    counting = false;
    EXPECT_EQ(after - before, 0);
  });
}
