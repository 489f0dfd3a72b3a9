// Go's package sync tests (go/src/sync/{mutex,rwmutex,waitgroup,once,cond}_test.go, Go 1.19),
// ported behaviour by behaviour; each test is named after the Go test it ports. Sizes are
// Go's where they run fast; loops that TSan would make slow go through gocxx_test::scaled.
//
// Adapted:
// - TestMutexMisuse runs each misuse in a child process (here a death test, in a goroutine
//   and on a plain thread) and expects it to fail naming "unlocked"; here also with Go's
//   exact fatal message and exit status 2.
// - A panic in Go's goroutines (reader, writer) becomes a failure counted in an atomic.
// - Goroutines that Go leaves running at the end of a test are joined here, because they
//   use the test's stack.
// Not ported:
// - TestCondCopy, TestWaitGroupAlign's alignment purpose: copying is a compile error here
//   (checked with static_assert below); alignment is the compiler's business.
// - The benchmarks (bench/sync_bench.cpp has ours).

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "go/chan.hpp"
#include "go/runtime.hpp"
#include "go/select.hpp"
#include "go/sync.hpp"
#include "go/time.hpp"
#include "go_sync_ports.hpp"
#include "test_scale.hpp"

using namespace std::chrono_literals;
using gocxx_test::scaled;

namespace {

static_assert(!std::is_copy_constructible_v<go::mutex> && !std::is_copy_assignable_v<go::mutex>);
static_assert(!std::is_copy_constructible_v<go::rw_mutex> && !std::is_copy_constructible_v<go::cond>);
static_assert(!std::is_copy_constructible_v<go::once> && !std::is_copy_constructible_v<go::wait_group>);

using gocxx_test::max_procs_scope;
using gocxx_test::go_sync::ready_now;
using gocxx_test::go_sync::received_within;

// ---------------------------------------------------------------------------------------
// mutex_test.go

// TestSemaphore: the runtime semaphore under Mutex and RWMutex, hammered with one permit.
// (Go only checks that it does not deadlock; we also check mutual exclusion.)
TEST(GoSync, Semaphore) {
  go::run([] {
    go::detail::sema s;
    s.count = 1;
    std::atomic<int> inside{0};
    std::atomic<int> overlaps{0};
    auto c = go::make_chan<bool>();
    const long loops = scaled(1000);
    for (int i = 0; i < 10; i++) {
      go::spawn([&, c] {
        for (long j = 0; j < loops; j++) {
          go::detail::semacquire(s, false, go::detail::wait_reason::semacquire, go::detail::source_location::current());
          if (inside.fetch_add(1) != 0) overlaps++;
          if (j % 7 == 0) go::yield();
          inside.fetch_sub(1);
          go::detail::semrelease(s, false);
        }
        c.send(true);
      });
    }
    for (int i = 0; i < 10; i++) c.recv();
    EXPECT_EQ(overlaps.load(), 0);
    EXPECT_EQ(s.count.load(), 1u);
  });
}

// hammer_mutex also counts its critical sections in `locked` and increments `counter` by a
// load and a store under the lock, so a critical section that overlapped another would
// lose an increment.
void hammer_mutex(go::mutex& m, long loops, std::atomic<long>& counter, std::atomic<long>& locked,
                  const go::chan<bool>& cdone) {
  long mine = 0;
  for (long i = 0; i < loops; i++) {
    if (i % 3 == 0) {
      if (m.try_lock()) {
        counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        m.unlock();
        mine++;
      }
      continue;
    }
    m.lock();
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    m.unlock();
    mine++;
  }
  locked += mine;
  cdone.send(true);
}

// TestMutex: TryLock on a locked and an unlocked mutex; 10 goroutines hammering Lock,
// Unlock and TryLock. (We also count the increments made under the lock: none is lost.)
TEST(GoSync, Mutex) {
  go::run([] {
    go::mutex m;
    m.lock();
    ASSERT_FALSE(m.try_lock()) << "TryLock succeeded with mutex locked";
    m.unlock();
    ASSERT_TRUE(m.try_lock()) << "TryLock failed with mutex unlocked";
    m.unlock();

    std::atomic<long> counter{0}, locked{0};
    auto c = go::make_chan<bool>();
    const long loops = scaled(1000);
    for (int i = 0; i < 10; i++) go::spawn([&, c] { hammer_mutex(m, loops, counter, locked, c); });
    for (int i = 0; i < 10; i++) c.recv();
    gocxx_test::go_sync::mutex_hammer_checks(m, loops, counter.load(), locked.load());
  });
}

// TestMutexMisuse: each misuse of misuseTests is a fatal error about an unlocked lock, as in
// Go: "fatal error: <message>" and exit status 2, on a plain thread and in a goroutine.
TEST(GoSync, MutexMisuse) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  struct misuse {
    const char* name;
    void (*f)();
    const char* message;
  };
  const misuse tests[] = {
      {"Mutex.Unlock",
       [] {
         go::mutex mu;
         mu.unlock();
       },
       "sync: unlock of unlocked mutex"},
      {"Mutex.Unlock2",
       [] {
         go::mutex mu;
         mu.lock();
         mu.unlock();
         mu.unlock();
       },
       "sync: unlock of unlocked mutex"},
      {"RWMutex.Unlock",
       [] {
         go::rw_mutex mu;
         mu.unlock();
       },
       "sync: Unlock of unlocked RWMutex"},
      {"RWMutex.Unlock2",
       [] {
         go::rw_mutex mu;
         mu.r_lock();
         mu.unlock();
       },
       "sync: Unlock of unlocked RWMutex"},
      {"RWMutex.Unlock3",
       [] {
         go::rw_mutex mu;
         mu.lock();
         mu.unlock();
         mu.unlock();
       },
       "sync: Unlock of unlocked RWMutex"},
      {"RWMutex.RUnlock",
       [] {
         go::rw_mutex mu;
         mu.r_unlock();
       },
       "sync: RUnlock of unlocked RWMutex"},
      {"RWMutex.RUnlock2",
       [] {
         go::rw_mutex mu;
         mu.lock();
         mu.r_unlock();
       },
       "sync: RUnlock of unlocked RWMutex"},
      {"RWMutex.RUnlock3",
       [] {
         go::rw_mutex mu;
         mu.r_lock();
         mu.r_unlock();
         mu.r_unlock();
       },
       "sync: RUnlock of unlocked RWMutex"},
  };
  for (const misuse& t : tests) {
    std::string want = std::string("fatal error: ") + t.message + "\n";
    EXPECT_NE(want.find("unlocked"), std::string::npos) << t.name;
    EXPECT_EXIT(t.f(), testing::ExitedWithCode(2), want) << t.name << " on a plain thread";
    EXPECT_EXIT(go::run(t.f), testing::ExitedWithCode(2), want) << t.name << " in a goroutine";
  }
}

