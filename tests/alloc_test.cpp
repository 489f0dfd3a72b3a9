// No heap allocation on the fast paths of send, receive and select with a fixed number of
// cases, and of a stackless goroutine's socket read and write that complete at once. The test binary replaces the global operator new to count allocations.
#include <gtest/gtest.h>

#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <string>

#include "go/async_io.hpp"
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

// A unix stream pair: a write's bytes are in the peer's queue when the write returns, so the
// read after it completes at once (TCP's readiness rule may make a read wait first).
TEST(Alloc, StacklessReadAndWriteThatCompleteAtOnceDoNotAllocate) {
  if (gocxx_test::sanitized) GTEST_SKIP() << "the sanitizers replace operator new themselves";
  go::run([] {
    std::string path = (std::filesystem::temp_directory_path() / ("gocxx_alloc_" + std::to_string(getpid()))).string();
    auto [ln, err] = go::net::listen("unix", path);
    ASSERT_FALSE(err) << err.message();
    auto accepted = go::make_chan<go::net::conn>(1);
    go::spawn([ln = ln, accepted] { accepted << ln.accept().conn; });
    auto [c, derr] = go::net::dial("unix", path);
    ASSERT_FALSE(derr) << derr.message();
    go::net::conn s = *accepted.recv();
    auto result = go::make_chan<long>(1);
    go::spawn(
        [](go::net::conn c, go::net::conn s, go::chan<long> result) -> go::task<void> {
          std::array<std::byte, 16> buf{};
          long failures = 0;
          counting = true;  // no co_await below suspends: the goroutine stays on this thread
          long before = allocations.load();
          for (int i = 0; i < 1000; ++i) {
            if ((co_await go::net::async_write(c, std::span(buf).first(8))).err) ++failures;
            if ((co_await go::net::async_read(s, buf)).n != 8) ++failures;
          }
          long after = allocations.load();
          counting = false;
          co_await go::async_send(result, failures ? -failures : after - before);
        },
        c, s, result);
    EXPECT_EQ(*result.recv(), 0);
    c.close();
    s.close();
    ln.close();
  });
}
