// go::errgroup beyond the x/sync ports: exceptions, cancellation, limits and lifetimes.
#include "go/errgroup.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <stdexcept>

#include "go/select.hpp"
#include "go/testing.hpp"
#include "go/time.hpp"
#include "test_scale.hpp"

namespace {

using namespace std::chrono_literals;

TEST(Errgroup, ExceptionBecomesTheTasksError) {
  go::run([] {
    go::errgroup g;
    g.go([] { throw std::runtime_error("boom"); });
    go::error err = g.wait();
    ASSERT_TRUE(err);
    EXPECT_EQ(err.message(), "boom");
    ASSERT_NE(err.as<std::runtime_error>(), nullptr);
  });
}

TEST(Errgroup, VoidFunctionsAndNilErrors) {
  go::run([] {
    go::errgroup g;
    std::atomic<int> ran{0};
    for (int i = 0; i < 100; ++i) g.go([&] { ran.fetch_add(1); });
    EXPECT_FALSE(g.wait());
    EXPECT_EQ(ran.load(), 100);
  });
}

TEST(Errgroup, FirstErrorInTimeWins) {
  go::run([] {
    go::error first = go::make_error("first"), second = go::make_error("second");
    go::errgroup g;
    auto gate = go::make_chan<void>();
    g.go([gate, second] {
      gate.recv();  // returns only after the first error is recorded
      return second;
    });
    g.go([gate, first] {
      go::error e = first;
      return e;
    });
    go::sleep(10ms);
    gate.close();
    EXPECT_EQ(g.wait(), first);
  });
}

TEST(Errgroup, ContextCancelledOnFirstErrorBeforeWait) {
  go::run([] {
    go::testing::leak_check check;
    auto [g, ctx] = go::errgroup::with_context(go::background());
    std::atomic<bool> saw_cancel{false};
    g.go([ctx = ctx, &saw_cancel] {
      ctx.done().recv();  // blocks until the sibling fails
      saw_cancel = ctx.err() == go::errc::canceled;
    });
    g.go([]() -> go::error { throw std::runtime_error("fail"); });
    go::error err = g.wait();
    EXPECT_EQ(err.message(), "fail");
    EXPECT_TRUE(saw_cancel.load());
  });
}

TEST(Errgroup, ContextIsLiveUntilWaitReturns) {
  go::run([] {
    auto [g, ctx] = go::errgroup::with_context(go::background());
    g.go([] {});
    go::sleep(5ms);
    EXPECT_FALSE(ctx.err());  // a successful task does not cancel
    EXPECT_FALSE(g.wait());
    EXPECT_EQ(ctx.err(), go::errc::canceled);
  });
}

TEST(Errgroup, ParentCancellationReachesTasks) {
  go::run([] {
    auto [parent, cancel] = go::with_cancel(go::background());
    auto [g, ctx] = go::errgroup::with_context(parent);
    g.go([ctx = ctx] {
      ctx.done().recv();
      return ctx.err();
    });
    cancel();
    EXPECT_EQ(g.wait(), go::errc::canceled);
  });
}

TEST(Errgroup, LimitMakesGoBlock) {
  go::run([] {
    go::errgroup g;
    g.set_limit(2);
    auto release = go::make_chan<void>();
    g.go([release] { release.recv(); });
    g.go([release] { release.recv(); });
    std::atomic<bool> third_started{false};
    auto launched = go::make_chan<void>();
    go::spawn([&, g, launched]() mutable {
      g.go([&] { third_started = true; });
      launched.close();
    });
    go::sleep(20ms);
    EXPECT_FALSE(third_started.load());
    EXPECT_EQ(launched.try_recv(), go::chan_status::would_block);  // go is still blocked
    release.send();
    launched.recv();
    release.send();
    EXPECT_FALSE(g.wait());
    EXPECT_TRUE(third_started.load());
  });
}

TEST(Errgroup, SetLimitWhileActiveThrows) {
  go::run([] {
    go::errgroup g;
    g.set_limit(1);
    auto release = go::make_chan<void>();
    g.go([release] { release.recv(); });
    EXPECT_THROW(g.set_limit(3), std::logic_error);
    release.send();
    g.wait();
    EXPECT_NO_THROW(g.set_limit(-1));
  });
}

// set_recover(false) is Go's errgroup: an exception escaping a task is a panic that ends
// the process (with the panic report), not the group's error.
TEST(Errgroup, SetRecoverFalseLetsAnExceptionEndTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(go::run([] {
                 go::errgroup g;
                 g.set_recover(false);
                 g.go([] { throw std::runtime_error("task bug"); });
                 (void)g.wait();
                 std::exit(0);  // not reached: the exception ended the process
               }),
               "panic: task bug");
}

TEST(Errgroup, HandleMayGoAwayBeforeTasksFinish) {
  go::run([] {
    go::testing::leak_check check;
    auto done = go::make_chan<int>(1);
    {
      go::errgroup g;
      g.go([done] {
        go::sleep(5ms);
        done.send(7);
      });
    }
    EXPECT_EQ(*done.recv(), 7);
  });
}

TEST(Errgroup, ManyTasksFromThreadAndGoroutines) {
  go::errgroup g;  // a plain thread may use a group too
  std::atomic<long> sum{0};
  const long n = gocxx_test::scaled(20000);
  for (long i = 0; i < n; ++i) g.go([&sum, i] { sum.fetch_add(i); });
  EXPECT_FALSE(g.wait());
  EXPECT_EQ(sum.load(), n * (n - 1) / 2);
}

}  // namespace
