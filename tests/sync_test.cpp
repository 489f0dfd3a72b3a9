// go::mutex, rw_mutex, cond, once and wait_group: the C++ side (standard lock adapters,
// misuse as Go reports it, plain threads mixed with goroutines) and the guarantees Go's own
// tests do not pin down (starvation mode's hand-off, writer preference, FIFO tickets,
// locks held across parks). Go's tests themselves are ported in go_sync_test.cpp.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "go/chan.hpp"
#include "go/detail/park.hpp"
#include "go/runtime.hpp"
#include "go/select.hpp"
#include "go/sync.hpp"
#include "go/time.hpp"
#include "test_scale.hpp"

using namespace std::chrono_literals;
using gocxx_test::scaled;

namespace {

using gocxx_test::max_procs_scope;

template <class C>
bool received_within(const C& c, std::chrono::milliseconds limit) {
  return go::select(go::recv_case(c), go::recv_case(go::after(limit))) == 0;
}

// busy_for holds the worker (and whatever lock the caller holds) for d without parking.
void busy_for(std::chrono::microseconds d) {
  auto end = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < end) {
  }
}

// ---------------------------------------------------------------------------------------
// Standard lock adapters

TEST(Sync, StandardLockAdaptersWork) {
  go::run([] {
    go::mutex m;
    {
      std::lock_guard lock(m);
      EXPECT_FALSE(m.try_lock());
    }
    {
      std::unique_lock lock(m, std::try_to_lock);
      EXPECT_TRUE(lock.owns_lock());
      lock.unlock();
      EXPECT_TRUE(m.try_lock());
      m.unlock();
    }
    go::rw_mutex rw;
    {
      std::shared_lock r1(rw);
      std::shared_lock r2(rw, std::try_to_lock);
      EXPECT_TRUE(r2.owns_lock()) << "two readers at once";
      EXPECT_FALSE(rw.try_lock()) << "writer while readers hold it";
    }
    {
      std::unique_lock w(rw);
      std::shared_lock r(rw, std::try_to_lock);
      EXPECT_FALSE(r.owns_lock()) << "reader while a writer holds it";
    }
    EXPECT_TRUE(rw.try_lock());
    rw.unlock();
  });
}

// std::scoped_lock over two go::mutex taken in opposite orders by two goroutines: its
// deadlock avoidance (try_lock and back off) works with goroutines that park.
TEST(Sync, ScopedLockOfTwoMutexesDoesNotDeadlock) {
  go::run([] {
    go::mutex a, b;
    long in_a_b = 0;  // guarded by a and b
    const long n = scaled(20000);
    go::wait_group wg;
    wg.go([&] {
      for (long i = 0; i < n; i++) {
        std::scoped_lock lock(a, b);
        in_a_b++;
      }
    });
    wg.go([&] {
      for (long i = 0; i < n; i++) {
        std::scoped_lock lock(b, a);
        in_a_b++;
        if (i % 64 == 0) go::yield();
      }
    });
    auto done = go::make_chan<void>(1);
    go::spawn([&, done] {
      wg.wait();
      done.send();
    });
    ASSERT_TRUE(received_within(done, 30s)) << "deadlock";
    EXPECT_EQ(in_a_b, 2 * n);
  });
}

// ---------------------------------------------------------------------------------------
// mutex

// Starvation mode. On one worker, a goroutine that holds the mutex for 100 us at a time,
// yields only while holding it and relocks it at once after unlock keeps a waiter out
// forever in normal mode: whenever the waiter runs, the mutex is locked. Once the waiter has
// waited 1 ms the mutex starves and the next unlock hands it over: about 10 iterations. We
// allow 1000 (100 ms); the hammer gives up after 3000 so that a broken mutex fails the test
// instead of hanging it.
TEST(Sync, StarvationModeHandsTheLockToALongWaiter) {
  max_procs_scope procs(1);
  go::run([] {
    go::mutex mu;
    std::atomic<bool> stop{false};
    std::atomic<long> iterations{0};  // written by the hammer only
    auto started = go::make_chan<void>(1);
    go::wait_group wg;
    wg.go([&] {
      while (!stop.load(std::memory_order_relaxed) && iterations.load(std::memory_order_relaxed) < 3000) {
        mu.lock();
        iterations.fetch_add(1, std::memory_order_relaxed);
        go::yield();  // let the waiter run, with the lock held
        busy_for(100us);
        mu.unlock();
        if (iterations.load(std::memory_order_relaxed) == 1) started.send();
      }
    });
    started.recv();
    std::vector<long> waited;
    for (int round = 0; round < 3; round++) {
      long before = iterations.load(std::memory_order_relaxed);
      mu.lock();
      waited.push_back(iterations.load(std::memory_order_relaxed) - before);
      mu.unlock();
      go::sleep(1ms);
    }
    stop = true;
    wg.wait();
    for (long w : waited) EXPECT_LT(w, 1000) << "the waiter starved for " << w << " iterations";
  });
}