// TestMutexFairness: a goroutine that holds the mutex almost all the time (it sleeps
// 100 us while holding it) must not keep another one from locking it 10 times.
TEST(GoSync, MutexFairness) {
  go::run([] {
    go::mutex mu;
    auto stop = go::make_chan<bool>();
    go::wait_group wg;
    wg.go([&] {
      for (;;) {
        mu.lock();
        go::sleep(100us);
        mu.unlock();
        if (go::select(go::recv_case(stop), go::default_case()) == 0) return;
      }
    });
    auto done = go::make_chan<bool>(1);
    wg.go([&] {
      for (int i = 0; i < 10; i++) {
        go::sleep(100us);
        mu.lock();
        mu.unlock();
      }
      done.send(true);
    });
    EXPECT_TRUE(received_within(done, 10s)) << "can't acquire Mutex in 10 seconds";
    stop.close();
    wg.wait();
  });
}

// ---------------------------------------------------------------------------------------
// rwmutex_test.go

void do_test_parallel_readers(int num_readers, int gomaxprocs) {
  max_procs_scope procs(gomaxprocs);
  go::run([num_readers] {
    go::rw_mutex m;
    gocxx_test::go_sync::parallel_readers(num_readers, [&m](auto clocked, auto cunlock, auto cdone) {
      go::spawn([&m, clocked, cunlock, cdone] {
        m.r_lock();
        clocked.send(true);
        cunlock.recv();
        m.r_unlock();
        cdone.send(true);
      });
    });
  });
}

