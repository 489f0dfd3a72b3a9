// Goroutines and a wait group: start ten goroutines, wait for all of them.
//
//   var wg sync.WaitGroup
//   for i := 1; i <= 10; i++ { wg.Add(1); go func(i int) { defer wg.Done(); results <- i * i }(i) }
//   wg.Wait()
#include <cstdio>

#include "go/go.hpp"

void example_goroutines() {
  go::wait_group wg;
  auto results = go::make_chan<int>(10);  // room for every result: no goroutine blocks
  for (int i = 1; i <= 10; ++i) {
    wg.add(1);
    // Capture by value what the goroutine uses (a copy of a channel is the same channel; i is
    // this iteration's), wg by reference: wg.wait() below returns before wg goes away.
    go::spawn([&wg, results, i] {
      go::defer done([&wg] { wg.done(); });
      results << i * i;
    });
  }
  wg.wait();
  results.close();
  int sum = 0;
  for (int v : results) sum += v;
  std::printf("sum of squares 1..10 = %d\n", sum);
}

#ifndef GOCXX_TOUR
int main() { go::run(example_goroutines); }
#endif
