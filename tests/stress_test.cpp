// Stress tests (ctest label `stress`, a binary of their own): long randomized runs that mix
// goroutines spawned and joined, channels closed while others send, select with timeouts and
// default, mutexes, wait groups, context trees cancelled at random points, and stackless
// goroutines (go::task) sharing channels, a mutex and a wait group with stackful goroutines
// and plain threads. Each test
// repeats rounds until its share of the time budget is spent. A round draws everything from
// one seed: GOMAXPROCS (and whether it changes mid-round), whether the round runs inside
// go::run or on the test's plain thread, whether some parties are plain OS threads, the sizes
// and the timings. Parties pause at random: a yield, a sleep, a system call inside
// go::blocking (its worker's slot may move to a spare), or a computation past sysmon's
// hand-off time (its worker loses its slot while it runs). Each round checks exact accounting (every value whose send returned is
// received exactly once, every increment counted, every worker of a cancelled tree gone) and
// ends with as many goroutines, context nodes and timers alive as it began with.
//
//   GOCXX_STRESS_SECONDS=n   running time of the whole binary, shared evenly by its tests
//                            (default 5; ctest runs each test in its own process)
//   GOCXX_STRESS_SEED=s      the first round's seed (default: from the clock)
//   GOCXX_STRESS_ROUND_LIMIT=n  seconds a round may run before the watchdog dumps the
//                            goroutines and aborts (default 60, 300 under the sanitizers)
//
// A failed round prints its seed; GOCXX_STRESS_SEED=<seed> --gtest_filter=<test> starts again
// from that round, which then makes the same choices (the schedule is still the OS's). A
// round that aborts (a goroutine's panic) prints its seed first; one still running after
// round_monitor's limit prints its seed and the goroutine dump, and aborts.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "go/go.hpp"
#include "go/metrics.hpp"
#include "go/pprof.hpp"
#include "go/trace.hpp"
#include "test_scale.hpp"

using namespace std::chrono_literals;
using go::steady_clock;
using gocxx_test::scaled;

namespace {

// --- the harness: seeds, reports, parties, rounds ---

// rng is splitmix64: one 64-bit seed gives a round (or a party) all its choices.
class rng {
 public:
  explicit rng(std::uint64_t seed) noexcept : state_(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    return z ^ (z >> 31);
  }
  // below returns a number in [0, n).
  std::uint64_t below(std::uint64_t n) noexcept { return next() % n; }
  // between returns a number in [lo, hi].
  long between(long lo, long hi) noexcept {
    return lo + static_cast<long>(below(static_cast<std::uint64_t>(hi - lo + 1)));
  }
  bool one_in(std::uint64_t n) noexcept { return below(n) == 0; }
  std::chrono::microseconds micros(long most) noexcept { return std::chrono::microseconds(between(0, most)); }

 private:
  std::uint64_t state_;
};

// spin computes for d without yielding.
void spin_for(std::chrono::microseconds d) {
  for (auto end = std::chrono::steady_clock::now() + d; std::chrono::steady_clock::now() < end;) {
  }
}

// pause does nothing, yields or sleeps briefly, so that parties interleave differently; or it
// blocks its thread in a system call marked go::blocking (its slot may move to a spare), or,
// rarely, computes past sysmon's 10 ms so that its worker loses its slot while it runs.
void pause(rng& r) {
  switch (r.below(16)) {
    case 0:
    case 1: go::yield(); break;
    case 2:
    case 3: go::sleep(r.micros(200)); break;
    case 4: go::blocking([d = r.micros(100)] { std::this_thread::sleep_for(d); }); break;
    case 5:
      if (r.one_in(64)) spin_for(r.micros(12000));
      break;
    default: break;
  }
}

bool is_done(const go::context& ctx) { return ctx.done().try_recv() == go::chan_status::closed; }

// problems collects what a round found wrong, from any goroutine or thread; the test thread
// reports them under the round's SCOPED_TRACE (GoogleTest's traces are per thread).
class problems {
 public:
  void add(std::string what) {
    std::lock_guard lock(mu_);
    if (list_.size() < 20) list_.push_back(std::move(what));
  }
  std::vector<std::string> take() {
    std::lock_guard lock(mu_);
    return std::exchange(list_, {});
  }

 private:
  std::mutex mu_;  // a std::mutex: held for a push_back, never across a park
  std::vector<std::string> list_;
};

// crew runs parties, each as a goroutine or, when threads are allowed, now and then as a
// plain OS thread, and joins them all through one wait_group (which both may use).
class crew {
 public:
  crew(std::uint64_t seed, bool threads) : r_(seed), threads_allowed_(threads) {}
  crew(const crew&) = delete;
  crew& operator=(const crew&) = delete;
  ~crew() { join(); }

  template <class F>
  void start(F f) {
    wg_.add(1);
    auto party = [this, f = std::move(f)]() mutable {
      f();
      wg_.done();
    };
    if (threads_allowed_ && threads_.size() < 3 && r_.one_in(8)) {
      threads_.emplace_back(std::move(party));
    } else {
      go::spawn(std::move(party));
    }
  }
  void join() {
    wg_.wait();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  rng r_;
  bool threads_allowed_;
  go::wait_group wg_;
  std::vector<std::thread> threads_;
};

// A scenario runs one randomized workload to its end and records what it found wrong.
using scenario = void (*)(std::uint64_t seed, bool threads, problems& p);

// round_monitor names the round in progress when the process dies or hangs in it: on
// SIGABRT (a goroutine's panic) it prints the round before the process ends, and its
// watchdog thread prints the round and the goroutine dump, and aborts, when a round runs
// longer than the limit.
class round_monitor {
 public:
  static inline const std::chrono::seconds limit{std::getenv("GOCXX_STRESS_ROUND_LIMIT")
                                                     ? std::atoi(std::getenv("GOCXX_STRESS_ROUND_LIMIT"))
                                                     : (gocxx_test::sanitized ? 300 : 60)};

  round_monitor() : watchdog_([this] { watch(); }) {
    struct sigaction sa {};
    sa.sa_handler = &on_abort;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGABRT, &sa, &previous_);
  }
  ~round_monitor() {
    sigaction(SIGABRT, &previous_, nullptr);
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    watchdog_.join();
  }
  round_monitor(const round_monitor&) = delete;
  round_monitor& operator=(const round_monitor&) = delete;

