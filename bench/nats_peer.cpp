// The gocxx side of bench/nats_compare.sh: the scenarios of bench/peers/nats/main.go (nats.go)
// with gocxx::nats, against the same nats-server. Usage: nats_peer URL SCENARIO N
//   qpub N    publish N 128-byte messages to a queue group of 4 subscribers; msgs/s
//   reqrep N  N sequential requests to a responder; median and p99 round trip
//   jsq N     a work-queue stream of N jobs, 4 workers fetching and acking each; jobs/s
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "go/nats.hpp"
#include "go/runtime.hpp"
#include "go/select.hpp"
#include "go/sync.hpp"
#include "go/time.hpp"

namespace nats = go::nats;
using namespace std::chrono_literals;

namespace {

nats::conn must_connect(const std::string& url, bool send_asap = false) {
  auto [nc, err] = nats::connect({.servers = {url}, .send_asap = send_asap});
  if (err) {
    std::fprintf(stderr, "connect: %s\n", err.message().c_str());
    std::exit(1);
  }
  return nc;
}

double seconds_since(go::steady_clock::time_point t) { return std::chrono::duration<double>(go::now() - t).count(); }

void qpub(const std::string& url, int n) {
  auto sub = must_connect(url);
  std::atomic<int> got{0};
  auto done = go::make_chan<void>(1);
  std::vector<nats::subscription> subs;
  for (int i = 0; i < 4; ++i) {
    auto [s, err] = sub.queue_subscribe("bench.q", "workers", 65536);
    subs.push_back(s);
    go::spawn([msgs = s.messages(), &got, done, n] {
      for (nats::msg m : msgs) {
        (void)m;
        if (got.fetch_add(1, std::memory_order_relaxed) + 1 == n) done.send();
      }
    });
  }
  (void)sub.flush();
  auto pub = must_connect(url);
  std::string data(128, 'x');
  auto start = go::now();
  for (int i = 0; i < n; ++i) (void)pub.publish("bench.q", data);
  (void)pub.flush();
  go::select(go::recv_case(done), go::recv_case(go::after(30s)));
  std::printf("gocxx qpub %d received %d %.0f msgs/s\n", n, got.load(), got.load() / seconds_since(start));
}

void reqrep(const std::string& url, int n) {
  // send_asap: libnats's flusher thread would hold each request and reply for about 1 ms.
  auto srv = must_connect(url, true);
  auto [s, err] = srv.subscribe("bench.echo", 1024);
  go::spawn([msgs = s.messages()] {
    for (nats::msg m : msgs) (void)m.respond(m.data());
  });
  (void)srv.flush();
  auto cli = must_connect(url, true);
  std::string data(128, 'x');
  std::vector<double> lat;
  lat.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto t = go::now();
    auto [m, rerr] = cli.request("bench.echo", data, 5s);
    if (rerr) {
      std::fprintf(stderr, "request: %s\n", rerr.message().c_str());
      std::exit(1);
    }
    lat.push_back(std::chrono::duration<double, std::micro>(go::now() - t).count());
  }
  std::sort(lat.begin(), lat.end());
  std::printf("gocxx reqrep %d median %.1f us p99 %.1f us\n", n, lat[lat.size() / 2], lat[lat.size() * 99 / 100]);
}

void jsq(const std::string& url, int n) {
  auto nc = must_connect(url);
  auto [js, jerr] = nc.jetstream();
  (void)js.delete_stream("CXXJOBS");
  if (auto e = js.add_stream({.name = "CXXJOBS", .subjects = {"cxxjobs.>"}})) {
    std::fprintf(stderr, "stream: %s\n", e.message().c_str());
    std::exit(1);
  }
  std::string data(128, 'x');
  for (int i = 0; i < n; ++i) (void)js.publish_async("cxxjobs.a", data);
  (void)js.publish_async_complete(60s);
  std::atomic<int> done{0};
  go::wait_group wg;
  auto start = go::now();
  for (int w = 0; w < 4; ++w) {
    auto [c, cerr] = js.pull_subscribe("cxxjobs.>", {.durable = "workers"});
    if (cerr) {
      std::fprintf(stderr, "pull_subscribe: %s\n", cerr.message().c_str());
      std::exit(1);
    }
    wg.go([c = c, &done, n] {
      while (done.load() < n) {
        auto [ctx, cancel] = go::with_timeout(go::background(), 200ms);
        auto [msgs, err] = c.fetch(ctx, 64);
        cancel();
        for (auto& m : msgs) {
          (void)m.ack();
          done.fetch_add(1);
        }
      }
    });
  }
  wg.wait();
  (void)nc.flush();
  std::printf("gocxx jsq %d acked %d %.0f jobs/s\n", n, done.load(), done.load() / seconds_since(start));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s URL qpub|reqrep|jsq N\n", argv[0]);
    return 2;
  }
  std::string url = argv[1], scenario = argv[2];
  int n = std::atoi(argv[3]);
  return go::run([&] {
    if (scenario == "qpub") qpub(url, n);
    else if (scenario == "reqrep") reqrep(url, n);
    else if (scenario == "jsq") jsq(url, n);
    return 0;
  });
}
