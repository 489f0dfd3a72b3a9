// go::semaphore: the ports of golang.org/x/sync/semaphore's semaphore_test.go (GoSemaphore.*,
// each named after the Go test) and gocxx's own checks (Semaphore.*): FIFO order, cancelled
// waiters leave nothing behind, plain threads.
//
// TestWeighted runs 2000 acquisitions in all instead of Go's 10000 (each sleeps up to 1 ms)
// and also checks that the weights held at once never exceed the size.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "go/chan.hpp"
#include "go/context.hpp"
#include "go/runtime.hpp"
#include "go/select.hpp"
#include "go/semaphore.hpp"
#include "go/sync.hpp"
#include "go/synctest.hpp"
#include "go/time.hpp"
#include "test_scale.hpp"

using namespace std::chrono_literals;
using go::steady_clock;
using gocxx_test::scaled;

namespace {

constexpr auto max_sleep = 1ms;

void hammer_weighted(go::semaphore& sem, std::int64_t n, int loops, std::atomic<std::int64_t>& held, std::int64_t size,
                     std::atomic<bool>& over) {
  std::mt19937_64 rnd(static_cast<std::uint64_t>(n) + 1);
  for (int i = 0; i < loops; ++i) {
    sem.acquire(n);
    if (held.fetch_add(n) + n > size) over = true;
    go::sleep(std::chrono::nanoseconds(rnd() % std::chrono::nanoseconds(max_sleep).count()));
    held.fetch_sub(n);
    sem.release(n);
  }
}

// wait_for runs f in a goroutine and reports whether it finished within limit.
template <class F>
bool finishes_within(F f, std::chrono::milliseconds limit) {
  auto done = go::make_chan<void>();
  go::spawn([f = std::move(f), done]() mutable {
    f();
    done.close();
  });
  return go::select(go::recv_case(done), go::recv_case(go::after(limit))) == 0;
}

}  // namespace

TEST(GoSemaphore, Weighted) {
  go::run([] {
    int n = go::max_procs();
    int loops = static_cast<int>(scaled(2000)) / n;
    go::semaphore sem(n);
    std::atomic<std::int64_t> held{0};
    std::atomic<bool> over{false};
    go::wait_group wg;
    for (int i = 0; i < n; ++i) wg.go([&, i] { hammer_weighted(sem, i, loops, held, n, over); });
    wg.wait();
    EXPECT_FALSE(over.load()) << "more weight held than the semaphore's size";
  });
}

TEST(GoSemaphore, WeightedPanic) {
  go::semaphore w(1);
  try {
    w.release(1);
    ADD_FAILURE() << "release of an unacquired weighted semaphore did not panic";
  } catch (const go::sync_error& e) {
    EXPECT_STREQ(e.what(), "semaphore: released more than held");
  }
}

TEST(GoSemaphore, WeightedTryAcquire) {
  go::context ctx = go::background();
  go::semaphore sem(2);
  std::vector<bool> tries;
  (void)sem.acquire(ctx, 1);
  tries.push_back(sem.try_acquire(1));
  tries.push_back(sem.try_acquire(1));
  sem.release(2);
  tries.push_back(sem.try_acquire(1));
  (void)sem.acquire(ctx, 1);
  tries.push_back(sem.try_acquire(1));
  EXPECT_EQ(tries, (std::vector<bool>{true, false, true, false}));
}

TEST(GoSemaphore, WeightedAcquire) {
  go::run([] {
    go::context ctx = go::background();
    go::semaphore sem(2);
    auto try_acquire = [&](std::int64_t n) {
      auto [c, cancel] = go::with_timeout(ctx, 10ms);
      bool ok = !sem.acquire(c, n);
      cancel();
      return ok;
    };
    std::vector<bool> tries;
    (void)sem.acquire(ctx, 1);
    tries.push_back(try_acquire(1));
    tries.push_back(try_acquire(1));
    sem.release(2);
    tries.push_back(try_acquire(1));
    (void)sem.acquire(ctx, 1);
    tries.push_back(try_acquire(1));
    EXPECT_EQ(tries, (std::vector<bool>{true, false, true, false}));
  });
}

