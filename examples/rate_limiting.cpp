// Rate limiting: the ticker-throttle idiom (one request per tick) and a token bucket that also
// allows short bursts (go::rate::limiter, golang.org/x/time/rate).
#include <chrono>
#include <cstdio>

#include "go/go.hpp"
#include "go/rate.hpp"

using namespace std::chrono_literals;

namespace {

// Elapsed time rounded to 10ms, so the output does not show scheduling noise.
long since_ms(std::chrono::steady_clock::time_point start) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  return (ms.count() + 5) / 10 * 10;
}

}  // namespace

void example_rate_limiting() {
  // 1. Ticker: serve one request every 20ms.
  auto requests = go::make_chan<int>(5);
  for (int i = 1; i <= 5; ++i) requests << i;
  requests.close();
  go::ticker limiter = go::new_ticker(20ms);
  auto start = std::chrono::steady_clock::now();
  for (int req : requests) {
    limiter.c().recv();
    std::printf("ticker: request %d at ~%ldms\n", req, since_ms(start));
  }
  limiter.stop();

  // 2. Token bucket: a burst of 3 at once, then one every 20ms.
  go::rate::limiter bucket(go::rate::every(20ms), 3);
  start = std::chrono::steady_clock::now();
  for (int req = 1; req <= 5; ++req) {
    if (go::error err = bucket.wait(go::background())) return;
    std::printf("bucket: request %d at ~%ldms\n", req, since_ms(start));
  }
  // allow() never waits: it says whether a token is there now.
  std::printf("bucket: allow() right after = %s\n", bucket.allow() ? "true" : "false");
}

#ifndef GOCXX_TOUR
int main() { go::run(example_rate_limiting); }
#endif
