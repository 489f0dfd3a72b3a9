// A concurrent client: fetch from many addresses with a pool of 3 workers, a rate limiter
// shared by all of them (a burst of 2, then one request every 5ms) and a timeout per request
// (a context whose deadline bounds the dial and, as the connection's deadline, the exchange).
// The servers are in the same program: four of them answer at once, one too late.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "go/bufio.hpp"
#include "go/context.hpp"
#include "go/go.hpp"
#include "go/io.hpp"
#include "go/net.hpp"
#include "go/rate.hpp"

using namespace std::chrono_literals;

namespace {

// serve answers each connection's request line with "<name> serves <request>", after delay.
void serve(go::net::listener ln, std::string name, std::chrono::milliseconds delay, go::wait_group& wg) {
  for (;;) {
    auto [c, err] = ln.accept();
    if (err) return;  // the listener was closed
    wg.go([c = c, name, delay] {
      go::bufio::reader in(c);
      auto [request, err] = in.read_string('\n');
      if (!err) {
        go::sleep(delay);
        (void)go::io::write_string(c, name + " serves " + request);
      }
      (void)c.close();
    });
  }
}

struct job {
  int id;
  std::string name, address;
};

struct outcome {
  int id;
  std::string text;
};

// fetch sends one request to address and returns the reply line, within ctx.
outcome fetch(const go::context& ctx, const job& j) {
  auto [c, err] = go::net::dial(ctx, "tcp", j.address);
  if (err) return {j.id, "dial failed: " + err.message()};
  if (auto deadline = ctx.deadline()) (void)c.set_deadline(*deadline);
  std::string text;
  if (auto write_err = go::io::write_string(c, "/item/" + std::to_string(j.id) + "\n").err) {
    text = "write failed: " + write_err.message();
  } else {
    go::bufio::reader in(c);
    auto [reply, read_err] = in.read_string('\n');
    if (read_err.is(std::errc::timed_out)) {
      text = j.name + " timed out";
    } else if (read_err) {
      text = "read failed: " + read_err.message();
    } else {
      text = reply.substr(0, reply.size() - 1);
    }
  }
  (void)c.close();
  return {j.id, text};
}

}  // namespace

void example_fetch_client() {
  // The servers.
  const std::vector<std::pair<std::string, std::chrono::milliseconds>> servers = {
      {"alpha", 0ms}, {"beta", 0ms}, {"gamma", 0ms}, {"delta", 0ms}, {"slow", 300ms}};
  go::wait_group served;
  std::vector<go::net::listener> listeners;
  std::vector<job> jobs;
  for (const auto& [name, delay] : servers) {
    auto [ln, err] = go::net::listen("tcp", "127.0.0.1:0");
    if (err) {
      std::printf("listen: %s\n", err.message().c_str());
      break;
    }
    listeners.push_back(ln);
    served.go([ln = ln, name = name, delay = delay, &served] { serve(ln, name, delay, served); });
    for (int k = 0; k < 2; ++k) jobs.push_back({static_cast<int>(jobs.size()) + 1, name, ln.addr().string()});
  }

  // The client: 3 workers take jobs from one channel and share one limiter.
  auto todo = go::make_chan<job>(jobs.size());
  for (const job& j : jobs) todo.send(j);
  todo.close();
  auto results = go::make_chan<outcome>(jobs.size());
  go::rate::limiter limiter(go::rate::every(5ms), 2);
  go::wait_group workers;
  for (int w = 0; w < 3; ++w) {
    workers.go([todo, results, &limiter] {
      for (const job& j : todo) {
        auto [ctx, cancel] = go::with_timeout(go::background(), 100ms);
        if (go::error err = limiter.wait(ctx)) {
          results.send({j.id, "rate limit: " + err.message()});
        } else {
          results.send(fetch(ctx, j));
        }
        cancel();
      }
    });
  }
  workers.wait();
  results.close();

  std::vector<std::string> by_id(jobs.size() + 1);
  for (outcome o : results) by_id[static_cast<std::size_t>(o.id)] = o.text;
  for (std::size_t id = 1; id < by_id.size(); ++id) std::printf("request %zu: %s\n", id, by_id[id].c_str());

  for (const auto& ln : listeners) (void)ln.close();
  served.wait();
}

#ifndef GOCXX_TOUR
int main() { go::run(example_fetch_client); }
#endif