TEST(GoSemaphore, WeightedDoesntBlockIfTooBig) {
  go::run([] {
    constexpr int n = 2;
    go::semaphore sem(n);
    auto [big_ctx, cancel] = go::with_cancel(go::background());
    go::spawn([&sem, c = big_ctx] { (void)sem.acquire(c, n + 1); });

    go::wait_group g;
    std::atomic<int> failures{0};
    for (int i = n * 3; i > 0; --i) {
      g.go([&] {
        go::error err = sem.acquire(go::background(), 1);
        if (!err) {
          go::sleep(1ms);
          sem.release(1);
        } else {
          failures++;
        }
      });
    }
    EXPECT_TRUE(finishes_within([&] { g.wait(); }, 10000ms))
        << "semaphore(" << n << ") failed to acquire(_, 1) with acquire(_, " << n + 1 << ") pending";
    EXPECT_EQ(failures.load(), 0);
    cancel();
  });
}

// TestLargeAcquireDoesntStarve: a large acquire gets through a stream of small ones.
TEST(GoSemaphore, LargeAcquireDoesntStarve) {
  go::run([] {
    go::context ctx = go::background();
    std::int64_t n = go::max_procs();
    go::semaphore sem(n);
    std::atomic<bool> running{true};
    go::wait_group wg;
    for (std::int64_t i = n; i > 0; --i) {
      (void)sem.acquire(ctx, 1);
      wg.go([&] {
        while (running) {
          go::sleep(1ms);
          sem.release(1);
          (void)sem.acquire(ctx, 1);
        }
        sem.release(1);
      });
    }
    EXPECT_TRUE(finishes_within([&] { (void)sem.acquire(ctx, n); }, 10000ms)) << "large acquire starved";
    running = false;
    sem.release(n);
    wg.wait();
  });
}

// TestAllocCancelDoesntStarve: cancelling a blocked large acquire lets a small one through.
TEST(GoSemaphore, AllocCancelDoesntStarve) {
  go::run([] {
    go::semaphore sem(10);
    // Block off a portion of the semaphore so that acquire(_, 10) can eventually succeed.
    (void)sem.acquire(go::background(), 1);
    // In the background, acquire(_, 10).
    auto [ctx, cancel] = go::with_cancel(go::background());
    go::spawn([&sem, c = ctx] { (void)sem.acquire(c, 10); });
    // Wait until the acquire(_, 10) call blocks.
    while (sem.try_acquire(1)) {
      sem.release(1);
      go::yield();
    }
    // Now try to take 1 and, at the same time, unblock the acquire(_, 10) call.
    go::spawn([cancel = cancel] { cancel(); });
    go::error err = sem.acquire(go::background(), 1);
    EXPECT_FALSE(err) << "acquire(_, 1) failed unexpectedly: " << err.message();
    sem.release(1);
  });
}

// TestWeightedAcquireCanceled (Go issue 63615): a context cancelled before enough tokens
// become available fails the acquire, even though the tokens come right after; and a done
// context fails even when the tokens are free.
TEST(GoSemaphore, WeightedAcquireCanceled) {
  go::run([] {
    go::semaphore sem(2);
    auto [ctx, cancel] = go::with_cancel(go::background());
    sem.acquire(1);
    auto ch = go::make_chan<void>();
    go::spawn([&sem, ch, cancel = cancel] {
      // Synchronize with the acquire(2) below.
      while (sem.try_acquire(1)) {
        sem.release(1);
        go::yield();
      }
      // Now cancel ctx, and then release the token.
      cancel();
      sem.release(1);
      ch.close();
    });
    // Since the context being closed happens before enough tokens become available, this
    // acquire must fail.
    go::error err = sem.acquire(ctx, 2);
    EXPECT_TRUE(err == go::errc::canceled) << "want context canceled, got: " << err.message();
    // There must always be two tokens in the semaphore after the other goroutine releases
    // the one we held at the start.
    ch.recv();
    ASSERT_TRUE(sem.try_acquire(2)) << "try_acquire after cancelled acquire failed";
    // Additionally verify that we don't acquire with a done context even when we wouldn't
    // need to block to do so.
    sem.release(2);
    err = sem.acquire(ctx, 1);
    EXPECT_TRUE(err == go::errc::canceled) << "want context canceled, got: " << err.message();
  });
}