// TestParallelReaders: any number of readers hold the lock at once.
TEST(GoSync, ParallelReaders) {
  do_test_parallel_readers(1, 4);
  do_test_parallel_readers(3, 4);
  do_test_parallel_readers(4, 2);
}

void hammer_rw_mutex(int gomaxprocs, int num_readers, long num_iterations) {
  max_procs_scope procs(gomaxprocs);
  go::run([=] {
    // Number of active readers + 10000 * number of active writers.
    std::atomic<std::int32_t> activity{0};
    std::atomic<int> failures{0};
    go::rw_mutex rwm;
    auto cdone = go::make_chan<bool>();
    auto reader = [&, cdone] {
      for (long i = 0; i < num_iterations; i++) {
        rwm.r_lock();
        std::int32_t n = activity.fetch_add(1) + 1;
        if (n < 1 || n >= 10000) failures++;  // Go: panic(fmt.Sprintf("wlock(%d)\n", n))
        activity.fetch_sub(1);
        rwm.r_unlock();
      }
      cdone.send(true);
    };
    auto writer = [&, cdone] {
      for (long i = 0; i < num_iterations; i++) {
        rwm.lock();
        std::int32_t n = activity.fetch_add(10000) + 10000;
        if (n != 10000) failures++;
        activity.fetch_sub(10000);
        rwm.unlock();
      }
      cdone.send(true);
    };
    go::spawn([=] { writer(); });
    int i = 0;
    for (; i < num_readers / 2; i++) go::spawn([=] { reader(); });
    go::spawn([=] { writer(); });
    for (; i < num_readers; i++) go::spawn([=] { reader(); });
    // Wait for the 2 writers and all readers to finish.
    for (int k = 0; k < 2 + num_readers; k++) cdone.recv();
    EXPECT_EQ(failures.load(), 0) << "GOMAXPROCS=" << gomaxprocs << " readers=" << num_readers;
  });
}

// TestRWMutex: TryLock/TryRLock in every state, then readers and writers hammering it.
TEST(GoSync, RWMutex) {
  go::run([] {
    go::rw_mutex m;
    m.lock();
    ASSERT_FALSE(m.try_lock()) << "TryLock succeeded with mutex locked";
    ASSERT_FALSE(m.try_r_lock()) << "TryRLock succeeded with mutex locked";
    m.unlock();

    ASSERT_TRUE(m.try_lock()) << "TryLock failed with mutex unlocked";
    m.unlock();

    ASSERT_TRUE(m.try_r_lock()) << "TryRLock failed with mutex unlocked";
    ASSERT_TRUE(m.try_r_lock()) << "TryRLock failed with mutex rlocked";
    ASSERT_FALSE(m.try_lock()) << "TryLock succeeded with mutex rlocked";
    m.r_unlock();
    m.r_unlock();
  });

  const long n = scaled(1000);
  hammer_rw_mutex(1, 1, n);
  hammer_rw_mutex(1, 3, n);
  hammer_rw_mutex(1, 10, n);
  hammer_rw_mutex(4, 1, n);
  hammer_rw_mutex(4, 3, n);
  hammer_rw_mutex(4, 10, n);
  hammer_rw_mutex(10, 1, n);
  hammer_rw_mutex(10, 3, n);
  hammer_rw_mutex(10, 10, n);
  hammer_rw_mutex(10, 5, n);
}

// TestRLocker: RLocker read-locks (a second read lock is granted, a writer waits for
// both) and respects the write lock.
TEST(GoSync, RLocker) {
  go::run([] {
    go::rw_mutex wl;
    go::locker rl = wl.r_locker();
    auto wlocked = go::make_chan<bool>(1);
    auto rlocked = go::make_chan<bool>(1);
    const int n = 10;
    go::wait_group wg;
    wg.go([&] {
      for (int i = 0; i < n; i++) {
        rl.lock();
        rl.lock();
        rlocked.send(true);
        wl.lock();
        wlocked.send(true);
      }
    });
    for (int i = 0; i < n; i++) {
      rlocked.recv();
      rl.unlock();
      ASSERT_FALSE(ready_now(wlocked)) << "RLocker() didn't read-lock it";
      rl.unlock();
      wlocked.recv();
      ASSERT_FALSE(ready_now(rlocked)) << "RLocker() didn't respect the write lock";
      wl.unlock();
    }
    wg.wait();
  });
}

