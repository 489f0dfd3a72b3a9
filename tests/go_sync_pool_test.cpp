// go::pool: Go's sync/pool_test.go (Go 1.26), ported behaviour by behaviour and named after
// the Go tests (GoSync.Pool*), and gocxx's own checks (Pool.*): stealing, plain threads,
// bounds.
//
// Adapted:
// - Go pins the goroutine to its P (Runtime_procPin) between Put and Get; a goroutine here
//   stays on its worker while it does not park or yield, which the tests do not.
// - With no garbage collector, TestPoolGC ("does not hold pointers to previously cached
//   resources") and TestPoolRelease ("releases resources on GC") become: a drained pool
//   holds nothing, and a destroyed pool destroys what it held. Objects count themselves.
// - TestPoolDequeue tests pool_ring, the ring under each shard (Go's poolDequeue, here of 32
//   slots where Go's test makes 16), with 1e6 values where Go pushes 2e6 (fewer under the
//   sanitizers).
// Not ported:
// - TestPool's GC part (the victim cache): there is no GC; Pool.BoundedWhenNothingTakes checks
//   what replaces it.
// - TestPoolChain: there is no chain of growing rings; a full ring spills to the overflow list.
// - TestNilPool: calling a member through a null pointer is undefined in C++.

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "go/runtime.hpp"
#include "go/sync.hpp"
#include "sync/pool_dequeue.hpp"
#include "test_scale.hpp"

