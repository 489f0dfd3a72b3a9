// peer_scenarios: the gocxx side of the side-by-side benchmark against Go and Boost.Fiber.
//
// Every scenario is specified in bench/peers/go/SCENARIOS.md; the Go program in
// bench/peers/go is the reference implementation. This program has the same command line
// and output, so that bench/compare.py can run both and compare them:
//
//   peer_scenarios -scenario NAME|all [-reps K] [-n N]
//   peer_scenarios -list
//
// Output, one line per result and repetition: NAME VALUE UNIT CHECKSUM.
// The number of worker threads comes from GOMAXPROCS (gocxx reads it itself).
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "go/async_io.hpp"
#include "go/go.hpp"
#include "go/io.hpp"
#include "go/net.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using i64 = std::int64_t;

struct result {
  std::string name;
  double value;
  const char* unit;
  i64 checksum;
};

using results = std::vector<result>;

i64 since_ns(clock_type::time_point start) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - start).count();
}

// ns_per_op builds the usual one-line result.
results ns_per_op(const std::string& name, i64 elapsed_ns, i64 ops, i64 checksum) {
  return {{name, static_cast<double>(elapsed_ns) / static_cast<double>(ops), "ns/op", checksum}};
}

// ---- Scheduler and goroutine scenarios ----

// spawn_join: N goroutines each call wg.done(); main waits.
results spawn_join(int n) {
  go::wait_group wg;
  auto start = clock_type::now();
  wg.add(n);
  for (int i = 0; i < n; ++i) go::spawn([&wg] { wg.done(); });
  wg.wait();
  return ns_per_op("spawn_join", since_ns(start), n, n);
}

// yield_pingpong: two goroutines each call go::yield() N times.
results yield_pingpong(int n) {
  go::wait_group wg;
  i64 counts[2] = {0, 0};
  auto start = clock_type::now();
  wg.add(2);
  for (int g = 0; g < 2; ++g) {
    go::spawn([&wg, &counts, g, n] {
      i64 c = 0;
      for (int i = 0; i < n; ++i) {
        go::yield();
        ++c;
      }
      counts[g] = c;
      wg.done();
    });
  }
  wg.wait();
  i64 el = since_ns(start);
  return ns_per_op("yield_pingpong", el, 2 * static_cast<i64>(n), counts[0] + counts[1]);
}

// create_goroutines: a chain f(N), f(N-1), ..., f(0); each spawns the next and exits, f(0)
// sends on c.
void create_chain(int n, const go::chan<bool>* c) {
  if (n == 0) {
    go::chan<bool> own = *c;  // a handle of our own: main may drop its handle once it receives
    own.send(true);
    return;
  }
  go::spawn(create_chain, n - 1, c);
}

results create_goroutines(int n) {
  auto c = go::make_chan<bool>();
  auto start = clock_type::now();
  go::spawn(create_chain, n, &c);
  c.recv();
  return ns_per_op("create_goroutines", since_ns(start), n, n);
}