  void begin(const std::string& round) {
    {
      std::lock_guard lock(mu_);
      current_.store(nullptr);
      round_ = round;
      abort_note_ = "stress: aborted in round " + round + "\n";
      current_.store(abort_note_.c_str(), std::memory_order_release);
      deadline_ = steady_clock::now() + limit;
    }
    cv_.notify_one();  // the watchdog waits for the previous deadline, or for ever between rounds
  }
  void end() {
    std::lock_guard lock(mu_);
    current_.store(nullptr);
    deadline_ = steady_clock::time_point::max();
  }

 private:
  static void on_abort(int) {
    if (const char* round = current_.load(std::memory_order_acquire)) {
      (void)!::write(STDERR_FILENO, round, std::strlen(round));
    }
  }
  void watch() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      if (steady_clock::now() < deadline_) {
        cv_.wait_until(lock, deadline_);
        continue;
      }
      std::fprintf(stderr, "stress: round %s ran longer than %lld s\n", round_.c_str(),
                   static_cast<long long>(limit.count()));
      std::cerr << go::detail::schedtrace_now(true);  // who holds what, and the timers
      go::dump_goroutines(std::cerr);
      std::abort();
    }
  }

  static inline std::atomic<const char*> current_{nullptr};  // abort_note_ while a round runs
  struct sigaction previous_ {};
  std::mutex mu_;  // guards round_, abort_note_, deadline_, stopping_
  std::condition_variable cv_;
  std::string round_;
  std::string abort_note_;
  steady_clock::time_point deadline_ = steady_clock::time_point::max();
  bool stopping_ = false;
  std::thread watchdog_;
};

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* s = std::getenv(name);
  return s && *s ? std::strtoull(s, nullptr, 0) : fallback;
}

// This test's share of GOCXX_STRESS_SECONDS.
std::chrono::duration<double> time_budget() {
  const auto* tests = ::testing::UnitTest::GetInstance();
  const int enabled = tests->total_test_count() - tests->disabled_test_count();
  return std::chrono::duration<double>(static_cast<double>(env_number("GOCXX_STRESS_SECONDS", 5)) /
                                       std::max(enabled, 1));
}

// churn_procs sets GOMAXPROCS to a random value from 1 to 8 after each random pause of up to
// 2 ms, until stop is closed: workers retire and come back while goroutines are readied
// into their queues (and, under GOCXX_DEBUG_MIGRATE, into their inboxes).
void churn_procs(std::uint64_t seed, const go::recv_chan<void>& stop) {
  rng r(seed);
  for (bool stopped = false; !stopped;) {
    go::select(go::recv_case(stop, [&] { stopped = true; }),
               go::recv_case(go::after(r.micros(2000)), [&] { go::set_max_procs(static_cast<int>(r.between(1, 8))); }));
  }
}

// excess_after waits up to `grace` for count() to fall to baseline; returns the excess.
template <class Count>
std::int64_t excess_after(std::int64_t baseline, Count count, std::chrono::milliseconds grace) {
  for (auto end = steady_clock::now() + grace; count() > baseline && steady_clock::now() < end;) go::sleep(1ms);
  return std::max<std::int64_t>(count() - baseline, 0);
}

// run_round runs one round from seed: 1 to most_at_once scenarios from pool, at once.
void run_round(std::uint64_t seed, std::span<const scenario> pool, int most_at_once, round_monitor& monitor) {
  rng r(seed);
  const int procs = std::array{1, 2, 3, 4, 8}[r.below(5)];
  const bool in_run = r.one_in(2);
  const bool threads = r.one_in(2);
  const bool churn = r.one_in(4);
  struct pick {
    scenario run;
    std::uint64_t seed;
  };
  std::vector<pick> chosen(static_cast<std::size_t>(r.between(1, most_at_once)));
  for (auto& c : chosen) c = {pool[r.below(pool.size())], r.next()};

  const std::string what = "GOCXX_STRESS_SEED=" + std::to_string(seed) + " (GOMAXPROCS " + std::to_string(procs) +
                           (churn ? " changing" : "") + (in_run ? ", in go::run" : ", on a plain thread") +
                           (threads ? ", some parties threads" : "") + ")";
  SCOPED_TRACE(what);
  monitor.begin(what);
  const int goroutines = go::num_goroutine();
  const std::int64_t contexts = go::detail::live_context_nodes();
  const std::int64_t timers = go::detail::live_timer_states();
  problems p;
  {
    gocxx_test::max_procs_scope procs_scope(procs);
    auto body = [&] {
      auto stop_churn = go::make_chan<void>();
      crew churner(r.next(), threads);
      if (churn) churner.start([stop_churn, s = r.next()] { churn_procs(s, stop_churn); });
      if (chosen.size() == 1) {
        chosen[0].run(chosen[0].seed, threads, p);
      } else {
        crew scenarios(r.next(), threads);
        for (const pick& c : chosen) scenarios.start([&p, c, threads] { c.run(c.seed, threads, p); });
      }
      stop_churn.close();
    };
    if (in_run) {
      go::run(body);
    } else {
      body();
    }
  }
  for (auto& problem : p.take()) ADD_FAILURE() << problem;
  const auto grace = gocxx_test::sanitized ? 10s : 2s;
  if (int n = go::testing::leaked_goroutines(goroutines, grace)) {
    ADD_FAILURE() << n << " goroutine(s) outlived the round:\n" << go::testing::goroutine_dump();
  }
  EXPECT_EQ(excess_after(contexts, go::detail::live_context_nodes, grace), 0) << "context nodes outlived the round";
  EXPECT_EQ(excess_after(timers, go::detail::live_timer_states, grace), 0) << "timers outlived the round";
  monitor.end();
}

