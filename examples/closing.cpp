// Closing a channel and ranging over it; `v, ok := <-ch` after close.
#include <cstdio>
#include <vector>

#include "go/go.hpp"

void example_closing() {
  auto jobs = go::make_chan<int>(5);
  auto done = go::make_chan<std::vector<int>>();
  go::spawn([jobs, done] {
    std::vector<int> received;
    for (;;) {
      std::optional<int> j = jobs.recv();  // v, ok := <-jobs
      if (!j) {                            // closed and drained
        done << received;
        return;
      }
      received.push_back(*j);
    }
  });
  for (int j = 1; j <= 3; ++j) jobs << j;
  jobs.close();
  std::printf("sent 3 jobs and closed the channel\n");
  std::printf("worker received:");
  std::vector<int> received = *done.recv();
  for (int j : received) std::printf(" %d", j);
  std::printf(", then saw the close\n");

  // for v := range ch: values buffered before close are still received.
  auto queue = go::make_chan<const char*>(2);
  queue << "one";
  queue << "two";
  queue.close();
  for (const char* v : queue) std::printf("%s\n", v);
  std::printf("receive after close: ok = %s\n", jobs.recv() ? "true" : "false");
}

#ifndef GOCXX_TOUR
int main() { go::run(example_closing); }
#endif
