// Channel and select benchmarks (Google Benchmark). One iteration is one message unless
// said otherwise. bench/compare.sh runs the same scenarios side by side with Go.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>

#include "go/go.hpp"

namespace {

// Unbuffered ping-pong between two goroutines: one iteration is one round trip.
void BM_ChanPingPong(benchmark::State& state) {
  go::run([&] {
    auto ping = go::make_chan<int>(), pong = go::make_chan<int>();
    go::spawn([=] {
      for (auto v : ping) pong << v;
    });
    for (auto _ : state) {
      ping << 1;
      benchmark::DoNotOptimize(pong.recv());
    }
    ping.close();
  });
}
BENCHMARK(BM_ChanPingPong)->UseRealTime();

// Buffered single producer, single consumer.
void BM_ChanSPSC(benchmark::State& state) {
  go::run([&] {
    auto ch = go::make_chan<int>(static_cast<size_t>(state.range(0)));
    std::int64_t n = state.max_iterations;
    go::spawn([=] {
      for (std::int64_t i = 0; i < n; ++i) ch << static_cast<int>(i);
    });
    for (auto _ : state) benchmark::DoNotOptimize(ch.recv());
  });
}
BENCHMARK(BM_ChanSPSC)->Arg(1)->Arg(128)->UseRealTime();

// 4 producers, 4 consumers: one iteration moves 10,000 messages (see items_per_second).
void BM_ChanMPMC(benchmark::State& state) {
  constexpr int messages = 10000;
  go::run([&] {
    for (auto _ : state) {
      auto ch = go::make_chan<int>(static_cast<size_t>(state.range(0)));
      go::wait_group producers, consumers;
      for (int p = 0; p < 4; ++p) {
        producers.go([ch] {
          for (int i = 0; i < messages / 4; ++i) ch << i;
        });
      }
      for (int c = 0; c < 4; ++c)
        consumers.go([ch] {
          for (int v : ch) benchmark::DoNotOptimize(v);
        });
      producers.wait();
      ch.close();
      consumers.wait();
    }
    state.SetItemsProcessed(state.iterations() * messages);
  });
}
BENCHMARK(BM_ChanMPMC)->Arg(0)->Arg(128)->UseRealTime();

// One consumer selecting over 4 unbuffered channels, each with its own producer.
void BM_SelectRecv4(benchmark::State& state) {
  go::run([&] {
    std::array<go::chan<int>, 4> in;
    for (auto& c : in) c = go::make_chan<int>();
    auto stop = go::make_chan<void>();
    for (auto& c : in) {
      go::spawn([c, stop] {
        while (go::select(go::send_case(c, 1), go::recv_case(stop)) == 0) {
        }
      });
    }
    for (auto _ : state) {
      go::select(go::recv_case(in[0]), go::recv_case(in[1]), go::recv_case(in[2]), go::recv_case(in[3]));
    }
    stop.close();
  });
}
BENCHMARK(BM_SelectRecv4)->UseRealTime();

// An uncontended two-case select on buffered channels (Go's BenchmarkSelectUncontended).
void BM_SelectUncontended(benchmark::State& state) {
  go::run([&] {
    auto a = go::make_chan<int>(1), b = go::make_chan<int>(1);
    a << 0;
    for (auto _ : state) {
      go::select(go::recv_case(a, [&](std::optional<int> v) { b << *v; }),
                 go::recv_case(b, [&](std::optional<int> v) { a << *v; }));
    }
  });
}
BENCHMARK(BM_SelectUncontended)->UseRealTime();

// Non-blocking operations on a buffered channel (the lock-free "would block" fast path).
void BM_TryRecvEmpty(benchmark::State& state) {
  auto ch = go::make_chan<int>(1);
  for (auto _ : state) benchmark::DoNotOptimize(ch.try_recv());
}
BENCHMARK(BM_TryRecvEmpty);

// Why a ring claim starts from its end's hint (go/detail/chan_ring.hpp, ring_ends): claims
// back to back on one end, as a sender filling a ring makes them. From the end: a load of
// the word the last compare-exchange wrote, then a compare-exchange of it. From the hint: a
// load of a plain word beside it in the same line, the compare-exchange, a store of the hint.
struct alignas(64) claim_end {
  std::atomic<std::uint64_t> end{0};
  std::atomic<std::uint64_t> hint{0};
};

void BM_floor_claim_from_end(benchmark::State& state) {
  claim_end e;
  for (auto _ : state) {
    std::uint64_t t = e.end.load(std::memory_order_relaxed);
    e.end.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst, std::memory_order_relaxed);
  }
  benchmark::DoNotOptimize(e.end.load());
}
BENCHMARK(BM_floor_claim_from_end);

void BM_floor_claim_from_hint(benchmark::State& state) {
  claim_end e;
  for (auto _ : state) {
    std::uint64_t t = e.hint.load(std::memory_order_relaxed);
    if (e.end.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst, std::memory_order_relaxed))
      e.hint.store(t + 1, std::memory_order_relaxed);
  }
  benchmark::DoNotOptimize(e.end.load());
}
BENCHMARK(BM_floor_claim_from_hint);

}  // namespace

BENCHMARK_MAIN();