// run_rounds runs rounds until this test's time is up or one fails.
void run_rounds(std::span<const scenario> pool, int most_at_once = 1) {
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  const auto budget = time_budget();
  std::uint64_t seed =
      env_number("GOCXX_STRESS_SEED", static_cast<std::uint64_t>(steady_clock::now().time_since_epoch().count()));
  std::printf("[ stress   ] %s.%s: GOCXX_STRESS_SEED=%llu for %.1f s\n", test->test_suite_name(), test->name(),
              static_cast<unsigned long long>(seed), budget.count());
  std::fflush(stdout);  // before anything a crash would print
  round_monitor monitor;
  const auto start = steady_clock::now();
  long rounds = 0;
  do {
    run_round(seed, pool, most_at_once, monitor);
    ++rounds;
    seed = rng(seed).next();
  } while (steady_clock::now() - start < budget && !::testing::Test::HasFailure());
  std::printf("[ stress   ] %ld round(s) in %.1f s\n", rounds,
              std::chrono::duration<double>(steady_clock::now() - start).count());
}

// --- scenarios ---

// Trees of goroutines: each node spawns up to four children (some with a stack size of their
// own) and joins them with a wait_group or by receiving their subtree sizes on a channel;
// some trees grow from plain threads. Every goroutine runs exactly once, and every tree
// reports its exact size.
struct forest {
  std::atomic<long> budget;  // goroutines this round may still spawn
  std::atomic<long> spawned{0};
  std::atomic<long> ran{0};
};

long grow(forest& f, std::uint64_t seed, long depth) {
  rng r(seed);
  f.ran.fetch_add(1);
  pause(r);
  const long children = depth > 0 ? r.between(0, 4) : 0;
  const bool by_channel = r.one_in(2);
  auto sizes = go::make_chan<long>(r.one_in(2) ? 0 : static_cast<std::size_t>(children));
  go::wait_group wg;
  std::atomic<long> sum{0};
  long started = 0;
  for (; started < children && f.budget.fetch_sub(1) > 0; ++started) {
    f.spawned.fetch_add(1);
    const go::spawn_options options{.stack_size = std::array<std::size_t, 3>{0, 64 << 10, 1 << 20}[r.below(3)]};
    auto child = [&f, s = r.next(), depth] { return grow(f, s, depth - 1); };
    if (by_channel) {
      go::spawn(options, [sizes, child] { sizes << child(); });
    } else {
      wg.add(1);
      go::spawn(options, [&wg, &sum, child] {
        sum += child();
        wg.done();
      });
    }
  }
  long size = 1;
  if (by_channel) {
    for (long i = 0; i < started; ++i) size += *sizes.recv();
  } else {
    wg.wait();
    size += sum.load();
  }
  return size;
}

void spawn_trees(std::uint64_t seed, bool threads, problems& p) {
  rng r(seed);
  forest f;
  f.budget = scaled(20000);
  std::atomic<long> total{0};
  const long trees = r.between(1, 6);
  {
    crew roots(r.next(), threads);
    for (long t = 0; t < trees; ++t) {
      roots.start([&f, &total, s = r.next(), depth = r.between(1, 7)] { total += grow(f, s, depth); });
    }
  }
  if (f.ran != f.spawned + trees || total != f.ran) {
    p.add("spawn_trees: " + std::to_string(f.spawned) + " spawned + " + std::to_string(trees) + " roots, " +
          std::to_string(f.ran) + " ran, trees reported " + std::to_string(total));
  }
}

// Producers send numbered values on two channels (either may be unbuffered) in every way there
// is: send, try_send, select with a timeout or with a default. Consumers receive with select
// over both channels (a channel's case turns nil once it is closed, Go's idiom), blocking,
// with go::after timeouts or with a default; others with a range loop, recv or try_recv on one
// channel. Random parties close each channel while others still send: a producer between two
// sends, a consumer after some receives, a closer after a delay; whoever closes second must
// get "close of closed channel", and the last producer to finish closes both. Every value
// whose send returned is received exactly once, the others never; each consumer sees each
// producer's values on a channel in the order they were sent; a timeout never fires early.
using item = std::uint32_t;

struct channel_round {
  explicit channel_round(problems& p) : p(p) {}
  std::array<go::chan<item>, 2> chans;
  long producers = 0;
  item per_producer = 0;
  std::vector<std::atomic<std::uint8_t>> sent;      // per item: its send returned
  std::vector<std::atomic<std::uint8_t>> received;  // per item: times received
  std::atomic<std::uint64_t> received_sum{0};       // of the values received
  std::array<std::atomic<int>, 2> closes{};         // close() calls that returned, per channel
  std::atomic<long> producers_left{0};
  problems& p;

  // close closes channel c, which another party may have closed already.
  void close(int c) {
    try {
      chans[c].close();
      closes[c].fetch_add(1);
    } catch (const go::chan_error& e) {
      if (std::string_view(e.what()) != "close of closed channel") p.add(std::string("close threw: ") + e.what());
    }
  }
};

// A party's plan to close a channel itself: after `after` of its sends or receives (-1: never).
struct close_plan {
  int chan = 0;
  long after = -1;
};

close_plan draw_close_plan(rng& r, long most) {
  if (!r.one_in(4)) return {};
  return {static_cast<int>(r.below(2)), r.between(0, most)};
}

// consumer_log records what one consumer receives and checks the per-producer order.
class consumer_log {
 public:
  explicit consumer_log(channel_round& round)
      : round_(round), last_(static_cast<std::size_t>(round.producers) * 2, -1) {}
  void got(int c, item v) {
    if (v >= round_.received.size()) {
      round_.p.add("received a value never sent: " + std::to_string(v));
      return;
    }
    round_.received[v].fetch_add(1);
    round_.received_sum.fetch_add(v);
    const long producer = v / round_.per_producer, index = v % round_.per_producer;
    long& last = last_[static_cast<std::size_t>(producer * 2 + c)];
    if (index <= last) {
      round_.p.add("channel " + std::to_string(c) + ": producer " + std::to_string(producer) + "'s value " +
                   std::to_string(index) + " came after its value " + std::to_string(last));
    }
    last = index;
    ++count_;
  }
  long count() const noexcept { return count_; }

 private:
  channel_round& round_;
  std::vector<long> last_;  // per (producer, channel): the index received last
  long count_ = 0;
};

