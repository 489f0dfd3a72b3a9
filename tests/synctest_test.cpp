// go::synctest: bubbles with a fake clock, wait(), deadlock reports and seeded schedules.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "go/go.hpp"
#include "go/synctest.hpp"
#include "go/testing.hpp"
#include "test_scale.hpp"

using namespace std::chrono_literals;

namespace {

const go::steady_clock::time_point epoch{std::chrono::seconds(946684800)};

TEST(Synctest, ClockStartsAtTheEpochAndSleepsTakeExactlyTheirDuration) {
  go::synctest::run([] {
    EXPECT_EQ(go::now(), epoch);
    go::sleep(1h);  // would time the test out on a real clock
    EXPECT_EQ(go::now() - epoch, 1h);
    go::sleep_until(epoch + 90min);
    EXPECT_EQ(go::now() - epoch, 90min);
  });
  // Outside a bubble go::now() is the real steady clock.
  auto before = go::steady_clock::now();
  auto now = go::now();
  EXPECT_GE(now, before);
  EXPECT_LE(now, go::steady_clock::now());
}

TEST(Synctest, SleepersWakeInDeadlineOrderAtTheirDeadlines) {
  go::synctest::run([] {
    auto woke = go::make_chan<std::pair<int, go::steady_clock::duration>>(5);
    for (int s : {5, 3, 1, 4, 2}) {
      go::spawn([woke, s] {
        go::sleep(std::chrono::seconds(s));
        woke << std::pair{s, go::now() - epoch};
      });
    }
    for (int want = 1; want <= 5; ++want) {
      auto [s, at] = *woke.recv();
      EXPECT_EQ(s, want);
      EXPECT_EQ(at, std::chrono::seconds(want));
    }
  });
}

TEST(Synctest, RepeatedSleepsOfMixedDurationsEachWakeAtTheirDeadline) {
  // Sleepers whose deadlines arrive in order queue apart from the heap (timer.hpp): here
  // runs of equal and rising deadlines (queued) interleave with earlier ones (heaped), and
  // every wake must still come exactly at its deadline, the earlier of the two fronts first.
  go::synctest::run([] {
    constexpr int n = 200, rounds = 10;
    std::vector<int> late(n, 0);
    go::wait_group wg;
    for (int i = 0; i < n; ++i) {
      wg.go([&late, i] {
        auto d = std::chrono::milliseconds(1 + (i * 37) % 5);
        for (int r = 0; r < rounds; ++r) {
          auto want = go::now() + d;
          go::sleep(d);
          if (go::now() != want) ++late[static_cast<std::size_t>(i)];
        }
      });
    }
    wg.wait();
    for (int i = 0; i < n; ++i) EXPECT_EQ(late[static_cast<std::size_t>(i)], 0) << "sleeper " << i;
  });
}

TEST(Synctest, SleepersAndTimersResetAmongThemEachFireAtTheirDeadline) {
  // Sleepers' timers keep no slot index (they leave the heap only by firing); after_func
  // timers do, and reset and stop find them by it while the sleepers sift around them.
  go::synctest::run([] {
    constexpr int n = 300;
    auto ms = [](int v) { return std::chrono::milliseconds(v); };
    auto sleep_of = [](int i) { return 1 + (i * 7919) % 1000; };
    auto timer_of = [](int i) { return 1 + (i * 104729) % 1000; };
    std::vector<go::steady_clock::duration> slept(n), fired(n);
    go::wait_group sleepers;
    for (int i = 0; i < n; ++i) {
      sleepers.go([&, i] {
        go::sleep(ms(sleep_of(i)));
        slept[static_cast<std::size_t>(i)] = go::now() - epoch;
      });
    }
    std::vector<go::timer> timers;
    for (int i = 0; i < n; ++i) {
      timers.push_back(
          go::after_func(ms(timer_of(i)), [&fired, i] { fired[static_cast<std::size_t>(i)] = go::now() - epoch; }));
    }
    go::synctest::wait();  // every sleeper is in the heap
    for (int i = 0; i < n; ++i) {
      auto& t = timers[static_cast<std::size_t>(i)];
      if (i % 4 == 3) {
        EXPECT_TRUE(t.stop());
      } else if (i % 2 == 1) {
        EXPECT_TRUE(t.reset(ms(2000 + i)));
      }
    }
    sleepers.wait();
    go::sleep(3s);
    for (int i = 0; i < n; ++i) {
      auto k = static_cast<std::size_t>(i);
      EXPECT_EQ(slept[k], ms(sleep_of(i))) << i;
      if (i % 4 == 3) {
        EXPECT_EQ(fired[k], go::steady_clock::duration::zero()) << i;
      } else if (i % 2 == 1) {
        EXPECT_EQ(fired[k], ms(2000 + i)) << i;
      } else {
        EXPECT_EQ(fired[k], ms(timer_of(i))) << i;
      }
    }
  });
}

TEST(Synctest, TimeStandsStillWhileAnyGoroutineCanRun) {
  go::synctest::run([] {
    bool slept = false;
    go::spawn([&slept] {
      go::sleep(1ns);
      slept = true;
    });
    for (int i = 0; i < 100; ++i) go::yield();  // runnable all along: the clock must not move
    EXPECT_FALSE(slept);
    EXPECT_EQ(go::now(), epoch);
    go::sleep(1ns);
    go::yield();
    EXPECT_TRUE(slept);
  });
}

TEST(Synctest, RunWaitsForEveryGoroutineOfTheBubble) {
  std::atomic<int> done{0};
  go::synctest::run([&done] {
    for (int i = 0; i < 10; ++i) {
      go::spawn([&done, i] {
        go::spawn([&done, i] {  // grandchildren belong to the bubble too
          go::sleep(std::chrono::minutes(i + 1));
          done.fetch_add(1);
        });
      });
    }
  });
  EXPECT_EQ(done.load(), 10);
}

TEST(Synctest, GoroutinesOfABubbleRunOnOneThreadOfItsOwn) {
  gocxx_test::max_procs_scope procs(2);
  std::vector<std::thread::id> seen(20);
  go::synctest::run([&seen] {
    go::wait_group wg;
    for (int i = 0; i < 20; ++i) {
      wg.add(1);
      go::spawn([&seen, &wg, i] {
        go::yield();
        go::sleep(1ms);
        seen[i] = std::this_thread::get_id();
        wg.done();
      });
    }
    wg.wait();
  });
  std::set<std::thread::id> threads(seen.begin(), seen.end());
  EXPECT_EQ(threads.size(), 1u);
  EXPECT_NE(*threads.begin(), std::this_thread::get_id());
}

TEST(Synctest, WaitReturnsOnceEveryOtherGoroutineIsBlocked) {
  // Go's synctest example: context.AfterFunc runs only after cancel.
  go::synctest::run([] {
    auto [ctx, cancel] = go::with_cancel(go::background());
    bool called = false;
    go::after_func(ctx, [&called] { called = true; });
    go::synctest::wait();
    EXPECT_FALSE(called);
    cancel();
    go::synctest::wait();  // the after_func goroutine has run and exited
    EXPECT_TRUE(called);
  });
}

TEST(Synctest, WaitSeesValuesInFlightDelivered) {
  go::synctest::run([] {
    auto ch = go::make_chan<int>(10);
    int sum = 0;
    for (int i = 1; i <= 4; ++i) go::spawn([ch, i] { ch << i; });
    go::synctest::wait();
    EXPECT_EQ(ch.len(), 4u);
    while (auto v = ch.try_recv()) sum += *v.value;
    EXPECT_EQ(sum, 10);
  });
}

TEST(Synctest, ContextTimeoutFiresExactlyAtItsDeadline) {
  go::synctest::run([] {
    auto [ctx, cancel] = go::with_timeout(go::background(), 5s);
    go::synctest::wait();
    EXPECT_FALSE(ctx.err());
    go::sleep(5s - 1ns);
    go::synctest::wait();
    EXPECT_FALSE(ctx.err()) << "cancelled early";
    ctx.done().recv();
    EXPECT_EQ(go::now() - epoch, 5s);
    EXPECT_TRUE(ctx.err() == go::errc::deadline_exceeded);
    cancel();
  });
}

TEST(Synctest, TickerTicksAtExactMultiplesOfItsPeriod) {
  go::synctest::run([] {
    go::ticker tk = go::new_ticker(250ms);
    for (int i = 1; i <= 4; ++i) {
      auto t = *tk.c().recv();
      EXPECT_EQ(t - epoch, i * 250ms);
      EXPECT_EQ(go::now(), t);
    }
    tk.stop();
  });
}

TEST(Synctest, TimerAndTickerChannelsTakenLateHoldWhatTheyWouldHaveReceived) {
  go::synctest::run([] {
    go::timer t = go::new_timer(1s);
    go::ticker tk = go::new_ticker(1s);
    go::sleep(3500ms);
    EXPECT_EQ(*t.c().try_recv().value - epoch, 1s);
    // Room for one tick: the first is kept, the two after it were missed.
    EXPECT_EQ(*tk.c().try_recv().value - epoch, 1s);
    EXPECT_FALSE(tk.c().try_recv());
    EXPECT_EQ(*tk.c().recv() - epoch, 4s);  // later ticks keep to the period
    EXPECT_EQ(go::now() - epoch, 4s);
    tk.stop();
  });
}

TEST(Synctest, SelectTimeoutFiresAfterTheFakeDelay) {
  go::synctest::run([] {
    auto never = go::make_chan<int>();
    int chosen = go::select(go::recv_case(never), go::recv_case(go::after(3s)));
    EXPECT_EQ(chosen, 1);
    EXPECT_EQ(go::now() - epoch, 3s);
  });
}

TEST(Synctest, RateLimiterWaitsOnTheFakeClock) {
  go::synctest::run([] {
    go::rate::limiter lim(10, 1);  // one event per 100 ms
    for (int i = 0; i < 5; ++i) ASSERT_FALSE(lim.wait(go::background()));
    EXPECT_EQ(go::now() - epoch, 400ms);
  });
}

TEST(Synctest, DeadlockFailsWithTheDumpOfTheBubble) {
  int before = go::num_goroutine();
  try {
    go::synctest::run([] {
      auto ch = go::make_chan<int>();
      go::spawn([ch] { ch.recv(); });
      go::sleep(1s);  // timers pending are not a deadlock; the clock moves first
      ch.recv();
    });
    FAIL() << "no deadlock reported";
  } catch (const go::synctest::deadlock_error& e) {
    std::string what = e.what();
    EXPECT_EQ(what.rfind("deadlock: all goroutines in bubble are blocked\n", 0), 0u) << what;
    EXPECT_NE(what.find("[chan receive]"), std::string::npos) << what;
    EXPECT_NE(what.find("synctest_test.cpp"), std::string::npos) << what;
  }
  // The two blocked goroutines are abandoned, and still counted.
  EXPECT_EQ(go::num_goroutine(), before + 2);
}

TEST(Synctest, ExceptionFromTheRootIsRethrown) {
  EXPECT_THROW(go::synctest::run([] {
                 go::sleep(1s);
                 throw std::out_of_range("root failed");
               }),
               std::out_of_range);
}

TEST(Synctest, MisuseIsReported) {
  EXPECT_THROW(go::synctest::wait(), std::logic_error);  // not in a bubble
  EXPECT_FALSE(go::synctest::in_bubble());
  go::synctest::run([] {
    EXPECT_TRUE(go::synctest::in_bubble());
    EXPECT_THROW(go::synctest::run([] {}), std::logic_error);  // nested
  });
}

TEST(Synctest, RunsFromAGoroutineAndLeavesNoGoroutineBehind) {
  go::testing::leak_check check;
  int ticks = 0;
  go::run([&ticks] {
    go::synctest::run([&ticks] {
      go::ticker tk = go::new_ticker(1h);
      for (int i = 0; i < 24; ++i) tk.c().recv();
      ticks = 24;
      tk.stop();
    });
    return 0;
  });
  EXPECT_EQ(ticks, 24);
}

// --- seeded schedules ---

// Four goroutines interleave through yields, channel hand-offs and a select with several
// ready cases; the trace records who ran when.
std::string interleaving(const go::synctest::options& o) {
  std::string trace;
  go::synctest::run(o, [&trace] {
    auto a = go::make_chan<int>(4), b = go::make_chan<int>(4);
    go::wait_group wg;
    for (int id = 0; id < 4; ++id) {
      wg.add(1);
      go::spawn([&, id] {
        for (int step = 0; step < 4; ++step) {
          trace += static_cast<char>('a' + id);
          if (step % 2) go::yield();
          else (id % 2 ? a : b) << id;
        }
        wg.done();
      });
    }
    wg.wait();
    for (int i = 0; i < 8; ++i) {
      go::select(go::recv_case(a, [&](std::optional<int>) { trace += 'A'; }),
                 go::recv_case(b, [&](std::optional<int>) { trace += 'B'; }));
    }
  });
  return trace;
}

TEST(Synctest, TheSameSeedGivesTheSameInterleaving) {
  std::set<std::string> distinct;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    std::string first = interleaving({.seed = seed});
    EXPECT_EQ(interleaving({.seed = seed}), first) << "seed " << seed;
    distinct.insert(first);
  }
  EXPECT_GE(distinct.size(), 5u) << "seeds should explore different interleavings";
  EXPECT_EQ(interleaving({}), interleaving({}));  // first come, first served is repeatable too
}

