// go::timer, go::ticker, go::after, go::tick and go::after_func: the guarantees of
// include/go/time.hpp that Go's own tests (go_time_test.cpp) do not cover: Go 1.23's "no
// stale value after stop or reset" and "unreferenced timers are freed", a million pending
// timers, plain threads, select.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "go/chan.hpp"
#include "go/runtime.hpp"
#include "go/select.hpp"
#include "go/sync.hpp"
#include "go/synctest.hpp"
#include "go/time.hpp"
#include "test_scale.hpp"

using namespace std::chrono_literals;
using go::steady_clock;
using gocxx_test::scaled;

namespace {

// wait_until polls cond (sleeping between polls) for up to `limit`.
template <class F>
bool wait_until(F cond, std::chrono::milliseconds limit = 5000ms) {
  auto end = steady_clock::now() + limit;
  while (!cond()) {
    if (steady_clock::now() > end) return false;
    go::sleep(1ms);
  }
  return true;
}

std::int64_t live() { return go::detail::live_timer_states(); }

// Stopped timers are freed lazily, when their heap sweeps (once a quarter of it may be
// garbage); a few may stay until then.
constexpr std::int64_t lazily_freed = 1000;

}  // namespace

TEST(Time, StopReturnsWhetherItStoppedADelivery) {
  go::run([] {
    go::timer t = go::new_timer(1h);
    EXPECT_TRUE(t.stop());   // pending
    EXPECT_FALSE(t.stop());  // stopped already
    EXPECT_FALSE(t.reset(1h));
    EXPECT_TRUE(t.reset(1ms));  // pending again
    t.c().recv();
    EXPECT_FALSE(t.stop());  // fired and received
  });
}

TEST(Time, NoStaleValueAfterStop) {
  go::run([] {
    go::timer t = go::new_timer(1ms);
    go::sleep(20ms);  // fired: the value waits in the channel
    EXPECT_TRUE(t.stop()) << "stop prevented the (unreceived) delivery";
    EXPECT_FALSE(t.c().try_recv()) << "stale value after stop";
    go::sleep(5ms);
    EXPECT_FALSE(t.c().try_recv());
  });
}

TEST(Time, NoStaleValueAfterReset) {
  go::run([] {
    go::timer t = go::new_timer(1ms);
    go::sleep(20ms);
    auto start = steady_clock::now();  // before the reset computes the new deadline
    EXPECT_TRUE(t.reset(30ms));
    EXPECT_FALSE(t.c().try_recv()) << "stale value after reset";
    auto v = t.c().recv();  // the new setting's value, not the old one
    ASSERT_TRUE(v.has_value());
    EXPECT_GE(steady_clock::now() - start, 30ms);
    EXPECT_GE(*v, start + 30ms);
  });
}

// Stop and reset racing with the firing on other workers: whatever the interleaving, no
// value arrives after stop returns, and with nobody receiving, stop always reports that it
// stopped a delivery (the value was pending, in flight, or unreceived).
TEST(Time, StopRacingTheFiringLeavesNoStaleValue) {
  go::run([] {
    go::wait_group wg;
    std::atomic<int> stale{0}, false_stops{0};
    for (int g = 0; g < 8; ++g) {
      wg.go([&, g] {
        std::mt19937 rnd(static_cast<unsigned>(g));
        for (long i = 0; i < scaled(2000); ++i) {
          go::timer t = go::new_timer(std::chrono::microseconds(rnd() % 50));
          auto spin_until = steady_clock::now() + std::chrono::microseconds(rnd() % 60);
          while (steady_clock::now() < spin_until) {
          }
          if (i % 2 == 0) {
            if (!t.stop()) false_stops++;
          } else {
            if (!t.reset(1h)) false_stops++;
            t.stop();
          }
          if (t.c().try_recv()) stale++;
        }
      });
    }
    wg.wait();
    go::sleep(5ms);
    EXPECT_EQ(stale.load(), 0);
    EXPECT_EQ(false_stops.load(), 0);
  });
}

// Resetting a timer again and again while it fires: exactly one value per setting that
// was allowed to fire, and never one from an earlier setting.
TEST(Time, ResetDeliversOnlyTheLatestSetting) {
  go::run([] {
    go::timer t = go::new_timer(1h);
    int received = 0;
    for (long i = 0; i < scaled(2000); ++i) {
      auto before = steady_clock::now();
      t.reset(std::chrono::microseconds(i % 20));
      if (i % 3 == 0) {
        auto v = t.c().recv();
        ASSERT_TRUE(v.has_value());
        EXPECT_GE(*v, before) << "a value from an earlier setting";
        ++received;
      }
    }
    t.stop();
    EXPECT_FALSE(t.c().try_recv());
    EXPECT_EQ(received, static_cast<int>((scaled(2000) + 2) / 3));
  });
}