void produce(channel_round& round, long producer, std::uint64_t seed) {
  rng r(seed);
  const close_plan plan = draw_close_plan(r, round.per_producer);
  std::array<bool, 2> open{true, true};  // as far as this producer knows
  for (item i = 0; i < round.per_producer && (open[0] || open[1]); ++i) {
    const int c = !open[0] ? 1 : !open[1] ? 0 : static_cast<int>(r.below(2));
    const auto& ch = round.chans[c];
    const item v = static_cast<item>(producer) * round.per_producer + i;
    bool sent = false;
    try {
      switch (r.below(4)) {
        case 0:
          ch.send(v);
          sent = true;
          break;
        case 1:
          for (long tries = r.between(0, 3); !(sent = ch.try_send(v)) && tries > 0; --tries) go::yield();
          break;
        case 2: go::select(go::send_case(ch, v, [&] { sent = true; }), go::recv_case(go::after(r.micros(500)))); break;
        default: go::select(go::send_case(ch, v, [&] { sent = true; }), go::default_case()); break;
      }
    } catch (const go::chan_error& e) {
      if (std::string_view(e.what()) != "send on closed channel") round.p.add(std::string("send threw: ") + e.what());
      open[c] = false;
    }
    if (sent) round.sent[v].store(1);
    if (plan.after == static_cast<long>(i)) round.close(plan.chan);
    pause(r);
  }
  if (round.producers_left.fetch_sub(1) == 1) {
    round.close(0);
    round.close(1);
  }
}

// receiving is a consumer of both channels: what it received, and which channels are still
// open (a closed channel's entry turns nil, Go's idiom).
struct receiving {
  explicit receiving(channel_round& round) : log(round), live(round.chans) {}
  // on is the handler of channel c's receive case.
  auto on(int c) {
    return [this, c](std::optional<item> v) {
      if (v) {
        log.got(c, *v);
      } else {
        live[c] = nullptr;
      }
    };
  }
  bool open() const { return live[0] != nullptr || live[1] != nullptr; }

  consumer_log log;
  std::array<go::chan<item>, 2> live;
};

void consume_both(channel_round& round, std::uint64_t seed) {
  rng r(seed);
  const close_plan plan = draw_close_plan(r, round.per_producer);
  receiving rx(round);
  while (rx.open()) {
    const long before = rx.log.count();
    switch (r.below(3)) {
      case 0: go::select(go::recv_case(rx.live[0], rx.on(0)), go::recv_case(rx.live[1], rx.on(1))); break;
      case 1: {
        const auto d = r.micros(300);
        const auto start = steady_clock::now();
        go::select(go::recv_case(rx.live[0], rx.on(0)), go::recv_case(rx.live[1], rx.on(1)),
                   go::recv_case(go::after(d), [&](std::optional<steady_clock::time_point> t) {
                     if (!t || *t < start + d || steady_clock::now() < start + d) {
                       round.p.add("go::after(" + std::to_string(d.count()) + "us) fired early");
                     }
                   }));
        break;
      }
      default:
        if (go::select(go::recv_case(rx.live[0], rx.on(0)), go::recv_case(rx.live[1], rx.on(1)), go::default_case()) ==
            2) {
          go::yield();
        }
        break;
    }
    if (before <= plan.after && plan.after < rx.log.count()) round.close(plan.chan);
  }
}

void consume_one(channel_round& round, int c, std::uint64_t seed) {
  rng r(seed);
  consumer_log log(round);
  const auto& ch = round.chans[c];
  switch (r.below(3)) {
    case 0:
      for (item v : ch) log.got(c, v);
      break;
    case 1:
      while (auto v = ch.recv()) log.got(c, *v);
      break;
    default:
      for (;;) {
        auto got = ch.try_recv();
        if (got) {
          log.got(c, *got.value);
        } else if (got.status == go::chan_status::closed) {
          break;
        } else {
          pause(r);
        }
      }
      break;
  }
}

std::size_t draw_capacity(rng& r) {
  switch (r.below(3)) {
    case 0: return 0;
    case 1: return 1;
    default: return static_cast<std::size_t>(r.between(2, 64));
  }
}

// draw_channels gives a round its two channels, its producers and their values.
void draw_channels(channel_round& round, rng& r) {
  for (auto& ch : round.chans) ch = go::make_chan<item>(draw_capacity(r));
  round.producers = r.between(1, 6);
  round.per_producer = static_cast<item>(r.between(1, scaled(4000)));
  round.producers_left = round.producers;
  const auto items = static_cast<std::size_t>(round.producers) * round.per_producer;
  round.sent = std::vector<std::atomic<std::uint8_t>>(items);
  round.received = std::vector<std::atomic<std::uint8_t>>(items);
}

// check_deliveries checks a finished channel round: every value whose send returned was
// received exactly once, the others never (so the sums agree), each channel was closed once
// and is drained.
void check_deliveries(const channel_round& round, problems& p) {
  const std::size_t items = round.sent.size();
  long sent = 0, mismatched = 0;
  std::uint64_t sent_sum = 0;
  for (std::size_t v = 0; v < items; ++v) {
    if (round.sent[v]) sent_sum += v;
    sent += round.sent[v];
    if (round.sent[v] != round.received[v] && ++mismatched <= 3) {
      p.add("value " + std::to_string(v) + ": sent " + std::to_string(round.sent[v]) + " time(s), received " +
            std::to_string(round.received[v]));
    }
  }
  if (mismatched) {
    p.add(std::to_string(mismatched) + " of " + std::to_string(sent) + " values sent were lost or duplicated");
  }
  for (int c = 0; c < 2; ++c) {
    if (round.closes[c] != 1) {
      p.add("channel " + std::to_string(c) + " closed " + std::to_string(round.closes[c]) + " times");
    }
    if (round.chans[c].len() != 0) p.add("channel " + std::to_string(c) + " not drained");
  }
  if (round.received_sum != sent_sum) {
    p.add("values received sum to " + std::to_string(round.received_sum.load()) + ", those sent to " +
          std::to_string(sent_sum));
  }
}