// The mutex is held across parks (sleep, yield, channel operations) by many goroutines at
// once; a read-modify-write of a plain counter under it loses nothing.
TEST(Sync, MutexHeldAcrossParksExactAccounting) {
  go::run([] {
    go::mutex mu;
    long counter = 0;  // guarded by mu
    std::atomic<int> inside{0}, overlaps{0};
    const int goroutines = 50;
    const long per = scaled(200);
    auto pipe = go::make_chan<int>(1);
    go::wait_group wg;
    for (int g = 0; g < goroutines; g++) {
      wg.go([&, g, pipe] {
        for (long i = 0; i < per; i++) {
          std::lock_guard lock(mu);
          if (inside.fetch_add(1) != 0) overlaps++;
          long v = counter;
          switch ((g + i) % 4) {
            case 0: go::sleep(20us); break;
            case 1: go::yield(); break;
            case 2:
              pipe.send(1);
              pipe.recv();
              break;
            default: break;
          }
          counter = v + 1;
          inside.fetch_sub(1);
        }
      });
    }
    wg.wait();
    EXPECT_EQ(counter, goroutines * per);
    EXPECT_EQ(overlaps.load(), 0);
  });
}

// Locks are not owned, as in Go: one goroutine locks, another unlocks.
TEST(Sync, MutexUnlockedByAnotherGoroutine) {
  go::run([] {
    go::mutex mu;
    mu.lock();
    auto unlocked = go::make_chan<void>();
    go::spawn([&mu, unlocked] {
      mu.unlock();
      unlocked.send();
    });
    unlocked.recv();
    EXPECT_TRUE(mu.try_lock());
    mu.unlock();
  });
}

// Plain threads and goroutines contend for one mutex: threads block on their futex,
// goroutines park; nothing is lost.
TEST(Sync, MutexSharedByThreadsAndGoroutines) {
  go::mutex mu;
  long counter = 0;  // guarded by mu
  const long per = scaled(20000);
  go::wait_group wg;
  for (int g = 0; g < 4; g++) {
    wg.go([&] {
      for (long i = 0; i < per; i++) {
        std::lock_guard lock(mu);
        counter++;
        if (i % 256 == 0) go::yield();
      }
    });
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; t++) {
    threads.emplace_back([&] {
      for (long i = 0; i < per; i++) {
        std::lock_guard lock(mu);
        counter++;
      }
    });
  }
  for (auto& t : threads) t.join();
  wg.wait();  // a plain thread waits on the wait group
  EXPECT_EQ(counter, 6 * per);
}

// Lock misuse is fatal (GoSync.MutexMisuse); only the WaitGroup misuse that Go reports with
// a panic throws, and it leaves the counter unchanged.
TEST(Sync, WaitGroupMisuseThrowsAndLeavesTheCounterUnchanged) {
  go::wait_group wg;
  EXPECT_THROW(wg.add(-1), go::sync_error);
  wg.add(1);
  wg.done();
  wg.wait();
}

// unlock never throws, as the standard's Lockable requirements say: std::lock_guard and
// std::unique_lock call it in destructors.
static_assert(noexcept(std::declval<go::mutex&>().unlock()));
static_assert(noexcept(std::declval<go::rw_mutex&>().unlock()));
static_assert(noexcept(std::declval<go::rw_mutex&>().r_unlock()));
static_assert(noexcept(std::declval<go::rw_mutex&>().unlock_shared()));

