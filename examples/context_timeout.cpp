// Context timeout and retry: give a slow operation a deadline (context.WithTimeout), and retry
// a flaky one with exponential backoff that stops when the context is done.
#include <chrono>
#include <cstdio>
#include <string>

#include "go/go.hpp"
#include "go/patterns.hpp"

using namespace std::chrono_literals;

namespace {

// A fake query that takes `latency` unless its context ends first.
go::error query(const go::context& ctx, std::chrono::milliseconds latency) {
  go::error err;
  go::select(go::recv_case(go::after(latency)), go::recv_case(ctx.done(), [&] { err = ctx.err(); }));
  return err;
}

const char* describe(const go::error& err) { return err ? "error" : "ok"; }

}  // namespace

void example_context_timeout() {
  // 1. The Go way: a context with a timeout, passed down to the work.
  {
    auto [ctx, cancel] = go::with_timeout(go::background(), 50ms);
    go::error err = query(ctx, 10ms);
    std::printf("fast query: %s\n", describe(err));
    err = query(ctx, 200ms);
    std::printf("slow query: %s (%s)\n", describe(err), err.message().c_str());
    cancel();  // always release the context's resources
  }

  // 2. go::with_timeout(ctx, d, f): run f in a goroutine and stop waiting at the deadline.
  {
    auto answer = go::with_timeout(go::background(), 50ms, [](const go::context&) { return 42; });
    std::printf("with_timeout: value %d\n", *answer.value);
    auto late = go::with_timeout(go::background(), 20ms, [](const go::context& ctx) { return query(ctx, 1s); });
    std::printf("with_timeout: %s\n", late.message().c_str());
  }

  // 3. Retry with exponential backoff (10ms, 20ms, ...), here succeeding on the third attempt.
  {
    int attempt = 0;
    go::error err =
        go::retry(go::background(), go::backoff{.initial = 10ms, .jitter = 0.2, .max_attempts = 5}, [&]() -> go::error {
          ++attempt;
          std::printf("attempt %d\n", attempt);
          if (attempt < 3) return go::make_error("temporarily unavailable");
          return {};
        });
    std::printf("retry: %s after %d attempts\n", describe(err), attempt);

    // A retry loop gives up when its context ends, even in the middle of a backoff wait.
    auto [ctx, cancel] = go::with_timeout(go::background(), 30ms);
    err = go::retry(ctx, go::backoff{.initial = 1s, .max_attempts = 0}, [] { return go::make_error("still down"); });
    std::printf("retry with deadline: %s\n", err.message().c_str());
    cancel();
  }
}

#ifndef GOCXX_TOUR
int main() { go::run(example_context_timeout); }
#endif
