// The awaitables of sync, x/sync's semaphore and errgroup, and rate (go/task.hpp,
// go/semaphore.hpp, go/errgroup.hpp, go/rate.hpp) in stackless goroutines: each alone, and
// sharing one object with stackful goroutines and plain threads. Ported from Go's sync tests
// in stackless form: TestMutex (the hammer), TestMutexFairness, TestParallelReaders,
// TestRWMutex (the hammer), TestWaitGroup, TestCondSignal, TestCondSignalGenerations and
// TestCondBroadcast. Not ported: the misuse tests (a misuse is the same call in either form)
// and Pool (it has no awaitable form); Once's awaitable has tests of its own.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "go/chan.hpp"
#include "go/context.hpp"
#include "go/errgroup.hpp"
#include "go/errors.hpp"
#include "go/rate.hpp"
#include "go/runtime.hpp"
#include "go/select.hpp"
#include "go/semaphore.hpp"
#include "go/sync.hpp"
#include "go/task.hpp"
#include "go/time.hpp"
#include "go_sync_ports.hpp"
#include "test_scale.hpp"

using namespace std::chrono_literals;
using gocxx_test::dump_once_it_shows;
using gocxx_test::max_procs_scope;
using gocxx_test::scaled;
using gocxx_test::go_sync::ready_now;
using gocxx_test::go_sync::received_within;

// ---------------------------------------------------------------------------------------
// mutex

TEST(TaskSync, FastPathsCompleteWithoutSuspending) {
  go::mutex mu;
  go::rw_mutex rw;
  go::wait_group wg;
  {
    auto lock = go::async_lock(mu);
    EXPECT_TRUE(lock.await_ready());  // took it: nothing to suspend for
  }
  EXPECT_FALSE(mu.try_lock());
  EXPECT_FALSE(go::async_lock(mu).await_ready());
  mu.unlock();
  EXPECT_TRUE(go::async_rlock(rw).await_ready());
  EXPECT_FALSE(rw.try_lock());
  rw.r_unlock();
  EXPECT_TRUE(go::async_lock(rw).await_ready());
  EXPECT_FALSE(rw.try_r_lock());
  rw.unlock();
  EXPECT_TRUE(go::async_wait(wg).await_ready());
  wg.add(1);
  EXPECT_FALSE(go::async_wait(wg).await_ready());
  wg.done();
}

// One mutex, three kinds of lockers: every increment is kept and no two critical sections
// overlap, whichever kind holds the lock and whichever kind waits.
TEST(TaskSync, MutexExcludesStacklessStackfulAndThreads) {
  max_procs_scope procs(4);
  go::mutex mu;
  long counter = 0;  // guarded by mu
  std::atomic<int> inside{0};
  std::atomic<bool> overlapped{false};
  const long per = scaled(2000);
  constexpr int stackless = 4, stackful = 4;
  auto enter = [&] {
    if (inside.fetch_add(1) != 0) overlapped = true;
    ++counter;
    inside.fetch_sub(1);
  };
  go::wait_group wg;
  go::run([&] {
    wg.add(stackless + stackful);
    for (int i = 0; i < stackless; ++i) {
      go::spawn([&]() -> go::task<void> {
        for (long k = 0; k < per; ++k) {
          co_await go::async_lock(mu);
          enter();
          if (k % 16 == 0) co_await go::async_yield();  // holding the lock: others queue
          mu.unlock();
        }
        wg.done();
      });
    }
    for (int i = 0; i < stackful; ++i) {
      go::spawn([&] {
        for (long k = 0; k < per; ++k) {
          std::lock_guard lock(mu);
          enter();
          if (k % 16 == 0) go::yield();
        }
        wg.done();
      });
    }
    std::thread t([&] {
      for (long k = 0; k < per; ++k) {
        std::lock_guard lock(mu);
        enter();
      }
    });
    wg.wait();
    t.join();
  });
  EXPECT_FALSE(overlapped.load());
  EXPECT_EQ(counter, (stackless + stackful + 1) * per);
}

