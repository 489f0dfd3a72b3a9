// sync benchmarks (Google Benchmark): micro-benchmarks of go/sync.hpp, for profiling and
// regression checks. The side-by-side numbers against Go (the sync_* scenarios: mutex
// uncontended and contended, rwmutex read-mostly, wait group) come from
// bench/peer_scenarios.cpp through bench/compare.py, not from here.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <mutex>

#include "go/go.hpp"

namespace {

// The mutex's lock/unlock from a plain thread: the same two CASes, no runtime involved.
void BM_mutex_thread_uncontended(benchmark::State& state) {
  go::mutex mu;
  for (auto _ : state) {
    mu.lock();
    mu.unlock();
  }
}
BENCHMARK(BM_mutex_thread_uncontended);

// The floor under every Lock+Unlock and Add+Done, ours and Go's: two locked read-modify-writes
// on one uncontended line, and nothing else. Go's Lock is a compare-exchange and its Unlock an
// atomic add; its Add and Done are two atomic adds. A lock must exclude threads on other CPUs,
// which on x86-64 takes a locked instruction (or a fence, which costs the same) per side; the
// sync_* rows of docs/performance.md are read against these two.
void BM_floor_cas_then_add(benchmark::State& state) {
  std::atomic<std::uint32_t> word{0};
  for (auto _ : state) {
    std::uint32_t expected = 0;
    word.compare_exchange_strong(expected, 1, std::memory_order_acquire);
    word.fetch_sub(1, std::memory_order_release);
  }
  benchmark::DoNotOptimize(word.load());
}
BENCHMARK(BM_floor_cas_then_add);

void BM_floor_two_adds(benchmark::State& state) {
  std::atomic<std::uint64_t> word{1};
  for (auto _ : state) {
    word.fetch_add(std::uint64_t{1} << 32, std::memory_order_acq_rel);
    word.fetch_sub(std::uint64_t{1} << 32, std::memory_order_acq_rel);
  }
  benchmark::DoNotOptimize(word.load());
}
BENCHMARK(BM_floor_two_adds);

// r_lock/r_unlock without writers: one RMW each (Go's BenchmarkRWMutexUncontended, reads).
void BM_rw_mutex_read_uncontended(benchmark::State& state) {
  go::rw_mutex rw;
  for (auto _ : state) {
    rw.r_lock();
    rw.r_unlock();
  }
}
BENCHMARK(BM_rw_mutex_read_uncontended);

// once.call after the first call: one acquire load.
void BM_once_done(benchmark::State& state) {
  go::once once;
  int calls = 0;
  for (auto _ : state) once.call([&] { ++calls; });
  if (calls != 1) state.SkipWithError("called twice");
}
BENCHMARK(BM_once_done);

// A signal/wait ping-pong between two goroutines over one cond (Go's BenchmarkCond1).
void BM_cond_ping_pong(benchmark::State& state) {
  go::run([&] {
    go::mutex mu;
    go::cond c(mu);
    int turn = 0;  // guarded by mu; 0: main's turn, 1: the partner's
    bool stop = false;
    go::wait_group wg;
    wg.go([&] {
      std::unique_lock lock(mu);
      for (;;) {
        while (turn != 1 && !stop) c.wait();
        if (stop) return;
        turn = 0;
        c.signal();
      }
    });
    for (auto _ : state) {
      std::unique_lock lock(mu);
      turn = 1;
      c.signal();
      while (turn != 0) c.wait();
    }
    {
      std::lock_guard lock(mu);
      stop = true;
    }
    c.broadcast();
    wg.wait();
  });
}
BENCHMARK(BM_cond_ping_pong)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
