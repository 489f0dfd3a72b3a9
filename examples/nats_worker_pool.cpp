// A distributed worker pool over NATS JetStream, in one command:
//
//   ./build/examples/nats_worker_pool [JOBS]
//
// starts a nats-server (JetStream in a temporary folder), three worker processes (this
// program with `worker URL NAME`) sharing the durable consumer "workers" of the work-queue
// stream JOBS, and a producer that publishes JOBS jobs (default 20000); then prints the
// throughput and how many jobs each worker did. Kill a worker (kill -9) while it runs: its
// jobs come back after the 2 s ack_wait and the others do them; nothing is lost.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "go/nats.hpp"
#include "go/runtime.hpp"
#include "go/select.hpp"
#include "go/time.hpp"
#include "nats_server.hpp"

namespace nats = go::nats;
using namespace std::chrono_literals;

// worker handles jobs until it is killed: each job's result, "<job> <worker>", goes to the
// subject "results".
int worker(const std::string& url, const std::string& name) {
  auto [nc, err] = nats::connect({.servers = {url}, .name = name});
  if (err) return std::fprintf(stderr, "%s: %s\n", name.c_str(), err.message().c_str()), 1;
  auto [js, jerr] = nc.jetstream();
  auto [consumer, cerr] = js.pull_subscribe("jobs.>", {.durable = "workers", .ack_wait = 2s});
  if (jerr || cerr) return std::fprintf(stderr, "%s: %s\n", name.c_str(), (jerr ? jerr : cerr).message().c_str()), 1;
  nats::worker_pool pool(
      go::background(), consumer, {.workers = 8, .results_subject = "results", .ack_sync = false},
      [name](const go::context&, const nats::msg& job) { return std::string(job.data()) + " " + name; });
  return pool.wait() ? 1 : 0;
}

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "worker") return go::run([&] { return worker(argv[2], argv[3]); });
  int jobs = argc > 1 ? std::atoi(argv[1]) : 20000;
  return go::run([&] {
    gocxx_nats_test::nats_server server;
    auto [nc, err] = nats::connect({.servers = {server.url()}});
    if (err) return std::fprintf(stderr, "connect: %s\n", err.message().c_str()), 1;
    auto [js, jerr] = nc.jetstream();
    if (auto e = jerr ? jerr : js.add_stream({.name = "JOBS", .subjects = {"jobs.>"}})) {
      return std::fprintf(stderr, "stream: %s\n", e.message().c_str()), 1;
    }
    auto [results, rerr] = nc.subscribe("results", 1 << 16);
    (void)nc.flush();

    std::vector<pid_t> workers;
    for (const char* name : {"worker-1", "worker-2", "worker-3"}) {
      pid_t pid = ::fork();
      if (pid == 0) {
        ::execl("/proc/self/exe", argv[0], "worker", server.url().c_str(), name, nullptr);
        ::_exit(127);
      }
      workers.push_back(pid);
    }

    auto start = go::now();
    go::spawn([js = js, jobs] {
      for (int i = 0; i < jobs; ++i) (void)js.publish_async("jobs.work", std::to_string(i));
      (void)js.publish_async_complete(30s);
    });
    std::map<std::string, int> per_worker;
    std::vector<bool> done(static_cast<std::size_t>(jobs));
    int distinct = 0;
    while (distinct < jobs) {
      std::optional<nats::msg> m;
      go::select(go::recv_case(results.messages(), [&](std::optional<nats::msg> v) { m = std::move(v); }),
                 go::recv_case(go::after(30s)));
      if (!m) break;
      std::string r(m->data());
      auto space = r.find(' ');
      std::size_t job = std::stoul(r.substr(0, space));
      ++per_worker[r.substr(space + 1)];
      if (job < done.size() && !done[job]) done[job] = true, ++distinct;
    }
    double seconds = std::chrono::duration<double>(go::now() - start).count();
    for (pid_t pid : workers) ::kill(pid, SIGTERM), ::waitpid(pid, nullptr, 0);

    std::printf("%d of %d jobs done in %.2f s: %.0f jobs/s\n", distinct, jobs, seconds, distinct / seconds);
    for (auto& [name, n] : per_worker) std::printf("  %s: %d jobs\n", name.c_str(), n);
    return distinct == jobs ? 0 : 1;
  });
}