void channels_with_close_races(std::uint64_t seed, bool threads, problems& p) {
  rng r(seed);
  channel_round round(p);
  draw_channels(round, r);
  {
    crew parties(r.next(), threads);
    for (long c = r.between(1, 4); c > 0; --c) parties.start([&round, s = r.next()] { consume_both(round, s); });
    for (long c = r.between(0, 2); c > 0; --c) {
      parties.start([&round, ch = static_cast<int>(r.below(2)), s = r.next()] { consume_one(round, ch, s); });
    }
    for (long i = 0; i < round.producers; ++i) parties.start([&round, i, s = r.next()] { produce(round, i, s); });
    for (long c = r.between(0, 2); c > 0; --c) {
      parties.start([&round, ch = static_cast<int>(r.below(2)), d = r.micros(3000)] {
        go::sleep(d);
        round.close(ch);
      });
    }
  }
  check_deliveries(round, p);
}

// Workers increment a plain counter under a go::mutex with a read-modify-write that may
// yield or sleep in the middle (any overlap loses an update), taking the lock with lock,
// std::unique_lock or try_lock; others move units between accounts under an rw_mutex while
// readers check under the read lock that the total never changes. Counts come out exact.
void mutexes(std::uint64_t seed, bool threads, problems& p) {
  rng r(seed);
  go::mutex mu;
  long counter = 0;  // guarded by mu
  std::atomic<long> increments{0};
  constexpr long opening_balance = 1000;
  go::rw_mutex rw;
  std::array<long, 8> accounts;  // guarded by rw
  accounts.fill(opening_balance);
  const long total = opening_balance * static_cast<long>(accounts.size());
  auto increment = [&](rng& wr) {
    const long c = counter;
    pause(wr);
    counter = c + 1;
    increments.fetch_add(1);
  };
  {
    crew workers(r.next(), threads);
    for (long w = r.between(2, 32); w > 0; --w) {
      workers.start([&, s = r.next()] {
        rng wr(s);
        for (long i = wr.between(1, scaled(400)); i > 0; --i) {
          switch (wr.below(5)) {
            case 0: {
              std::lock_guard lock(mu);
              increment(wr);
              break;
            }
            case 1: {
              std::unique_lock lock(mu, std::defer_lock);
              for (int tries = 0; !lock.try_lock(); ++tries) {
                if (tries == 100) {
                  lock.lock();
                  break;
                }
                go::yield();
              }
              increment(wr);
              break;
            }
            case 2: {
              std::lock_guard lock(rw);
              const auto from = wr.below(accounts.size()), to = wr.below(accounts.size());
              const long amount = wr.between(0, accounts[from]);
              accounts[from] -= amount;
              pause(wr);
              accounts[to] += amount;
              break;
            }
            default: {
              std::shared_lock lock(rw);
              long sum = 0;
              for (long a : accounts) sum += a;
              pause(wr);
              if (sum != total) p.add("rw_mutex: a reader saw a total of " + std::to_string(sum));
              break;
            }
          }
        }
      });
    }
  }
  if (counter != increments) {
    p.add("mutex: counter " + std::to_string(counter) + " after " + std::to_string(increments) + " increments");
  }
  long sum = 0;
  for (long a : accounts) sum += a;
  if (sum != total) p.add("rw_mutex: accounts total " + std::to_string(sum));
}

// A random tree of contexts (with_cancel, with_timeout, with_cancel_cause, with_value and
// with_stop_token layers) with workers on every node waiting in different ways: blocked on
// done(), in a select with a job channel and a timer, acquiring a semaphore with the context,
// polling err(). Cancellers cancel random nodes at random moments, and stop or keep random
// after_funcs; at last the root is cancelled. When a cancel returns, its whole subtree is
// done; every worker sees its context done and exits; err() is deadline_exceeded only below a
// deadline; value() finds the nearest value; each after_func runs exactly once unless a stop
// returned true; every job sent is taken exactly once; the semaphore ends full.
struct context_node {
  go::context ctx{};
  // cancel returns whether the node's subtree is done when it returns; empty for a value layer.
  std::function<bool()> cancel{};
  std::vector<std::size_t> children{};
  bool under_deadline = false;  // this node or an ancestor has a deadline
  long value = -1;              // the nearest value layer's, or -1
};

struct after_entry {
  go::stop_func stop;
  std::atomic<int> runs{0};
  bool stopped = false;  // a stop() returned true
};

struct context_round {
  explicit context_round(problems& p) : p(p) {}
  std::vector<context_node> nodes;
  go::chan<long> jobs;
  std::atomic<long> jobs_sent{0}, jobs_done{0};
  std::atomic<long> exited{0};
  problems& p;

  static inline const go::context_key<long> key{"stress"};

  void add(std::size_t parent, rng& r) {
    context_node n{.under_deadline = nodes[parent].under_deadline, .value = nodes[parent].value};
    const go::context& up = nodes[parent].ctx;
    switch (r.below(5)) {
      case 0: {
        auto [ctx, cancel] = go::with_cancel(up);
        n.ctx = ctx, n.cancel = completes(cancel);
        break;
      }
      case 1: {
        auto [ctx, cancel] = go::with_timeout(up, r.micros(20000));
        n.ctx = ctx, n.cancel = completes(cancel), n.under_deadline = true;
        break;
      }
      case 2: {
        go::cancel_cause_context made = go::with_cancel_cause(up);
        n.ctx = made.ctx, n.cancel = [cancel = made.cancel] {
          cancel(go::make_error("stress"));
          return true;
        };
        break;
      }
      case 3:
        n.value = static_cast<long>(nodes.size());
        n.ctx = go::with_value(up, key, n.value);
        break;
      default: {
        std::stop_source source;
        n.ctx = go::with_stop_token(up, source.get_token());
        // A request_stop that finds stop requested already returns at once, while the first
        // request's callback may still be cancelling the subtree (std::stop_source's rule).
        n.cancel = [source]() mutable { return source.request_stop(); };
        break;
      }
    }
    nodes[parent].children.push_back(nodes.size());
    nodes.push_back(std::move(n));
  }

  // completes wraps a cancel function: the subtree is done when it returns (context.hpp).
  static std::function<bool()> completes(go::cancel_func cancel) {
    return [cancel] {
      cancel();
      return true;
    };
  }

