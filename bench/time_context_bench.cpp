// Timer, context and semaphore benchmarks (Google Benchmark). BM_ctx_cancel_10k and
// BM_timers_1m_start_stop are the gocxx side of the Go peer scenarios of the same names
// (bench/peers/go/timectx.go, SCENARIOS.md "Timers and contexts"): same work, and their
// ns_per_op counter is the number to put beside Go's. The rest are single paths, for
// profiling and regression checks.
#include <benchmark/benchmark.h>

#include <chrono>
#include <vector>

#include "go/go.hpp"

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

double ns_since(clock_type::time_point start) {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - start).count());
}

// ctx_cancel_10k: a 10-ary tree of 10k descendants under a cancellable root, each with its
// done channel made; timed: the root's cancel. ns_per_op is per descendant.
void BM_ctx_cancel_10k(benchmark::State& state) {
  const int n = 10'000;
  double total_ns = 0;
  std::int64_t cancelled = 0;
  go::run([&] {
    for (auto _ : state) {
      state.PauseTiming();
      auto [root, cancel] = go::with_cancel(go::background());
      std::vector<go::context> nodes;
      std::vector<go::cancel_func> cancels;
      nodes.reserve(n + 1);
      cancels.reserve(n);
      nodes.push_back(root);
      for (int i = 1; i <= n; ++i) {
        auto [ctx, c] = go::with_cancel(nodes[static_cast<std::size_t>((i - 1) / 10)]);
        ctx.done();
        nodes.push_back(ctx);
        cancels.push_back(c);
      }
      state.ResumeTiming();
      auto start = clock_type::now();
      cancel();
      total_ns += ns_since(start);
      state.PauseTiming();
      for (std::size_t i = 1; i < nodes.size(); ++i) cancelled += nodes[i].err() == go::errc::canceled;
      nodes.clear();
      cancels.clear();
      state.ResumeTiming();
    }
  });
  if (cancelled != static_cast<std::int64_t>(state.iterations()) * n) state.SkipWithError("a descendant was not cancelled");
  state.counters["ns_per_op"] = total_ns / static_cast<double>(state.iterations() * n);
}
BENCHMARK(BM_ctx_cancel_10k)->UseRealTime()->Unit(benchmark::kMicrosecond);

// timers_1m_start_stop: 1M timers made with new_timer(1h), then all stopped. ns_per_op is
// per timer made and stopped.
void BM_timers_1m_start_stop(benchmark::State& state) {
  const int n = 1'000'000;
  double total_ns = 0;
  std::int64_t stopped = 0;
  go::run([&] {
    std::vector<go::timer> timers(n);
    for (auto _ : state) {
      auto start = clock_type::now();
      for (auto& t : timers) t = go::new_timer(1h);
      for (auto& t : timers) stopped += t.stop();
      total_ns += ns_since(start);
      state.PauseTiming();
      for (auto& t : timers) t = {};
      state.ResumeTiming();
    }
  });
  if (stopped != static_cast<std::int64_t>(state.iterations()) * n) state.SkipWithError("a stop returned false");
  state.counters["ns_per_op"] = total_ns / static_cast<double>(state.iterations() * n);
}
BENCHMARK(BM_timers_1m_start_stop)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(5);

// One timer made and stopped with few others pending (Go's BenchmarkStop).
void BM_TimerNewStop(benchmark::State& state) {
  go::run([&] {
    for (auto _ : state) go::new_timer(1s).stop();
  });
}
BENCHMARK(BM_TimerNewStop)->UseRealTime();

// Reset of a pending timer (Go's BenchmarkReset).
void BM_TimerReset(benchmark::State& state) {
  go::run([&] {
    go::timer t = go::new_timer(1h);
    for (auto _ : state) t.reset(1h);
    t.stop();
  });
}
BENCHMARK(BM_TimerReset)->UseRealTime();

// <-time.After(1ns) (Go's BenchmarkAfter): arm, fire through the scheduler, receive.
void BM_After(benchmark::State& state) {
  go::run([&] {
    for (auto _ : state) go::after(1ns).recv();
  });
}
BENCHMARK(BM_After)->UseRealTime();

// A 1 ns ticker's ticks (Go's BenchmarkTicker).
void BM_Ticker(benchmark::State& state) {
  go::run([&] {
    go::ticker tk = go::new_ticker(1ns);
    for (auto _ : state) tk.c().recv();
    tk.stop();
  });
}
BENCHMARK(BM_Ticker)->UseRealTime();

// with_cancel + cancel of a child of a long-lived parent.
void BM_WithCancel(benchmark::State& state) {
  go::run([&] {
    auto [parent, cancel_parent] = go::with_cancel(go::background());
    for (auto _ : state) {
      auto [ctx, cancel] = go::with_cancel(parent);
      cancel();
    }
    cancel_parent();
  });
}
BENCHMARK(BM_WithCancel)->UseRealTime();

// with_timeout + cancel: the deadline's timer is armed and stopped.
void BM_WithTimeoutCancel(benchmark::State& state) {
  go::run([&] {
    for (auto _ : state) {
      auto [ctx, cancel] = go::with_timeout(go::background(), 1h);
      cancel();
    }
  });
}
BENCHMARK(BM_WithTimeoutCancel)->UseRealTime();

// ctx.value(key) found 10 layers up.
void BM_ContextValueDepth10(benchmark::State& state) {
  static const go::context_key<int> key;
  static const go::context_key<int> other;
  go::context ctx = go::with_value(go::background(), key, 42);
  for (int i = 0; i < 10; ++i) ctx = go::with_value(ctx, other, i);
  for (auto _ : state) benchmark::DoNotOptimize(ctx.value(key));
}
BENCHMARK(BM_ContextValueDepth10);

// Uncontended acquire + release.
void BM_SemaphoreUncontended(benchmark::State& state) {
  go::semaphore sem(1);
  for (auto _ : state) {
    sem.acquire(1);
    sem.release(1);
  }
}
BENCHMARK(BM_SemaphoreUncontended);

// 4 goroutines sharing a semaphore of size 1; one iteration is 100k acquire/release pairs.
void BM_SemaphoreContended4(benchmark::State& state) {
  constexpr std::int64_t per = 25'000;
  go::run([&] {
    go::semaphore sem(1);
    for (auto _ : state) {
      go::wait_group wg;
      for (int g = 0; g < 4; ++g) {
        wg.go([&sem] {
          for (std::int64_t i = 0; i < per; ++i) {
            sem.acquire(1);
            sem.release(1);
          }
        });
      }
      wg.wait();
    }
  });
  state.SetItemsProcessed(state.iterations() * 4 * per);
}
BENCHMARK(BM_SemaphoreContended4)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