// The fatal error names the misuse, then dumps the other goroutines (here one blocked in a
// channel receive), as Go's fatal does.
TEST(Sync, LockMisuseIsFatalWithTheGoroutineDump) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(go::run([] {
                auto never = go::make_chan<int>();
                go::spawn([never] { never.recv(); });
                go::sleep(10ms);
                go::mutex mu;
                mu.unlock();
              }),
              testing::ExitedWithCode(2),
              "fatal error: sync: unlock of unlocked mutex\n\ngoroutine [0-9]+ \\[chan receive\\]");
}

TEST(Sync, BlockedWriterStopsNewReaders) {
  go::run([] {
    go::rw_mutex rw;
    rw.r_lock();
    auto events = go::make_chan<char>(4);
    go::wait_group wg;
    wg.go([&] {
      rw.lock();
      events.send('w');
      rw.unlock();
    });
    // The writer has announced itself once a reader can no longer get in.
    while (rw.try_r_lock()) {
      rw.r_unlock();
      go::yield();
    }
    wg.go([&] {
      rw.r_lock();
      events.send('r');
      rw.r_unlock();
    });
    go::sleep(5ms);  // give the second reader time to (wrongly) get in
    EXPECT_FALSE(go::select(go::recv_case(events), go::default_case()) == 0) << "someone got in";
    rw.r_unlock();
    wg.wait();
    EXPECT_EQ(*events.recv(), 'w');
    EXPECT_EQ(*events.recv(), 'r');
  });
}

// Readers on plain threads, writers in goroutines.
TEST(Sync, RWMutexSharedByThreadsAndGoroutines) {
  go::rw_mutex rw;
  std::atomic<std::int32_t> activity{0};  // readers + 10000 * writers inside
  std::atomic<int> failures{0};
  long writes = 0;  // guarded by rw
  const long n = scaled(5000);
  go::wait_group wg;
  for (int g = 0; g < 2; g++) {
    wg.go([&] {
      for (long i = 0; i < n; i++) {
        std::lock_guard lock(rw);
        if (activity.fetch_add(10000) != 0) failures++;
        writes++;
        activity.fetch_sub(10000);
        if (i % 128 == 0) go::yield();
      }
    });
  }
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; t++) {
    readers.emplace_back([&] {
      for (long i = 0; i < n; i++) {
        std::shared_lock lock(rw);
        if (activity.fetch_add(1) >= 10000) failures++;
        activity.fetch_sub(1);
      }
    });
  }
  for (auto& t : readers) t.join();
  wg.wait();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(writes, 2 * n);
}

// ---------------------------------------------------------------------------------------
// cond

// A work queue with consumers and producers on both plain threads and goroutines.
TEST(Sync, CondSharedByThreadsAndGoroutines) {
  go::mutex mu;
  go::cond nonempty(mu);
  std::deque<long> queue;  // guarded by mu
  bool closed = false;     // guarded by mu
  std::atomic<long> sum{0};
  const long per_producer = scaled(20000);
  auto consume = [&] {
    long mine = 0;
    for (;;) {
      std::unique_lock lock(mu);
      while (queue.empty() && !closed) nonempty.wait();
      if (queue.empty()) break;
      mine += queue.front();
      queue.pop_front();
    }
    sum += mine;
  };
  auto produce = [&](long first) {
    for (long v = first; v < first + per_producer; v++) {
      {
        std::lock_guard lock(mu);
        queue.push_back(v);
      }
      nonempty.signal();
    }
  };
  go::wait_group consumers, producers;
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; i++) consumers.go(consume);
  for (int i = 0; i < 2; i++) threads.emplace_back(consume);
  producers.go([&] { produce(1); });
  std::thread thread_producer([&] { produce(1 + per_producer); });
  thread_producer.join();
  producers.wait();
  {
    std::lock_guard lock(mu);
    closed = true;
  }
  nonempty.broadcast();
  consumers.wait();
  for (auto& t : threads) t.join();
  const long n = 2 * per_producer;
  EXPECT_EQ(sum.load(), n * (n + 1) / 2);
}

// cond works over any lockable: a std::mutex, and an rw_mutex's read side (Go's
// sync.NewCond(rw.RLocker())).
TEST(Sync, CondOverAnyLockable) {
  go::run([] {
    std::mutex std_mu;
    go::cond c(std_mu);
    bool ready = false;  // guarded by std_mu
    go::wait_group wg;
    wg.go([&] {
      std::unique_lock lock(std_mu);
      while (!ready) c.wait();
    });
    go::sleep(1ms);
    {
      std::lock_guard lock(std_mu);
      ready = true;
    }
    c.signal();
    wg.wait();

    go::rw_mutex rw;
    go::cond rc(rw.r_locker());
    std::atomic<bool> flag{false};
    wg.go([&] {
      rw.r_lock();
      while (!flag.load()) rc.wait();
      rw.r_unlock();
    });
    go::sleep(1ms);
    {
      std::lock_guard writer(rw);  // the waiter released its read lock while waiting
      flag = true;
    }
    rc.broadcast();
    wg.wait();
  });
}