namespace {

using gocxx_test::scaled;

// counted counts its live instances in *live.
struct counted {
  explicit counted(std::atomic<int>* l, int v = 0) : live(l), value(v) { ++*live; }
  ~counted() { --*live; }
  counted(const counted&) = delete;
  counted& operator=(const counted&) = delete;
  std::atomic<int>* live;
  int value;
};

// put_from_goroutines puts `each` counted objects into p from each of n goroutines, which
// spread over the workers.
void put_from_goroutines(go::pool<counted>& p, std::atomic<int>& live, int n, int each) {
  go::run([&] {
    go::wait_group wg;
    for (int g = 0; g < n; ++g) {
      wg.go([&, g] {
        for (int i = 0; i < each; i++) p.put(std::make_unique<counted>(&live, g));
      });
    }
    wg.wait();
  });
}

// TestPool: an empty pool gets null; on one worker, put a and b then get a and b (the
// private slot first, then the shard) and then null.
TEST(GoSync, Pool) {
  go::run([] {
    go::pool<std::string> p;
    EXPECT_EQ(p.get(), nullptr) << "expected empty";
    p.put(std::make_unique<std::string>("a"));
    p.put(std::make_unique<std::string>("b"));
    auto g = p.get();
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(*g, "a");
    g = p.get();
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(*g, "b");
    EXPECT_EQ(p.get(), nullptr);

    // Put in a large number of objects so they spill into stealable space.
    for (int i = 0; i < 100; i++) p.put(std::make_unique<std::string>("c"));
    g = p.get();
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(*g, "c");
  });
}

// TestPoolNew: get calls the new function when the pool has nothing.
TEST(GoSync, PoolNew) {
  go::run([] {
    int i = 0;
    go::pool<int> p([&] { return std::make_unique<int>(++i); });
    EXPECT_EQ(*p.get(), 1);
    EXPECT_EQ(*p.get(), 2);
    p.put(std::make_unique<int>(42));
    EXPECT_EQ(*p.get(), 42);
    EXPECT_EQ(*p.get(), 3);
  });
}

// TestPoolGC: a pool drained by get keeps nothing of what it held.
TEST(GoSync, PoolGC) {
  go::run([] {
    std::atomic<int> live{0};
    go::pool<counted> p;
    constexpr int n = 100;
    for (int i = 0; i < n; i++) p.put(std::make_unique<counted>(&live));
    std::vector<std::unique_ptr<counted>> got;
    while (auto x = p.get()) got.push_back(std::move(x));
    EXPECT_EQ(static_cast<int>(got.size()), live.load()) << "the pool kept some";
    got.clear();
    EXPECT_EQ(live.load(), 0) << "the pool still owns objects it gave out";
  });
}

// TestPoolRelease: destroying a pool destroys what it holds, from every worker's shard, the
// overflow list included.
TEST(GoSync, PoolRelease) {
  std::atomic<int> live{0};
  {
    go::pool<counted> p;
    put_from_goroutines(p, live, 8, 100);
    for (int i = 0; i < 10; i++) p.put(std::make_unique<counted>(&live));  // a plain thread's
    EXPECT_GT(live.load(), 0);
  }
  EXPECT_EQ(live.load(), 0) << "objects leaked by the pool's destructor";
}

// TestPoolStress: goroutines put and get concurrently; every get is null or a value put.
TEST(GoSync, PoolStress) {
  go::run([] {
    constexpr int P = 10;
    const long N = scaled(100000);
    go::pool<int> p;
    std::atomic<int> bad{0};
    go::wait_group wg;
    for (int i = 0; i < P; i++) {
      wg.go([&] {
        std::unique_ptr<int> v = std::make_unique<int>(0);
        for (long j = 0; j < N; j++) {
          if (!v) v = std::make_unique<int>(0);
          p.put(std::move(v));
          v = p.get();
          if (v && *v != 0) {
            bad++;
            break;
          }
        }
      });
    }
    wg.wait();
    EXPECT_EQ(bad.load(), 0) << "expect 0";
  });
}

// TestPoolDequeue: one producer pushes 0..N-1 at the head (and pops one back every tenth),
// P-1 consumers pop the tail; every value comes out exactly once.
TEST(GoSync, PoolDequeue) {
  go::run([] {
    constexpr int P = 10;
    const int N = static_cast<int>(scaled(1'000'000));
    go::detail::pool_ring d;
    std::vector<std::atomic<int>> have(static_cast<std::size_t>(N));
    std::atomic<bool> stop{false};
    // Values are stored as pointers: v is stored as v + 1, so 0 is not null.
    auto record = [&](void* x) {
      auto val = static_cast<int>(reinterpret_cast<std::uintptr_t>(x) - 1);
      have[static_cast<std::size_t>(val)]++;
      if (val == N - 1) stop = true;
    };
    go::wait_group wg;
    for (int i = 1; i < P; i++) {
      wg.go([&] {
        int fail = 0;
        while (!stop.load()) {
          if (void* x = d.pop_tail()) {
            fail = 0;
            record(x);
          } else if (++fail % 100 == 0) {
            go::yield();  // let the pusher run
          }
        }
      });
    }
    std::atomic<int> pop_head{0};
    wg.go([&] {
      for (int j = 0; j < N; j++) {
        while (!d.push_head(reinterpret_cast<void*>(static_cast<std::uintptr_t>(j) + 1))) go::yield();
        if (j % 10 == 0) {
          if (void* x = d.pop_head()) {
            pop_head++;
            record(x);
          }
        }
      }
    });
    wg.wait();
    int wrong = 0;
    for (int i = 0; i < N; i++) {
      if (have[static_cast<std::size_t>(i)].load() != 1 && wrong++ < 10) {
        ADD_FAILURE() << "expected have[" << i << "] = 1, got " << have[static_cast<std::size_t>(i)].load();
      }
    }
    EXPECT_EQ(wrong, 0);
    // As Go's (outside its short mode): at least some pop_heads succeeded.
    EXPECT_GT(pop_head.load(), 0) << "pop_head never succeeded";
  });
}

// --- gocxx ---

// A get with nothing on its own worker takes what another worker put: here a plain thread
// empties shards that only goroutines filled.
TEST(Pool, GetStealsFromOtherWorkers) {
  std::atomic<int> live{0};
  go::pool<counted> p;
  put_from_goroutines(p, live, 4, 20);
  const int held = live.load();
  int got = 0;
  while (auto x = p.get()) got++;  // a plain thread: the overflow list and the rings' tails
  // Only the workers' private slots are out of a plain thread's reach (one each).
  EXPECT_GE(got, held - go::max_procs());
  EXPECT_GT(got, 0);
}

// Plain threads share the overflow list: what one puts, another gets.
TEST(Pool, PlainThreadsShareTheOverflowList) {
  go::pool<int> p;
  std::thread([&] { p.put(std::make_unique<int>(7)); }).join();
  std::unique_ptr<int> x;
  std::thread([&] { x = p.get(); }).join();
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(*x, 7);
  EXPECT_EQ(p.get(), nullptr);
}

// Without a GC to empty it, a pool that is only given objects keeps a bounded number (a slot
// and a ring per worker, and the overflow list) and destroys the rest at once.
TEST(Pool, BoundedWhenNothingTakes) {
  std::atomic<int> live{0};
  go::pool<counted> p;
  go::run([&] {
    for (int i = 0; i < 10000; i++) p.put(std::make_unique<counted>(&live));
  });
  for (int i = 0; i < 10000; i++) p.put(std::make_unique<counted>(&live));
  const int bound = go::max_procs() * (1 + static_cast<int>(go::detail::pool_ring::size)) + 128;
  EXPECT_LE(live.load(), bound);
  EXPECT_GT(live.load(), 0);
}

// put(nullptr) is ignored, as Go's Put(nil).
TEST(Pool, PutNullIsIgnored) {
  go::pool<int> p;
  p.put(nullptr);
  EXPECT_EQ(p.get(), nullptr);
}

}  // namespace
