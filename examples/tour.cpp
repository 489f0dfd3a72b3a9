// The examples tour: each idea a Go programmer meets first, in order, with a one-line heading.
// Every example is also its own program (examples/<name>.cpp); this file links them all.
#include <cstdio>

#include "go/go.hpp"

void example_goroutines();
void example_channels();
void example_closing();
void example_directions();
void example_select();
void example_worker_pool();
void example_fan_in();
void example_pipeline();
void example_rate_limiting();
void example_context_timeout();
void example_counters();
void example_errgroup();
void example_prime_sieve();
void example_interfaces();
void example_echo_server();
void example_chat_server();
void example_fetch_client();

int main() {
  struct step {
    const char* heading;
    void (*run)();
  };
  const step steps[] = {
      {"goroutines and a wait group", example_goroutines},
      {"unbuffered and buffered channels", example_channels},
      {"closing and ranging over a channel", example_closing},
      {"directional channels", example_directions},
      {"select with timeout and default", example_select},
      {"worker pool: 3 workers, 5 jobs", example_worker_pool},
      {"fan-out / fan-in", example_fan_in},
      {"pipeline: multiply, add, filter", example_pipeline},
      {"rate limiting: ticker and token bucket", example_rate_limiting},
      {"context timeout and retry", example_context_timeout},
      {"mutex counter vs. channel-owned counter", example_counters},
      {"errgroup", example_errgroup},
      {"prime sieve", example_prime_sieve},
      {"interfaces and type switches", example_interfaces},
      {"echo server: a goroutine per connection", example_echo_server},
      {"chat server: a broadcaster and a goroutine per client", example_chat_server},
      {"fetch client: worker pool, rate limiter, timeouts", example_fetch_client},
  };
  return go::run([&] {
    for (const step& s : steps) {
      std::printf("== %s\n", s.heading);
      s.run();
    }
    return 0;
  });
}