// TestMutex, stackless: ten goroutines hammering lock, unlock and try_lock.
TEST(TaskSync, GoMutexHammer) {
  go::run([] {
    go::mutex m;
    std::atomic<long> counter{0}, locked{0};
    auto done = go::make_chan<bool>();
    const long loops = scaled(1000);
    for (int i = 0; i < 10; i++) {
      go::spawn([&, done]() -> go::task<void> {
        long mine = 0;
        for (long k = 0; k < loops; k++) {
          if (k % 3 == 0) {
            if (m.try_lock()) {
              counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
              m.unlock();
              mine++;
            }
            continue;
          }
          co_await go::async_lock(m);
          counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
          m.unlock();
          mine++;
        }
        locked += mine;
        co_await go::async_send(done, true);
      });
    }
    for (int i = 0; i < 10; i++) done.recv();
    gocxx_test::go_sync::mutex_hammer_checks(m, loops, counter.load(), locked.load());
  });
}

// TestMutexFairness, stackless: a goroutine that keeps taking the lock back does not starve
// one that wants it now and then (starvation mode hands the lock to the waiter).
TEST(TaskSync, GoMutexFairness) {
  go::run([] {
    go::mutex mu;
    auto stop = go::make_chan<void>();
    auto done = go::make_chan<bool>(1);
    go::wait_group wg;
    wg.add(2);
    go::spawn([&, stop]() -> go::task<void> {
      for (;;) {
        co_await go::async_lock(mu);
        co_await go::async_sleep(100us);
        mu.unlock();
        if (co_await go::async_select(go::recv_case(stop), go::default_case()) == 0) break;
      }
      wg.done();
    });
    go::spawn([&, done]() -> go::task<void> {
      for (int i = 0; i < 10; i++) {
        co_await go::async_sleep(100us);
        co_await go::async_lock(mu);
        mu.unlock();
      }
      co_await go::async_send(done, true);
      wg.done();
    });
    EXPECT_TRUE(received_within(done, 10s)) << "can't acquire Mutex in 10 seconds";
    stop.close();
    wg.wait();
  });
}

// ---------------------------------------------------------------------------------------
// rw_mutex

// TestParallelReaders, stackless: any number of readers hold the lock at once.
TEST(TaskSync, GoParallelReaders) {
  for (auto [readers, procs] : {std::pair{1, 4}, std::pair{3, 4}, std::pair{4, 2}}) {
    max_procs_scope p(procs);
    go::run([readers = readers] {
      go::rw_mutex m;
      gocxx_test::go_sync::parallel_readers(readers, [&m](auto clocked, auto cunlock, auto cdone) {
        go::spawn([&m, clocked, cunlock, cdone]() -> go::task<void> {
          co_await go::async_rlock(m);
          co_await go::async_send(clocked, true);
          co_await go::async_recv(cunlock);
          m.r_unlock();
          co_await go::async_send(cdone, true);
        });
      });
    });
  }
}

// TestRWMutex's hammer, with stackless and stackful readers and writers: a writer is alone,
// readers are only with readers.
TEST(TaskSync, RWMutexWriterExclusiveReadersShared) {
  max_procs_scope procs(4);
  go::run([] {
    go::rw_mutex rw;
    std::atomic<int> activity{0};
    std::atomic<bool> broken{false};
    const int rounds = static_cast<int>(scaled(400));
    go::wait_group wg;
    auto reader = [&] {
      int n = activity.fetch_add(1) + 1;
      if (n < 1 || n >= 10000) broken = true;
      activity.fetch_sub(1);
    };
    auto writer = [&] {
      if (activity.fetch_add(10000) + 10000 != 10000) broken = true;
      activity.fetch_sub(10000);
    };
    for (int i = 0; i < 3; ++i) {
      wg.add(2);
      go::spawn([&]() -> go::task<void> {
        for (int k = 0; k < rounds; ++k) {
          co_await go::async_rlock(rw);
          reader();
          co_await go::async_yield();
          reader();
          rw.r_unlock();
        }
        wg.done();
      });
      go::spawn([&]() -> go::task<void> {
        for (int k = 0; k < rounds; ++k) {
          co_await go::async_lock(rw);
          writer();
          co_await go::async_yield();
          writer();
          rw.unlock();
        }
        wg.done();
      });
    }
    wg.add(2);
    go::spawn([&] {
      for (int k = 0; k < rounds; ++k) {
        std::shared_lock lock(rw);
        reader();
      }
      wg.done();
    });
    go::spawn([&] {
      for (int k = 0; k < rounds; ++k) {
        std::lock_guard lock(rw);
        writer();
      }
      wg.done();
    });
    wg.wait();
    EXPECT_FALSE(broken.load());
    EXPECT_EQ(activity.load(), 0);
  });
}