// --- gocxx ---

// A waiter granted its tokens whose context is cancelled before it runs again gives them
// back and fails, as x/sync's (whichever of ready and done its select sees first). In a
// bubble, so that the release and the cancel both happen before the waiter runs.
TEST(Semaphore, GrantedThenCancelledBeforeItRunsFails) {
  go::synctest::run([] {
    go::semaphore sem(1);
    sem.acquire(1);
    auto [ctx, cancel] = go::with_cancel(go::background());
    go::error err;
    bool returned = false;
    go::spawn([&, ctx = ctx] {
      err = sem.acquire(ctx, 1);
      returned = true;
    });
    go::synctest::wait();  // the waiter is queued
    sem.release(1);        // grants the token to the waiter...
    cancel();              // ...whose context is done before it returns
    go::synctest::wait();
    ASSERT_TRUE(returned);
    EXPECT_TRUE(err == go::errc::canceled) << "want context canceled, got: " << err.message();
    EXPECT_TRUE(sem.try_acquire(1)) << "the granted token was not given back";
  });
}

TEST(Semaphore, CancelledAcquireLeavesNoWaiter) {
  go::run([] {
    go::semaphore sem(1);
    sem.acquire(1);
    auto start = steady_clock::now();  // before the deadline is computed
    auto [ctx, cancel] = go::with_timeout(go::background(), 5ms);
    go::error err = sem.acquire(ctx, 1);
    EXPECT_TRUE(err == go::errc::deadline_exceeded) << err.message();
    EXPECT_GE(steady_clock::now() - start, 5ms);
    sem.release(1);
    EXPECT_TRUE(sem.try_acquire(1)) << "the cancelled waiter is still queued";
    sem.release(1);
  });
}

TEST(Semaphore, WaitersAreServedInArrivalOrder) {
  go::synctest::run([] {
    go::semaphore sem(1);
    sem.acquire(1);
    auto order = go::make_chan<int>(10);
    for (int i = 0; i < 10; ++i) {
      go::spawn([&sem, order, i] {
        sem.acquire(1);
        order.send(i);
      });
      go::synctest::wait();  // it has queued
    }
    for (int i = 0; i < 10; ++i) {
      sem.release(1);
      EXPECT_EQ(*order.recv(), i);
    }
  });
}

TEST(Semaphore, ALargeRequestMakesLaterSmallOnesWait) {
  go::run([] {
    go::semaphore sem(4);
    sem.acquire(1);
    auto got_big = go::make_chan<void>(1);
    go::spawn([&sem, got_big] {
      sem.acquire(4);
      got_big.send();
    });
    go::sleep(5ms);
    EXPECT_FALSE(sem.try_acquire(1)) << "a small request jumped the queue";
    EXPECT_EQ(got_big.try_recv(), go::chan_status::would_block);
    sem.release(1);
    EXPECT_TRUE(got_big.recv());
    sem.release(4);
  });
}

TEST(Semaphore, CancellingTheHeadLetsTheWaitersBehindIn) {
  go::run([] {
    go::semaphore sem(4);
    sem.acquire(2);
    auto [ctx, cancel] = go::with_cancel(go::background());
    auto big = go::make_chan<bool>(1);
    go::spawn([&sem, big, c = ctx] { big.send(!sem.acquire(c, 4)); });
    go::sleep(5ms);
    auto small = go::make_chan<void>(1);
    go::spawn([&sem, small] {
      sem.acquire(1);
      small.send();
    });
    go::sleep(5ms);
    EXPECT_EQ(small.try_recv(), go::chan_status::would_block);
    cancel();
    EXPECT_FALSE(*big.recv()) << "the cancelled acquire succeeded";
    EXPECT_TRUE(small.recv());
    sem.release(3);
  });
}

