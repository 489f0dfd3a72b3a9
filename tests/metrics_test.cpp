// go::runtime_metrics and GODEBUG=schedtrace (go/metrics.hpp).
#include <gtest/gtest.h>

#include <stdlib.h>

#include <chrono>
#include <numeric>
#include <regex>

#include "go/go.hpp"
#include "go/metrics.hpp"
#include "go/task.hpp"

using namespace std::chrono_literals;

namespace {

// Metrics once the goroutines have settled: num_goroutine is n and as many are accounted for.
go::metrics settled(int n) {
  go::metrics m;
  for (int i = 0; i < 500; ++i) {
    m = go::runtime_metrics();
    if (go::num_goroutine() == n && m.goroutines == n && m.goroutines_waiting + 1 >= n) break;
    go::sleep(2ms);
  }
  return m;
}

}  // namespace

TEST(Metrics, GoroutinesByStateAddUpToNumGoroutine) {
  go::run([] {
    auto ch = go::make_chan<int>();
    int base = go::num_goroutine();
    constexpr int n = 20;
    for (int i = 0; i < n; ++i) go::spawn([ch] { ch.recv(); });
    go::metrics m = settled(base + n);
    EXPECT_EQ(m.goroutines, go::num_goroutine());
    EXPECT_EQ(m.goroutines_running + m.goroutines_runnable + m.goroutines_waiting + m.goroutines_syscall, m.goroutines);
    EXPECT_GE(m.goroutines_waiting, n);
    EXPECT_GE(m.goroutines_running, 1);  // this one
    EXPECT_GE(m.stacks_in_use, n + 1);
    EXPECT_GE(m.goroutines_created, static_cast<std::uint64_t>(base + n));
    for (int i = 0; i < n; ++i) ch.send(i);
  });
}

TEST(Metrics, SchedulerCountsAreConsistent) {
  go::run([] {
    go::metrics before = go::runtime_metrics();
    auto ping = go::make_chan<int>();
    auto pong = go::make_chan<int>();
    go::spawn([=] {
      for (int i = 0; i < 100; ++i) pong.send(ping.recv().value_or(0));
    });
    for (int i = 0; i < 100; ++i) {
      ping.send(i);
      pong.recv();
    }
    go::timer t = go::after_func(1h, [] {});
    go::metrics m = go::runtime_metrics();
    EXPECT_GT(m.parks, before.parks);
    EXPECT_GE(m.timers_pending, 1);
    EXPECT_EQ(m.gomaxprocs, go::max_procs());
    EXPECT_EQ(static_cast<int>(m.local_run_queues.size()), m.gomaxprocs);
    EXPECT_GE(m.threads, m.gomaxprocs + 1);  // the workers and sysmon
    EXPECT_LE(m.idle_procs, m.gomaxprocs);
    EXPECT_GE(m.global_run_queue, 0);
    EXPECT_GE(m.stacks_pooled, 0);
    EXPECT_GT(m.stack_bytes_mapped, 0u);
    t.stop();
  });
}

go::task<void> metrics_pinger(go::chan<int> in, go::chan<int> out, int n) {
  for (int i = 0; i < n; ++i) {
    co_await go::async_send(out, i);
    co_await go::async_recv(in);
  }
}

go::task<void> metrics_ponger(go::chan<int> in, go::chan<int> out, go::chan<void> done) {
  while (auto v = co_await go::async_recv(in)) co_await go::async_send(out, *v);
  co_await go::async_send(done);
}

// Stackless goroutines park by suspending: those parks count too.
TEST(Metrics, StacklessParksAreCounted) {
  go::run([] {
    auto ping = go::make_chan<int>();
    auto pong = go::make_chan<int>();
    auto done = go::make_chan<void>();
    std::uint64_t before = go::runtime_metrics().parks;
    go::spawn(metrics_ponger(ping, pong, done));
    go::spawn([=]() -> go::task<void> {
      co_await metrics_pinger(pong, ping, 100);
      ping.close();
    });
    done.recv();
    // Each round trip parks one of the two at least once; the main goroutine parks once.
    EXPECT_GE(go::runtime_metrics().parks - before, 100u);
  });
}

TEST(Metrics, SchedtracePrintsGosLineEveryPeriod) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // The child re-runs this binary with GODEBUG set before its runtime starts.
  setenv("GODEBUG", "gctrace=0,schedtrace=20", 1);
  EXPECT_EXIT(
      {
        go::run([] { go::sleep(150ms); });
        std::exit(0);
      },
      testing::ExitedWithCode(0),
      "SCHED [0-9]+ms: gomaxprocs=[0-9]+ idleprocs=[0-9]+ threads=[0-9]+ spinningthreads=[0-9]+ "
      "needspinning=0 idlethreads=[0-9]+ runqueue=[0-9]+ \\[[0-9 ]+\\]\n(.|\n)*SCHED");
  unsetenv("GODEBUG");
}

TEST(Metrics, ScheddetailAddsALinePerSlotAndPerWorker) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  setenv("GODEBUG", "schedtrace=20,scheddetail=1", 1);
  EXPECT_EXIT(
      {
        go::set_max_procs(2);
        go::run([] {
          go::spawn([] { go::sleep(10s); });  // a timer pending on some worker
          go::sleep(150ms);
        });
        std::exit(0);
      },
      testing::ExitedWithCode(0),
      "SCHED [0-9]+ms: [^\n]*\n"
      "  P0: status=[0-2] schedtick=[0-9]+ syscalltick=[0-9]+ m=[0-9]+ runqsize=[0-9]+ timerslen=[0-9]+\n"
      "  P1: [^\n]*\n"
      "(  M[0-9]+: p=-?[0-9]+ curg=-?[0-9]+ blocked=(true|false) timerwaiter=(true|false) timerslen=[0-9]+ "
      "nexttimer=(none|-?[0-9]+us) inbox=(true|false)\n)+"
      "(.|\n)*timerslen=[1-9][0-9]* nexttimer=[0-9]+us");  // the sleeper's timer
  unsetenv("GODEBUG");
}

TEST(Metrics, SchedtraceNowReportsTheState) {
  go::run([] {
    std::string s = go::detail::schedtrace_now(true);
    EXPECT_TRUE(std::regex_search(s, std::regex("^SCHED [0-9]+ms: gomaxprocs=")));
    EXPECT_TRUE(std::regex_search(s, std::regex("\n  P[0-9]+: status=[0-2] "))) << s;
    EXPECT_TRUE(std::regex_search(s, std::regex("\n  M[0-9]+: p=-?[0-9]+ curg=[0-9]+ "))) << s;  // ours
    EXPECT_EQ(go::detail::schedtrace_now(false).find("  P0:"), std::string::npos);
  });
}