// A stackless writer waits for the reader inside; a stackless reader that comes after it
// waits for the writer (a waiting writer excludes new readers).
TEST(TaskSync, RWMutexWriterWaitsForReadersAndBlocksNewOnes) {
  go::run([] {
    go::rw_mutex rw;
    auto order = go::make_chan<std::string>(4);
    auto unlocked = go::make_chan<void>(2);  // rw outlives the unlocks that use it
    rw.r_lock();
    go::spawn([&rw, order, unlocked]() -> go::task<void> {
      co_await go::async_lock(rw);
      co_await go::async_send(order, std::string("writer"));
      rw.unlock();
      co_await go::async_send(unlocked);
    });
    dump_once_it_shows("[sync.RWMutex.Lock]");
    go::spawn([&rw, order, unlocked]() -> go::task<void> {
      co_await go::async_rlock(rw);
      co_await go::async_send(order, std::string("reader"));
      rw.r_unlock();
      co_await go::async_send(unlocked);
    });
    dump_once_it_shows("[sync.RWMutex.RLock]");
    EXPECT_FALSE(ready_now(order));
    rw.r_unlock();
    EXPECT_EQ(*order.recv(), "writer");
    EXPECT_EQ(*order.recv(), "reader");
    unlocked.recv();
    unlocked.recv();
  });
}

// ---------------------------------------------------------------------------------------
// wait_group

// TestWaitGroup, stackless: two wait groups as barriers, reused 8 times.
TEST(TaskSync, GoWaitGroup) {
  go::run([] {
    go::wait_group wg1, wg2;
    for (int round = 0; round != 8; round++) {
      gocxx_test::go_sync::wait_group_barrier(wg1, wg2, [&](auto exited) {
        go::spawn([&wg1, &wg2, exited]() -> go::task<void> {
          wg1.done();
          co_await go::async_wait(wg2);
          co_await go::async_send(exited, true);
        });
      });
    }
  });
}

// Stackless waiters wake only after the last done, whoever calls it.
TEST(TaskSync, WaitGroupWaitWakesAfterAllDone) {
  go::run([] {
    go::wait_group wg;
    std::atomic<int> finished{0};
    constexpr int workers = 8, waiters = 3;
    auto seen = go::make_chan<int>(waiters);
    wg.add(workers);
    for (int i = 0; i < waiters; ++i) {
      go::spawn([&wg, &finished, seen]() -> go::task<void> {
        co_await go::async_wait(wg);
        co_await go::async_send(seen, finished.load());
      });
    }
    dump_once_it_shows("[sync.WaitGroup.Wait]");
    auto go_on = go::make_chan<void>();
    for (int i = 0; i < workers - 1; ++i) {
      go::spawn([&, go_on] {
        go_on.recv();
        finished.fetch_add(1);
        wg.done();
      });
    }
    std::thread last([&, go_on] {
      go_on.recv();
      finished.fetch_add(1);
      wg.done();
    });
    EXPECT_FALSE(ready_now(seen));
    go_on.close();
    for (int i = 0; i < waiters; ++i) EXPECT_EQ(*seen.recv(), workers);
    last.join();
  });
}

// ---------------------------------------------------------------------------------------
// cond

