// detail::context_watch (go/patterns.hpp) over runtime/done_waiter.cpp: a send or receive that
// blocks until its channel is ready or the context is done, Go's
//   select { case ch <- v: case <-ctx.Done(): }
// without a select. Exact accounting while cancellation races the channel operations, the
// standing waiter's lifetime, and what a closed channel does meanwhile.
#include "go/patterns.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>

#include "go/testing.hpp"
#include "test_scale.hpp"

namespace {

using namespace std::chrono_literals;
using go::detail::context_watch;

// Senders and receivers that all block through their own watches, cancelled at a random
// moment: a value counts as sent only if send returned true, and exactly the values sent
// are received, each once. Every goroutine returns (no lost wake-up).
void cancel_race(std::size_t capacity, int procs) {
  gocxx_test::max_procs_scope scope(procs);
  go::run([capacity, procs] {
    go::testing::leak_check check;
    const int rounds = gocxx_test::scaled(300);
    for (int round = 0; round < rounds; ++round) {
      auto [ctx, cancel] = go::with_cancel(go::background());
      auto ch = go::make_chan<long>(capacity);
      std::atomic<long> sent{0}, received{0}, sent_n{0}, received_n{0};
      go::wait_group wg;
      for (int s = 0; s < 4; ++s) {
        wg.go([&, ctx = ctx, ch, s] {
          const context_watch watch(ctx);
          for (long i = 1;; ++i) {
            long v = i * 8 + s;
            if (!watch.send(ch, v)) return;
            sent += v;
            ++sent_n;
          }
        });
      }
      for (int r = 0; r < 2; ++r) {
        wg.go([&, ctx = ctx, ch] {
          const context_watch watch(ctx);
          while (auto v = watch.recv(ch)) {
            received += *v;
            ++received_n;
          }
        });
      }
      // Cancel after a varying amount of traffic. On one worker a yield waits for the
      // others' 10 ms time slice, so sleep there.
      if (procs > 1 && round % 3 != 0) {
        for (int k = round % 7; k > 0; --k) go::yield();
      } else {
        go::sleep(std::chrono::microseconds(round % 50));
      }
      cancel();
      wg.wait();
      // What the senders put in the buffer and nobody took is still there.
      while (auto v = ch.try_recv().value) {
        received += *v;
        ++received_n;
      }
      ASSERT_EQ(sent_n.load(), received_n.load()) << "round " << round;
      ASSERT_EQ(sent.load(), received.load()) << "round " << round;
    }
  });
}

TEST(ContextWatch, CancelRacingUnbufferedSendsAndReceivesLosesAndDuplicatesNothing) { cancel_race(0, 2); }
TEST(ContextWatch, CancelRacingBufferedSendsAndReceivesLosesAndDuplicatesNothing) { cancel_race(3, 2); }
TEST(ContextWatch, CancelRacingOnOneWorker) { cancel_race(0, 1); }

TEST(ContextWatch, BlockedSendAndReceiveReturnWhenTheContextIsCancelled) {
  go::run([] {
    go::testing::leak_check check;
    auto [ctx, cancel] = go::with_cancel(go::background());
    auto nobody_reads = go::make_chan<int>();
    auto nobody_writes = go::make_chan<int>(2);
    auto results = go::make_chan<std::string>(2);
    go::spawn([ctx = ctx, nobody_reads, results] {
      const context_watch watch(ctx);
      bool sent = watch.send(nobody_reads, 1);
      results.send(sent ? "sent" : "send cancelled");
    });
    go::spawn([ctx = ctx, nobody_writes, results] {
      const context_watch watch(ctx);
      auto v = watch.recv(nobody_writes);
      results.send(v ? "received" : "receive cancelled");
    });
    go::sleep(10ms);  // both blocked by now (under the sanitizers too, or they see done first)
    EXPECT_EQ(results.len(), 0u);
    cancel();
    std::string a = *results.recv(), b = *results.recv();
    EXPECT_TRUE((a == "send cancelled" && b == "receive cancelled") ||
                (b == "send cancelled" && a == "receive cancelled"))
        << a << ", " << b;
    // Nothing was sent: the channel is still empty, and the value was not dropped into it.
    EXPECT_FALSE(nobody_reads.try_recv().value.has_value());
  });
}

TEST(ContextWatch, AWatchKeepsWorkingAfterManyBlockingOperations) {
  // One standing waiter serves every blocking operation of its goroutine: flags from earlier
  // operations must not wake or cancel later ones.
  go::run([] {
    go::testing::leak_check check;
    auto [ctx, cancel] = go::with_cancel(go::background());
    auto ping = go::make_chan<int>(), pong = go::make_chan<int>();
    const int n = gocxx_test::scaled(20000);
    go::spawn([ctx = ctx, ping, pong] {
      const context_watch watch(ctx);
      while (auto v = watch.recv(ping)) {
        if (!watch.send(pong, *v + 1)) return;
      }
    });
    const context_watch watch(ctx);
    long sum = 0;
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(watch.send(ping, i));
      auto v = watch.recv(pong);
      ASSERT_TRUE(v.has_value());
      sum += *v;
    }
    EXPECT_EQ(sum, static_cast<long>(n) * (n + 1) / 2);
    cancel();
    EXPECT_FALSE(watch.send(ping, 0));  // done: no block, no send
    EXPECT_FALSE(watch.recv(pong).has_value());
  });
}

