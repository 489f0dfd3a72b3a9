// The concurrent prime sieve from the Go tour: a chain of filter goroutines, one per prime.
// Cancelling the context stops the whole chain (no goroutine is left blocked).
#include <cstdio>

#include "go/go.hpp"

namespace {

void generate(go::context ctx, go::send_chan<int> ch) {
  for (int i = 2;; ++i) {
    if (go::select(go::send_case(ch, i), go::recv_case(ctx.done())) == 1) return;
  }
}

void filter(go::context ctx, go::recv_chan<int> in, go::send_chan<int> out, int prime) {
  for (;;) {
    std::optional<int> i;
    if (go::select(go::recv_case(in, [&](std::optional<int> v) { i = v; }), go::recv_case(ctx.done())) == 1) return;
    if (*i % prime == 0) continue;
    if (go::select(go::send_case(out, *i), go::recv_case(ctx.done())) == 1) return;
  }
}

}  // namespace

void example_prime_sieve() {
  auto [ctx, cancel] = go::with_cancel(go::background());
  auto ch = go::make_chan<int>();
  go::spawn(generate, ctx, ch);
  std::printf("first 10 primes:");
  for (int i = 0; i < 10; ++i) {
    int prime = *ch.recv();
    std::printf(" %d", prime);
    auto next = go::make_chan<int>();
    go::spawn(filter, ctx, ch, next, prime);
    ch = next;
  }
  std::printf("\n");
  cancel();
}

#ifndef GOCXX_TOUR
int main() { go::run(example_prime_sieve); }
#endif
