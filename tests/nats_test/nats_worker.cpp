// The worker process of NatsWorkerPool.KilledWorkerLosesNoJob: a go::nats::worker_pool on
// the durable consumer "workers" of stream JOBS. For each job it publishes
// "started.<worker>" with the job, works for job_ms, and returns "<job> <worker>
// <deliveries>", which the pool publishes to "results" before acknowledging the job.
// Usage: gocxx_nats_test_worker URL WORKER_NAME JOB_MS ACK_WAIT_MS
#include <cstdio>
#include <cstdlib>
#include <string>

#include "go/nats.hpp"
#include "go/runtime.hpp"
#include "go/time.hpp"
#include "tsan_suppressions.hpp"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s URL WORKER_NAME JOB_MS ACK_WAIT_MS\n", argv[0]);
    return 2;
  }
  std::string url = argv[1], name = argv[2];
  auto job_time = std::chrono::milliseconds(std::atoi(argv[3]));
  auto ack_wait = std::chrono::milliseconds(std::atoi(argv[4]));
  return go::run([&] {
    auto [connected, err] = go::nats::connect({.servers = {url}, .name = name});
    if (err) {
      std::fprintf(stderr, "%s: connect: %s\n", name.c_str(), err.message().c_str());
      return 1;
    }
    go::nats::conn nc = connected;  // a lambda below captures it (clang 14 cannot capture a binding)
    auto [js, jerr] = nc.jetstream();
    auto [consumer, cerr] = js.pull_subscribe("jobs.>", {.durable = "workers", .ack_wait = ack_wait});
    if (jerr || cerr) {
      std::fprintf(stderr, "%s: pull_subscribe: %s\n", name.c_str(), (jerr ? jerr : cerr).message().c_str());
      return 1;
    }
    go::nats::worker_pool pool(go::background(), consumer, {.workers = 2, .results_subject = "results"},
                               [&](const go::context&, const go::nats::msg& job) {
                                 (void)nc.publish("started." + name, job.data());
                                 go::sleep(job_time);
                                 return std::string(job.data()) + " " + name + " " +
                                        std::to_string(job.num_delivered());
                               });
    std::fprintf(stderr, "%s: pool ended: %s\n", name.c_str(), pool.wait().message().c_str());
    return 0;
  });
}