TEST(Time, TickerStopLeavesNoTick) {
  go::run([] {
    go::ticker tk = go::new_ticker(1ms);
    tk.c().recv();
    go::sleep(5ms);  // a tick waits in the channel
    tk.stop();
    EXPECT_FALSE(tk.c().try_recv());
    go::sleep(10ms);
    EXPECT_FALSE(tk.c().try_recv());
    tk.reset(2ms);  // a stopped ticker can be restarted
    EXPECT_TRUE(tk.c().recv().has_value());
  });
}

// In a synctest bubble, whose fake clock fires every tick exactly when due.
TEST(Time, TickerDropsTicksForASlowReceiver) {
  go::synctest::run([] {
    auto start = go::now();
    go::ticker tk = go::new_ticker(1ms);
    go::sleep(30ms);
    auto first = *tk.c().recv();
    auto second = *tk.c().recv();
    EXPECT_EQ(first, start + 1ms) << "the first tick waited for the receiver";
    // The ticks due while it waited were dropped, not piled up behind it; later ticks keep
    // to the period.
    EXPECT_GE(second, start + 30ms);
    EXPECT_EQ((second - first) % 1ms, 0ns);
  });
}

TEST(Time, TickDeliversRepeatedly) {
  go::run([] {
    auto start = steady_clock::now();  // before the ticks' times are computed
    auto c = go::tick(2ms);
    for (int i = 0; i < 5; ++i) c.recv();
    EXPECT_GE(steady_clock::now() - start, 10ms);
  });
}

TEST(Time, AfterFuncRunsInItsOwnGoroutineAndMayBlock) {
  go::run([] {
    auto release = go::make_chan<void>();
    auto done = go::make_chan<int>(2);
    go::after_func(1ms, [=] {
      release.recv();  // blocks: must not hold up other timers
      done.send(1);
    });
    go::after_func(2ms, [=] { done.send(2); });
    EXPECT_EQ(*done.recv(), 2);
    release.close();
    EXPECT_EQ(*done.recv(), 1);
  });
}

TEST(Time, AfterFuncResetRunsAgainAndStopPreventsIt) {
  go::run([] {
    std::atomic<int> calls{0};
    go::timer t = go::after_func(1ms, [&] { calls++; });
    EXPECT_TRUE(wait_until([&] { return calls.load() == 1; }));
    EXPECT_TRUE(t.c() == nullptr);
    EXPECT_FALSE(t.reset(1ms));  // expired
    EXPECT_TRUE(wait_until([&] { return calls.load() == 2; }));
    t.reset(50ms);
    EXPECT_TRUE(t.stop());
    go::sleep(80ms);
    EXPECT_EQ(calls.load(), 2);
  });
}

TEST(Time, AfterFuncRunsWithoutAHandle) {
  go::run([] {
    auto done = go::make_chan<void>(1);
    go::after_func(1ms, [done] { done.send(); });  // handle dropped at once
    EXPECT_TRUE(done.recv());
  });
}

TEST(Time, AfterFuncTakesMoveOnlyCallables) {
  go::run([] {
    auto done = go::make_chan<int>(1);
    auto p = std::make_unique<int>(7);
    go::timer t = go::after_func(1ms, [done, p = std::move(p)] { done.send(*p); });
    EXPECT_EQ(*done.recv(), 7);
  });
}

TEST(Time, TimerWhoseHandleIsDroppedStillFiresIfItsChannelIsKept) {
  go::run([] {
    auto c = go::new_timer(2ms).c();  // Go: c := time.NewTimer(d).C
    EXPECT_TRUE(c.recv().has_value());
  });
}

TEST(Time, DroppingTheLastHandleFreesATimerOrTicker) {
  go::run([] {
    auto base = live();
    {
      std::vector<go::timer> timers;
      for (int i = 0; i < 10000; ++i) timers.push_back(go::new_timer(1h));
      std::vector<go::ticker> tickers;
      for (int i = 0; i < 1000; ++i) tickers.push_back(go::new_ticker(1h));
      auto copy = timers[0];  // copies share the timer
      // (Timers of earlier tests may be collected meanwhile: live() only counts down.)
      EXPECT_GE(live(), 11000);
    }
    EXPECT_LE(live(), base + lazily_freed) << "unreferenced timers not freed";
  });
}

TEST(Time, TimerWhoseChannelWasNeverTakenIsFreedWithItsLastHandle) {
  go::run([] {
    auto base = live();
    {
      std::vector<go::timer> timers;
      for (int i = 0; i < 1000; ++i) timers.push_back(go::new_timer(1h));
      for (int i = 0; i < 1000; i += 2) timers[static_cast<std::size_t>(i)].stop();
      for (int i = 0; i < 1000; i += 3) timers[static_cast<std::size_t>(i)].reset(2h);
      std::vector<go::ticker> tickers;
      for (int i = 0; i < 100; ++i) tickers.push_back(go::new_ticker(1h));
      tickers[0].reset(2h);
      EXPECT_EQ(live(), base + 1100);
    }
    // In no heap, so nothing waits for a sweep (a heaped one may stay until its heap sweeps).
    EXPECT_EQ(live(), base) << "a timer never heaped outlives its handles";
  });
}