// TestCondSignal, stackless: each signal wakes exactly one of two waiters, which holds the
// mutex again when its wait returns.
TEST(TaskSync, GoCondSignal) {
  go::run([] {
    go::mutex m;
    go::cond c(m);
    go::wait_group wg;
    std::atomic<bool> relocked{true};
    gocxx_test::go_sync::cond_signal(m, c, [&](auto running, auto awake) {
      wg.add(1);
      go::spawn([&, running, awake]() -> go::task<void> {
        co_await go::async_lock(m);
        co_await go::async_send(running, true);
        co_await go::async_wait(c);
        if (m.try_lock()) relocked = false;  // wait returned without the lock
        co_await go::async_send(awake, true);
        m.unlock();
        wg.done();
      });
    });
    if (testing::Test::HasFatalFailure()) return;  // the waiters may still wait
    wg.wait();
    EXPECT_TRUE(relocked.load());
  });
}

// TestCondSignalGenerations, stackless: signal wakes waiters in the order they started.
TEST(TaskSync, GoCondSignalGenerations) {
  go::run([] {
    go::mutex m;
    go::cond c(m);
    go::wait_group wg;
    gocxx_test::go_sync::cond_signal_generations(m, c, [&](int i, auto running, auto awake) {
      wg.add(1);
      go::spawn([&, running, awake, i]() -> go::task<void> {
        co_await go::async_lock(m);
        co_await go::async_send(running, true);
        co_await go::async_wait(c);
        co_await go::async_send(awake, i);
        m.unlock();
        wg.done();
      });
    });
    if (testing::Test::HasFatalFailure()) return;
    wg.wait();
  });
}

// TestCondBroadcast, stackless: broadcast wakes every waiter exactly once, round after round.
TEST(TaskSync, GoCondBroadcast) {
  go::run([] {
    go::mutex m;
    go::cond c(m);
    const int n = gocxx_test::sanitized ? 20 : 100;
    bool quit = false;  // guarded by m
    go::wait_group wg;
    auto running = gocxx_test::go_sync::cond_broadcast(m, c, n, 5, quit, [&](int i, auto running, auto awake) {
      wg.add(1);
      go::spawn([&, i, running, awake]() -> go::task<void> {
        co_await go::async_lock(m);
        while (!quit) {
          co_await go::async_send(running, i);
          co_await go::async_wait(c);
          co_await go::async_send(awake, i);
        }
        m.unlock();
        wg.done();
      });
    });
    wg.wait();
    EXPECT_FALSE(ready_now(running)) << "goroutine did not exit";
  });
}

// The locker is relocked with its own kind of lock: an rw_mutex's read side, or a locker
// that is not a go:: lock (a std::mutex).
TEST(TaskSync, CondWaitRelocksReadLockersAndOtherLockers) {
  go::run([] {
    go::rw_mutex rw;
    std::mutex plain;
    go::cond on_read(rw.r_locker());
    go::cond on_plain(plain);
    auto waiting = go::make_chan<int>(2);
    auto held = go::make_chan<bool>(2);
    go::spawn([&, waiting, held]() -> go::task<void> {
      co_await go::async_rlock(rw);
      co_await go::async_send(waiting, 1);
      co_await go::async_wait(on_read);
      // A reader is inside: no writer. Unlocked before the send: main locks rw once it has
      // both answers.
      bool reader_inside = !rw.try_lock();
      rw.r_unlock();
      co_await go::async_send(held, reader_inside);
    });
    go::spawn([&, waiting, held]() -> go::task<void> {
      plain.lock();
      co_await go::async_send(waiting, 2);
      co_await go::async_wait(on_plain);
      bool relocked = !plain.try_lock();
      plain.unlock();
      co_await go::async_send(held, relocked);
    });
    waiting.recv();
    waiting.recv();
    dump_once_it_shows("[sync.Cond.Wait]");
    {
      std::lock_guard w(rw);  // the reader unlocked it to wait
      on_read.signal();
    }
    {
      std::lock_guard p(plain);
      on_plain.broadcast();
    }
    EXPECT_TRUE(*held.recv());
    EXPECT_TRUE(*held.recv());
    EXPECT_TRUE(rw.try_lock());
    rw.unlock();
  });
}

