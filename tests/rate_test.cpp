// go::rate::limiter beyond the x/time/rate ports: concurrency, the real clock, cancellation.
#include "go/rate.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

#include "go/go.hpp"
#include "go/testing.hpp"
#include "test_scale.hpp"

namespace {

using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;

TEST(Rate, ConcurrentAllowGrantsExactlyTheBurst) {
  go::run([] {
    go::rate::limiter lim(go::rate::every(1h), 100);  // no refill during the test
    std::atomic<int> granted{0};
    go::wait_group wg;
    for (int g = 0; g < 8; ++g) {
      wg.go([&] {
        for (long i = 0; i < gocxx_test::scaled(2000); ++i)
          if (lim.allow()) granted.fetch_add(1);
      });
    }
    wg.wait();
    EXPECT_EQ(granted.load(), 100);
  });
}

TEST(Rate, WaitPacesEventsAtTheLimit) {
  go::run([] {
    go::rate::limiter lim(go::rate::every(10ms), 1);
    auto start = clk::now();
    for (int i = 0; i < 6; ++i) ASSERT_FALSE(lim.wait(go::background()));
    auto took = clk::now() - start;
    EXPECT_GE(took, 50ms - 1ms);  // first at once, then 5 x 10ms
    EXPECT_LT(took, 500ms);
  });
}

TEST(Rate, WaitReturnsWhenContextIsCancelledMidWait) {
  go::run([] {
    go::testing::leak_check check;
    go::rate::limiter lim(go::rate::every(1h), 1);
    ASSERT_TRUE(lim.allow());
    auto [ctx, cancel] = go::with_cancel(go::background());
    go::spawn([cancel = cancel] {
      go::sleep(10ms);
      cancel();
    });
    auto start = clk::now();
    EXPECT_EQ(lim.wait(ctx), go::errc::canceled);
    EXPECT_LT(clk::now() - start, 1s);
    // The cancelled wait gave its token back: the next reservation waits one interval, not two.
    auto r = lim.reserve();
    EXPECT_LE(r.delay(), 1h);
    EXPECT_GT(r.delay(), 59min);
  });
}

TEST(Rate, ReservationDelayAndSetters) {
  go::rate::limiter lim(10, 1);
  auto t = clk::now();
  EXPECT_TRUE(lim.allow_n(t, 1));
  auto r = lim.reserve_n(t, 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.delay_from(t), 100ms);
  EXPECT_EQ(r.delay_from(t + 1s), 0ms);
  auto too_big = lim.reserve_n(t, 2);
  EXPECT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.delay_from(t), go::rate::inf_duration);
  lim.set_burst_at(t, 5);
  EXPECT_EQ(lim.burst(), 5);
  lim.set_limit_at(t, go::rate::inf);
  EXPECT_EQ(lim.limit(), go::rate::inf);
  EXPECT_TRUE(lim.allow_n(t, 1000));  // inf ignores burst
}

TEST(Rate, AllowNZeroAlwaysSucceeds) {
  go::rate::limiter lim(1, 1);
  EXPECT_TRUE(lim.allow());
  EXPECT_FALSE(lim.allow());
  EXPECT_TRUE(lim.allow_n(0));
}

}  // namespace