// ---------------------------------------------------------------------------------------
// waitgroup_test.go

void test_wait_group(go::wait_group& wg1, go::wait_group& wg2) {
  gocxx_test::go_sync::wait_group_barrier(wg1, wg2, [&](auto exited) {
    go::spawn([&wg1, &wg2, exited] {
      wg1.done();
      wg2.wait();
      exited.send(true);
    });
  });
}

// TestWaitGroup: two wait groups used as barriers, reused 8 times.
TEST(GoSync, WaitGroup) {
  go::run([] {
    go::wait_group wg1, wg2;
    // Run the same test a few times to ensure barrier is in a proper state.
    for (int i = 0; i != 8; i++) test_wait_group(wg1, wg2);
  });
}

// TestWaitGroupMisuse: Add(1), Done(), Done() panics with "sync: negative WaitGroup counter".
TEST(GoSync, WaitGroupMisuse) {
  go::wait_group wg;
  wg.add(1);
  wg.done();
  try {
    wg.done();
    FAIL() << "Should panic";
  } catch (const go::sync_error& e) {
    EXPECT_STREQ(e.what(), "sync: negative WaitGroup counter");
  }
  wg.wait();  // the counter is still zero: wait returns
}

// TestWaitGroupRace: Wait returns only after both Done calls (no spurious wakeup).
TEST(GoSync, WaitGroupRace) {
  go::run([] {
    const long iterations = scaled(1000);
    for (long i = 0; i < iterations; i++) {
      go::wait_group wg;
      std::atomic<std::int32_t> n{0};
      wg.add(1);
      go::spawn([&] {
        n.fetch_add(1);
        wg.done();
      });
      wg.add(1);
      go::spawn([&] {
        n.fetch_add(1);
        wg.done();
      });
      wg.wait();
      ASSERT_EQ(n.load(), 2) << "Spurious wakeup from Wait";
    }
  });
}

// TestWaitGroupAlign: a wait group after a byte in a struct works.
TEST(GoSync, WaitGroupAlign) {
  go::run([] {
    struct X {
      char x;
      go::wait_group wg;
    } x;
    x.wg.add(1);
    go::spawn([](X* p) { p->wg.done(); }, &x);
    x.wg.wait();
  });
}

// ---------------------------------------------------------------------------------------
// once_test.go

// TestOnce: ten goroutines call Do; the function runs once and every caller sees its effect.
TEST(GoSync, Once) {
  go::run([] {
    int o = 0;
    go::once once;
    std::atomic<int> bad{0};
    auto c = go::make_chan<bool>();
    const int N = 10;
    for (int i = 0; i < N; i++) {
      go::spawn([&, c] {
        once.call([&] { o++; });
        if (o != 1) bad++;  // once failed inside run
        c.send(true);
      });
    }
    for (int i = 0; i < N; i++) c.recv();
    EXPECT_EQ(bad.load(), 0);
    EXPECT_EQ(o, 1) << "once failed outside run";
  });
}

// TestOncePanic: a panicking function still counts as done; the panic reaches the caller.
TEST(GoSync, OncePanic) {
  go::once once;
  bool threw = false;
  try {
    once.call([] { throw std::runtime_error("failed"); });
  } catch (const std::runtime_error& e) {
    threw = std::string(e.what()) == "failed";
  }
  ASSERT_TRUE(threw) << "Once.Do did not panic";
  bool called = false;
  once.call([&] { called = true; });
  EXPECT_FALSE(called) << "Once.Do called twice";
}

// ---------------------------------------------------------------------------------------
// cond_test.go

// TestCondSignal: each Signal wakes exactly one of two waiters; a last Signal with nobody
// waiting is harmless.
TEST(GoSync, CondSignal) {
  go::run([] {
    go::mutex m;
    go::cond c(m);
    go::wait_group wg;
    gocxx_test::go_sync::cond_signal(m, c, [&](auto running, auto awake) {
      wg.go([&m, &c, running, awake] {
        m.lock();
        running.send(true);
        c.wait();
        awake.send(true);
        m.unlock();
      });
    });
    if (testing::Test::HasFatalFailure()) return;  // the waiters may still wait
    wg.wait();
  });
}

