// What the diagnostics cost while they are on (Google Benchmark): a channel round trip and a
// spawn and join, with nothing on, the execution trace on, or the block profile at rate 1. The rows with everything off are the paired rows of
// chan_bench (BM_ChanPingPong) and runtime_bench (BM_SpawnJoin), which guard the hooks'
// cost while off. docs/tuning.md, "diagnostics hooks", has the figures.
#include <benchmark/benchmark.h>

#include <ostream>
#include <streambuf>

#include "go/go.hpp"
#include "go/pprof.hpp"
#include "go/trace.hpp"

namespace {

enum mode { off, tracing, block_profile };

struct discard_buffer : std::streambuf {
  int overflow(int c) override { return c; }
  std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
};

// Turns on what `m` names for the life of the object.
struct diagnostics_on {
  discard_buffer buffer;
  std::ostream out{&buffer};
  mode m;
  explicit diagnostics_on(mode m) : m(m) {
    if (m == tracing) go::trace::start(out);
    if (m == block_profile) go::set_block_profile_rate(1);
  }
  ~diagnostics_on() {
    if (m == tracing) go::trace::stop();
    go::set_block_profile_rate(0);
  }
};

// Unbuffered ping-pong between two goroutines: one iteration is one round trip.
void BM_PingPongDiagnostics(benchmark::State& state) {
  go::run([&] {
    auto ping = go::make_chan<int>(), pong = go::make_chan<int>();
    go::spawn([=] {
      for (auto v : ping) pong << v;
    });
    diagnostics_on on(static_cast<mode>(state.range(0)));
    for (auto _ : state) {
      ping << 1;
      benchmark::DoNotOptimize(pong.recv());
    }
    ping.close();
  });
}
BENCHMARK(BM_PingPongDiagnostics)->Arg(off)->Arg(tracing)->Arg(block_profile)->UseRealTime();

// Spawn and join: one iteration is one goroutine.
void BM_SpawnJoinDiagnostics(benchmark::State& state) {
  go::run([&] {
    diagnostics_on on(static_cast<mode>(state.range(0)));
    for (auto _ : state) {
      go::wait_group wg;
      wg.go([] {});
      wg.wait();
    }
  });
}
BENCHMARK(BM_SpawnJoinDiagnostics)->Arg(off)->Arg(tracing)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