  // cancel cancels node i and checks that its whole subtree is done when that returns.
  void cancel(std::size_t i) {
    if (!nodes[i].cancel || !nodes[i].cancel()) return;
    std::vector<std::size_t> todo{i};
    while (!todo.empty()) {
      const std::size_t j = todo.back();
      todo.pop_back();
      if (!nodes[j].ctx.err() || !is_done(nodes[j].ctx)) {
        p.add("context " + std::to_string(j) + " not done when cancelling its ancestor " + std::to_string(i) +
              " returned");
      }
      todo.insert(todo.end(), nodes[j].children.begin(), nodes[j].children.end());
    }
  }

  void work(std::size_t i, go::semaphore& sem, long sem_size, std::uint64_t seed) {
    rng r(seed);
    const context_node& n = nodes[i];
    const go::context ctx = n.ctx;
    switch (r.below(4)) {
      case 0: ctx.done().recv(); break;
      case 1:
        for (bool done = false; !done;) {
          go::select(go::recv_case(ctx.done(), [&] { done = true; }),
                     go::recv_case(jobs, [&](std::optional<long> job) { jobs_done += job.has_value(); }),
                     go::recv_case(go::after(r.micros(1000))));
        }
        break;
      case 2:
        while (!ctx.err()) {
          const long weight = r.between(1, sem_size + 1);  // sem_size + 1 never fits
          if (go::error err = sem.acquire(ctx, weight)) {
            if (err != ctx.err()) p.add("semaphore: acquire failed with " + err.message());
            break;
          }
          pause(r);
          sem.release(weight);
        }
        break;
      default:
        while (!ctx.err()) go::sleep(r.micros(500));
        break;
    }
    const go::error err = ctx.err();
    if (!(err == go::errc::canceled || (err == go::errc::deadline_exceeded && n.under_deadline))) {
      p.add("worker on context " + std::to_string(i) + " left with err \"" + err.message() + "\"");
    }
    // err() is set, so done() must be closed (Context.ErrIsSetOnlyAfterDoneIsClosed).
    if (!is_done(ctx)) p.add("context " + std::to_string(i) + ": err() is set but done() is open");
    const long* value = ctx.value(key);
    if ((value ? *value : -1) != n.value) p.add("context " + std::to_string(i) + ": value() is not the nearest");
    exited.fetch_add(1);
  }
};

void context_trees(std::uint64_t seed, bool threads, problems& p) {
  rng r(seed);
  context_round round(p);
  const auto size = static_cast<std::size_t>(r.between(1, scaled(400)));
  round.nodes.reserve(size);
  if (r.one_in(2)) {
    auto [ctx, cancel] = go::with_cancel(go::background());
    round.nodes.push_back({.ctx = ctx, .cancel = context_round::completes(cancel)});
  } else {
    auto [ctx, cancel] = go::with_timeout(go::background(), r.micros(50000));
    round.nodes.push_back({.ctx = ctx, .cancel = context_round::completes(cancel), .under_deadline = true});
  }
  while (round.nodes.size() < size) round.add(r.below(round.nodes.size()), r);
  round.jobs = go::make_chan<long>(r.one_in(2) ? 0 : static_cast<std::size_t>(r.between(1, 8)));
  const long sem_size = r.between(1, 4);
  go::semaphore sem(sem_size);

  std::vector<after_entry> afters(static_cast<std::size_t>(r.between(0, 8)));
  go::wait_group after_calls;
  after_calls.add(static_cast<int>(afters.size()));
  for (auto& a : afters) {
    a.stop = go::after_func(round.nodes[r.below(size)].ctx, [&a, &after_calls] {
      a.runs.fetch_add(1);
      after_calls.done();
    });
  }
  long workers_started = 0;
  {
    crew parties(r.next(), threads);
    for (std::size_t i = 0; i < size; ++i) {
      for (long k = r.between(0, 3); k > 0; --k, ++workers_started) {
        parties.start([&round, &sem, sem_size, i, s = r.next()] { round.work(i, sem, sem_size, s); });
      }
    }
    parties.start([&round] {
      const go::context root = round.nodes[0].ctx;
      for (long job = 0;; ++job) {
        bool stop = false;
        go::select(go::send_case(round.jobs, job, [&] { round.jobs_sent.fetch_add(1); }),
                   go::recv_case(root.done(), [&] { stop = true; }));
        if (stop) break;
      }
    });
    for (long c = r.between(1, 2); c > 0; --c) {
      parties.start([&round, size, s = r.next()] {
        rng cr(s);
        for (long k = cr.between(0, std::min<long>(static_cast<long>(size), 30)); k > 0; --k) {
          go::sleep(cr.micros(2000));
          round.cancel(cr.below(size));
        }
      });
    }
    // Stopping after_funcs races with the cancellers.
    for (auto& a : afters) {
      if (r.one_in(2)) continue;
      go::sleep(r.micros(1000));
      if (a.stop()) {
        a.stopped = true;
        after_calls.done();
      }
      if (a.stop()) p.add("after_func: a second stop() returned true");
    }
    go::sleep(r.micros(5000));
    round.cancel(0);
  }
  after_calls.wait();
  for (std::size_t k = 0; k < afters.size(); ++k) {
    if (afters[k].runs != (afters[k].stopped ? 0 : 1)) {
      p.add("after_func " + std::to_string(k) + " ran " + std::to_string(afters[k].runs) + " time(s)" +
            (afters[k].stopped ? " after stop() returned true" : ""));
    }
  }
  if (round.exited != workers_started) {
    p.add(std::to_string(round.exited) + " of " + std::to_string(workers_started) + " context workers exited");
  }
  const long left = static_cast<long>(round.jobs.len());
  if (round.jobs_done + left != round.jobs_sent) {
    p.add("jobs: " + std::to_string(round.jobs_sent) + " sent, " + std::to_string(round.jobs_done) + " taken, " +
          std::to_string(left) + " left");
  }
  if (!sem.try_acquire(sem_size)) p.add("semaphore not full at the end");
}

