// Goroutine and scheduler benchmarks (Google Benchmark). The side-by-side comparison with Go
// is bench/compare.sh; these are for profiling and regression checks of single paths.
#include <benchmark/benchmark.h>

#include <atomic>
#include <fstream>
#include <string>

#include "go/go.hpp"

using namespace std::chrono_literals;

namespace {

long rss_bytes() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6)) * 1024;
  }
  return 0;
}

// spawn + join: one goroutine per iteration, all joined by one wait group.
void BM_SpawnJoin(benchmark::State& state) {
  go::run([&] {
    go::wait_group wg;
    for (auto _ : state) {
      wg.add(1);
      go::spawn([&wg] { wg.done(); });
    }
    wg.wait();
  });
}
BENCHMARK(BM_SpawnJoin)->UseRealTime();

// Two goroutines yielding to each other: one iteration is one yield.
void BM_Yield(benchmark::State& state) {
  go::run([&] {
    std::atomic<bool> stop{false};
    go::wait_group wg;
    wg.go([&] {
      while (!stop.load(std::memory_order_relaxed)) go::yield();
    });
    for (auto _ : state) go::yield();
    stop = true;
    wg.wait();
  });
}
BENCHMARK(BM_Yield)->UseRealTime();

// Go's BenchmarkCreateGoroutines: each goroutine creates the next.
void BM_CreateGoroutines(benchmark::State& state) {
  go::run([&] {
    auto done = go::make_chan<void>();
    std::int64_t n = state.max_iterations;
    struct chain {
      static void step(std::int64_t left, go::chan<void> done) {
        if (left == 0) {
          done.send();
          return;
        }
        go::spawn(&chain::step, left - 1, done);
      }
    };
    for (auto _ : state) {
    }
    go::spawn(&chain::step, n, done);
    done.recv();
  });
}
BENCHMARK(BM_CreateGoroutines)->UseRealTime();

// 1M goroutines parked on one channel: RSS per goroutine and spawn time per goroutine.
void BM_Parked1M(benchmark::State& state) {
  constexpr int n = 1'000'000;
  for (auto _ : state) {
    go::run([&] {
      long before = rss_bytes();
      auto block = go::make_chan<void>();
      go::wait_group started, exited;
      started.add(n);
      exited.add(n);
      for (int i = 0; i < n; ++i) {
        go::spawn([&, block] {
          started.done();
          block.recv();
          exited.done();
        });
      }
      started.wait();
      state.counters["rss_per_goroutine_B"] = static_cast<double>(rss_bytes() - before) / n;
      block.close();
      exited.wait();
    });
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_Parked1M)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

// 100k goroutines each sleeping 10 x 1 ms: ideal wall time 10 ms.
void BM_Sleep100k(benchmark::State& state) {
  for (auto _ : state) {
    go::run([] {
      go::wait_group wg;
      for (int i = 0; i < 100'000; ++i) {
        wg.go([] {
          for (int k = 0; k < 10; ++k) go::sleep(1ms);
        });
      }
      wg.wait();
    });
  }
}
BENCHMARK(BM_Sleep100k)->Iterations(3)->UseRealTime()->Unit(benchmark::kMillisecond);

// Go's BenchmarkPingPongHog at GOMAXPROCS 1: a ping-pong pair next to a CPU hog (which
// yields: our scheduling is cooperative). One iteration is one round trip.
void BM_PingPongHog(benchmark::State& state) {
  int old = go::set_max_procs(1);
  go::run([&] {
    auto stop = go::make_chan<void>(), done = go::make_chan<void>();
    go::spawn([stop, done] {
      for (;;) {
        if (go::select(go::recv_case(stop), go::default_case()) == 0) {
          done.send();
          return;
        }
        go::yield();
      }
    });
    auto ping = go::make_chan<bool>(), pong = go::make_chan<bool>();
    std::int64_t n = state.max_iterations;
    go::spawn([=] {
      for (std::int64_t j = 0; j < n; ++j) pong << *ping.recv();
      stop.close();
      done.send();
    });
    go::spawn([=] {
      for (std::int64_t i = 0; i < n; ++i) ping << *pong.recv();
      done.send();
    });
    for (auto _ : state) {
    }
    ping << true;
    stop.recv();
    ping.recv();
    done.recv();
    done.recv();
    done.recv();
  });
  go::set_max_procs(old);
}
BENCHMARK(BM_PingPongHog)->UseRealTime();

// Go's BenchmarkWakeupParallelSpinning: wake-up latency of a parked goroutine while others spin.
void BM_WakeupParallelSpinning(benchmark::State& state) {
  go::run([&] {
    for (auto _ : state) {
      auto a = go::make_chan<void>(), b = go::make_chan<void>();
      go::wait_group wg;
      wg.go([a, b] {
        for (int i = 0; i < 100; ++i) {
          a.recv();
          b.send();
        }
      });
      for (int i = 0; i < 100; ++i) {
        a.send();
        b.recv();
      }
      wg.wait();
    }
  });
}
BENCHMARK(BM_WakeupParallelSpinning)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