// ---------------------------------------------------------------------------------------
// semaphore

// Weights: a request that does not fit waits, and makes later ones wait behind it, until a
// release makes it fit.
TEST(TaskSync, SemaphoreAcquireHonoursWeights) {
  go::run([] {
    go::semaphore sem(10);
    auto got = go::make_chan<std::string>(2);
    go::spawn([&sem, got]() -> go::task<void> {
      go::error err = co_await go::async_acquire(sem, go::background(), 7);  // fits: no wait
      co_await go::async_send(got, "7:" + err.message());
    });
    EXPECT_EQ(*got.recv(), "7:");
    go::spawn([&sem, got]() -> go::task<void> {
      go::error err = co_await go::async_acquire(sem, go::background(), 5);
      co_await go::async_send(got, "5:" + err.message());
    });
    dump_once_it_shows("[semacquire]");
    EXPECT_FALSE(ready_now(got));
    EXPECT_FALSE(sem.try_acquire(1)) << "a request behind the waiting one went first";
    sem.release(7);
    EXPECT_EQ(*got.recv(), "5:");
    EXPECT_TRUE(sem.try_acquire(5));
    EXPECT_FALSE(sem.try_acquire(1));
    sem.release(10);
  });
}

// Cancellation: a waiting acquire returns the context's error and leaves the semaphore as it
// was; a done context fails even when the tokens are free; a request larger than the size
// waits for its context alone.
TEST(TaskSync, SemaphoreAcquireReturnsTheContextsError) {
  go::run([] {
    go::semaphore sem(4);
    auto got = go::make_chan<go::error>(3);
    sem.acquire(2);
    auto [ctx, cancel] = go::with_cancel(go::background());
    go::spawn([&sem, got, ctx = ctx]() -> go::task<void> {
      co_await go::async_send(got, co_await go::async_acquire(sem, ctx, 3));
    });
    go::spawn([&sem, got, ctx = ctx]() -> go::task<void> {
      co_await go::async_send(got, co_await go::async_acquire(sem, ctx, 5));  // more than the size
    });
    dump_once_it_shows("[semacquire]");
    dump_once_it_shows("[chan receive]");
    EXPECT_FALSE(ready_now(got));
    cancel();
    EXPECT_EQ(*got.recv(), go::errc::canceled);
    EXPECT_EQ(*got.recv(), go::errc::canceled);
    EXPECT_TRUE(sem.try_acquire(2)) << "the cancelled request kept tokens or its place";
    sem.release(4);
    go::spawn([&sem, got, ctx = ctx]() -> go::task<void> {
      co_await go::async_send(got, co_await go::async_acquire(sem, ctx, 1));  // free, but ctx is done
    });
    EXPECT_EQ(*got.recv(), go::errc::canceled);
    EXPECT_TRUE(sem.try_acquire(4));
  });
}

// ---------------------------------------------------------------------------------------
// errgroup

// wait returns the first error once every function has returned, and cancels the context.
TEST(TaskSync, ErrgroupWaitReturnsTheFirstError) {
  go::run([] {
    auto [g, ctx] = go::errgroup::with_context(go::background());
    auto release = go::make_chan<void>();
    std::atomic<bool> slow_returned{false};
    g.go([]() -> go::error { return go::make_error("first"); });
    g.go([&slow_returned, release]() -> go::error {
      release.recv();
      slow_returned = true;
      return go::make_error("second");
    });
    ctx.done().recv();  // cancelled by the first error
    auto out = go::make_chan<std::string>(1);
    go::spawn([g = g, &slow_returned, out]() -> go::task<void> {
      go::error err = co_await go::async_wait(g);
      co_await go::async_send(out, err.message() + (slow_returned ? " after all" : " too soon"));
    });
    dump_once_it_shows("[sync.WaitGroup.Wait]");
    EXPECT_FALSE(ready_now(out));
    release.close();
    EXPECT_EQ(*out.recv(), "first after all");
  });
}