// A planted ordering bug: the reader assumes the writer, spawned first, has run. Returns what
// the reader saw (42 when the writer ran first).
int planted_bug_reads() {
  int config = 0, seen = -1;
  go::wait_group wg;
  wg.add(2);
  go::spawn([&] {
    go::yield();  // some work before publishing
    config = 42;
    wg.done();
  });
  go::spawn([&] {
    go::yield();
    seen = config;  // bug: no synchronization with the writer
    wg.done();
  });
  wg.wait();
  return seen;
}

int planted_bug_under(const go::synctest::options& o) {
  int seen = -1;
  go::synctest::run(o, [&seen] { seen = planted_bug_reads(); });
  return seen;
}

// As a test body would check it. (An EXPECT inside the bubble would report on the bubble's
// thread, which EXPECT_NONFATAL_FAILURE below cannot intercept without hiding it from
// for_each_seed too; ForEachSeedPassesCorrectCode uses EXPECT.)
void planted_bug_body() {
  if (planted_bug_reads() != 42) throw std::runtime_error("the reader ran before the writer");
}

TEST(Synctest, SeedsFindAPlantedOrderingBugAndReproduceIt) {
  EXPECT_EQ(planted_bug_under({}), 42) << "first come, first served hides the bug";
  std::uint64_t failing = 0;
  for (std::uint64_t seed = 1; seed <= 100 && !failing; ++seed) {
    if (planted_bug_under({.seed = seed}) != 42) failing = seed;
  }
  ASSERT_NE(failing, 0u) << "no seed in 1..100 exposed the bug";
  for (int i = 0; i < 5; ++i) EXPECT_EQ(planted_bug_under({.seed = failing}), 0) << "seed " << failing;
  // for_each_seed finds it too, and names the seed to rerun.
  EXPECT_NONFATAL_FAILURE(go::testing::for_each_seed(100, planted_bug_body), "GOCXX_SYNCTEST_SEED=");
}

TEST(Synctest, ForEachSeedPassesCorrectCode) {
  go::testing::for_each_seed(50, [] {
    int config = 0, seen = -1;
    go::wait_group written, wg;
    written.add(1);
    wg.add(2);
    go::spawn([&] {
      go::yield();
      config = 42;
      written.done();
      wg.done();
    });
    go::spawn([&] {
      go::yield();
      written.wait();
      seen = config;
      wg.done();
    });
    wg.wait();
    EXPECT_EQ(seen, 42);
  });
}

}  // namespace
