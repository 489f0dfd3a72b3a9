// Pattern benchmarks (Google Benchmark), for profiling and regression checks of
// go/patterns.hpp in one process. The side-by-side numbers against Go (pool_4x1m,
// pipeline_3stage_1m, fanin_8) come from bench/peer_scenarios.cpp through bench/compare.py;
// BM_pipeline_3stage_1m and BM_fanin_8 do the same work, and BM_fanin_8 against
// BM_fanin_8_select is the measurement behind merge's goroutine per input. ns_per_op is per
// value received at the end. BM_limiter_allow guards the limiter's allow path.
#include <benchmark/benchmark.h>

#include <chrono>
#include <optional>
#include <vector>

#include "go/go.hpp"
#include "go/patterns.hpp"
#include "go/rate.hpp"

using clock_type = std::chrono::steady_clock;

namespace {

double ns_since(clock_type::time_point start) {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - start).count());
}

go::recv_chan<long> count_to(go::errgroup& g, const go::context& ctx, long n) {
  return go::generate<long>(g, ctx, [n](auto emit) {
    for (long i = 1; i <= n; ++i)
      if (!emit(i)) return;
  });
}

// pipeline_3stage_1m: generate 1..1M -> map(*3) -> map(+1) -> consumer.
void BM_pipeline_3stage_1m(benchmark::State& state) {
  const long n = 1'000'000;
  double total_ns = 0;
  long sum = 0;
  go::run([&] {
    for (auto _ : state) {
      auto start = clock_type::now();
      auto [g, ctx] = go::errgroup::with_context(go::background());
      auto out = go::map(g, ctx, go::map(g, ctx, count_to(g, ctx, n), [](long v) { return v * 3; }),
                         [](long v) { return v + 1; });
      sum = 0;
      for (long v : out) sum += v;
      g.wait();
      total_ns += ns_since(start);
    }
  });
  benchmark::DoNotOptimize(sum);
  state.counters["ns_per_op"] = total_ns / static_cast<double>(state.iterations() * n);
}
BENCHMARK(BM_pipeline_3stage_1m)->Unit(benchmark::kMillisecond)->UseRealTime();

// fanin_8: 8 generators of 125k values each, merged into one channel.
void BM_fanin_8(benchmark::State& state) {
  const long per = 1'000'000 / 8;
  double total_ns = 0;
  long sum = 0;
  go::run([&] {
    for (auto _ : state) {
      auto start = clock_type::now();
      auto [g, ctx] = go::errgroup::with_context(go::background());
      std::vector<go::recv_chan<long>> inputs;
      for (int p = 0; p < 8; ++p) inputs.push_back(count_to(g, ctx, per));
      sum = 0;
      for (long v : go::merge(g, ctx, inputs)) sum += v;
      g.wait();
      total_ns += ns_since(start);
    }
  });
  benchmark::DoNotOptimize(sum);
  state.counters["ns_per_op"] = total_ns / static_cast<double>(state.iterations() * per * 8);
}
BENCHMARK(BM_fanin_8)->Unit(benchmark::kMillisecond)->UseRealTime();

// fanin_8_select: the same fan-in merged by one goroutine with a dynamic select over the 8
// inputs and ctx.done(), the alternative to go::merge's goroutine per input; the comparison
// behind merge's design.
go::recv_chan<long> merge_by_select(go::errgroup& g, const go::context& ctx, std::vector<go::recv_chan<long>> inputs) {
  auto out = go::make_chan<long>();
  g.go([ctx, inputs = std::move(inputs), out]() mutable {
    std::optional<long> got;
    while (!inputs.empty()) {
      go::select_cases sel;
      for (auto& in : inputs) sel.recv(in, [&got](std::optional<long> v) { got = v; });
      sel.recv(ctx.done());
      for (;;) {
        std::size_t i = sel.select();
        if (i == inputs.size()) {
          out.close();
          return;
        }
        if (!got) {  // input i closed: drop it, rebuild the select
          inputs.erase(inputs.begin() + static_cast<std::ptrdiff_t>(i));
          break;
        }
        if (!go::send_ctx(ctx, out, *got)) break;
        got.reset();
      }
    }
    out.close();
  });
  return out;
}

void BM_fanin_8_select(benchmark::State& state) {
  const long per = 1'000'000 / 8;
  double total_ns = 0;
  long sum = 0;
  go::run([&] {
    for (auto _ : state) {
      auto start = clock_type::now();
      auto [g, ctx] = go::errgroup::with_context(go::background());
      std::vector<go::recv_chan<long>> inputs;
      for (int p = 0; p < 8; ++p) inputs.push_back(count_to(g, ctx, per));
      sum = 0;
      for (long v : merge_by_select(g, ctx, inputs)) sum += v;
      g.wait();
      total_ns += ns_since(start);
    }
  });
  benchmark::DoNotOptimize(sum);
  state.counters["ns_per_op"] = total_ns / static_cast<double>(state.iterations() * per * 8);
}
BENCHMARK(BM_fanin_8_select)->Unit(benchmark::kMillisecond)->UseRealTime();

// limiter_allow: allow() on a limiter that always has tokens (inf would skip the bucket).
void BM_limiter_allow(benchmark::State& state) {
  go::rate::limiter lim(1e12, 1'000'000);
  for (auto _ : state) benchmark::DoNotOptimize(lim.allow());
}
BENCHMARK(BM_limiter_allow);

}  // namespace

BENCHMARK_MAIN();