// A group whose functions have all returned: wait completes at once with their result.
TEST(TaskSync, ErrgroupWaitWithNothingRunning) {
  go::run([] {
    go::errgroup g;
    auto out = go::make_chan<bool>(1);
    go::spawn([g, out]() -> go::task<void> {
      go::error err = co_await go::async_wait(g);
      co_await go::async_send(out, !err);
    });
    EXPECT_TRUE(*out.recv());
  });
}

// go under a limit: stackless spawners (async_go) and stackful ones (go) share one group of
// limit 3. Never more than 3 functions run at once, every function runs exactly once, and
// with the group full a stackless spawner waits, suspended, until a slot frees.
TEST(TaskSync, ErrgroupGoUnderALimitWaitsForASlot) {
  max_procs_scope procs(4);
  go::run([] {
    go::errgroup g;
    constexpr int limit = 3;
    g.set_limit(limit);
    std::atomic<int> active{0}, most{0}, ran{0};
    auto work = [&] {
      const int now = active.fetch_add(1) + 1;
      for (int m = most.load(); now > m && !most.compare_exchange_weak(m, now);) {
      }
      go::sleep(100us);
      ran.fetch_add(1);
      active.fetch_sub(1);
    };
    const int per = static_cast<int>(scaled(200));
    constexpr int stackless = 3, stackful = 2;
    go::wait_group spawners;
    spawners.add(stackless + stackful);
    for (int i = 0; i < stackless; ++i) {
      go::spawn([&]() -> go::task<void> {
        for (int k = 0; k < per; ++k) co_await go::async_go(g, work);
        spawners.done();
      });
    }
    for (int i = 0; i < stackful; ++i) {
      go::spawn([&] {
        for (int k = 0; k < per; ++k) g.go(work);
        spawners.done();
      });
    }
    spawners.wait();
    EXPECT_FALSE(g.wait());
    EXPECT_EQ(ran.load(), (stackless + stackful) * per);
    EXPECT_LE(most.load(), limit);
    EXPECT_GE(most.load(), 1);

    // The group full: the stackless spawner waits for the slot's channel.
    g.set_limit(1);
    auto release = go::make_chan<void>();
    g.go([release] { release.recv(); });
    auto started = go::make_chan<void>(1);
    auto spawned = go::make_chan<void>(1);
    go::spawn([&g, started, spawned]() -> go::task<void> {
      auto f = [started] { started.send(); };  // a local: see OnceAsyncCallAwaitsATask...
      co_await go::async_go(g, f);
      co_await go::async_send(spawned);
    });
    std::string dump = dump_once_it_shows("[chan send]");
    EXPECT_NE(dump.find("[chan send]"), std::string::npos) << dump;
    EXPECT_FALSE(ready_now(spawned));
    release.close();
    spawned.recv();
    started.recv();
    EXPECT_FALSE(g.wait());
  });
}

// With a slot free, or no limit, async_go starts the function without suspending.
TEST(TaskSync, ErrgroupGoWithASlotFreeDoesNotSuspend) {
  go::run([] {
    go::errgroup g;
    std::atomic<int> ran{0};
    auto work = [&ran] { ran.fetch_add(1); };
    {
      auto go_now = go::async_go(g, work);
      EXPECT_TRUE(go_now.await_ready());
      go_now.await_resume();
    }
    g.set_limit(1);
    {
      auto go_now = go::async_go(g, work);
      EXPECT_TRUE(go_now.await_ready());
      go_now.await_resume();
    }
    EXPECT_FALSE(g.wait());
    EXPECT_EQ(ran.load(), 2);
  });
}

// ---------------------------------------------------------------------------------------
// once

