// Fan-out / fan-in: several workers read one channel (fan-out); merge() combines their output
// channels into one, closing it when every input is closed (fan-in).
#include <cstdio>
#include <vector>

#include "go/go.hpp"

namespace {

go::recv_chan<int> generate(std::vector<int> values) {
  auto out = go::make_chan<int>();
  go::spawn([out, values = std::move(values)] {
    for (int v : values) out << v;
    out.close();
  });
  return out;
}

go::recv_chan<int> square(go::recv_chan<int> in) {
  auto out = go::make_chan<int>();
  go::spawn([in, out] {
    for (int v : in) out << v * v;
    out.close();
  });
  return out;
}

// merge: a goroutine per input copies it to out; the last one to finish closes out.
go::recv_chan<int> merge(std::vector<go::recv_chan<int>> inputs) {
  auto out = go::make_chan<int>();
  auto wg = std::make_shared<go::wait_group>();
  wg->add(static_cast<int>(inputs.size()));
  for (auto& in : inputs) {
    go::spawn([in, out, wg] {
      for (int v : in) out << v;
      wg->done();
    });
  }
  go::spawn([wg, out] {
    wg->wait();
    out.close();
  });
  return out;
}

}  // namespace

void example_fan_in() {
  auto in = generate({1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  // Fan out: three squarers share `in`; fan in: merge their outputs.
  auto merged = merge({square(in), square(in), square(in)});
  int sum = 0, count = 0;
  for (int v : merged) {
    sum += v;
    ++count;
  }
  std::printf("merged %d squares, sum %d\n", count, sum);  // order varies; the sum does not
}

#ifndef GOCXX_TOUR
int main() { go::run(example_fan_in); }
#endif
