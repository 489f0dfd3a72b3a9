// go/patterns.hpp: results, ordering, cancellation mid-flight without leaks, and exceptions in
// user functions.
#include "go/patterns.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "go/testing.hpp"
#include "test_scale.hpp"

namespace {

using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;

go::recv_chan<long> count_to(go::errgroup& g, const go::context& ctx, long n) {
  return go::generate<long>(g, ctx, [n](auto emit) {
    for (long i = 1; i <= n; ++i)
      if (!emit(i)) return;
  });
}

TEST(Patterns, PipelineMapFilter) {
  go::run([] {
    go::testing::leak_check check;
    auto [g, ctx] = go::errgroup::with_context(go::background());
    const long n = gocxx_test::scaled(10000);
    auto tripled = go::map(g, ctx, count_to(g, ctx, n), [](long v) { return v * 3; });
    auto plus1 = go::map(
        g, ctx, tripled, [](long v) { return v + 1; }, 4);
    auto even = go::filter(g, ctx, plus1, [](long v) { return v % 2 == 0; });
    long sum = 0, count = 0;
    for (long v : even) {
      sum += v;
      ++count;
    }
    EXPECT_FALSE(g.wait());
    long want_sum = 0, want_count = 0;
    for (long i = 1; i <= n; ++i)
      if ((3 * i + 1) % 2 == 0) want_sum += 3 * i + 1, ++want_count;
    EXPECT_EQ(count, want_count);
    EXPECT_EQ(sum, want_sum);
  });
}

TEST(Patterns, MapOrderedKeepsInputOrderWithManyWorkers) {
  go::run([] {
    go::testing::leak_check check;
    auto [g, ctx] = go::errgroup::with_context(go::background());
    const long n = gocxx_test::scaled(2000);
    auto out = go::map_ordered(
        g, ctx, count_to(g, ctx, n),
        [](long v) {
          if (v % 7 == 0) go::sleep(std::chrono::microseconds(v % 50));  // finish out of order
          return v * 10;
        },
        8);
    std::vector<long> got;
    for (long v : out) got.push_back(v);
    EXPECT_FALSE(g.wait());
    ASSERT_EQ(static_cast<long>(got.size()), n);
    for (long i = 0; i < n; ++i) ASSERT_EQ(got[i], (i + 1) * 10) << "at " << i;
  });
}

TEST(Patterns, FlatMapAndBatch) {
  go::run([] {
    auto [g, ctx] = go::errgroup::with_context(go::background());
    auto repeated = go::flat_map(g, ctx, count_to(g, ctx, 4), [](long v) { return std::vector<long>(v, v); });
    auto groups = go::batch(g, ctx, repeated, 3);
    std::vector<std::vector<long>> got;
    for (auto& b : groups) got.push_back(b);
    EXPECT_FALSE(g.wait());
    EXPECT_EQ(got, (std::vector<std::vector<long>>{{1, 2, 2}, {3, 3, 3}, {4, 4, 4}, {4}}));
  });
}

TEST(Patterns, MergeEightProducers) {
  go::run([] {
    go::testing::leak_check check;
    auto [g, ctx] = go::errgroup::with_context(go::background());
    const long n = gocxx_test::scaled(5000);
    std::vector<go::recv_chan<long>> inputs;
    for (int p = 0; p < 8; ++p) inputs.push_back(count_to(g, ctx, n));
    long sum = 0, count = 0;
    for (long v : go::merge(g, ctx, inputs)) sum += v, ++count;
    EXPECT_FALSE(g.wait());
    EXPECT_EQ(count, 8 * n);
    EXPECT_EQ(sum, 8 * n * (n + 1) / 2);
    go::errgroup empty;
    int none = 0;
    for (long v : go::merge<long>(empty, ctx, {})) none += static_cast<int>(v);
    EXPECT_EQ(none, 0);
  });
}

TEST(Patterns, CancelMidFlightLeavesNoGoroutines) {
  go::run([] {
    go::testing::leak_check check;
    auto [parent, cancel] = go::with_cancel(go::background());
    auto [g, ctx] = go::errgroup::with_context(parent);
    auto endless = go::generate<long>(g, ctx, [](auto emit) {
      for (long i = 0;; ++i)
        if (!emit(i)) return;
    });
    auto a = go::map(
        g, ctx, endless, [](long v) { return v + 1; }, 4);
    auto b = go::map_ordered(
        g, ctx, a, [](long v) { return v * 2; }, 3);
    auto c = go::filter(g, ctx, b, [](long) { return true; });
    auto d = go::batch(g, ctx, c, 5);
    auto e = go::flat_map(g, ctx, d, [](std::vector<long> v) { return v; });
    auto merged = go::merge(g, ctx, std::vector{e, count_to(g, ctx, 1000000000)});
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(merged.recv());
    cancel();                                 // stop in the middle: every stage is blocked somewhere right now
    EXPECT_EQ(g.wait(), go::errc::canceled);  // every stage returned, reporting why
    EXPECT_EQ(ctx.err(), go::errc::canceled);
  });
}

TEST(Patterns, ExceptionInStageCancelsPipeline) {
  go::run([] {
    go::testing::leak_check check;
    auto [g, ctx] = go::errgroup::with_context(go::background());
    auto endless = go::generate<long>(g, ctx, [](auto emit) {
      for (long i = 0;; ++i)
        if (!emit(i)) return;
    });
    auto mapped = go::map(
        g, ctx, endless,
        [](long v) {
          if (v == 50) throw std::runtime_error("bad value 50");
          return v;
        },
        2);
    long seen = 0;
    for (long v : mapped) seen += v >= 0;
    go::error err = g.wait();
    ASSERT_TRUE(err);
    EXPECT_EQ(err.message(), "bad value 50");
    EXPECT_GE(seen, 40);
  });
}

TEST(Patterns, WorkerPoolResultsAndPerJobErrors) {
  go::run([] {
    go::testing::leak_check check;
    go::worker_pool<int, int> pool(go::background(), 3, 5, [](const go::context&, int j) {
      if (j == 4) throw std::runtime_error("job 4 failed");
      return j * 2;
    });
    for (int j = 1; j <= 5; ++j) ASSERT_TRUE(pool.submit(j));
    pool.close();  // graceful: the queued jobs still run
    std::vector<int> values(6, -1);
    std::string failure;
    int outcomes = 0;
    for (auto& o : pool.results()) {
      ++outcomes;
      if (o.err) failure = o.err.message();
      else values[o.job] = *o.value;
    }
    EXPECT_EQ(outcomes, 5);
    EXPECT_EQ(failure, "job 4 failed");
    EXPECT_EQ(values, (std::vector<int>{-1, 2, 4, 6, -1, 10}));
  });
}

TEST(Patterns, WorkerPoolBackPressureAndCancel) {
  go::run([] {
    go::testing::leak_check check;
    auto gate = go::make_chan<void>();
    std::atomic<int> started{0};
    auto pool = std::make_unique<go::worker_pool<int, int>>(
        go::background(), 2, 2, [gate, &started](const go::context& ctx, int j) {
          started.fetch_add(1);
          go::select(go::recv_case(gate), go::recv_case(ctx.done()));
          return j;
        });
    // 2 running + 2 queued fit; the 5th submit blocks.
    for (int j = 0; j < 4; ++j) ASSERT_TRUE(pool->submit(j));
    auto fifth = go::make_chan<bool>(1);
    go::spawn([&pool, fifth] { fifth.send(pool->submit(4)); });
    go::sleep(20ms);
    EXPECT_EQ(started.load(), 2);
    EXPECT_EQ(fifth.try_recv().status, go::chan_status::would_block);
    pool->cancel();  // mid-flight: the blocked submit fails, workers return
    EXPECT_FALSE(*fifth.recv());
    for (auto& o : pool->results()) (void)o;  // closes once the workers have returned
    EXPECT_FALSE(pool->submit(9));
    pool.reset();
  });
}

TEST(Patterns, WithTimeout) {
  go::run([] {
    go::testing::leak_check check;
    auto fast = go::with_timeout(go::background(), 1s, [](const go::context&) { return 42; });
    ASSERT_FALSE(fast.err);
    EXPECT_EQ(*fast.value, 42);

    auto start = clk::now();
    auto slow = go::with_timeout(go::background(), 20ms, [](const go::context& ctx) {
      ctx.done().recv();  // watches its context
      return 1;
    });
    EXPECT_EQ(slow.err, go::errc::deadline_exceeded);
    EXPECT_FALSE(slow.value);
    EXPECT_LT(clk::now() - start, 1s);

    go::error thrown =
        go::with_timeout(go::background(), 1s, [](const go::context&) -> void { throw std::runtime_error("inside"); });
    EXPECT_EQ(thrown.message(), "inside");
    go::error ok = go::with_timeout(go::background(), 1s, [](const go::context&) { return go::error(); });
    EXPECT_FALSE(ok);
  });
}

TEST(Patterns, RetrySucceedsAfterFailuresWithGrowingBackoff) {
  go::run([] {
    int calls = 0;
    auto start = clk::now();
    go::error err = go::retry(go::background(), go::backoff{.initial = 5ms, .max = 1s, .multiplier = 2, .jitter = 0},
                              [&]() -> go::error {
                                if (++calls < 4) return go::make_error("transient");
                                return {};
                              });
    EXPECT_FALSE(err);
    EXPECT_EQ(calls, 4);
    EXPECT_GE(clk::now() - start, 5ms + 10ms + 20ms - 1ms);
  });
}

TEST(Patterns, RetryGivesUpAndCountsExceptions) {
  go::run([] {
    int calls = 0;
    go::error err = go::retry(go::background(), go::backoff{.initial = 1ms, .jitter = 0.5, .max_attempts = 3},
                              [&]() -> go::error { throw std::runtime_error("attempt " + std::to_string(++calls)); });
    EXPECT_EQ(calls, 3);
    EXPECT_EQ(err.message(), "attempt 3");
  });
}

// With jitter j, each wait is the delay times a factor drawn in [1 - j, 1 + j]: at j = 0.9
// and a 10 ms delay, some of 16 waits falls under 9 ms (each does with probability 0.44),
// and none under 1 ms.
TEST(Patterns, RetryJitterSpreadsTheWaits) {
  go::run([] {
    std::vector<clk::time_point> calls;
    go::error err = go::retry(
        go::background(), go::backoff{.initial = 10ms, .max = 10ms, .multiplier = 1, .jitter = 0.9, .max_attempts = 17},
        [&]() -> go::error {
          calls.push_back(clk::now());
          return go::make_error("transient");
        });
    EXPECT_EQ(err.message(), "transient");
    ASSERT_EQ(calls.size(), 17u);
    auto shortest = calls[1] - calls[0];
    for (std::size_t i = 2; i < calls.size(); ++i) shortest = std::min(shortest, calls[i] - calls[i - 1]);
    EXPECT_GE(shortest, 1ms);
    EXPECT_LT(shortest, 9ms) << "no wait was shortened: the jitter is not applied";
  });
}

TEST(Patterns, RetryStopsWhenContextIsDone) {
  go::run([] {
    auto [ctx, cancel] = go::with_timeout(go::background(), 30ms);
    int calls = 0;
    auto start = clk::now();
    go::error err = go::retry(ctx, go::backoff{.initial = 1h, .max_attempts = 0}, [&] {
      ++calls;
      return go::make_error("down");
    });
    EXPECT_EQ(err, go::errc::deadline_exceeded);
    EXPECT_EQ(calls, 1);
    EXPECT_LT(clk::now() - start, 1s);
    cancel();
  });
}

// send_ctx and recv_ctx use the handle they are given (chan, send_chan, recv_chan); a done
// context leaves the channel untouched even when it is ready.
TEST(Patterns, SendCtxAndRecvCtxTakeAnyHandleAndCheckTheContextFirst) {
  go::run([] {
    auto ch = go::make_chan<int>(2);
    go::send_chan<int> tx = ch;
    go::recv_chan<int> rx = ch;
    EXPECT_TRUE(go::send_ctx(go::background(), ch, 1));
    EXPECT_TRUE(go::send_ctx(go::background(), tx, 2));
    EXPECT_EQ(go::recv_ctx(go::background(), ch), 1);
    EXPECT_EQ(go::recv_ctx(go::background(), rx), 2);

    auto [ctx, cancel] = go::with_cancel(go::background());
    cancel();
    EXPECT_FALSE(go::send_ctx(ctx, ch, 3));  // room in the buffer, but ctx is done
    EXPECT_EQ(ch.len(), 0u);
    ch.send(4);
    EXPECT_FALSE(go::recv_ctx(ctx, rx));  // a value is ready, but ctx is done: not taken
    EXPECT_EQ(ch.len(), 1u);
    ch.close();
    EXPECT_EQ(go::recv_ctx(go::background(), ch), 4);
    EXPECT_FALSE(go::recv_ctx(go::background(), ch));  // closed and drained
  });
}

// A context that can never be cancelled (done() is nil) takes the stages' plain send and
// receive path; every value arrives, and the last short batch too.
TEST(Patterns, PipelineOnAContextThatCannotBeCancelled) {
  go::run([] {
    go::testing::leak_check check;
    go::errgroup g;
    const go::context ctx = go::background();
    ASSERT_EQ(ctx.done(), nullptr);
    const long n = gocxx_test::scaled(5000);
    auto tripled = go::map(
        g, ctx, count_to(g, ctx, n), [](long v) { return v * 3; }, 3);
    auto ordered = go::map_ordered(
        g, ctx, tripled, [](long v) { return v + 1; }, 2);
    auto odd = go::filter(g, ctx, ordered, [](long v) { return v % 2 == 1; });
    auto merged = go::merge(g, ctx, std::vector{odd, count_to(g, ctx, 10)});
    auto groups = go::batch(g, ctx, go::flat_map(g, ctx, merged, [](long v) { return std::vector<long>{v}; }), 7);
    std::vector<long> got;
    for (auto& group : groups) {
      EXPECT_FALSE(group.empty());
      got.insert(got.end(), group.begin(), group.end());
    }
    EXPECT_FALSE(g.wait());
    std::vector<long> want(10);
    std::iota(want.begin(), want.end(), 1);                      // count_to(10)
    for (long i = 2; i <= n; i += 2) want.push_back(3 * i + 1);  // odd exactly for even i
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want);
  });
}