// Stackful goroutines, stackless goroutines (go::task) and plain threads as parties of one
// round: they send numbered values on two shared channels (either may be unbuffered), receive
// them with select (async_select in a stackless goroutine) or receive loops, close the
// channels while others send, increment a counter under one go::mutex with a read-modify-write
// that waits in the middle, and all report to one wait_group that a stackful goroutine (or the
// test's thread) and a stackless goroutine both wait on. Every value whose send returned is
// received exactly once and the others never, the sums of the values sent and received agree,
// every increment is counted, and each waiter on the wait_group sees every party finished.

// pause_stackless is pause for a stackless goroutine: it yields or sleeps by co_await, calls
// go::blocking (which keeps its worker's slot), or computes past sysmon's hand-off time.
go::task<void> pause_stackless(rng& r) {
  switch (r.below(16)) {
    case 0:
    case 1: co_await go::async_yield(); break;
    case 2:
    case 3: co_await go::async_sleep(r.micros(200)); break;
    case 4: go::blocking([d = r.micros(100)] { std::this_thread::sleep_for(d); }); break;
    case 5:
      if (r.one_in(64)) spin_for(r.micros(12000));
      break;
    default: break;
  }
}

go::task<void> produce_stackless(channel_round& round, long producer, std::uint64_t seed) {
  rng r(seed);
  const close_plan plan = draw_close_plan(r, round.per_producer);
  std::array<bool, 2> open{true, true};  // as far as this producer knows
  for (item i = 0; i < round.per_producer && (open[0] || open[1]); ++i) {
    const int c = !open[0] ? 1 : !open[1] ? 0 : static_cast<int>(r.below(2));
    const go::chan<item> ch = round.chans[c];
    const item v = static_cast<item>(producer) * round.per_producer + i;
    bool sent = false;
    try {
      switch (r.below(4)) {
        case 0:
          co_await go::async_send(ch, v);
          sent = true;
          break;
        case 1:
          for (long tries = r.between(0, 3); !(sent = ch.try_send(v)) && tries > 0; --tries) {
            co_await go::async_yield();
          }
          break;
        case 2: {
          const auto timeout = go::after(r.micros(500));
          co_await go::async_select(go::send_case(ch, v, [&] { sent = true; }), go::recv_case(timeout));
          break;
        }
        default: co_await go::async_select(go::send_case(ch, v, [&] { sent = true; }), go::default_case()); break;
      }
    } catch (const go::chan_error& e) {
      if (std::string_view(e.what()) != "send on closed channel") round.p.add(std::string("send threw: ") + e.what());
      open[c] = false;
    }
    if (sent) round.sent[v].store(1);
    if (plan.after == static_cast<long>(i)) round.close(plan.chan);
    co_await pause_stackless(r);
  }
  if (round.producers_left.fetch_sub(1) == 1) {
    round.close(0);
    round.close(1);
  }
}

go::task<void> consume_stackless(channel_round& round, std::uint64_t seed) {
  rng r(seed);
  const close_plan plan = draw_close_plan(r, round.per_producer);
  receiving rx(round);
  while (rx.open()) {
    const long before = rx.log.count();
    switch (r.below(3)) {
      case 0:
        co_await go::async_select(go::recv_case(rx.live[0], rx.on(0)), go::recv_case(rx.live[1], rx.on(1)));
        break;
      case 1: {
        const auto timeout = go::after(r.micros(300));
        co_await go::async_select(go::recv_case(rx.live[0], rx.on(0)), go::recv_case(rx.live[1], rx.on(1)),
                                  go::recv_case(timeout));
        break;
      }
      default:
        if (co_await go::async_select(go::recv_case(rx.live[0], rx.on(0)), go::recv_case(rx.live[1], rx.on(1)),
                                      go::default_case()) == 2) {
          co_await go::async_yield();
        }
        break;
    }
    if (before <= plan.after && plan.after < rx.log.count()) round.close(plan.chan);
  }
}

go::task<void> consume_one_stackless(channel_round& round, int c) {
  consumer_log log(round);
  const go::chan<item> ch = round.chans[c];
  while (auto v = co_await go::async_recv(ch)) log.got(c, *v);
}

go::task<void> close_stackless(channel_round& round, int c, std::chrono::microseconds d) {
  co_await go::async_sleep(d);
  round.close(c);
}

// shared_counter is a plain counter under a go::mutex that every kind of party increments.
struct shared_counter {
  go::mutex mu;
  long value = 0;  // guarded by mu
  std::atomic<long> increments{0};
};

void increment_stackful(shared_counter& counter, long times, std::uint64_t seed) {
  rng r(seed);
  for (; times > 0; --times) {
    std::lock_guard lock(counter.mu);
    const long v = counter.value;
    pause(r);
    counter.value = v + 1;
    counter.increments.fetch_add(1);
  }
}

go::task<void> increment_stackless(shared_counter& counter, long times, std::uint64_t seed) {
  rng r(seed);
  for (; times > 0; --times) {
    if (r.one_in(4) && counter.mu.try_lock()) {
      // try_lock is called as in a stackful goroutine
    } else {
      co_await go::async_lock(counter.mu);
    }
    const long v = counter.value;
    co_await pause_stackless(r);
    counter.value = v + 1;
    counter.increments.fetch_add(1);
    counter.mu.unlock();
  }
}

// mixed_crew runs each party as a stackful goroutine, a stackless goroutine or (when threads
// are allowed) a plain OS thread, drawn at random, and joins them all through one wait_group
// waited on by the joining thread or goroutine and by a stackless goroutine at once.
class mixed_crew {
 public:
  mixed_crew(std::uint64_t seed, bool threads, problems& p) : r_(seed), threads_allowed_(threads), p_(p) {}
  mixed_crew(const mixed_crew&) = delete;
  mixed_crew& operator=(const mixed_crew&) = delete;
  ~mixed_crew() { join(); }

  // start runs a party: stackful() as a stackful goroutine or a thread, or the task that
  // stackless() returns as a stackless goroutine.
  template <class Stackful, class Stackless>
  void start(Stackful stackful, Stackless stackless) {
    wg_.add(1);
    ++started_;
    switch (r_.below(3)) {
      case 0: go::spawn(finish(stackless(), this)); return;
      case 1:
        if (threads_allowed_ && threads_.size() < 4) {
          threads_.emplace_back([this, f = std::move(stackful)]() mutable {
            f();
            finished();
          });
          return;
        }
        break;
      default: break;
    }
    go::spawn([this, f = std::move(stackful)]() mutable {
      f();
      finished();
    });
  }

