// sync benchmarks (Google Benchmark). The BM_sync_* benchmarks are the gocxx side of the
// Go peer scenarios of the same names (bench/peers/go/sync.go, SCENARIOS.md "sync"): same
// work per op, and their ns_per_op counter is the number to put beside Go's. The rest are
// single paths for profiling and regression checks.
//
// ns_per_op of the batch benchmarks counts everything in the batch (spawning and joining
// the goroutines included), as the Go side does.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <vector>

#include "go/go.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

double ns_since(clock_type::time_point start) {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - start).count());
}

// sync_mutex_uncontended: one goroutine locks, increments, unlocks. Guards the one-CAS fast
// paths of go::mutex::lock and unlock.
void BM_sync_mutex_uncontended(benchmark::State& state) {
  std::int64_t counter = 0;
  double total_ns = 0;
  go::run([&] {
    go::mutex mu;
    auto start = clock_type::now();
    for (auto _ : state) {
      mu.lock();
      ++counter;
      benchmark::DoNotOptimize(counter);
      mu.unlock();
    }
    total_ns = ns_since(start);
  });
  if (counter != static_cast<std::int64_t>(state.iterations())) state.SkipWithError("lost increments");
  state.counters["ns_per_op"] = total_ns / static_cast<double>(state.iterations());
}
BENCHMARK(BM_sync_mutex_uncontended)->UseRealTime();

// sync_mutex_contended_G: G goroutines each do per = ops/G of lock; counter++; unlock on
// one mutex. A batch of `ops` lock/unlock pairs per iteration.
void BM_sync_mutex_contended(benchmark::State& state) {
  const int g = static_cast<int>(state.range(0));
  const std::int64_t ops = 1'000'000;
  const std::int64_t per = ops / g;
  double total_ns = 0;
  bool ok = true;
  go::run([&] {
    for (auto _ : state) {
      auto start = clock_type::now();
      go::mutex mu;
      std::int64_t counter = 0;  // guarded by mu
      go::wait_group wg;
      for (int t = 0; t < g; ++t) {
        wg.go([&] {
          for (std::int64_t i = 0; i < per; ++i) {
            mu.lock();
            ++counter;
            mu.unlock();
          }
        });
      }
      wg.wait();
      total_ns += ns_since(start);
      ok = ok && counter == per * g;
    }
  });
  if (!ok) state.SkipWithError("lost increments");
  state.counters["ns_per_op"] = total_ns / static_cast<double>(state.iterations() * per * g);
}
BENCHMARK(BM_sync_mutex_contended)->Name("BM_sync_mutex_contended")->Arg(4)->Arg(16)->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// sync_rwmutex_read_mostly: 4 goroutines, per = ops/4 iterations each; iteration i writes
// (lock; writes++; unlock) when i % 100 == 99, else reads (r_lock; r_unlock).
void BM_sync_rwmutex_read_mostly(benchmark::State& state) {
  const int g = 4;
  const std::int64_t ops = 1'000'000;
  const std::int64_t per = ops / g;
  double total_ns = 0;
  bool ok = true;
  go::run([&] {
    for (auto _ : state) {
      auto start = clock_type::now();
      go::rw_mutex rw;
      std::int64_t writes = 0;  // guarded by rw
      std::vector<std::int64_t> reads(g);
      go::wait_group wg;
      for (int t = 0; t < g; ++t) {
        wg.go([&, t] {
          std::int64_t r = 0;
          for (std::int64_t i = 0; i < per; ++i) {
            if (i % 100 == 99) {
              rw.lock();
              ++writes;
              rw.unlock();
            } else {
              rw.r_lock();
              ++r;
              rw.r_unlock();
            }
          }
          reads[static_cast<std::size_t>(t)] = r;
        });
      }
      wg.wait();
      total_ns += ns_since(start);
      std::int64_t sum = writes;
      for (auto r : reads) sum += r;
      ok = ok && sum == per * g;
    }
  });
  if (!ok) state.SkipWithError("wrong count");
  state.counters["ns_per_op"] = total_ns / static_cast<double>(state.iterations() * per * g);
}
BENCHMARK(BM_sync_rwmutex_read_mostly)->UseRealTime()->Unit(benchmark::kMillisecond);

// sync_waitgroup: main adds 4 and starts 4 goroutines; each does per = ops/4 times
// wg.add(1); wg.done() on the shared wait group, then done(); main waits. op = one add+done.
void BM_sync_waitgroup(benchmark::State& state) {
  const int g = 4;
  const std::int64_t ops = 4'000'000;
  const std::int64_t per = ops / g;
  double total_ns = 0;
  bool ok = true;
  go::run([&] {
    for (auto _ : state) {
      auto start = clock_type::now();
      go::wait_group wg;
      std::vector<std::int64_t> counts(g);
      wg.add(g);
      for (int t = 0; t < g; ++t) {
        go::spawn([&, t] {
          std::int64_t c = 0;
          for (std::int64_t i = 0; i < per; ++i) {
            wg.add(1);
            wg.done();
            ++c;
          }
          counts[static_cast<std::size_t>(t)] = c;
          wg.done();
        });
      }
      wg.wait();
      total_ns += ns_since(start);
      std::int64_t sum = 0;
      for (auto c : counts) sum += c;
      ok = ok && sum == per * g;
    }
  });
  if (!ok) state.SkipWithError("wrong count");
  state.counters["ns_per_op"] = total_ns / static_cast<double>(state.iterations() * per * g);
}
BENCHMARK(BM_sync_waitgroup)->UseRealTime()->Unit(benchmark::kMillisecond);

// --- single paths ---

// The mutex's lock/unlock from a plain thread: the same two CASes, no runtime involved.
void BM_mutex_thread_uncontended(benchmark::State& state) {
  go::mutex mu;
  for (auto _ : state) {
    mu.lock();
    mu.unlock();
  }
}
BENCHMARK(BM_mutex_thread_uncontended);

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
