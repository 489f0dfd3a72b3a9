// Package sync scenarios (bench/peers/go/sync.go) that Boost.Fiber can express: its
// fibers::mutex, and the wait group every scenario of this peer joins with (peer.hpp: an atomic
// counter, and fibers::mutex and condition_variable for wait()). sync_rwmutex_read_mostly is
// left out: Boost.Fiber has no reader/writer lock, and one written here on its mutex and
// condition variable would measure that lock's design, not Boost.Fiber.
#include "peer.hpp"

namespace peer {
namespace {

// sync_mutex_uncontended: main does N times mu.lock(); counter++; mu.unlock().
results sync_mutex_uncontended(int n) {
  fibers::mutex mu;
  i64 counter = 0;
  auto start = clock_type::now();
  for (int i = 0; i < n; ++i) {
    mu.lock();
    ++counter;
    mu.unlock();
  }
  return ns_per_op("sync_mutex_uncontended", since_ns(start), n, counter);
}

// sync_mutex_contended_G: G fibers each do per = N/G times mu.lock(); counter++; mu.unlock()
// on one mutex.
std::function<results(int)> sync_mutex_contended(std::string name, int g) {
  return [name = std::move(name), g](int n) {
    int per = n / g;
    fibers::mutex mu;
    wait_group wg;
    i64 counter = 0;  // guarded by mu
    auto start = clock_type::now();
    wg.add(g);
    for (int t = 0; t < g; ++t) {
      spawn([&mu, &wg, &counter, per] {
        for (int i = 0; i < per; ++i) {
          mu.lock();
          ++counter;
          mu.unlock();
        }
        wg.done();
      });
    }
    wg.wait();
    return ns_per_op(name, since_ns(start), static_cast<i64>(g) * per, counter);
  };
}

// sync_waitgroup: main adds 4 and starts 4 fibers; each does per = N/4 times wg.add(1);
// wg.done() on the shared wait group, then wg.done(); main waits.
results sync_waitgroup(int n) {
  constexpr int g = 4;
  int per = n / g;
  wait_group wg;
  i64 counts[g] = {};
  auto start = clock_type::now();
  wg.add(g);
  for (int t = 0; t < g; ++t) {
    spawn([&wg, &counts, per, t] {
      i64 c = 0;
      for (int i = 0; i < per; ++i) {
        wg.add(1);
        wg.done();
        ++c;
      }
      counts[t] = c;
      wg.done();
    });
  }
  wg.wait();
  i64 el = since_ns(start);
  return ns_per_op("sync_waitgroup", el, static_cast<i64>(g) * per, counts[0] + counts[1] + counts[2] + counts[3]);
}

}  // namespace

std::vector<scenario> sync_scenarios() {
  return {
      {"sync_mutex_uncontended", 20'000'000, sync_mutex_uncontended},
      {"sync_mutex_contended_4", 4'000'000, sync_mutex_contended("sync_mutex_contended_4", 4)},
      {"sync_mutex_contended_16", 4'000'000, sync_mutex_contended("sync_mutex_contended_16", 16)},
      {"sync_waitgroup", 10'000'000, sync_waitgroup},
  };
}

}  // namespace peer