TEST(ContextWatch, FreedWatchesLeaveNothingOnTheDoneChannel) {
  // Each goroutine blocks once (queuing its standing waiter on ctx.done()), then returns and
  // frees its watch. The cancel after that must find none of them: under AddressSanitizer a
  // waiter left queued is a use after free.
  go::run([] {
    auto [ctx, cancel] = go::with_cancel(go::background());
    auto ch = go::make_chan<int>();
    go::wait_group wg;
    const int n = 100;
    for (int i = 0; i < n; ++i) {
      wg.go([ctx = ctx, ch] {
        const context_watch watch(ctx);
        EXPECT_TRUE(watch.recv(ch).has_value());
      });
    }
    for (int i = 0; i < n; ++i) ch.send(i);
    wg.wait();
    cancel();
    // And a new watch on the cancelled context sees done at once.
    const context_watch watch(ctx);
    EXPECT_FALSE(watch.recv(ch).has_value());
  });
}

TEST(ContextWatch, ChannelClosedWhileBlockedIsReportedAsForAPlainOperation) {
  go::run([] {
    auto [ctx, cancel] = go::with_cancel(go::background());
    auto ch = go::make_chan<int>();
    auto outcome = go::make_chan<std::string>(2);
    go::spawn([ctx = ctx, ch, outcome] {
      const context_watch watch(ctx);
      try {
        watch.send(ch, 1);
        outcome.send("sent");
      } catch (const go::chan_error& e) {
        outcome.send(e.what());
      }
    });
    auto in = go::make_chan<int>();
    go::spawn([ctx = ctx, in, outcome] {
      const context_watch watch(ctx);
      outcome.send(watch.recv(in) ? "received" : "closed");
    });
    go::sleep(10ms);
    ch.close();
    in.close();
    std::string a = *outcome.recv(), b = *outcome.recv();
    EXPECT_TRUE((a == "send on closed channel" && b == "closed") || (b == "send on closed channel" && a == "closed"))
        << a << ", " << b;
    cancel();
  });
}

TEST(ContextWatch, BlockedGoroutineShowsAsSelectInTheDump) {
  go::run([] {
    auto [ctx, cancel] = go::with_cancel(go::background());
    auto ch = go::make_chan<int>();
    go::wait_group wg;
    wg.go([ctx = ctx, ch] {
      const context_watch watch(ctx);
      watch.recv(ch);
    });
    std::string dump;
    for (int k = 0; k < 500 && dump.find("[select]") == std::string::npos; ++k) {
      go::sleep(1ms);
      dump = go::testing::goroutine_dump();
    }
    EXPECT_NE(dump.find("[select]"), std::string::npos) << dump;
    EXPECT_NE(dump.find("context_watch_test.cpp"), std::string::npos) << dump;  // the blocking call
    cancel();
    wg.wait();
  });
}

}  // namespace