// One once, callers of both kinds: the first (stackful, its f blocked until released) runs
// f; the stackless callers (async_call) and the other stackful ones wait, stackless ones
// suspended on the once's mutex, until f has returned; none runs its own f; each sees what
// f did.
TEST(TaskSync, OnceRunsFOnceWhileStacklessAndStackfulCallersWait) {
  max_procs_scope procs(4);
  go::run([] {
    go::once o;
    std::atomic<int> calls{0};
    int value = 0;  // written by f, read by every caller after its call
    auto release = go::make_chan<void>();
    auto in_f = go::make_chan<void>(1);
    go::spawn([&, release, in_f] {
      o.call([&] {
        in_f.send();
        release.recv();
        calls.fetch_add(1);
        value = 42;
      });
    });
    in_f.recv();
    constexpr int stackless = 4, stackful = 2;
    auto seen = go::make_chan<int>(stackless + stackful);
    for (int i = 0; i < stackless; ++i) {
      go::spawn([&o, &calls, &value, seen]() -> go::task<void> {
        co_await go::async_call(o, [&calls] { calls.fetch_add(1); });
        co_await go::async_send(seen, value);
      });
    }
    for (int i = 0; i < stackful; ++i) {
      go::spawn([&o, &calls, &value, seen] {
        o.call([&calls] { calls.fetch_add(1); });
        seen.send(value);
      });
    }
    std::string dump = dump_once_it_shows("[sync.Mutex.Lock]");
    EXPECT_NE(dump.find("[sync.Mutex.Lock]"), std::string::npos) << dump;
    EXPECT_FALSE(ready_now(seen));
    release.close();
    for (int i = 0; i < stackless + stackful; ++i) EXPECT_EQ(*seen.recv(), 42);
    EXPECT_EQ(calls.load(), 1);
  });
}

// A stackless first caller whose f is a task (it awaits inside f): stackful callers wait for
// it; a done once's async_call does not suspend; f's exception reaches the first caller
// only, and the once is done after it.
TEST(TaskSync, OnceAsyncCallAwaitsATaskAndRethrowsItsException) {
  go::run([] {
    go::once o;
    std::atomic<int> calls{0};
    auto in_f = go::make_chan<void>(1);
    auto release = go::make_chan<void>();
    auto first = go::make_chan<bool>(1);
    go::spawn([&o, &calls, in_f, release, first]() -> go::task<void> {
      // A local, not a temporary in the co_await's operand: g++ 12 destroys such a lambda
      // twice (README, "Stackful or stackless"), releasing its channels twice.
      auto f = [&calls, in_f, release]() -> go::task<void> {
        co_await go::async_send(in_f);
        co_await go::async_recv(release);
        calls.fetch_add(1);
      };
      co_await go::async_call(o, f);
      co_await go::async_send(first, true);
    });
    in_f.recv();
    auto second = go::make_chan<void>(1);
    go::spawn([&o, &calls, second] {
      o.call([&calls] { calls.fetch_add(1); });
      second.send();
    });
    EXPECT_FALSE(received_within(second, 20ms));
    release.close();
    EXPECT_TRUE(*first.recv());
    second.recv();
    EXPECT_EQ(calls.load(), 1);
    EXPECT_TRUE(go::async_call(o, [] {}).await_ready());

    go::once failing;
    auto outcome = go::make_chan<std::string>(2);
    for (int i = 0; i < 2; ++i) {
      go::spawn([&failing, outcome]() -> go::task<void> {
        std::string what = "returned";
        try {
          co_await go::async_call(failing, [] { throw std::runtime_error("f failed"); });
        } catch (const std::runtime_error& e) {
          what = e.what();
        }
        co_await go::async_send(outcome, what);
      });
    }
    std::string a = *outcome.recv(), b = *outcome.recv();
    EXPECT_EQ(a < b ? a + "," + b : b + "," + a, "f failed,returned");
  });
}

// ---------------------------------------------------------------------------------------
// rate