// TestCondSignalGenerations: Signal wakes waiters in the order they started waiting.
TEST(GoSync, CondSignalGenerations) {
  go::run([] {
    go::mutex m;
    go::cond c(m);
    go::wait_group wg;
    gocxx_test::go_sync::cond_signal_generations(m, c, [&](int i, auto running, auto awake) {
      wg.go([&m, &c, running, awake, i] {
        m.lock();
        running.send(true);
        c.wait();
        awake.send(i);
        m.unlock();
      });
    });
    if (testing::Test::HasFatalFailure()) return;  // the waiters may still wait
    wg.wait();
  });
}

// TestCondBroadcast: Broadcast wakes every waiter exactly once, round after round.
TEST(GoSync, CondBroadcast) {
  go::run([] {
    go::mutex m;
    go::cond c(m);
    const int n = gocxx_test::sanitized ? 50 : 200;
    bool exit = false;
    go::wait_group wg;
    auto running = gocxx_test::go_sync::cond_broadcast(m, c, n, n, exit, [&](int g, auto running, auto awake) {
      wg.go([&, running, awake, g] {
        m.lock();
        while (!exit) {
          running.send(g);
          c.wait();
          awake.send(g);
        }
        m.unlock();
      });
    });
    wg.wait();
    ASSERT_FALSE(ready_now(running)) << "goroutine did not exit";
    c.broadcast();
  });
}

// TestRace (cond_test.go): Wait/Signal hand a plain variable back and forth under c.L; the
// mutex and the cond order every access.
TEST(GoSync, Race) {
  go::run([] {
    int x = 0;
    go::mutex mu;
    go::cond c(mu);
    auto done = go::make_chan<bool>();
    std::atomic<int> errors{0};
    go::spawn([&, done] {
      c.L.lock();
      x = 1;
      c.wait();
      if (x != 2) errors++;  // want 2
      x = 3;
      c.signal();
      c.L.unlock();
      done.send(true);
    });
    go::spawn([&, done] {
      c.L.lock();
      for (;;) {
        if (x == 1) {
          x = 2;
          c.signal();
          break;
        }
        c.L.unlock();
        go::yield();
        c.L.lock();
      }
      c.L.unlock();
      done.send(true);
    });
    go::spawn([&, done] {
      c.L.lock();
      for (;;) {
        if (x == 2) {
          c.wait();
          if (x != 3) errors++;  // want 3
          break;
        }
        if (x == 3) break;
        c.L.unlock();
        go::yield();
        c.L.lock();
      }
      c.L.unlock();
      done.send(true);
    });
    for (int i = 0; i < 3; i++) done.recv();
    EXPECT_EQ(errors.load(), 0);
  });
}

// TestCondSignalStealing: a Broadcast racing with a new Wait must still wake the goroutine
// that was waiting before the Broadcast.
TEST(GoSync, CondSignalStealing) {
  go::run([] {
    const long iterations = scaled(1000);
    for (long iters = 0; iters < iterations; iters++) {
      go::mutex m;
      go::cond cond(m);
      go::wait_group wg;

      // Start a waiter.
      auto ch = go::make_chan<void>();
      wg.go([&, ch] {
        m.lock();
        ch.send();
        cond.wait();
        m.unlock();
        ch.send();
      });

      ch.recv();
      m.lock();
      m.unlock();

      // We know that the waiter is in the cond.Wait() call because we synchronized with it,
      // then acquired/released the mutex it was holding when we synchronized.
      //
      // Start two goroutines that will race: one will broadcast on the cond var, the other
      // will wait on it. The new waiter may or may not get notified, but the first one has
      // to be notified.
      bool done = false;
      wg.go([&] { cond.broadcast(); });
      wg.go([&] {
        m.lock();
        while (!done) cond.wait();
        m.unlock();
      });

      // Check that the first waiter does get signaled.
      bool signaled = received_within(ch, 2s);

      // Release the second waiter in case it didn't get the broadcast.
      m.lock();
      done = true;
      m.unlock();
      cond.broadcast();
      if (!signaled) ch.recv();  // that broadcast freed the first waiter too
      wg.wait();
      ASSERT_TRUE(signaled) << "First waiter didn't get broadcast (iteration " << iters << ")";
    }
  });
}

}  // namespace
