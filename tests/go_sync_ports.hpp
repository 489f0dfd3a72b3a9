// The driving side of Go's sync tests (go/src/sync/*_test.go), shared by their ports for
// stackful goroutines (go_sync_test.cpp) and stackless ones (task_sync_test.cpp). Each driver
// runs in a goroutine of go::run and starts the goroutines under test through `start`, which
// spawns one of the kind the port tests; the checks are Go's.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <vector>

#include "go/chan.hpp"
#include "go/select.hpp"
#include "go/sync.hpp"
#include "go/time.hpp"

namespace gocxx_test::go_sync {

// How long a goroutine the driver waits for may take to show up before the test fails.
inline constexpr std::chrono::seconds patience{10};

// received_within: `select { case <-c: ok; case <-time.After(limit): fail }`.
template <class C>
bool received_within(const C& c, std::chrono::milliseconds limit) {
  return go::select(go::recv_case(c), go::recv_case(go::after(limit))) == 0;
}

// ready_now: `select { case <-c: true; default: false }`.
template <class C>
bool ready_now(const C& c) {
  return go::select(go::recv_case(c), go::default_case()) == 0;
}

// mutex_hammer_checks: TestMutex's checks once its hammers are done: every critical section
// counted (`locked`) kept its increment (`counter`), every lock got in, and m is free.
inline void mutex_hammer_checks(go::mutex& m, long loops, long counter, long locked) {
  EXPECT_EQ(counter, locked) << "critical sections overlapped";
  EXPECT_GE(locked, 10 * (loops - (loops + 2) / 3));  // every lock() got in
  EXPECT_TRUE(m.try_lock());
  m.unlock();
}

// parallel_readers (TestParallelReaders): start(clocked, cunlock, cdone) starts a reader
// that r_locks, sends on clocked, receives from cunlock, r_unlocks and sends on cdone.
template <class Start>
void parallel_readers(int num_readers, Start start) {
  auto clocked = go::make_chan<bool>(), cunlock = go::make_chan<bool>(), cdone = go::make_chan<bool>();
  for (int i = 0; i < num_readers; i++) start(clocked, cunlock, cdone);
  // Wait for all parallel RLock()s to succeed (a deadlock here fails the test).
  for (int i = 0; i < num_readers; i++)
    ASSERT_TRUE(received_within(clocked, patience)) << "readers excluded each other";
  for (int i = 0; i < num_readers; i++) cunlock.send(true);
  for (int i = 0; i < num_readers; i++) cdone.recv();
}

// wait_group_barrier (TestWaitGroup's testWaitGroup): start(exited) starts a goroutine that
// calls wg1.done(), waits for wg2, then sends on exited.
template <class Start>
void wait_group_barrier(go::wait_group& wg1, go::wait_group& wg2, Start start) {
  const int n = 16;
  wg1.add(n);
  wg2.add(n);
  auto exited = go::make_chan<bool>(n);
  for (int i = 0; i != n; i++) start(exited);
  wg1.wait();
  for (int i = 0; i != n; i++) {
    ASSERT_FALSE(ready_now(exited)) << "WaitGroup released group too soon";
    wg2.done();
  }
  for (int i = 0; i != n; i++) ASSERT_TRUE(received_within(exited, patience)) << "barrier failed to unlock someone";
}

// cond_signal (TestCondSignal): start(running, awake) starts one of two waiters, which locks
// m, sends on running, waits on c, sends on awake and unlocks m. The caller waits for them.
template <class Start>
void cond_signal(go::mutex& m, go::cond& c, Start start) {
  int n = 2;
  auto running = go::make_chan<bool>(n);
  auto awake = go::make_chan<bool>(n);
  for (int i = 0; i < n; i++) start(running, awake);
  for (int i = 0; i < n; i++) running.recv();  // Wait for everyone to run.
  while (n > 0) {
    ASSERT_FALSE(ready_now(awake)) << "goroutine not asleep";
    m.lock();
    c.signal();
    m.unlock();
    ASSERT_TRUE(received_within(awake, patience)) << "no goroutine woke up";
    // Go checks at once; a second wrong wake-up would need a moment to show up.
    go::sleep(std::chrono::milliseconds(1));
    ASSERT_FALSE(ready_now(awake)) << "too many goroutines awake";
    n--;
  }
  c.signal();
}

// cond_signal_generations (TestCondSignalGenerations): start(i, running, awake) starts the
// i-th waiter, which locks m, sends on running, waits on c, sends i on awake and unlocks m.
template <class Start>
void cond_signal_generations(go::mutex& m, go::cond& c, Start start) {
  const int n = 100;
  auto running = go::make_chan<bool>(n);
  auto awake = go::make_chan<int>(n);
  for (int i = 0; i < n; i++) {
    start(i, running, awake);
    if (i > 0) {
      int a = *awake.recv();
      ASSERT_EQ(a, i - 1) << "wrong goroutine woke up";
    }
    running.recv();
    m.lock();
    c.signal();
    m.unlock();
  }
  ASSERT_EQ(*awake.recv(), n - 1);
}

// cond_broadcast (TestCondBroadcast): start(i, running, awake) starts the i-th of n waiters,
// which locks m and, until `quit` (guarded by m), sends i on running, waits on c and sends i
// on awake; then unlocks m. Each of `rounds` broadcasts must wake every waiter once. It
// returns `running`, which must stay empty once the waiters have returned.
template <class Start>
go::chan<int> cond_broadcast(go::mutex& m, go::cond& c, int n, int rounds, bool& quit, Start start) {
  auto running = go::make_chan<int>(n);
  auto awake = go::make_chan<int>(n);
  for (int i = 0; i < n; i++) start(i, running, awake);
  for (int i = 0; i < rounds; i++) {
    for (int k = 0; k < n; k++) running.recv();  // Will deadlock unless n are running.
    if (i == rounds - 1) {
      m.lock();
      quit = true;
      m.unlock();
    }
    EXPECT_FALSE(ready_now(awake)) << "goroutine not asleep";
    m.lock();
    c.broadcast();
    m.unlock();
    std::vector<bool> seen(static_cast<std::size_t>(n));
    for (int k = 0; k < n; k++) {
      auto g = static_cast<std::size_t>(*awake.recv());
      EXPECT_FALSE(seen[g]) << "goroutine woke up twice";
      seen[g] = true;
    }
  }
  return running;
}

}  // namespace gocxx_test::go_sync