// A stage checks its context before every receive and send, so it stops even when its
// channels never block (the try fast path would otherwise never see the cancellation).
TEST(Patterns, DoneContextStopsStagesWhoseChannelsAreReady) {
  go::run([] {
    go::testing::leak_check check;
    auto [ctx, cancel] = go::with_cancel(go::background());
    cancel();
    go::errgroup g;
    auto in = go::make_chan<long>(100);
    for (long i = 0; i < 100; ++i) in.send(i);
    int calls = 0;
    auto out = go::map(g, ctx, go::recv_chan<long>(in), [&calls](long v) { return ++calls, v; });
    int got = 0;
    for (long v : out) (void)v, ++got;
    EXPECT_EQ(g.wait(), go::errc::canceled);
    EXPECT_EQ(calls, 0);
    EXPECT_EQ(got, 0);
    EXPECT_EQ(in.len(), 100u);  // nothing taken

    go::worker_pool<int, int> pool(ctx, 1, 10, [](const go::context&, int j) { return j; });
    EXPECT_FALSE(pool.submit(1));  // room in the queue, but the context is done
    for (auto& o : pool.results()) ADD_FAILURE() << "outcome for job " << o.job;
  });
}

// cancel drops the queued jobs although the queue and results() are ready, and the running
// job's outcome is not sent once the context is done.
TEST(Patterns, WorkerPoolCancelDropsQueuedJobsWithRoomForResults) {
  go::run([] {
    go::testing::leak_check check;
    std::atomic<int> started{0};
    go::worker_pool<int, int> pool(go::background(), 1, 8, [&started](const go::context& ctx, int j) {
      started.fetch_add(1);
      ctx.done().recv();  // runs until cancelled
      return j;
    });
    for (int j = 0; j < 6; ++j) ASSERT_TRUE(pool.submit(j));
    while (started.load() == 0) go::sleep(1ms);
    pool.cancel();
    int outcomes = 0;
    for (auto& o : pool.results()) (void)o, ++outcomes;
    EXPECT_EQ(started.load(), 1);
    EXPECT_EQ(outcomes, 0);
  });
}

}  // namespace
