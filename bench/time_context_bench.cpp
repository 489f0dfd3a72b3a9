// Timer, context and semaphore benchmarks (Google Benchmark): micro-benchmarks, for
// profiling and regression checks. The side-by-side numbers against Go (ctx_cancel_10k,
// timers_1m_start_stop) come from bench/peer_scenarios.cpp through bench/compare.py.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>

#include "go/go.hpp"

using namespace std::chrono_literals;

namespace {

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