// A lockable whose unlock can be made to fail: it unlocks, reports on `failing`, waits for
// `gate` to be closed, then throws.
struct faulty_lock {
  go::mutex mu;
  bool fail_next = false;  // guarded by mu
  go::chan<void> failing = go::make_chan<void>(1);
  go::chan<void> gate = go::make_chan<void>();
  void lock() { mu.lock(); }
  void unlock() {
    bool fail = fail_next;
    fail_next = false;
    mu.unlock();
    if (!fail) return;
    failing.send();
    gate.recv();
    throw std::runtime_error("unlock failed");
  }
};

// A wait whose unlock of L throws rethrows without waiting, and its ticket absorbs no
// signal: the next signal still reaches the goroutine waiting behind it.
TEST(Sync, CondWaitWhoseUnlockThrowsLosesNoSignal) {
  go::run([] {
    faulty_lock l;
    go::cond c(l);
    l.gate.close();  // the failing unlock throws at once

    auto threw = go::make_chan<bool>(1);
    go::spawn([&l, &c, threw] {
      l.lock();
      l.fail_next = true;
      try {
        c.wait();
        threw.send(false);
      } catch (const std::runtime_error&) {
        threw.send(true);
      }
    });
    ASSERT_TRUE(*threw.recv());  // its ticket is older than the next waiter's

    auto in_wait = go::make_chan<void>();
    auto woke = go::make_chan<void>(1);
    go::wait_group wg;
    wg.go([&, in_wait, woke] {
      l.lock();
      in_wait.send();
      c.wait();
      l.unlock();
      woke.send();
    });
    in_wait.recv();
    l.lock();  // the waiter is inside wait once it has released l
    l.unlock();
    c.signal();
    bool ok = received_within(woke, 5s);
    if (!ok) c.broadcast();
    wg.wait();
    EXPECT_TRUE(ok) << "the signal went to the failed wait's ticket";
  });
}

// A wait notified while its unlock of L is still running (and then throws) passes the
// notification on to the next waiter.
TEST(Sync, CondWaitNotifiedWhileItsUnlockThrowsPassesTheSignalOn) {
  go::run([] {
    faulty_lock l;
    go::cond c(l);
    auto threw = go::make_chan<bool>(1);
    go::spawn([&l, &c, threw] {
      l.lock();
      l.fail_next = true;
      try {
        c.wait();  // takes the first ticket, unlocks l, then blocks on the gate
        threw.send(false);
      } catch (const std::runtime_error&) {
        threw.send(true);
      }
    });
    l.failing.recv();  // the failing wait has its ticket and is inside its unlock
    auto in_wait = go::make_chan<void>();
    auto woke = go::make_chan<void>(1);
    go::wait_group wg;
    wg.go([&, in_wait, woke] {
      l.lock();
      in_wait.send();
      c.wait();
      l.unlock();
      woke.send();
    });
    in_wait.recv();
    l.lock();
    l.unlock();
    c.signal();  // goes to the first ticket, whose holder is still in its unlock
    go::sleep(1ms);
    EXPECT_FALSE(go::select(go::recv_case(woke), go::default_case()) == 0) << "signal skipped a ticket";
    l.gate.close();  // now that unlock throws
    ASSERT_TRUE(*threw.recv());
    bool ok = received_within(woke, 5s);
    if (!ok) c.broadcast();
    wg.wait();
    EXPECT_TRUE(ok) << "the notification of the failed wait was lost";
  });
}