TEST(Semaphore, AcquireOnADoneContext) {
  go::semaphore sem(1);
  auto [ctx, cancel] = go::with_cancel(go::background());
  cancel();
  EXPECT_TRUE(sem.acquire(ctx, 1) == go::errc::canceled) << "fails though the token is free";
  EXPECT_TRUE(sem.acquire(ctx, 2) == go::errc::canceled);  // too big
  EXPECT_TRUE(sem.try_acquire(1)) << "the failed acquire took nothing";
}

TEST(Semaphore, TooBigARequestWaitsForItsContext) {
  go::run([] {
    go::semaphore sem(2);
    auto [ctx, cancel] = go::with_timeout(go::background(), 5ms);
    EXPECT_TRUE(sem.acquire(ctx, 3) == go::errc::deadline_exceeded);
    EXPECT_TRUE(sem.try_acquire(2));
  });
}

TEST(Semaphore, ReleasingMoreThanHeldLeavesItUnchanged) {
  go::semaphore sem(2);
  sem.acquire(1);
  EXPECT_THROW(sem.release(2), go::sync_error);
  sem.release(1);
  EXPECT_TRUE(sem.try_acquire(2));
}

TEST(Semaphore, ManyTimedOutWaitersLeaveNothingBehind) {
  go::run([] {
    go::semaphore sem(1);
    sem.acquire(1);
    auto [parent, cancel_parent] = go::with_cancel(go::background());
    auto nodes = go::detail::live_context_nodes();
    go::wait_group wg;
    std::atomic<int> failed{0};
    for (int i = 0; i < 200; ++i) {
      wg.go([&, i, parent = parent] {
        auto [ctx, cancel] = go::with_timeout(parent, std::chrono::microseconds(100 + i * 10));
        if (sem.acquire(ctx, 1)) failed++;
        cancel();
      });
    }
    wg.wait();
    EXPECT_EQ(failed.load(), 200);
    EXPECT_EQ(go::detail::context_child_count(parent), 0u);
    // A deadline's cancelling goroutine drops its reference just after waking the waiter.
    for (int i = 0; i < 5000 && go::detail::live_context_nodes() > nodes; ++i) go::sleep(1ms);
    EXPECT_LE(go::detail::live_context_nodes(), nodes);
    sem.release(1);
    EXPECT_TRUE(sem.try_acquire(1));
    cancel_parent();
  });
}

TEST(Semaphore, GrantRacingCancelNeverLosesTokens) {
  go::run([] {
    go::semaphore sem(3);
    go::wait_group wg;
    for (int g = 0; g < 8; ++g) {
      wg.go([&, g] {
        for (long i = 0; i < scaled(2000); ++i) {
          auto [ctx, cancel] = go::with_cancel(go::background());
          if (i % 2 == 0) go::spawn([cancel = cancel] { cancel(); });
          else if (i % 3 == 0) cancel();
          if (!sem.acquire(ctx, 1 + (i + g) % 2)) sem.release(1 + (i + g) % 2);
          cancel();
        }
      });
    }
    wg.wait();
    EXPECT_TRUE(sem.try_acquire(3)) << "tokens lost";
  });
}

TEST(Semaphore, PlainThreadsAndGoroutinesShareIt) {
  go::semaphore sem(2);
  std::atomic<int> held{0};
  std::atomic<bool> over{false};
  auto work = [&] {
    for (int i = 0; i < 500; ++i) {
      sem.acquire(1);
      if (held.fetch_add(1) + 1 > 2) over = true;
      held.fetch_sub(1);
      sem.release(1);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) threads.emplace_back(work);
  go::wait_group wg;
  for (int g = 0; g < 3; ++g) wg.go(work);
  for (auto& t : threads) t.join();
  wg.wait();
  EXPECT_FALSE(over.load());
  EXPECT_TRUE(sem.try_acquire(2));
}
