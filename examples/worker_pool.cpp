// Worker pool: 3 workers take 5 jobs from a channel and send results on another.
//
// Which worker runs which job depends on scheduling, so the results are printed in job order.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "go/go.hpp"

using namespace std::chrono_literals;

namespace {

struct result {
  int job;
  int worker;
  int value;
};

void worker(int id, go::recv_chan<int> jobs, go::send_chan<result> results) {
  for (int j : jobs) {
    go::sleep(10ms);  // "work"
    results << result{j, id, j * 2};
  }
}

}  // namespace

void example_worker_pool() {
  const int num_jobs = 5;
  auto jobs = go::make_chan<int>(num_jobs);
  auto results = go::make_chan<result>(num_jobs);
  for (int w = 1; w <= 3; ++w) go::spawn(worker, w, jobs, results);
  for (int j = 1; j <= num_jobs; ++j) jobs << j;
  jobs.close();  // workers' range loops end once the queue is drained

  std::vector<result> all;
  for (int i = 0; i < num_jobs; ++i) all.push_back(*results.recv());
  std::sort(all.begin(), all.end(), [](const result& a, const result& b) { return a.job < b.job; });
  for (const result& r : all) std::printf("job %d -> %d\n", r.job, r.value);
}

#ifndef GOCXX_TOUR
int main() { go::run(example_worker_pool); }
#endif