// rss_bytes returns a field of /proc/self/status in bytes (0 if unavailable): VmRSS, the
// resident set now, or VmHWM, its peak since the process started.
i64 rss_bytes(const char* field = "VmRSS:") {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  i64 kb = 0;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, field, std::strlen(field)) == 0) {
      kb = std::strtoll(line + std::strlen(field), nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return kb * 1024;
}

// parked_1m: N goroutines parked on one channel; memory per goroutine and spawn time.
results parked_1m(int n) {
  auto ch = go::make_chan<void>();
  go::wait_group started, exited;
  started.add(n);
  exited.add(n);
  i64 before = rss_bytes();
  auto start = clock_type::now();
  for (int i = 0; i < n; ++i) {
    go::spawn([&started, &exited, &ch] {
      started.done();
      ch.recv();
      exited.done();
    });
  }
  started.wait();
  i64 spawn = since_ns(start);
  i64 after = rss_bytes();
  ch.close();
  exited.wait();
  i64 peak = rss_bytes("VmHWM:");
  return {
      {"parked_1m", static_cast<double>(after - before) / n, "B/goroutine", n},
      {"parked_1m_peak", static_cast<double>(peak - before) / n, "B/goroutine", n},
      {"parked_1m_spawn", static_cast<double>(spawn) / n, "ns/op", n},
  };
}

// wake_1m: N goroutines parked on one channel; time from close(ch) until all of them exited.
results wake_1m(int n) {
  auto ch = go::make_chan<void>();
  std::vector<std::int32_t> woke(static_cast<std::size_t>(n), 0);
  go::wait_group started, exited;
  started.add(n);
  exited.add(n);
  for (int i = 0; i < n; ++i) {
    go::spawn([&started, &exited, &ch, &woke, i] {
      started.done();
      if (!ch.recv()) woke[static_cast<std::size_t>(i)] = 1;
      exited.done();
    });
  }
  started.wait();
  go::sleep(std::chrono::milliseconds(20));  // untimed: let the last few reach the receive
  auto start = clock_type::now();
  ch.close();
  exited.wait();
  i64 el = since_ns(start);
  i64 sum = 0;
  for (auto w : woke) sum += w;
  return ns_per_op("wake_1m", el, n, sum);
}

// sleep_100k: N goroutines each doing 10 x sleep(1ms); the value is the whole run's wall time.
results sleep_100k(int n) {
  constexpr int sleeps = 10;
  std::vector<std::int32_t> counts(static_cast<std::size_t>(n), 0);
  go::wait_group wg;
  auto start = clock_type::now();
  wg.add(n);
  for (int i = 0; i < n; ++i) {
    go::spawn([&wg, &counts, i] {
      for (int k = 0; k < sleeps; ++k) {
        go::sleep(std::chrono::milliseconds(1));
        ++counts[static_cast<std::size_t>(i)];
      }
      wg.done();
    });
  }
  wg.wait();
  i64 el = since_ns(start);
  i64 sum = 0;
  for (auto c : counts) sum += c;
  return ns_per_op("sleep_100k", el, 1, sum);
}

// ping_pong_hog: Go's BenchmarkPingPongHog: the hog never yields; sysmon takes its processor
// after about 10 ms and the hog keeps its thread (go/runtime.hpp).
results ping_pong_hog(int n) {
  auto stop = go::make_chan<bool>(), done = go::make_chan<bool>();
  go::spawn([stop, done] {
    for (;;) {
      bool stopped = false;
      go::select(go::recv_case(stop, [&stopped] { stopped = true; }), go::default_case());
      if (stopped) {
        done.send(true);
        return;
      }
    }
  });

  auto ping = go::make_chan<bool>(), pong = go::make_chan<bool>();
  i64 rounds = 0;
  go::spawn([ping, pong, stop, done, &rounds, n] {
    for (int j = 0; j < n; ++j) {
      pong.send(*ping.recv());
      ++rounds;
    }
    stop.close();
    done.send(true);
  });
  go::spawn([ping, pong, done, n] {
    for (int i = 0; i < n; ++i) ping.send(*pong.recv());
    done.send(true);
  });
  auto start = clock_type::now();
  ping.send(true);  // start ping-pong
  stop.recv();
  i64 el = since_ns(start);
  ping.recv();  // let the last ponger exit
  done.recv();
  done.recv();
  done.recv();
  return ns_per_op("ping_pong_hog", el, n, rounds);
}

// spin busy-waits on the monotonic clock for d, without yielding.
void spin(clock_type::duration d) {
  auto end = clock_type::now() + d;
  while (clock_type::now() < end) {
  }
}

// wakeup_parallel_spinning_<delay>: Go's BenchmarkWakeupParallelSpinning for one delay.
std::function<results(int)> wakeup_parallel_spinning(std::chrono::microseconds delay) {
  constexpr std::chrono::microseconds wake_delay(5);
  std::string name = "wakeup_parallel_spinning_" + std::to_string(delay.count()) + "us";
  return [name, delay, wake_delay](int n) {
    auto ping = go::make_chan<void>(), pong = go::make_chan<void>();
    auto start = go::make_chan<void>();
    auto done = go::make_chan<i64>();
    go::spawn([ping, pong, start, done, delay, wake_delay, n] {
      start.recv();
      i64 c = 0;
      for (int i = 0; i < n; ++i) {
        // sender
        spin(delay + wake_delay);
        ping.send();
        // receiver
        spin(delay);
        pong.recv();
        ++c;
      }
      done.send(c);
    });
    go::spawn([ping, pong, done, delay, wake_delay, n] {
      i64 c = 0;
      for (int i = 0; i < n; ++i) {
        // receiver
        spin(delay);
        ping.recv();
        // sender
        spin(delay + wake_delay);
        pong.send();
        ++c;
      }
      done.send(c);
    });
    auto t0 = clock_type::now();
    start.send();
    i64 sum = *done.recv();
    sum += *done.recv();
    return ns_per_op(name, since_ns(t0), n, sum);
  };
}

// skynet_div is the fan-out of skynet's tree.
constexpr int skynet_div = 10;

// skynet_node covers the numbers num..num+size-1: child i covers
// [num + i*size/10, num + (i+1)*size/10), and empty children are not spawned. A leaf sends its
// number, an inner node the sum of its children's, on c.
void skynet_node(go::chan<i64> c, i64 num, i64 size) {
  if (size == 1) {
    c.send(num);
    return;
  }
  auto rc = go::make_chan<i64>(static_cast<std::size_t>(skynet_div));
  int children = 0;
  for (int i = 0; i < skynet_div; ++i) {
    i64 lo = num + i * size / skynet_div, hi = num + (i + 1) * size / skynet_div;
    if (lo < hi) {
      go::spawn(skynet_node, rc, lo, hi - lo);
      ++children;
    }
  }
  i64 sum = 0;
  for (; children > 0; --children) sum += *rc.recv();
  c.send(sum);
}

// skynet: a tree of goroutines over the numbers 0..N-1, summed over channels.
results skynet(int n) {
  auto start = clock_type::now();
  auto c = go::make_chan<i64>(1);
  go::spawn(skynet_node, c, i64{0}, i64{n});
  i64 sum = *c.recv();
  return ns_per_op("skynet", since_ns(start), n, sum);
}

// ---- Channel and select scenarios: the crossbeam-channel suite ----

constexpr int threads = 4;  // T of the crossbeam suite

struct msg_result {
  i64 elapsed_ns;
  i64 ops;
  i64 checksum;
};

using msg_func = msg_result (*)(int cap, int n);

using ch64 = go::chan<i64>;

ch64 make64(int cap) { return go::make_chan<i64>(static_cast<std::size_t>(cap)); }

// seq: one goroutine sends n messages, then receives them.
msg_result seq(int cap, int n) {
  auto start = clock_type::now();
  auto c = make64(cap);
  for (int i = 0; i < n; ++i) c.send(i + 1);
  i64 sum = 0;
  for (int i = 0; i < n; ++i) sum += *c.recv();
  return {since_ns(start), n, sum};
}

// spsc: one producer goroutine sends n messages, main receives them.
msg_result spsc(int cap, int n) {
  auto start = clock_type::now();
  auto c = make64(cap);
  auto done = go::make_chan<bool>();
  go::spawn([c, done, n] {
    for (int i = 0; i < n; ++i) c.send(i + 1);
    done.send(true);
  });
  i64 sum = 0;
  for (int i = 0; i < n; ++i) sum += *c.recv();
  done.recv();
  return {since_ns(start), n, sum};
}

// mpsc: T producers send n/T messages each, main receives all of them.
msg_result mpsc(int cap, int n) {
  int per = n / threads;
  auto start = clock_type::now();
  auto c = make64(cap);
  auto done = go::make_chan<bool>();
  for (int t = 0; t < threads; ++t) {
    go::spawn(
        [c, done, per](i64 base) {
          for (int i = 0; i < per; ++i) c.send(base + i + 1);
          done.send(true);
        },
        static_cast<i64>(t) * per);
  }
  i64 sum = 0;
  for (int i = 0; i < per * threads; ++i) sum += *c.recv();
  for (int t = 0; t < threads; ++t) done.recv();
  return {since_ns(start), static_cast<i64>(per) * threads, sum};
}

// mpmc: T producers send n/T messages each, T consumers receive n/T each.
msg_result mpmc(int cap, int n) {
  int per = n / threads;
  i64 sums[threads] = {};
  auto start = clock_type::now();
  auto c = make64(cap);
  auto done = go::make_chan<bool>();
  for (int t = 0; t < threads; ++t) {
    go::spawn(
        [c, done, per](i64 base) {
          for (int i = 0; i < per; ++i) c.send(base + i + 1);
          done.send(true);
        },
        static_cast<i64>(t) * per);
  }
  for (int t = 0; t < threads; ++t) {
    go::spawn([c, done, &sums, per, t] {
      i64 s = 0;
      for (int i = 0; i < per; ++i) s += *c.recv();
      sums[t] = s;
      done.send(true);
    });
  }
  for (int t = 0; t < threads; ++t) {
    done.recv();
    done.recv();
  }
  i64 el = since_ns(start);
  return {el, static_cast<i64>(per) * threads, sums[0] + sums[1] + sums[2] + sums[3]};
}

// plain_producer sends per messages base+1..base+per on c, then signals done.
void plain_producer(ch64 c, i64 base, int per, go::chan<bool> done) {
  for (int i = 0; i < per; ++i) c.send(base + i + 1);
  done.send(true);
}

// select_rx: T producers each send n/T messages on their own channel; main receives all of
// them with a 4-case select.
msg_result select_rx(int cap, int n) {
  int per = n / threads;
  auto start = clock_type::now();
  ch64 c0 = make64(cap), c1 = make64(cap), c2 = make64(cap), c3 = make64(cap);
  auto done = go::make_chan<bool>();
  go::spawn(plain_producer, c0, i64{0} * per, per, done);
  go::spawn(plain_producer, c1, i64{1} * per, per, done);
  go::spawn(plain_producer, c2, i64{2} * per, per, done);
  go::spawn(plain_producer, c3, i64{3} * per, per, done);
  i64 sum = 0;
  auto add = [&sum](std::optional<i64> v) { sum += *v; };
  for (int i = 0; i < per * threads; ++i) {
    go::select(go::recv_case(c0, add), go::recv_case(c1, add), go::recv_case(c2, add), go::recv_case(c3, add));
  }
  for (int t = 0; t < threads; ++t) done.recv();
  return {since_ns(start), static_cast<i64>(per) * threads, sum};
}

// select_consumers starts T consumers that each receive per messages with a 4-case select
// over c0..c3 and store their sum in sums[t].
void select_consumers(ch64 c0, ch64 c1, ch64 c2, ch64 c3, int per, i64 (&sums)[threads], go::chan<bool> done) {
  for (int t = 0; t < threads; ++t) {
    go::spawn([c0, c1, c2, c3, &sums, done, per, t] {
      i64 s = 0;
      auto add = [&s](std::optional<i64> v) { s += *v; };
      for (int i = 0; i < per; ++i) {
        go::select(go::recv_case(c0, add), go::recv_case(c1, add), go::recv_case(c2, add), go::recv_case(c3, add));
      }
      sums[t] = s;
      done.send(true);
    });
  }
}

// select_both_plain: Go's select_both twin: T producers send plainly, each on its own
// channel; T consumers receive n/T each by selecting over all 4.
msg_result select_both_plain(int cap, int n) {
  int per = n / threads;
  i64 sums[threads] = {};
  auto start = clock_type::now();
  ch64 c0 = make64(cap), c1 = make64(cap), c2 = make64(cap), c3 = make64(cap);
  auto done = go::make_chan<bool>();
  go::spawn(plain_producer, c0, i64{0} * per, per, done);
  go::spawn(plain_producer, c1, i64{1} * per, per, done);
  go::spawn(plain_producer, c2, i64{2} * per, per, done);
  go::spawn(plain_producer, c3, i64{3} * per, per, done);
  select_consumers(c0, c1, c2, c3, per, sums, done);
  for (int t = 0; t < 2 * threads; ++t) done.recv();
  i64 el = since_ns(start);
  return {el, static_cast<i64>(per) * threads, sums[0] + sums[1] + sums[2] + sums[3]};
}

// select_both_send: crossbeam's select_both: T producers send n/T messages each by
// selecting over sends on all 4 channels; T consumers receive n/T each by selecting over
// all 4.
msg_result select_both_send(int cap, int n) {
  int per = n / threads;
  i64 sums[threads] = {};
  auto start = clock_type::now();
  ch64 c0 = make64(cap), c1 = make64(cap), c2 = make64(cap), c3 = make64(cap);
  auto done = go::make_chan<bool>();
  for (int t = 0; t < threads; ++t) {
    go::spawn(
        [c0, c1, c2, c3, done, per](i64 base) {
          for (int i = 0; i < per; ++i) {
            i64 v = base + i + 1;
            go::select(go::send_case(c0, v), go::send_case(c1, v), go::send_case(c2, v), go::send_case(c3, v));
          }
          done.send(true);
        },
        static_cast<i64>(t) * per);
  }
  select_consumers(c0, c1, c2, c3, per, sums, done);
  for (int t = 0; t < 2 * threads; ++t) done.recv();
  i64 el = since_ns(start);
  return {el, static_cast<i64>(per) * threads, sums[0] + sums[1] + sums[2] + sums[3]};
}

// cap_scenario binds a msg_func to a name and capacity; cap < 0 means "a capacity of n",
// i.e. one that holds every message of the run.
std::function<results(int)> cap_scenario(std::string name, msg_func f, int cap) {
  return [name = std::move(name), f, cap](int n) {
    int c = cap < 0 ? n : cap;
    msg_result r = f(c, n);
    return ns_per_op(name, r.elapsed_ns, r.ops, r.checksum);
  };
}

// ---- Channel and select micro-benchmarks ----

// chan_pingpong: unbuffered ping-pong; main sends i, the echo goroutine answers i+1.
results chan_pingpong(int n) {
  auto start = clock_type::now();
  auto ping = go::make_chan<i64>(), pong = go::make_chan<i64>();
  go::spawn([ping, pong, n] {
    for (int i = 0; i < n; ++i) {
      i64 v = *ping.recv();
      pong.send(v + 1);
    }
  });
  i64 sum = 0;
  for (int i = 0; i < n; ++i) {
    ping.send(i);
    sum += *pong.recv();
  }
  return ns_per_op("chan_pingpong", since_ns(start), n, sum);
}

// select_uncontended: one goroutine, two buffered(1) channels, a 2-case select that
// receives v from one and sends v+1 on the other.
results select_uncontended(int n) {
  auto start = clock_type::now();
  auto myc1 = go::make_chan<i64>(1);
  auto myc2 = go::make_chan<i64>(1);
  myc1.send(0);
  i64 sum = 0;
  for (int i = 0; i < n; ++i) {
    go::select(go::recv_case(myc1,
                             [&](std::optional<i64> v) {
                               sum += *v;
                               myc2.send(*v + 1);
                             }),
               go::recv_case(myc2, [&](std::optional<i64> v) {
                 sum += *v;
                 myc1.send(*v + 1);
               }));
  }
  return ns_per_op("select_uncontended", since_ns(start), n, sum);
}

// ---- Ports of Go 1.19 runtime/chan_test.go ----

constexpr int calls_per_sched = 1000;

// chan_sync: benchmarkChanSync(b, 0) with a fixed total of messages.
results chan_sync(int m) {
  constexpr int procs = 2;
  int chunks = m / calls_per_sched / procs * procs;
  auto start = clock_type::now();
  std::atomic<std::int32_t> counter{chunks};
  auto c = go::make_chan<i64>(procs);
  auto myc = go::make_chan<i64>();
  for (int p = 0; p < procs; ++p) {
    go::spawn([&counter, c, myc] {
      i64 recvs = 0;
      for (;;) {
        std::int32_t i = counter.fetch_sub(1) - 1;
        if (i < 0) break;
        for (int g = 0; g < calls_per_sched; ++g) {
          if (i % 2 == 0) {
            myc.recv();
            ++recvs;
            myc.send(0);
          } else {
            myc.send(0);
            myc.recv();
            ++recvs;
          }
        }
      }
      c.send(recvs);
    });
  }
  i64 sum = 0;
  for (int p = 0; p < procs; ++p) sum += *c.recv();
  return ns_per_op("chan_sync", since_ns(start), static_cast<i64>(chunks) * calls_per_sched, sum);
}

// chan_prod_cons_<size>: benchmarkChanProdCons(b, size, 0) with 2 producer / consumer pairs
// and a fixed total of messages.
std::function<results(int)> chan_prod_cons(int chan_size) {
  std::string name = "chan_prod_cons_" + std::to_string(chan_size);
  return [name, chan_size](int m) {
    constexpr int procs = 2;
    int chunks = m / calls_per_sched;
    auto start = clock_type::now();
    std::atomic<std::int32_t> counter{chunks};
    auto c = go::make_chan<i64>(2 * procs);
    auto myc = go::make_chan<i64>(static_cast<std::size_t>(chan_size));
    for (int p = 0; p < procs; ++p) {
      go::spawn([&counter, c, myc] {
        for (;;) {
          std::int32_t i = counter.fetch_sub(1) - 1;
          if (i < 0) break;
          for (int g = 0; g < calls_per_sched; ++g) myc.send(i64{i} * calls_per_sched + g + 1);
        }
        myc.send(0);
        c.send(0);
      });
      go::spawn([c, myc] {
        i64 sum = 0;
        for (;;) {
          i64 v = *myc.recv();
          if (v == 0) break;
          sum += v;
        }
        c.send(sum);
      });
    }
    i64 sum = 0;
    for (int p = 0; p < procs; ++p) {
      sum += *c.recv();
      sum += *c.recv();
    }
    return ns_per_op(name, since_ns(start), static_cast<i64>(chunks) * calls_per_sched, sum);
  };
}

// select_prod_cons: BenchmarkSelectProdCons with 2 producer / consumer pairs, a fixed total
// of messages and no local work.
results select_prod_cons(int m) {
  constexpr int procs = 2;
  int chunks = m / calls_per_sched;
  auto start = clock_type::now();
  std::atomic<std::int32_t> counter{chunks};
  auto c = go::make_chan<i64>(2 * procs);
  auto myc = go::make_chan<i64>(128);
  auto myclose = go::make_chan<bool>();
  for (int p = 0; p < procs; ++p) {
    go::spawn([&counter, c, myc, myclose] {
      // Producer: sends to myc.
      auto mytimer = go::after(std::chrono::hours(1));  // never fires during the run
      for (;;) {
        std::int32_t i = counter.fetch_sub(1) - 1;
        if (i < 0) break;
        for (int g = 0; g < calls_per_sched; ++g) {
          go::select(go::send_case(myc, i64{i} * calls_per_sched + g + 1), go::recv_case(mytimer),
                     go::recv_case(myclose));
        }
      }
      myc.send(0);
      c.send(0);
    });
    go::spawn([c, myc, myclose] {
      // Consumer: receives from myc.
      i64 sum = 0;
      auto mytimer = go::after(std::chrono::hours(1));  // never fires during the run
      bool stop = false;
      while (!stop) {
        go::select(go::recv_case(myc,
                                 [&](std::optional<i64> v) {
                                   if (*v == 0) stop = true;
                                   else sum += *v;
                                 }),
                   go::recv_case(mytimer), go::recv_case(myclose));
      }
      c.send(sum);
    });
  }
  i64 sum = 0;
  for (int p = 0; p < procs; ++p) {
    sum += *c.recv();
    sum += *c.recv();
  }
  return ns_per_op("select_prod_cons", since_ns(start), static_cast<i64>(chunks) * calls_per_sched, sum);
}

// chan_popular: BenchmarkChanPopular with n rounds; op = one message (each round sends one
// message to each of the 1000 goroutines).
results chan_popular(int n) {
  constexpr int gs = 1000;
  auto start = clock_type::now();
  auto c = go::make_chan<bool>();
  std::vector<go::chan<bool>> a;
  std::vector<i64> counts(gs, 0);
  go::wait_group wg;
  wg.add(gs);
  for (int j = 0; j < gs; ++j) {
    auto d = go::make_chan<bool>();
    a.push_back(d);
    go::spawn([c, &counts, &wg, d, n, j] {
      i64 cnt = 0;
      for (int i = 0; i < n; ++i) go::select(go::recv_case(c), go::recv_case(d, [&cnt] { ++cnt; }));
      counts[static_cast<std::size_t>(j)] = cnt;
      wg.done();
    });
  }
  for (int i = 0; i < n; ++i) {
    for (auto& d : a) d.send(true);
  }
  wg.wait();
  i64 el = since_ns(start);
  i64 sum = 0;
  for (auto x : counts) sum += x;
  return ns_per_op("chan_popular", el, static_cast<i64>(n) * gs, sum);
}

// ---- sync (bench/peers/go/sync.go) ----

// sync_mutex_uncontended: main does N times mu.lock(); counter++; mu.unlock().
results sync_mutex_uncontended(int n) {
  go::mutex mu;
  i64 counter = 0;  // guarded by mu
  auto start = clock_type::now();
  for (int i = 0; i < n; ++i) {
    mu.lock();
    ++counter;
    mu.unlock();
  }
  return ns_per_op("sync_mutex_uncontended", since_ns(start), n, counter);
}

// sync_mutex_contended_G: G goroutines each do per = N/G times mu.lock(); counter++;
// mu.unlock() on one mutex.
std::function<results(int)> sync_mutex_contended(std::string name, int g) {
  return [name = std::move(name), g](int n) {
    int per = n / g;
    go::mutex mu;
    go::wait_group wg;
    i64 counter = 0;  // guarded by mu
    auto start = clock_type::now();
    wg.add(g);
    for (int t = 0; t < g; ++t) {
      go::spawn([&mu, &wg, &counter, per] {
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

// sync_rwmutex_read_mostly: 4 goroutines, per = N/4 iterations each; iteration i writes
// (lock; writes++; unlock) when i % 100 == 99, else reads (r_lock; r++; r_unlock).
results sync_rwmutex_read_mostly(int n) {
  constexpr int g = 4;
  int per = n / g;
  go::rw_mutex rw;
  go::wait_group wg;
  i64 writes = 0;  // guarded by rw
  i64 reads[g] = {};
  auto start = clock_type::now();
  wg.add(g);
  for (int t = 0; t < g; ++t) {
    go::spawn([&rw, &wg, &writes, &reads, per, t] {
      i64 r = 0;
      for (int i = 0; i < per; ++i) {
        if (i % 100 == 99) {
          rw.lock();
          ++writes;
          rw.unlock();
        } else {
          rw.r_lock();
          ++r;
          rw.r_unlock();
        }
      }
      reads[t] = r;
      wg.done();
    });
  }
  wg.wait();
  i64 el = since_ns(start);
  return ns_per_op("sync_rwmutex_read_mostly", el, static_cast<i64>(g) * per,
                   writes + reads[0] + reads[1] + reads[2] + reads[3]);
}

// sync_waitgroup: main adds 4 and starts 4 goroutines; each does per = N/4 times wg.add(1);
// wg.done() on the shared wait group, then wg.done(); main waits.
results sync_waitgroup(int n) {
  constexpr int g = 4;
  int per = n / g;
  go::wait_group wg;
  i64 counts[g] = {};
  auto start = clock_type::now();
  wg.add(g);
  for (int t = 0; t < g; ++t) {
    go::spawn([&wg, &counts, per, t] {
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

// ---- Timers and contexts (bench/peers/go/timectx.go) ----

// ctx_cancel_10k: a 10-ary tree of N descendants under a cancellable root, each with its done
// channel made; the timed region is the root's cancel.
results ctx_cancel_10k(int n) {
  auto [root, cancel] = go::with_cancel(go::background());
  std::vector<go::context> nodes;
  std::vector<go::cancel_func> cancels;
  nodes.reserve(static_cast<std::size_t>(n) + 1);
  cancels.reserve(static_cast<std::size_t>(n));
  nodes.push_back(root);
  for (int i = 1; i <= n; ++i) {
    auto [ctx, c] = go::with_cancel(nodes[static_cast<std::size_t>((i - 1) / 10)]);
    ctx.done();
    nodes.push_back(ctx);
    cancels.push_back(c);
  }
  auto start = clock_type::now();
  cancel();
  i64 el = since_ns(start);
  i64 sum = 0;
  for (std::size_t i = 1; i < nodes.size(); ++i) sum += nodes[i].err() == go::errc::canceled;
  for (auto& c : cancels) c();
  return ns_per_op("ctx_cancel_10k", el, n, sum);
}

// timers_1m_start_stop: N timers made with new_timer(1h), then all stopped; op = one timer
// made and stopped.
results timers_1m_start_stop(int n) {
  std::vector<go::timer> timers(static_cast<std::size_t>(n));
  auto start = clock_type::now();
  for (auto& t : timers) t = go::new_timer(std::chrono::hours(1));
  i64 stopped = 0;
  for (auto& t : timers) stopped += t.stop();
  i64 el = since_ns(start);
  return ns_per_op("timers_1m_start_stop", el, n, stopped);
}

// ---- Patterns (bench/peers/go/patterns.go), built from go/patterns.hpp ----

// count_to is a generator of 1..n in a goroutine of g.
go::recv_chan<i64> count_to(go::errgroup& g, const go::context& ctx, i64 n) {
  return go::generate<i64>(g, ctx, [n](auto emit) {
    for (i64 i = 1; i <= n; ++i) {
      if (!emit(i)) return;
    }
  });
}

// pool_4x1m: go::worker_pool with 4 workers and a queue of 128 over N tiny jobs (j*2); op =
// one job submitted, run and its result received.
results pool_4x1m(int n) {
  auto start = clock_type::now();
  go::worker_pool<i64, i64> pool(go::background(), 4, 128, [](const go::context&, i64 j) { return j * 2; });
  go::wait_group submitter;  // pool outlives the submitter's last touch of it
  submitter.go([&pool, n] {
    for (i64 i = 1; i <= n; ++i) {
      if (!pool.submit(i)) break;
    }
    pool.close();
  });
  i64 sum = 0;
  for (auto& o : pool.results()) sum += *o.value;
  submitter.wait();
  return ns_per_op("pool_4x1m", since_ns(start), n, sum);
}

// pipeline_3stage_1m: generate 1..N -> map(*3) -> map(+1) -> main, unbuffered channels; op =
// one value through all stages.
results pipeline_3stage_1m(int n) {
  auto [g, ctx] = go::errgroup::with_context(go::background());
  auto start = clock_type::now();
  auto tripled = go::map(g, ctx, count_to(g, ctx, n), [](i64 v) { return v * 3; });
  i64 sum = 0;
  for (i64 v : go::map(g, ctx, tripled, [](i64 v) { return v + 1; })) sum += v;
  g.wait();
  return ns_per_op("pipeline_3stage_1m", since_ns(start), n, sum);
}

// fanin_8: 8 generators of N/8 values each, merged by go::merge (a goroutine per input) into
// one unbuffered channel; op = one value received from the merged channel.
results fanin_8(int n) {
  constexpr int inputs_count = 8;
  int per = n / inputs_count;
  auto [g, ctx] = go::errgroup::with_context(go::background());
  auto start = clock_type::now();
  std::vector<go::recv_chan<i64>> inputs;
  for (int p = 0; p < inputs_count; ++p) inputs.push_back(count_to(g, ctx, per));
  i64 sum = 0;
  for (i64 v : go::merge(g, ctx, std::move(inputs))) sum += v;
  g.wait();
  return ns_per_op("fanin_8", since_ns(start), static_cast<i64>(per) * inputs_count, sum);
}

// limiter_allow: N calls of allow() on a bucket that never runs dry; op = one call.
results limiter_allow(int n) {
  go::rate::limiter lim(1e12, 1'000'000);
  auto start = clock_type::now();
  i64 allowed = 0;
  for (int i = 0; i < n; ++i) allowed += lim.allow() ? 1 : 0;
  return ns_per_op("limiter_allow", since_ns(start), n, allowed);
}

// ---- Networking over loopback (both ends here, one goroutine per connection per side) ----

// listen_loopback listens on 127.0.0.1:0 and serves every accepted connection with serve in
// a goroutine of its own until the listener is closed.
template <class Serve>
go::net::listener listen_loopback(Serve serve) {
  auto [ln, err] = go::net::listen("tcp", "127.0.0.1:0");
  if (err) err.rethrow();
  go::spawn([ln = ln, serve] {
    for (;;) {
      auto [c, err] = ln.accept();
      if (err) return;
      go::spawn(serve, c);
    }
  });
  return ln;
}

go::net::conn dial_loopback(const go::net::listener& ln) {
  auto [c, err] = go::net::dial("tcp", ln.addr().string());
  if (err) err.rethrow();
  return c;
}

// net_echo_<conns>x<size>: conns clients, each on its own connection, send size-byte
// messages and read each echo in full, N messages in all; op = one message echoed.
std::function<results(int)> net_echo(std::string name, int conns, std::size_t size) {
  return [name, conns, size](int n) {
    go::net::listener ln = listen_loopback([size](go::net::conn c) {
      std::vector<std::byte> buf(size);
      for (;;) {
        auto [got, err] = c.read(buf);
        if (got > 0 && c.write(std::span(buf).first(got)).err) break;
        if (err) break;
      }
      (void)c.close();
    });
    std::vector<go::net::conn> clients;
    for (int i = 0; i < conns; ++i) clients.push_back(dial_loopback(ln));
    const int per = std::max(1, n / conns);
    go::wait_group wg;
    auto start = clock_type::now();
    for (const auto& c : clients) {
      wg.go([c, per, size] {
        std::vector<std::byte> msg(size), reply(size);
        for (int i = 0; i < per; ++i) {
          if (auto err = c.write(msg).err) err.rethrow();
          if (auto err = go::io::read_full(c, reply).err) err.rethrow();
        }
      });
    }
    wg.wait();
    i64 elapsed = since_ns(start);
    for (const auto& c : clients) (void)c.close();
    (void)ln.close();
    return ns_per_op(name, elapsed, static_cast<i64>(per) * conns, static_cast<i64>(per) * conns);
  };
}

// net_dial_8: 8 goroutines each dial, write 1 byte, read the 1-byte answer and close, N
// connections in all; the server reads 1 byte, answers it and closes. op = one connection.
results net_dial_8(int n) {
  go::net::listener ln = listen_loopback([](go::net::conn c) {
    std::array<std::byte, 1> b;
    if (!go::io::read_full(c, b).err) (void)c.write(b);
    (void)c.close();
  });
  constexpr int dialers = 8;
  const int per = n / dialers;
  go::wait_group wg;
  auto start = clock_type::now();
  for (int g = 0; g < dialers; ++g) {
    wg.go([&ln, per] {
      std::array<std::byte, 1> b{};
      for (int i = 0; i < per; ++i) {
        go::net::conn c = dial_loopback(ln);
        if (auto err = c.write(b).err) err.rethrow();
        if (auto err = go::io::read_full(c, b).err) err.rethrow();
        (void)c.close();
      }
    });
  }
  wg.wait();
  i64 elapsed = since_ns(start);
  (void)ln.close();
  return ns_per_op("net_dial_8", elapsed, static_cast<i64>(per) * dialers, static_cast<i64>(per) * dialers);
}

// idle_conns dials n connections to the listener that listen(&started) starts, whose server
// goroutines each call started->done() and park in a read; resident memory per connection,
// from before the listener to when every server goroutine started.
template <class Listen>
results idle_conns(const char* name, int n, Listen listen) {
  go::wait_group started;
  started.add(n);
  i64 before = rss_bytes();
  go::net::listener ln = listen(&started);
  std::vector<go::net::conn> clients;
  for (int i = 0; i < n; ++i) clients.push_back(dial_loopback(ln));
  started.wait();
  i64 after = rss_bytes();
  (void)ln.close();
  for (const auto& c : clients) (void)c.close();
  return {{name, static_cast<double>(after - before) / n, "B/conn", n}};
}

// net_idle_4000: N connections, each with a server goroutine parked in read.
results net_idle_4000(int n) {
  return idle_conns("net_idle_4000", n, [](go::wait_group* started) {
    return listen_loopback([started](go::net::conn c) {
      started->done();
      std::array<std::byte, 64> b;
      (void)c.read(b);  // parked until the client closes
      (void)c.close();
    });
  });
}

// ---- Blocking system calls and goroutines that never yield ----

// blocking_pipe_read, blocking_reads_8: N rounds; in each, `readers` goroutines each block in
// read(2) on a pipe of their own, inside go::blocking, while a writer goroutine sleeps 10 ms,
// then writes one byte to every pipe. op = one round, until main has joined the readers.
std::function<results(int)> blocking_reads(std::string name, int readers) {
  return [name, readers](int n) {
    i64 total = 0, got = 0;
    for (int round = 0; round < n; ++round) {
      auto start = clock_type::now();
      std::vector<std::array<int, 2>> fds(static_cast<std::size_t>(readers));
      for (auto& p : fds) {
        if (::pipe2(p.data(), O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
      }
      std::vector<i64> counts(fds.size());
      go::wait_group wg;
      for (std::size_t i = 0; i < fds.size(); ++i) {
        wg.go([fd = fds[i][0], &count = counts[i]] {
          char b;
          ssize_t m = go::blocking([fd, &b] { return ::read(fd, &b, 1); });
          if (m < 0) throw std::runtime_error("read failed");
          count = m;
        });
      }
      go::spawn([fds] {
        go::sleep(std::chrono::milliseconds(10));
        for (const auto& p : fds) {
          char b = 1;
          if (go::blocking([fd = p[1], &b] { return ::write(fd, &b, 1); }) != 1) {
            throw std::runtime_error("write failed");
          }
        }
      });
      wg.wait();
      total += since_ns(start);
      for (std::size_t i = 0; i < fds.size(); ++i) {
        got += counts[i];
        ::close(fds[i][0]);
        ::close(fds[i][1]);
      }
    }
    return ns_per_op(name, total, n, got);
  };
}

// busy_sleeper_gap: N rounds of 300 ms; in each, one goroutine spins on the clock without
// yielding while another loops go::sleep(5ms) until the same 300 ms have passed. The value is
// the longest gap in ns between the sleeper's consecutive wake-ups (its first from the round's
// start), over all rounds.
results busy_sleeper_gap(int n) {
  constexpr auto length = std::chrono::milliseconds(300);
  clock_type::duration longest{};
  for (int round = 0; round < n; ++round) {
    auto start = clock_type::now();
    auto end = start + length;
    clock_type::duration gap{};
    go::wait_group wg;
    wg.go([end] {
      while (clock_type::now() < end) {
      }
    });
    wg.go([start, end, &gap] {
      for (auto last = start; last < end;) {
        go::sleep(std::chrono::milliseconds(5));
        auto now = clock_type::now();
        gap = std::max(gap, now - last);
        last = now;
      }
    });
    wg.wait();
    longest = std::max(longest, gap);
  }
  double ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(longest).count());
  return {{"busy_sleeper_gap", ns, "ns", n}};
}

// blocking_getppid: 4 goroutines each make N getppid system calls inside go::blocking, the
// path Go takes for every system call (syscall.Syscall). op = one call (ops = 4N).
results blocking_getppid(int n) {
  constexpr int goroutines = 4;
  std::array<i64, goroutines> counts{};
  go::wait_group wg;
  auto start = clock_type::now();
  for (auto& count : counts) {
    wg.go([&count, n] {
      i64 c = 0;
      for (int i = 0; i < n; ++i) {
        if (go::blocking([] { return ::syscall(SYS_getppid); }) > 0) ++c;
      }
      count = c;
    });
  }
  wg.wait();
  i64 el = since_ns(start);
  i64 sum = 0;
  for (i64 c : counts) sum += c;
  return ns_per_op("blocking_getppid", el, static_cast<i64>(goroutines) * n, sum);
}

// ---- Stackless goroutines (go/task.hpp): the scheduler rows again, as C++20 coroutines ----
//
// Each row is its stackful namesake with stackless goroutines doing the same work; the Go
// peer runs its goroutine version under the same name (bench/peers/go/stackless.go). The
// coroutines take their parameters by value and are spawned as go::spawn(f(args)), so a
// goroutine is one frame and one record (go/task.hpp).

go::task<void> done_one(go::wait_group* wg) {
  wg->done();
  co_return;
}

results stackless_spawn_join(int n) {
  go::wait_group wg;
  auto start = clock_type::now();
  wg.add(n);
  for (int i = 0; i < n; ++i) go::spawn(done_one(&wg));
  wg.wait();
  return ns_per_op("stackless_spawn_join", since_ns(start), n, n);
}

go::task<void> park_on(go::wait_group* started, go::wait_group* exited, const go::chan<void>* ch) {
  started->done();
  co_await go::async_recv(*ch);
  exited->done();
}

// stackless_parked_1m: parked_1m's goroutines blocked on one channel, stackless.
results stackless_parked_1m(int n) {
  auto ch = go::make_chan<void>();
  go::wait_group started, exited;
  started.add(n);
  exited.add(n);
  i64 before = rss_bytes();
  auto start = clock_type::now();
  for (int i = 0; i < n; ++i) go::spawn(park_on(&started, &exited, &ch));
  started.wait();
  i64 spawn = since_ns(start);
  i64 after = rss_bytes();
  ch.close();
  exited.wait();
  i64 peak = rss_bytes("VmHWM:");
  return {
      {"stackless_parked_1m", static_cast<double>(after - before) / n, "B/goroutine", n},
      {"stackless_parked_1m_peak", static_cast<double>(peak - before) / n, "B/goroutine", n},
      {"stackless_parked_1m_spawn", static_cast<double>(spawn) / n, "ns/op", n},
  };
}

// sleeping_1m: N goroutines each sleeping 5 s at a time until told to stop; resident memory
// per goroutine once all have started (however long starting them takes).
constexpr auto sleeping_1m_sleep = std::chrono::seconds(5);

results sleeping_1m(int n) {
  go::wait_group started, exited;
  std::atomic<bool> stop{false};
  started.add(n);
  exited.add(n);
  i64 before = rss_bytes();
  for (int i = 0; i < n; ++i) {
    go::spawn([&started, &exited, &stop] {
      started.done();
      while (!stop.load(std::memory_order_relaxed)) go::sleep(sleeping_1m_sleep);
      exited.done();
    });
  }
  started.wait();
  i64 after = rss_bytes();
  stop.store(true, std::memory_order_relaxed);
  exited.wait();
  return {{"sleeping_1m", static_cast<double>(after - before) / n, "B/goroutine", n}};
}

go::task<void> sleep_in(go::wait_group* started, go::wait_group* exited, const std::atomic<bool>* stop) {
  started->done();
  while (!stop->load(std::memory_order_relaxed)) co_await go::async_sleep(sleeping_1m_sleep);
  exited->done();
}

results stackless_sleeping_1m(int n) {
  go::wait_group started, exited;
  std::atomic<bool> stop{false};
  started.add(n);
  exited.add(n);
  i64 before = rss_bytes();
  for (int i = 0; i < n; ++i) go::spawn(sleep_in(&started, &exited, &stop));
  started.wait();
  i64 after = rss_bytes();
  stop.store(true, std::memory_order_relaxed);
  exited.wait();
  return {{"stackless_sleeping_1m", static_cast<double>(after - before) / n, "B/goroutine", n}};
}

go::task<void> stackless_skynet_node(go::chan<i64> c, i64 num, i64 size) {
  if (size == 1) {
    co_await go::async_send(c, num);
    co_return;
  }
  auto rc = go::make_chan<i64>(static_cast<std::size_t>(skynet_div));
  int children = 0;
  for (int i = 0; i < skynet_div; ++i) {
    i64 lo = num + i * size / skynet_div, hi = num + (i + 1) * size / skynet_div;
    if (lo < hi) {
      go::spawn(stackless_skynet_node(rc, lo, hi - lo));
      ++children;
    }
  }
  i64 sum = 0;
  for (; children > 0; --children) sum += *co_await go::async_recv(rc);
  co_await go::async_send(c, sum);
}

results stackless_skynet(int n) {
  auto start = clock_type::now();
  auto c = go::make_chan<i64>(1);
  go::spawn(stackless_skynet_node(c, 0, n));
  i64 sum = *c.recv();
  return ns_per_op("stackless_skynet", since_ns(start), n, sum);
}

// stackless_chan_pingpong: chan_pingpong with both sides stackless (main only waits).
go::task<void> echo(go::chan<i64> ping, go::chan<i64> pong, int n) {
  for (int i = 0; i < n; ++i) {
    i64 v = *co_await go::async_recv(ping);
    co_await go::async_send(pong, v + 1);
  }
}

go::task<void> pinger(go::chan<i64> ping, go::chan<i64> pong, int n, go::chan<i64> out) {
  i64 sum = 0;
  for (int i = 0; i < n; ++i) {
    co_await go::async_send(ping, i);
    sum += *co_await go::async_recv(pong);
  }
  co_await go::async_send(out, sum);
}

results stackless_chan_pingpong(int n) {
  auto start = clock_type::now();
  auto ping = go::make_chan<i64>(), pong = go::make_chan<i64>(), out = go::make_chan<i64>(1);
  go::spawn(echo(ping, pong, n));
  go::spawn(pinger(ping, pong, n, out));
  i64 sum = *out.recv();
  return ns_per_op("stackless_chan_pingpong", since_ns(start), n, sum);
}

// worker_pool_4x1m: 4 workers range over a queue of 128 jobs and send j*2 on a results
// channel of 128; a feeder sends 1..N and closes; main sums. The plain channel pool (Go's
// idiom without a context), where pool_4x1m is go::worker_pool's.
results worker_pool_4x1m(int n) {
  auto start = clock_type::now();
  auto jobs = go::make_chan<i64>(128), out = go::make_chan<i64>(128);
  go::wait_group wg;
  wg.add(4);
  for (int w = 0; w < 4; ++w) {
    go::spawn([jobs, out, &wg] {
      for (i64 j : jobs) out.send(j * 2);
      wg.done();
    });
  }
  go::spawn([jobs, n] {
    for (i64 i = 1; i <= n; ++i) jobs.send(i);
    jobs.close();
  });
  go::spawn([out, &wg] {
    wg.wait();
    out.close();
  });
  i64 sum = 0;
  for (i64 v : out) sum += v;
  return ns_per_op("worker_pool_4x1m", since_ns(start), n, sum);
}

go::task<void> pool_worker(go::chan<i64> jobs, go::chan<i64> out, go::chan<void> done) {
  while (auto j = co_await go::async_recv(jobs)) co_await go::async_send(out, *j * 2);
  co_await go::async_send(done);
}

go::task<void> pool_feeder(go::chan<i64> jobs, i64 n) {
  for (i64 i = 1; i <= n; ++i) co_await go::async_send(jobs, i);
  jobs.close();
}

go::task<void> pool_closer(go::chan<void> done, int workers, go::chan<i64> out) {
  for (int w = 0; w < workers; ++w) co_await go::async_recv(done);
  out.close();
}

results stackless_worker_pool_4x1m(int n) {
  auto start = clock_type::now();
  auto jobs = go::make_chan<i64>(128), out = go::make_chan<i64>(128);
  auto done = go::make_chan<void>(4);
  for (int w = 0; w < 4; ++w) go::spawn(pool_worker(jobs, out, done));
  go::spawn(pool_feeder(jobs, n));
  go::spawn(pool_closer(done, 4, out));
  i64 sum = 0;
  for (i64 v : out) sum += v;
  return ns_per_op("stackless_worker_pool_4x1m", since_ns(start), n, sum);
}

// stackless_net_idle_4000: net_idle_4000 with a stackless server: the accept loop and every
// connection's goroutine, parked in co_await async_read, are coroutines.
go::task<void> idle_conn(go::net::conn c, go::wait_group* started) {
  started->done();
  std::array<std::byte, 64> b;
  (void)co_await go::net::async_read(c, b);  // parked until the client closes
  (void)c.close();
}

template <class Serve>
go::task<void> stackless_accept_loop(go::net::listener ln, Serve serve) {
  for (;;) {
    auto [c, err] = co_await go::net::async_accept(ln);
    if (err) co_return;
    go::spawn(serve(c));
  }
}

// stackless_listen_loopback is listen_loopback with the accept loop and each connection's
// goroutine (serve(c), a task) stackless.
template <class Serve>
go::net::listener stackless_listen_loopback(Serve serve) {
  auto [ln, err] = go::net::listen("tcp", "127.0.0.1:0");
  if (err) err.rethrow();
  go::spawn(stackless_accept_loop(ln, serve));
  return ln;
}

results stackless_net_idle_4000(int n) {
  return idle_conns("stackless_net_idle_4000", n, [](go::wait_group* started) {
    return stackless_listen_loopback([started](go::net::conn c) { return idle_conn(c, started); });
  });
}

// stackless_net_echo_64x64: net_echo_64x64 with both the servers' and the clients' goroutines
// stackless.
go::task<void> echo_conn(go::net::conn c) {
  std::array<std::byte, 64> buf;
  for (;;) {
    auto [got, err] = co_await go::net::async_read(c, buf);
    if (got > 0 && (co_await go::net::async_write(c, std::span(buf).first(got))).err) break;
    if (err) break;
  }
  (void)c.close();
}

go::task<void> echo_client(go::net::conn c, int per, go::chan<void> done) {
  std::array<std::byte, 64> msg{}, reply;
  for (int i = 0; i < per; ++i) {
    if (auto err = (co_await go::net::async_write(c, msg)).err) err.rethrow();
    for (std::size_t got = 0; got < reply.size();) {
      auto [k, err] = co_await go::net::async_read(c, std::span(reply).subspan(got));
      if (err) err.rethrow();
      got += k;
    }
  }
  co_await go::async_send(done);
}

results stackless_net_echo_64x64(int n) {
  constexpr int conns = 64;
  go::net::listener ln = stackless_listen_loopback([](go::net::conn c) { return echo_conn(c); });
  std::vector<go::net::conn> clients;
  for (int i = 0; i < conns; ++i) clients.push_back(dial_loopback(ln));
  const int per = std::max(1, n / conns);
  auto done = go::make_chan<void>(conns);
  auto start = clock_type::now();
  for (const auto& c : clients) go::spawn(echo_client(c, per, done));
  for (int i = 0; i < conns; ++i) done.recv();
  i64 elapsed = since_ns(start);
  for (const auto& c : clients) (void)c.close();
  (void)ln.close();
  return ns_per_op("stackless_net_echo_64x64", elapsed, static_cast<i64>(per) * conns, static_cast<i64>(per) * conns);
}

// ---- The scenario table ----

struct scenario {
  std::string name;
  int n;  // default N (see SCENARIOS.md for its meaning per scenario)
  std::function<results(int)> run;
};

std::vector<scenario> make_scenarios() {
  using std::chrono::microseconds;
  std::vector<scenario> s = {
      // Scheduler / goroutine lifecycle.
      {"spawn_join", 1'000'000, spawn_join},
      {"yield_pingpong", 1'000'000, yield_pingpong},
      {"create_goroutines", 1'000'000, create_goroutines},
      {"parked_1m", 1'000'000, parked_1m},
      {"wake_1m", 1'000'000, wake_1m},
      {"sleep_100k", 100'000, sleep_100k},
      {"ping_pong_hog", 500'000, ping_pong_hog},
      {"wakeup_parallel_spinning_0us", 20'000, wakeup_parallel_spinning(microseconds(0))},
      {"wakeup_parallel_spinning_5us", 10'000, wakeup_parallel_spinning(microseconds(5))},
      {"skynet", 1'000'000, skynet},
      {"sleeping_1m", 1'000'000, sleeping_1m},
      {"worker_pool_4x1m", 1'000'000, worker_pool_4x1m},

      // Stackless goroutines: the rows above, as C++20 coroutines.
      {"stackless_spawn_join", 1'000'000, stackless_spawn_join},
      {"stackless_parked_1m", 1'000'000, stackless_parked_1m},
      {"stackless_sleeping_1m", 1'000'000, stackless_sleeping_1m},
      {"stackless_skynet", 1'000'000, stackless_skynet},
      {"stackless_chan_pingpong", 500'000, stackless_chan_pingpong},
      {"stackless_worker_pool_4x1m", 1'000'000, stackless_worker_pool_4x1m},

      // Channels and select.
      {"chan_pingpong", 500'000, chan_pingpong},
      {"chan_spsc_1", 1'000'000, cap_scenario("chan_spsc_1", spsc, 1)},
      {"chan_spsc_128", 4'000'000, cap_scenario("chan_spsc_128", spsc, 128)},
      {"chan_mpmc_4x4_0", 1'000'000, cap_scenario("chan_mpmc_4x4_0", mpmc, 0)},
      {"chan_mpmc_4x4_128", 4'000'000, cap_scenario("chan_mpmc_4x4_128", mpmc, 128)},
      {"select_recv4", 500'000, cap_scenario("select_recv4", select_rx, 0)},
      {"select_uncontended", 5'000'000, select_uncontended},

      // Ports of Go's runtime/chan_test.go benchmarks (fixed total work).
      {"chan_sync", 1'000'000, chan_sync},
      {"chan_prod_cons_0", 1'000'000, chan_prod_cons(0)},
      {"chan_prod_cons_10", 2'000'000, chan_prod_cons(10)},
      {"chan_prod_cons_100", 3'000'000, chan_prod_cons(100)},
      {"select_prod_cons", 1'000'000, select_prod_cons},
      {"chan_popular", 500, chan_popular},
  };

  // crossbeam-channel's benchmarks/go.go suite: cb_<flavour>_<test>.
  struct flavour {
    const char* name;
    int cap;  // -1 means "N" (a capacity that holds every message)
    int n;
  };
  const flavour flavours[] = {
      {"bounded0", 0, 1'000'000},
      {"bounded1", 1, 1'000'000},
      {"boundedN", -1, 1'000'000},
      // gocxx has no unbounded channel; as in Go, a capacity of N stands in for one.
      {"unbounded", -1, 1'000'000},
  };
  struct test {
    const char* name;
    msg_func f;
  };
  const test tests[] = {
      {"seq", seq},
      {"spsc", spsc},
      {"mpsc", mpsc},
      {"mpmc", mpmc},
      {"select_rx", select_rx},
      {"select_both_send", select_both_send},
      {"select_both_plain", select_both_plain},
  };
  for (const auto& fl : flavours) {
    for (const auto& t : tests) {
      if (std::string_view(t.name) == "seq" && fl.cap >= 0 && fl.cap < 2) {
        continue;  // seq deadlocks with capacity 0 or 1
      }
      std::string name = std::string("cb_") + fl.name + "_" + t.name;
      s.push_back({name, fl.n, cap_scenario(name, t.f, fl.cap)});
    }
  }

  const scenario rest[] = {
      // Package sync.
      {"sync_mutex_uncontended", 20'000'000, sync_mutex_uncontended},
      {"sync_mutex_contended_4", 4'000'000, sync_mutex_contended("sync_mutex_contended_4", 4)},
      {"sync_mutex_contended_16", 4'000'000, sync_mutex_contended("sync_mutex_contended_16", 16)},
      {"sync_rwmutex_read_mostly", 4'000'000, sync_rwmutex_read_mostly},
      {"sync_waitgroup", 10'000'000, sync_waitgroup},

      // Timers and contexts.
      {"ctx_cancel_10k", 10'000, ctx_cancel_10k},
      {"timers_1m_start_stop", 1'000'000, timers_1m_start_stop},

      // Patterns.
      {"pool_4x1m", 1'000'000, pool_4x1m},
      {"pipeline_3stage_1m", 1'000'000, pipeline_3stage_1m},
      {"fanin_8", 1'000'000, fanin_8},
      {"limiter_allow", 10'000'000, limiter_allow},

      // Networking over loopback.
      {"net_echo_64x64", 200'000, net_echo("net_echo_64x64", 64, 64)},
      {"net_echo_64x16k", 20'000, net_echo("net_echo_64x16k", 64, 16 << 10)},
      {"net_echo_1000x64", 200'000, net_echo("net_echo_1000x64", 1000, 64)},
      {"net_rtt_64", 50'000, net_echo("net_rtt_64", 1, 64)},
      {"net_dial_8", 4'000, net_dial_8},
      {"net_idle_4000", 4'000, net_idle_4000},
      {"stackless_net_echo_64x64", 200'000, stackless_net_echo_64x64},
      {"stackless_net_idle_4000", 4'000, stackless_net_idle_4000},

      // Blocking system calls and goroutines that never yield.
      {"blocking_pipe_read", 1, blocking_reads("blocking_pipe_read", 1)},
      {"blocking_reads_8", 1, blocking_reads("blocking_reads_8", 8)},
      {"busy_sleeper_gap", 1, busy_sleeper_gap},
      {"blocking_getppid", 1'000'000, blocking_getppid},
  };
  s.insert(s.end(), std::begin(rest), std::end(rest));
  return s;
}

// format_value prints v like Go's strconv.FormatFloat(v, 'f', 3, 64) with trailing zeros
// (and a trailing dot) removed.
std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  std::string s(buf);
  if (s.find('.') != std::string::npos) {
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  return s;
}

[[noreturn]] void usage(const char* prog, int status) {
  std::fprintf(stderr,
               "Usage of %s:\n"
               "  -list\n\tlist scenario names with their default N and exit\n"
               "  -n int\n\toverride the scenario's N (0: use the default table)\n"
               "  -reps int\n\trepetitions per scenario (default 1)\n"
               "  -scenario string\n\tscenario name, or all (default \"all\")\n"
               "  -serve\n\trun the one scenario once per line of standard input (the line: N, or\n"
               "\tempty for the default), each run's lines followed by a line \"end\"\n",
               prog);
  std::exit(status);
}

// parse_int parses a whole integer as Go's flag.Int does (base prefixes 0x/0, and
// underscores between digits as in 1_000_000).
bool parse_int(const char* in, long long* out) {
  std::string s;
  for (const char* p = in; *p; ++p) {
    if (*p == '_') {
      if (p == in || !std::isalnum(static_cast<unsigned char>(p[-1])) ||
          !std::isalnum(static_cast<unsigned char>(p[1]))) {
        return false;
      }
      continue;
    }
    s.push_back(*p);
  }
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 0);
  if (errno != 0 || *end != '\0' || v < INT32_MIN || v > INT32_MAX) return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string name = "all";
  long long reps = 1;
  long long n_override = 0;
  bool list = false;
  bool serve = false;

  // Go's flag syntax: -flag, --flag, -flag=value, -flag value; parsing stops at the first
  // argument that is not a flag, or after "--".
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') break;
    if (arg == "--") break;
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    std::string key(arg.substr(0, arg.find('=')));
    std::optional<std::string> value;
    if (auto eq = arg.find('='); eq != std::string_view::npos) value = std::string(arg.substr(eq + 1));
    if (key == "h" || key == "help") usage(argv[0], 0);
    if (key == "list" || key == "serve") {
      bool& flag = key == "list" ? list : serve;
      if (value && *value != "true" && *value != "1") {
        if (*value == "false" || *value == "0") continue;
        std::fprintf(stderr, "invalid boolean value \"%s\" for -%s\n", value->c_str(), key.c_str());
        usage(argv[0], 2);
      }
      flag = true;
      continue;
    }
    if (key != "scenario" && key != "reps" && key != "n") {
      std::fprintf(stderr, "flag provided but not defined: -%s\n", key.c_str());
      usage(argv[0], 2);
    }
    if (!value) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "flag needs an argument: -%s\n", key.c_str());
        usage(argv[0], 2);
      }
      value = argv[++i];
    }
    if (key == "scenario") {
      name = *value;
    } else {
      long long v = 0;
      if (!parse_int(value->c_str(), &v)) {
        std::fprintf(stderr, "invalid value \"%s\" for flag -%s: parse error\n", value->c_str(), key.c_str());
        usage(argv[0], 2);
      }
      (key == "reps" ? reps : n_override) = v;
    }
  }

  const std::vector<scenario> scenarios = make_scenarios();
  if (list) {
    for (const auto& s : scenarios) std::printf("%s %d\n", s.name.c_str(), s.n);
    return 0;
  }
  std::vector<const scenario*> todo;
  for (const auto& s : scenarios) {
    if (name == "all" || s.name == name) todo.push_back(&s);
  }
  if (todo.empty()) {
    std::fprintf(stderr, "unknown scenario \"%s\" (try -list)\n", name.c_str());
    return 2;
  }
  if (reps < 1 || n_override < 0) {
    std::fprintf(stderr, "-reps must be >= 1 and -n >= 0\n");
    return 2;
  }
  // The scenario body runs as the main goroutine, so every blocking operation parks a
  // goroutine, not an OS thread.
  auto run_once = [](const scenario* s, int n) {
    results res = go::run([s, n] { return s->run(n); });
    for (const auto& x : res) {
      std::printf("%s %s %s %lld\n", x.name.c_str(), format_value(x.value).c_str(), x.unit,
                  static_cast<long long>(x.checksum));
    }
  };
  if (serve) {  // bench/compare.py --paired alternates two such processes, run by run
    if (todo.size() != 1) {
      std::fprintf(stderr, "-serve needs one scenario\n");
      return 2;
    }
    for (std::string line; std::getline(std::cin, line);) {
      long long n = 0;
      if (!line.empty() && (!parse_int(line.c_str(), &n) || n < 0)) {
        std::fprintf(stderr, "-serve: bad N \"%s\"\n", line.c_str());
        return 2;
      }
      run_once(todo[0], n > 0 ? static_cast<int>(n) : n_override > 0 ? static_cast<int>(n_override) : todo[0]->n);
      std::printf("end\n");
      std::fflush(stdout);
    }
    return 0;
  }
  for (const scenario* s : todo) {
    int n = n_override > 0 ? static_cast<int>(n_override) : s->n;
    for (long long r = 0; r < reps; ++r) {
      run_once(s, n);
      std::fflush(stdout);
    }
  }
  return 0;
}