TEST(Time, ChannelTakenAfterTheDeadlineHoldsTheDueTime) {
  go::run([] {
    auto before = go::now();
    go::timer t = go::new_timer(1ms);
    go::sleep(3ms);
    auto c = t.c();  // past the deadline: the value is there at once
    auto v = c.try_recv().value;
    ASSERT_TRUE(v.has_value());
    EXPECT_GE(*v, before + 1ms);
    EXPECT_LE(*v, go::now());
    EXPECT_FALSE(t.stop()) << "fired and received";

    go::timer u = go::new_timer(1ms);
    go::sleep(3ms);
    EXPECT_TRUE(u.stop()) << "fired, never received";
    EXPECT_FALSE(u.c().try_recv()) << "stale value after stop";
    EXPECT_FALSE(u.reset(1ms));
    EXPECT_TRUE(u.c().recv().has_value());
  });
}

TEST(Time, UnreferencedAfterAndTickAreCollected) {
  go::run([] {
    auto base = live();
    // A select loop on go::after(1h), the classic Go leak before 1.23: memory stays bounded.
    auto ready = go::make_chan<int>(1);
    for (long i = 0; i < scaled(200'000); ++i) {
      ready.send(1);
      go::select(go::recv_case(ready), go::recv_case(go::after(1h)));
    }
    EXPECT_LT(live() - base, 20000) << "go::after timers pile up";
    // A dropped go::tick is collected at its next tick.
    for (int i = 0; i < 100; ++i) (void)go::tick(1ms);
    EXPECT_TRUE(wait_until([&] { return live() - base < 20000; }));
    auto c = go::tick(1ms);
    auto with_tick = live();
    c = {};
    EXPECT_TRUE(wait_until([&] { return live() < with_tick; })) << "an unreferenced ticker lives on";
  });
}

TEST(Time, MillionTimersCreatedAndStopped) {
  go::run([] {
    auto base = live();
    const long n = scaled(1'000'000);
    std::vector<go::timer> timers;
    timers.reserve(static_cast<std::size_t>(n));
    auto start = steady_clock::now();
    for (long i = 0; i < n; ++i) timers.push_back(go::new_timer(1h + std::chrono::microseconds(i % 1000)));
    EXPECT_GE(live(), n);
    long stopped = 0;
    for (auto& t : timers) stopped += t.stop();
    EXPECT_EQ(stopped, n);
    timers.clear();
    EXPECT_LE(live(), base + lazily_freed);
    EXPECT_LT(steady_clock::now() - start, 30s);
  });
}

TEST(Time, ManyTimersFireInDeadlineOrder) {
  go::run([] {
    const int n = static_cast<int>(scaled(20000));
    auto out = go::make_chan<int>(static_cast<std::size_t>(n));
    std::vector<go::timer> timers;
    std::mt19937 rnd(1);
    std::vector<int> delay(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      delay[static_cast<std::size_t>(i)] = static_cast<int>(rnd() % 200);
      timers.push_back(go::after_func(std::chrono::milliseconds(delay[static_cast<std::size_t>(i)]) + 5ms,
                                      [out, i] { out.send(i); }));
    }
    for (int i = 0; i < n; ++i) ASSERT_TRUE(out.recv().has_value());
  });
}

TEST(Time, SelectOnTimersAndTickers) {
  go::run([] {
    go::ticker tk = go::new_ticker(2ms);
    go::timer deadline = go::new_timer(40ms);
    int ticks = 0;
    for (bool done = false; !done;) {
      go::select(go::recv_case(tk.c(), [&](auto v) { ticks += v.has_value(); }),
                 go::recv_case(deadline.c(), [&](auto) { done = true; }));
    }
    EXPECT_GE(ticks, 3);
  });
}

TEST(Time, PlainThreadsUseTimers) {
  auto start = steady_clock::now();
  go::timer t = go::new_timer(5ms);
  EXPECT_TRUE(t.c().recv().has_value());
  EXPECT_GE(steady_clock::now() - start, 5ms);
  EXPECT_TRUE(go::after(1ms).recv().has_value());
  go::ticker tk = go::new_ticker(1ms);
  tk.c().recv();
  tk.c().recv();
  tk.stop();
  std::atomic<bool> ran{false};
  go::after_func(1ms, [&] { ran = true; });
  std::thread th([&] {
    go::timer t2 = go::new_timer(1h);
    EXPECT_TRUE(t2.stop());
  });
  th.join();
  for (int i = 0; i < 5000 && !ran; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(ran.load());
}

TEST(Time, SleepUntilAndTimerUntil) {
  go::run([] {
    auto when = steady_clock::now() + 10ms;
    go::sleep_until(when);
    EXPECT_GE(steady_clock::now(), when);
    go::timer t = go::new_timer_until(steady_clock::now() + 5ms);
    auto v = t.c().recv();
    ASSERT_TRUE(v.has_value());
    EXPECT_TRUE(t.reset_until(steady_clock::now() - 1s) == false);
    EXPECT_TRUE(t.c().recv().has_value());  // a deadline in the past fires at once
  });
}
