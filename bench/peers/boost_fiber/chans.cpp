// Channel scenarios (bench/peers/go/chans.go in Boost.Fiber): the crossbeam-channel suite
// without its select tests, the chan_* micro-benchmarks and the ports of Go's
// runtime/chan_test.go that use no select.
//
// Message values: with T producers and per = n/T messages each, producer t sends t*per + i + 1
// for i in [0, per), so the messages of a run are exactly 1..T*per and the checksum (sum of
// everything received) is sum_to(T*per).
#include <memory>

#include "peer.hpp"

namespace peer {
namespace {

constexpr int threads = 4;  // T of the crossbeam suite

struct msg_result {
  i64 elapsed_ns;
  i64 ops;
  i64 checksum;
};

// make_chan is Go's make(chan int64, cap) for Chan = unbuffered (cap 0) or buffered (cap > 0).
template <class Chan>
std::unique_ptr<Chan> make_chan(int cap) {
  if constexpr (std::is_same_v<Chan, unbuffered>) {
    return std::make_unique<unbuffered>();
  } else {
    return std::make_unique<buffered>(buffered_capacity(cap));
  }
}

// seq: one fiber sends n messages, then receives them.
template <class Chan>
msg_result seq(int cap, int n) {
  auto start = clock_type::now();
  auto c = make_chan<Chan>(cap);
  for (int i = 0; i < n; ++i) c->push(i + 1);
  i64 sum = 0;
  for (int i = 0; i < n; ++i) sum += recv(*c);
  return {since_ns(start), n, sum};
}

// spsc: one producer fiber sends n messages, main receives them.
template <class Chan>
msg_result spsc(int cap, int n) {
  auto start = clock_type::now();
  auto c = make_chan<Chan>(cap);
  fibers::unbuffered_channel<bool> done;
  spawn([&c, &done, n] {
    for (int i = 0; i < n; ++i) c->push(i + 1);
    done.push(true);
  });
  i64 sum = 0;
  for (int i = 0; i < n; ++i) sum += recv(*c);
  recv(done);
  return {since_ns(start), n, sum};
}

// mpsc: T producers send n/T messages each, main receives all of them.
template <class Chan>
msg_result mpsc(int cap, int n) {
  int per = n / threads;
  auto start = clock_type::now();
  auto c = make_chan<Chan>(cap);
  fibers::unbuffered_channel<bool> done;
  for (int t = 0; t < threads; ++t) {
    spawn(
        [&c, &done, per](i64 base) {
          for (int i = 0; i < per; ++i) c->push(base + i + 1);
          done.push(true);
        },
        static_cast<i64>(t) * per);
  }
  i64 sum = 0;
  for (int i = 0; i < per * threads; ++i) sum += recv(*c);
  for (int t = 0; t < threads; ++t) recv(done);
  return {since_ns(start), static_cast<i64>(per) * threads, sum};
}

// mpmc: T producers send n/T messages each, T consumers receive n/T each.
template <class Chan>
msg_result mpmc(int cap, int n) {
  int per = n / threads;
  i64 sums[threads] = {};
  auto start = clock_type::now();
  auto c = make_chan<Chan>(cap);
  fibers::unbuffered_channel<bool> done;
  for (int t = 0; t < threads; ++t) {
    spawn(
        [&c, &done, per](i64 base) {
          for (int i = 0; i < per; ++i) c->push(base + i + 1);
          done.push(true);
        },
        static_cast<i64>(t) * per);
  }
  for (int t = 0; t < threads; ++t) {
    spawn([&c, &done, &sums, per, t] {
      i64 s = 0;
      for (int i = 0; i < per; ++i) s += recv(*c);
      sums[t] = s;
      done.push(true);
    });
  }
  for (int t = 0; t < 2 * threads; ++t) recv(done);
  i64 el = since_ns(start);
  return {el, static_cast<i64>(per) * threads, sums[0] + sums[1] + sums[2] + sums[3]};
}

using msg_func = msg_result (*)(int cap, int n);

struct msg_test {
  msg_func unbuffered_version;
  msg_func buffered_version;
};

#define PEER_MSG_TEST(f) \
  msg_test { f<unbuffered>, f<buffered> }

// cap_scenario binds a test to a name and capacity; cap < 0 means "a capacity of n", i.e. one
// that holds every message of the run.
std::function<results(int)> cap_scenario(std::string name, msg_test test, int cap) {
  return [name = std::move(name), test, cap](int n) {
    int c = cap < 0 ? n : cap;
    msg_result r = (c == 0 ? test.unbuffered_version : test.buffered_version)(c, n);
    return ns_per_op(name, r.elapsed_ns, r.ops, r.checksum);
  };
}

// chan_pingpong: unbuffered ping-pong; main sends i, the echo fiber answers i+1.
results chan_pingpong(int n) {
  auto start = clock_type::now();
  unbuffered ping, pong;
  spawn([&ping, &pong, n] {
    for (int i = 0; i < n; ++i) pong.push(recv(ping) + 1);
  });
  i64 sum = 0;
  for (int i = 0; i < n; ++i) {
    ping.push(i);
    sum += recv(pong);
  }
  return ns_per_op("chan_pingpong", since_ns(start), n, sum);
}

// ---- Ports of Go 1.19 runtime/chan_test.go ----

constexpr int calls_per_sched = 1000;

// chan_sync: benchmarkChanSync(b, 0) with a fixed total of messages.
results chan_sync(int m) {
  constexpr int procs = 2;
  int chunks = m / calls_per_sched / procs * procs;
  auto start = clock_type::now();
  std::atomic<std::int32_t> counter{chunks};
  buffered c(buffered_capacity(procs));
  unbuffered myc;
  wait_group exited;  // c and myc outlive the last push() that touches them
  exited.add(procs);
  for (int p = 0; p < procs; ++p) {
    spawn([&counter, &c, &myc, &exited] {
      i64 recvs = 0;
      for (;;) {
        std::int32_t i = counter.fetch_sub(1) - 1;
        if (i < 0) break;
        for (int g = 0; g < calls_per_sched; ++g) {
          if (i % 2 == 0) {
            recv(myc);
            ++recvs;
            myc.push(0);
          } else {
            myc.push(0);
            recv(myc);
            ++recvs;
          }
        }
      }
      c.push(recvs);
      exited.done();
    });
  }
  i64 sum = 0;
  for (int p = 0; p < procs; ++p) sum += recv(c);
  i64 el = since_ns(start);
  exited.wait();
  return ns_per_op("chan_sync", el, static_cast<i64>(chunks) * calls_per_sched, sum);
}

// chan_prod_cons_<size>: benchmarkChanProdCons(b, size, 0) with 2 producer / consumer pairs
// and a fixed total of messages.
template <class Chan>
results chan_prod_cons(const std::string& name, int chan_size, int m) {
  constexpr int procs = 2;
  int chunks = m / calls_per_sched;
  auto start = clock_type::now();
  std::atomic<std::int32_t> counter{chunks};
  buffered c(buffered_capacity(2 * procs));
  auto myc = make_chan<Chan>(chan_size);
  wait_group exited;  // c and myc outlive the last push() that touches them
  exited.add(2 * procs);
  for (int p = 0; p < procs; ++p) {
    spawn([&counter, &c, &myc, &exited] {
      for (;;) {
        std::int32_t i = counter.fetch_sub(1) - 1;
        if (i < 0) break;
        for (int g = 0; g < calls_per_sched; ++g) myc->push(i64{i} * calls_per_sched + g + 1);
      }
      myc->push(0);
      c.push(0);
      exited.done();
    });
    spawn([&c, &myc, &exited] {
      i64 sum = 0;
      for (;;) {
        i64 v = recv(*myc);
        if (v == 0) break;
        sum += v;
      }
      c.push(sum);
      exited.done();
    });
  }
  i64 sum = 0;
  for (int p = 0; p < 2 * procs; ++p) sum += recv(c);
  i64 el = since_ns(start);
  exited.wait();
  return ns_per_op(name, el, static_cast<i64>(chunks) * calls_per_sched, sum);
}

std::function<results(int)> chan_prod_cons(int chan_size) {
  std::string name = "chan_prod_cons_" + std::to_string(chan_size);
  return [name, chan_size](int m) {
    return chan_size == 0 ? chan_prod_cons<unbuffered>(name, chan_size, m)
                          : chan_prod_cons<buffered>(name, chan_size, m);
  };
}

}  // namespace

std::vector<scenario> chan_scenarios() {
  const msg_test seq_test = PEER_MSG_TEST(seq), spsc_test = PEER_MSG_TEST(spsc), mpsc_test = PEER_MSG_TEST(mpsc),
                 mpmc_test = PEER_MSG_TEST(mpmc);
  std::vector<scenario> s = {
      {"chan_pingpong", 500'000, chan_pingpong},
      {"chan_spsc_1", 1'000'000, cap_scenario("chan_spsc_1", spsc_test, 1)},
      {"chan_spsc_128", 4'000'000, cap_scenario("chan_spsc_128", spsc_test, 128)},
      {"chan_mpmc_4x4_0", 1'000'000, cap_scenario("chan_mpmc_4x4_0", mpmc_test, 0)},
      {"chan_mpmc_4x4_128", 4'000'000, cap_scenario("chan_mpmc_4x4_128", mpmc_test, 128)},
      {"chan_sync", 1'000'000, chan_sync},
      {"chan_prod_cons_0", 1'000'000, chan_prod_cons(0)},
      {"chan_prod_cons_10", 2'000'000, chan_prod_cons(10)},
      {"chan_prod_cons_100", 3'000'000, chan_prod_cons(100)},
  };

  // crossbeam-channel's benchmarks/go.go suite: cb_<flavour>_<test>, without the select tests.
  struct flavour {
    const char* name;
    int cap;  // -1 means "N" (a capacity that holds every message)
  };
  const flavour flavours[] = {{"bounded0", 0}, {"bounded1", 1}, {"boundedN", -1}, {"unbounded", -1}};
  struct test {
    const char* name;
    msg_test f;
  };
  const test tests[] = {{"seq", seq_test}, {"spsc", spsc_test}, {"mpsc", mpsc_test}, {"mpmc", mpmc_test}};
  for (const auto& fl : flavours) {
    for (const auto& t : tests) {
      if (std::string_view(t.name) == "seq" && fl.cap >= 0 && fl.cap < 2) {
        continue;  // seq deadlocks with capacity 0 or 1
      }
      std::string name = std::string("cb_") + fl.name + "_" + t.name;
      s.push_back({name, 1'000'000, cap_scenario(name, t.f, fl.cap)});
    }
  }
  return s;
}

}  // namespace peer
