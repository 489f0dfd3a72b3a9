// The timer waiter (runtime/scheduler/idle.cpp): one idle worker sleeps until the earliest
// deadline over every worker's heap, and a timer added earlier than that deadline pokes it.
// A test hook (go::detail::set_delay) holds the waiter between the steps of its protocol, so
// that a timer added meanwhile meets the interleaving every run.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "go/go.hpp"
#include "runtime/scheduler.hpp"
#include "test_scale.hpp"

using namespace std::chrono_literals;

namespace {

struct delay_scope {
  go::detail::delay_point point;
  delay_scope(go::detail::delay_point p, std::chrono::nanoseconds d) : point(p) { go::detail::set_delay(p, d.count()); }
  ~delay_scope() { go::detail::set_delay(point, 0); }
  delay_scope(const delay_scope&) = delete;
  delay_scope& operator=(const delay_scope&) = delete;
};

}  // namespace

// Regression (found by the stress tests under ThreadSanitizer: a goroutine asleep in
// go::sleep for minutes while every worker was idle). The waiter published the earliest
// deadline, then looked at the heaps again and slept until what it found there. When the
// earliest timer left a heap between the two looks (it fired, or a reset moved it), the
// second look gave a later deadline than the first: a timer added meanwhile, not earlier
// than the published deadline, poked nobody, and the waiter slept past it.
TEST(TimerWaiter, TimerAddedWhileTheWaiterLooksAgainFires) {
  gocxx_test::max_procs_scope procs(1);
  // Let the runtime settle: the one worker idle, the timer waiter with no deadline.
  std::this_thread::sleep_for(20ms);
  std::atomic<bool> fired{false};
  {
    delay_scope published(go::detail::delay_point::timer_wait_publish, std::chrono::nanoseconds(100ms));
    delay_scope rechecked(go::detail::delay_point::timer_wait_recheck, std::chrono::nanoseconds(100ms));
    // The waiter wakes for `early` (poked: earlier than no deadline at all), publishes its
    // deadline and is held before it looks again.
    go::timer early = go::after_func(10ms, [] {});
    std::this_thread::sleep_for(40ms);
    // Between the two looks `early` leaves the heaps: the second look finds only the reset
    // one, an hour away.
    early.reset(1h);
    std::this_thread::sleep_for(100ms);
    // The waiter is held after its second look; its published deadline is still `early`'s
    // 10 ms, so a timer not earlier than that pokes nobody.
    go::timer late = go::after_func(20ms, [&fired] { fired = true; });
    for (auto end = std::chrono::steady_clock::now() + 5s; !fired && std::chrono::steady_clock::now() < end;) {
      std::this_thread::sleep_for(1ms);
    }
    early.stop();
    late.stop();
  }
  EXPECT_TRUE(fired.load()) << "a 20 ms timer had not fired after 5 s: the timer waiter slept past it";
}