// Events of a limiter with bursts of 1 are spaced by its interval at least: the k-th wait
// returns no earlier than k intervals after the first began.
TEST(TaskSync, RateLimiterWaitSpacesEvents) {
  go::run([] {
    const auto interval = 20ms;
    go::rate::limiter lim(go::rate::every(interval), 1);
    auto out = go::make_chan<std::string>(1);
    go::spawn([&lim, out, interval]() -> go::task<void> {
      auto start = go::now();
      std::string report;
      for (int k = 0; k < 4; ++k) {
        go::error err = co_await go::async_wait(lim, go::background());
        if (err) report += err.message();
        if (go::now() - start < k * interval) report += " early at " + std::to_string(k);
      }
      co_await go::async_send(out, report);
    });
    EXPECT_EQ(*out.recv(), "");
  });
}

// A wait cancelled by its context returns the context's error and gives its token back;
// one that would exceed the burst fails at once.
TEST(TaskSync, RateLimiterWaitReturnsTheContextsError) {
  go::run([] {
    go::rate::limiter lim(go::rate::every(1h), 1);
    ASSERT_TRUE(lim.allow());  // the bucket is empty now
    auto [ctx, cancel] = go::with_cancel(go::background());
    auto out = go::make_chan<go::error>(2);
    go::spawn([&lim, out, ctx = ctx]() -> go::task<void> {
      co_await go::async_send(out, co_await go::async_wait(lim, ctx));
    });
    dump_once_it_shows("[select]");
    EXPECT_LT(lim.tokens(), -0.5);  // reserved
    cancel();
    EXPECT_EQ(*out.recv(), go::errc::canceled);
    EXPECT_GT(lim.tokens(), -0.5) << "the cancelled wait kept its token";
    go::spawn([&lim, out]() -> go::task<void> {
      co_await go::async_send(out, co_await go::async_wait_n(lim, go::background(), 2));
    });
    EXPECT_EQ(out.recv()->message(), "rate: Wait(n=2) exceeds limiter's burst 1");
  });
}

// ---------------------------------------------------------------------------------------
// context

// A context's done() is a channel: async_recv waits for it, and reports it closed.
TEST(TaskSync, ContextDoneIsAwaitedAsAChannel) {
  go::run([] {
    auto [ctx, cancel] = go::with_cancel(go::background());
    auto out = go::make_chan<std::string>(1);
    go::spawn([out, ctx = ctx]() -> go::task<void> {
      bool received = co_await go::async_recv(ctx.done());
      co_await go::async_send(out, std::string(received ? "value" : "closed: ") + ctx.err().message());
    });
    dump_once_it_shows("[chan receive]");
    EXPECT_FALSE(ready_now(out));
    cancel();
    EXPECT_EQ(*out.recv(), "closed: context canceled");
  });
}

// ---------------------------------------------------------------------------------------
// Dumps and deadlock detection

TEST(TaskSync, DumpShowsAStacklessGoroutineWaitingForAMutex) {
  go::run([] {
    go::mutex mu;
    auto unlocked = go::make_chan<void>(1);  // mu outlives the unlock that uses it
    mu.lock();
    go::spawn([&mu, unlocked]() -> go::task<void> {
      co_await go::async_lock(mu);  // the line the dump shows
      mu.unlock();
      co_await go::async_send(unlocked);
    });
    constexpr int await_line = __LINE__ - 4;
    std::string dump = dump_once_it_shows("[sync.Mutex.Lock]");
    EXPECT_NE(dump.find("[sync.Mutex.Lock]"), std::string::npos) << dump;
    EXPECT_NE(dump.find("task_sync_test.cpp:" + std::to_string(await_line)), std::string::npos) << dump;
    mu.unlock();
    unlocked.recv();
  });
}

TEST(TaskSyncDeathTest, DeadlockOnAMutexIsReported) {
  if (!gocxx_test::deadlock_detected) GTEST_SKIP() << "other threads in the process: detection is off";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(go::run([] {
                go::mutex mu;
                mu.lock();
                auto never = go::make_chan<void>();
                for (int i = 0; i < 2; ++i) {
                  go::spawn([&mu]() -> go::task<void> { co_await go::async_lock(mu); });
                }
                never.recv();
              }),
              testing::ExitedWithCode(2),
              "fatal error: all goroutines are asleep - deadlock!.*goroutine [0-9]+ \\[sync\\.Mutex\\.Lock\\]");
}