  void join() {
    if (started_ == 0) return;
    auto watched = go::make_chan<void>();
    go::spawn(watch(this, watched));
    wg_.wait();
    if (finished_ != started_) {
      p_.add("wait_group: wait returned with " + std::to_string(finished_.load()) + " of " + std::to_string(started_) +
             " parties finished");
    }
    watched.recv();
    for (auto& t : threads_) t.join();
    threads_.clear();
    started_ = 0;
    finished_ = 0;
  }

 private:
  void finished() {
    finished_.fetch_add(1);
    wg_.done();
  }
  static go::task<void> finish(go::task<void> party, mixed_crew* crew) {
    co_await std::move(party);
    crew->finished();
  }
  static go::task<void> watch(mixed_crew* crew, go::chan<void> watched) {
    co_await go::async_wait(crew->wg_);
    if (crew->finished_ != crew->started_) {
      crew->p_.add("wait_group: async_wait returned with " + std::to_string(crew->finished_.load()) + " of " +
                   std::to_string(crew->started_) + " parties finished");
    }
    watched.close();
  }

  rng r_;
  bool threads_allowed_;
  problems& p_;
  go::wait_group wg_;
  long started_ = 0;  // by the starting thread only
  std::atomic<long> finished_{0};
  std::vector<std::thread> threads_;
};

void mixed_goroutine_kinds(std::uint64_t seed, bool threads, problems& p) {
  rng r(seed);
  channel_round round(p);
  draw_channels(round, r);
  shared_counter counter;
  long increments = 0;
  {
    mixed_crew parties(r.next(), threads, p);
    for (long c = r.between(1, 4); c > 0; --c) {
      const std::uint64_t s = r.next();
      parties.start([&round, s] { consume_both(round, s); }, [&round, s] { return consume_stackless(round, s); });
    }
    for (long c = r.between(0, 2); c > 0; --c) {
      const int ch = static_cast<int>(r.below(2));
      const std::uint64_t s = r.next();
      parties.start([&round, ch, s] { consume_one(round, ch, s); },
                    [&round, ch] { return consume_one_stackless(round, ch); });
    }
    for (long i = 0; i < round.producers; ++i) {
      const std::uint64_t s = r.next();
      parties.start([&round, i, s] { produce(round, i, s); },
                    [&round, i, s] { return produce_stackless(round, i, s); });
    }
    for (long c = r.between(0, 2); c > 0; --c) {
      const int ch = static_cast<int>(r.below(2));
      const auto d = r.micros(3000);
      parties.start(
          [&round, ch, d] {
            go::sleep(d);
            round.close(ch);
          },
          [&round, ch, d] { return close_stackless(round, ch, d); });
    }
    for (long w = r.between(1, 8); w > 0; --w) {
      const long times = r.between(1, scaled(200));
      const std::uint64_t s = r.next();
      increments += times;
      parties.start([&counter, times, s] { increment_stackful(counter, times, s); },
                    [&counter, times, s] { return increment_stackless(counter, times, s); });
    }
  }
  check_deliveries(round, p);
  if (counter.value != increments || counter.increments != increments) {
    p.add("mutex: counter " + std::to_string(counter.value) + " after " + std::to_string(counter.increments.load()) +
          " of " + std::to_string(increments) + " increments");
  }
}

constexpr std::array<scenario, 5> all_scenarios{spawn_trees, channels_with_close_races, mutexes, context_trees,
                                                mixed_goroutine_kinds};

}  // namespace

TEST(Stress, SpawnAndJoin) { run_rounds(std::span(&all_scenarios[0], 1)); }

TEST(Stress, ChannelsWithCloseRaces) { run_rounds(std::span(&all_scenarios[1], 1)); }

TEST(Stress, Mutexes) { run_rounds(std::span(&all_scenarios[2], 1)); }

TEST(Stress, ContextTrees) { run_rounds(std::span(&all_scenarios[3], 1)); }

TEST(Stress, MixedGoroutineKinds) { run_rounds(std::span(&all_scenarios[4], 1)); }

// Rounds that run up to four scenarios at once.
TEST(Stress, Everything) { run_rounds(all_scenarios, 4); }

namespace {

// A stream that counts what it is given and keeps nothing.
struct counting_buffer : std::streambuf {
  std::size_t bytes = 0;
  int overflow(int c) override {
    ++bytes;
    return c;
  }
  std::streamsize xsputn(const char*, std::streamsize n) override {
    bytes += static_cast<std::size_t>(n);
    return n;
  }
};

}  // namespace

// Every scenario with the block and mutex profiles on, the execution trace running (stopped
// and started again every 200 ms, which bounds its memory), and a plain thread reading the
// metrics and writing the block and mutex profiles meanwhile: the rounds' accounting must hold as without.
TEST(Stress, EverythingWhileProfiling) {
  go::set_block_profile_rate(1);
  go::set_mutex_profile_fraction(1);
  std::atomic<bool> done{false};
  std::size_t written = 0;
  std::thread observer([&] {
    counting_buffer trace_out, profile_out;
    std::ostream trace_stream(&trace_out), profile_stream(&profile_out);
    while (!done.load()) {
      go::trace::start(trace_stream);
      std::this_thread::sleep_for(200ms);
      go::trace::stop();
      go::metrics m = go::runtime_metrics();
      EXPECT_GE(m.goroutines, 0);
      // Not the goroutine profile: like the goroutine dump it walks the stacks of goroutines
      // that may resume meanwhile, which ThreadSanitizer reports as races.
      go::pprof::lookup("block")->write_to(profile_stream);
      go::pprof::lookup("mutex")->write_to(profile_stream);
    }
    written = trace_out.bytes + profile_out.bytes;
  });
  run_rounds(all_scenarios, 4);
  done.store(true);
  observer.join();
  go::set_block_profile_rate(0);
  go::set_mutex_profile_fraction(0);
  EXPECT_GT(written, 0u);
}
