// Pipeline: generate -> multiply -> add -> filter, each stage a goroutine connected by channels.
// A stage closes its output when its input ends, so the end flows down the pipeline.
#include <cstdio>
#include <functional>

#include "go/go.hpp"

namespace {

go::recv_chan<int> generate(int n) {
  auto out = go::make_chan<int>();
  go::spawn([out, n] {
    for (int i = 1; i <= n; ++i) out << i;
    out.close();
  });
  return out;
}

go::recv_chan<int> stage(go::recv_chan<int> in, std::function<int(int)> f) {
  auto out = go::make_chan<int>();
  go::spawn([in, out, f] {
    for (int v : in) out << f(v);
    out.close();
  });
  return out;
}

go::recv_chan<int> filter(go::recv_chan<int> in, std::function<bool(int)> keep) {
  auto out = go::make_chan<int>();
  go::spawn([in, out, keep] {
    for (int v : in)
      if (keep(v)) out << v;
    out.close();
  });
  return out;
}

}  // namespace

void example_pipeline() {
  auto multiplied = stage(generate(10), [](int v) { return v * 3; });
  auto added = stage(multiplied, [](int v) { return v + 1; });
  auto even = filter(added, [](int v) { return v % 2 == 0; });
  std::printf("3x+1 for x in 1..10, even ones:");
  for (int v : even) std::printf(" %d", v);
  std::printf("\n");
}

#ifndef GOCXX_TOUR
int main() { go::run(example_pipeline); }
#endif