// Signal wakes waiters strictly in the order they started waiting, also when the waiters
// are plain threads.
TEST(Sync, CondSignalIsFifoAcrossThreads) {
  go::mutex mu;
  go::cond c(mu);
  int entered = 0;         // guarded by mu
  std::vector<int> order;  // guarded by mu
  std::vector<std::thread> threads;
  const int n = 6;
  for (int i = 0; i < n; i++) {
    threads.emplace_back([&, i] {
      std::unique_lock lock(mu);
      entered++;
      c.wait();
      order.push_back(i);
    });
    for (;;) {  // thread i is inside wait once it has counted itself and released mu
      std::lock_guard lock(mu);
      if (entered == i + 1) break;
    }
  }
  for (int i = 0; i < n; i++) {
    c.signal();
    for (;;) {
      std::this_thread::yield();
      std::lock_guard lock(mu);
      if (static_cast<int>(order.size()) == i + 1) break;
    }
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < n; i++) EXPECT_EQ(order[i], i);
}

// ---------------------------------------------------------------------------------------
// once and wait_group

// Callers of once.call block until the first call's function, which itself parks, has
// returned, whether they are goroutines (parked) or a plain thread (blocked); all see its
// effect.
TEST(Sync, OnceCallersWaitForTheFirstCall) {
  go::once once;
  int value = 0;
  std::atomic<int> calls{0}, wrong{0};
  auto init = [&] {
    calls++;
    go::sleep(2ms);
    value = 42;
  };
  go::wait_group wg;
  for (int i = 0; i < 20; i++) {
    wg.go([&] {
      once.call(init);
      if (value != 42) wrong++;
    });
  }
  std::thread t([&] {
    once.call(init);
    if (value != 42) wrong++;
  });
  t.join();
  wg.wait();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(wrong.load(), 0);
}

// The last done() may run concurrently with the waiter's return and the end of the
// wait_group's life (a heap object here, so ASan sees a use after free).
TEST(Sync, WaitGroupMayDieAsSoonAsWaitReturns) {
  go::run([] {
    const long n = scaled(5000);
    for (long i = 0; i < n; i++) {
      auto wg = std::make_unique<go::wait_group>();
      wg->add(2);
      go::spawn([p = wg.get()] { p->done(); });
      go::spawn([p = wg.get()] { p->done(); });
      wg->wait();
    }
  });
}

// ---------------------------------------------------------------------------------------
// park's contract: a wake that arrives before the park is not lost, even when the goroutine
// yields in between and is woken while it sits in a run queue (execute must not store
// park_running over park_notified, scheduler/schedule.cpp). Without that the park below
// sleeps until the test's rescue wake.
TEST(Sync, WakeBeforeParkSurvivesAYield) {
  max_procs_scope procs(1);
  std::atomic<int> stage{0};
  std::atomic<go::detail::parker*> who{nullptr};
  go::spawn([&] {
    go::detail::parker* me = go::detail::current_parker();
    who = me;
    go::spawn([me] { go::detail::wake(me); });  // runs while we are yielded
    go::yield();
    stage = 1;
    go::detail::park(go::detail::wait_reason::semacquire, go::detail::source_location::current());
    stage = 2;
  });
  for (int i = 0; i < 500 && stage.load() != 2; i++) std::this_thread::sleep_for(1ms);
  int seen = stage.load();
  if (seen != 2) {
    while (stage.load() != 1) std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(10ms);
    go::detail::wake(who.load());  // the first wake was lost: free it
  }
  while (stage.load() != 2) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(seen, 2) << "the wake that arrived during the yield was lost";
}

// Under GOCXX_DEBUG_MIGRATE=1 ready() sends a woken goroutine to the inbox of the next
// worker; if that worker runs a goroutine that never blocks, the woken goroutine must still
// run elsewhere (runtime.hpp: only the busy worker is lost). Without GOCXX_DEBUG_MIGRATE the
// test checks the same of the ordinary queues.
TEST(Sync, DebugMigrateDoesNotStrandGoroutinesBehindABusyWorker) {
  max_procs_scope procs(2);
  std::atomic<bool> released{false}, rescued{false};
  go::wait_group wg;
  wg.go([&] {  // holds its worker until released
    while (!released.load()) {
    }
  });
  wg.go([&] {
    go::sleep(1ms);  // woken by its timer, then (debug) sent to the other worker
    released = true;
  });
  for (int i = 0; i < 2000 && !released.load(); i++) std::this_thread::sleep_for(1ms);
  if (!released.load()) {
    rescued = true;
    released = true;
  }
  wg.wait();
  EXPECT_FALSE(rescued.load()) << "the sleeper never ran while the other worker was busy";
}

}  // namespace
