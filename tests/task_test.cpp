// Stackless goroutines (go/task.hpp): tasks, spawning, awaiting, and the channel, sleep and
// yield awaitables, alone and mixed with stackful goroutines and plain threads on the same
// channels. The channel behaviours of go_chan_test.cpp that a stackless side changes (who
// parks, who wakes, FIFO, close) run here as one suite parameterised by the kind of each
// side. The awaitables of sync, x/sync and rate are tested in task_sync_test.cpp.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "go/chan.hpp"
#include "go/context.hpp"
#include "go/select.hpp"
#include "go/runtime.hpp"
#include "go/sync.hpp"
#include "go/task.hpp"
#include "go/time.hpp"
#include "test_scale.hpp"

using namespace std::chrono_literals;

namespace {

go::task<int> add_one(int x) { co_return x + 1; }

go::task<long> sum_to(long n) {
  if (n == 0) co_return 0;
  co_return n + co_await sum_to(n - 1);
}

go::task<int> throws_after_a_park(go::chan<int> ch) {
  co_await go::async_recv(ch);
  throw std::runtime_error("child failed");
}

using gocxx_test::dump_once_it_shows;

}  // namespace

TEST(Task, SpawnedTaskRunsAndCountsAsAGoroutine) {
  go::run([] {
    // A goroutine of an earlier test may still be on its way out: wait for it (bounded; one
    // that never exits just stays in the count).
    for (int i = 0; i < 5000 && go::num_goroutine() != 1; ++i) go::sleep(1ms);
    int before = go::num_goroutine();
    auto release = go::make_chan<void>();
    auto done = go::make_chan<std::uint64_t>();
    go::spawn([release, done]() -> go::task<void> {
      co_await go::async_recv(release);
      co_await go::async_send(done, go::this_goroutine::id());
    });
    EXPECT_EQ(go::num_goroutine(), before + 1);
    release.send();
    std::uint64_t id = *done.recv();
    EXPECT_NE(id, 0u);
    EXPECT_NE(id, go::this_goroutine::id());
    for (int i = 0; i < 500 && go::num_goroutine() != before; ++i) go::sleep(1ms);
    EXPECT_EQ(go::num_goroutine(), before);
  });
}

TEST(Task, AwaitingAChildReturnsItsValue) {
  go::run([] {
    auto out = go::make_chan<int>(1);
    go::spawn([out]() -> go::task<void> {
      int a = co_await add_one(1);
      long b = co_await sum_to(10);
      co_await go::async_send(out, a * 1000 + static_cast<int>(b));
    });
    EXPECT_EQ(*out.recv(), 2055);
  });
}

// Symmetric transfer: a chain of co_awaits as deep as this would overflow the worker's stack
// if each one resumed the next by a call.
TEST(Task, DeepChainOfAwaitsDoesNotGrowTheStack) {
  if (gocxx_test::sanitized)
    GTEST_SKIP() << "GCC's ASan instrumentation keeps symmetric transfer from being a tail call";
  go::run([] {
    auto out = go::make_chan<long>(1);
    constexpr int depth = 200'000;
    go::spawn([out]() -> go::task<void> { co_await go::async_send(out, co_await sum_to(depth)); });
    EXPECT_EQ(*out.recv(), static_cast<long>(depth) * (depth + 1) / 2);
  });
}

TEST(Task, ExceptionOfAChildIsRethrownAtTheAwaitAfterAPark) {
  go::run([] {
    auto ch = go::make_chan<int>();
    auto out = go::make_chan<std::string>(1);
    go::spawn([ch, out]() -> go::task<void> {
      std::string what = "no exception";  // co_await is not allowed in a handler
      try {
        co_await throws_after_a_park(ch);
      } catch (const std::runtime_error& e) {
        what = e.what();
      }
      co_await go::async_send(out, what);
    });
    ch.send(1);
    EXPECT_EQ(*out.recv(), "child failed");
  });
}

TEST(Task, SpawnKeepsTheCallableAndArgumentsAliveAcrossParks) {
  go::run([] {
    auto ch = go::make_chan<int>();
    auto out = go::make_chan<std::string>(1);
    auto text = std::make_shared<std::string>("kept alive");
    go::spawn(
        [text, ch, out](std::string suffix) -> go::task<void> {
          co_await go::async_recv(ch);  // the spawner's copies are gone by now
          co_await go::async_send(out, *text + suffix);
        },
        std::string(" and the argument"));
    text.reset();
    ch.send(0);
    EXPECT_EQ(*out.recv(), "kept alive and the argument");
  });
}

TEST(Task, PingPongBetweenTwoStacklessGoroutines) {
  go::run([] {
    auto ping = go::make_chan<int>(), pong = go::make_chan<int>();
    auto done = go::make_chan<int>(1);
    constexpr int rounds = 10'000;
    go::spawn([ping, pong]() -> go::task<void> {
      while (auto v = co_await go::async_recv(ping)) co_await go::async_send(pong, *v + 1);
    });
    go::spawn([ping, pong, done]() -> go::task<void> {
      int v = 0;
      for (int i = 0; i < rounds; ++i) {
        co_await go::async_send(ping, v);
        v = *co_await go::async_recv(pong);
      }
      ping.close();
      co_await go::async_send(done, v);
    });
    EXPECT_EQ(*done.recv(), rounds);
  });
}

TEST(Task, CloseWakesParkedReceiversAndSendersThrow) {
  go::run([] {
    auto ch = go::make_chan<int>();
    auto results = go::make_chan<std::string>(8);
    constexpr int receivers = 3, senders = 3;
    for (int i = 0; i < receivers; ++i) {
      go::spawn([ch, results]() -> go::task<void> {
        auto v = co_await go::async_recv(ch);
        co_await go::async_send(results, std::string(v ? "value" : "closed"));
      });
    }
    dump_once_it_shows("[chan receive]");
    go::sleep(20ms);  // all of them
    ch.close();
    for (int i = 0; i < senders; ++i) {
      go::spawn([ch, results]() -> go::task<void> {
        std::string what = "sent";
        try {
          co_await go::async_send(ch, 1);
        } catch (const go::chan_error& e) {
          what = e.what();
        }
        co_await go::async_send(results, what);
      });
    }
    std::map<std::string, int> got;
    for (int i = 0; i < receivers + senders; ++i) ++got[*results.recv()];
    EXPECT_EQ(got["closed"], receivers);
    EXPECT_EQ(got["send on closed channel"], senders);
  });
}

TEST(Task, ParkedSenderIsWokenByCloseAndThrows) {
  go::run([] {
    auto ch = go::make_chan<int>();
    auto result = go::make_chan<std::string>(1);
    go::spawn([ch, result]() -> go::task<void> {
      std::string what = "sent";
      try {
        co_await go::async_send(ch, 1);  // parks: nobody receives
      } catch (const go::chan_error& e) {
        what = e.what();
      }
      co_await go::async_send(result, what);
    });
    dump_once_it_shows("[chan send]");
    ch.close();
    EXPECT_EQ(*result.recv(), "send on closed channel");
  });
}

TEST(Task, RangeReceivesBufferedValuesThenStopsAtClose) {
  go::run([] {
    auto ch = go::make_chan<int>(5);
    auto sum = go::make_chan<int>(1);
    go::spawn([ch, sum]() -> go::task<void> {
      int s = 0, n = 0;
      while (auto v = co_await go::async_recv(ch)) {
        s = s * 10 + *v;
        ++n;
      }
      co_await go::async_send(sum, s * 10 + n);
    });
    for (int i = 1; i <= 4; ++i) ch.send(i);
    ch.close();
    EXPECT_EQ(*sum.recv(), 12344);  // in order, then the count
  });
}

TEST(Task, SignalChannelOfVoid) {
  go::run([] {
    auto sig = go::make_chan<void>();
    auto out = go::make_chan<int>(1);
    go::spawn([sig, out]() -> go::task<void> {
      int n = 0;
      while (co_await go::async_recv(sig)) ++n;
      co_await go::async_send(out, n);
    });
    go::spawn([sig]() -> go::task<void> {
      for (int i = 0; i < 3; ++i) co_await go::async_send(sig);
      sig.close();
    });
    EXPECT_EQ(*out.recv(), 3);
  });
}

TEST(Task, SleepWaitsAtLeastItsDuration) {
  go::run([] {
    auto out = go::make_chan<std::int64_t>(1);
    go::spawn([out]() -> go::task<void> {
      auto start = std::chrono::steady_clock::now();
      co_await go::async_sleep(30ms);
      co_await go::async_sleep(0ms);  // goes on at once
      auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
      co_await go::async_send(out, static_cast<std::int64_t>(waited.count()));
    });
    EXPECT_GE(*out.recv(), 30);
  });
}

TEST(Task, ManySleepersAllWake) {
  go::run([] {
    constexpr int n = gocxx_test::sanitized ? 1000 : 20'000;
    auto done = go::make_chan<int>(n);
    for (int i = 0; i < n; ++i) {
      go::spawn([done, i]() -> go::task<void> {
        co_await go::async_sleep(std::chrono::microseconds(i % 100));
        co_await go::async_send(done, 1);
      });
    }
    int got = 0;
    for (int i = 0; i < n; ++i) got += *done.recv();
    EXPECT_EQ(got, n);
  });
}

// A goroutine waits at one co_await at a time, so the waiter or timer it parks with is in its
// record, not in each awaiter (an awaiter is its channel or duration, its value and its call
// site: a frame does not grow by 48 bytes for every co_await in it). One goroutine parks in
// turn in a receive, a sleep, a send and a wait_group wait, many times over: the one waiting
// place in its record serves each in turn.
TEST(Task, EachKindOfWaitInTurnReusesTheRecordsWaitingPlace) {
  constexpr std::size_t word = sizeof(void*), site = sizeof(go::detail::call_site);
  static_assert(sizeof(go::send_awaiter<std::int64_t>) <= 3 * word + site);
  static_assert(sizeof(go::recv_awaiter<std::int64_t>) <= 3 * word + site);
  static_assert(sizeof(go::sleep_awaiter) <= word + site);
  static_assert(sizeof(go::wait_group_awaiter) <= word + site);
  go::run([] {
    constexpr int rounds = gocxx_test::sanitized ? 200 : 2000;
    // Round i's value and its own wait_group, which the goroutine waits on after its send.
    struct job {
      int v;
      go::wait_group* wg;
    };
    auto wgs = std::make_unique<go::wait_group[]>(rounds + 1);
    auto in = go::make_chan<job>();
    auto out = go::make_chan<int>();
    auto finished = go::make_chan<long>(1);
    go::spawn([in, out, finished]() -> go::task<void> {
      long sum = 0;
      while (auto j = co_await go::async_recv(in)) {
        co_await go::async_sleep(std::chrono::microseconds(j->v % 3));
        co_await go::async_send(out, j->v * 2);
        co_await go::async_wait(*j->wg);
        sum += j->v;
      }
      co_await go::async_send(finished, sum);
    });
    long want = 0;
    for (int i = 1; i <= rounds; ++i) {
      wgs[i].add(1);
      in.send(job{i, &wgs[i]});
      go::sleep(std::chrono::microseconds(i % 2));  // the goroutine is parked in the sleep or the send
      EXPECT_EQ(*out.recv(), 2 * i);
      go::sleep(std::chrono::microseconds(i % 2));  // and then in the wait
      wgs[i].done();
      want += i;
    }
    in.close();
    EXPECT_EQ(*finished.recv(), want);
  });
}

TEST(Task, YieldLetsTheOthersRun) {
  gocxx_test::max_procs_scope one(1);
  go::run([] {
    std::atomic<int> turns{0};
    auto done = go::make_chan<int>(2);
    auto runner = [&turns, done](int me) -> go::task<void> {
      int alternations = 0, last = -1;
      for (int i = 0; i < 100; ++i) {
        int t = turns.fetch_add(1);
        if (last >= 0 && t != last + 1) ++alternations;
        last = t;
        co_await go::async_yield();
      }
      (void)me;
      co_await go::async_send(done, alternations);
    };
    go::spawn(runner, 0);
    go::spawn(runner, 1);
    int alternations = *done.recv() + *done.recv();
    EXPECT_GT(alternations, 50);  // without the yield each runs its 100 turns in one go
  });
}

// The stackless side of every pair: stackful goroutine, stackless goroutine, plain thread.
enum class side { stackful, stackless, thread };

std::string side_name(side s) {
  switch (s) {
    case side::stackful: return "Stackful";
    case side::stackless: return "Stackless";
    case side::thread: return "Thread";
  }
  return "?";
}

// Starts body as the given kind; body_task is the same behaviour as a task.
template <class Blocking, class Awaiting>
void start(side s, Blocking body, Awaiting body_task, std::vector<std::thread>& threads) {
  switch (s) {
    case side::stackful: go::spawn(body); break;
    case side::stackless: go::spawn(body_task); break;
    case side::thread: threads.emplace_back(body); break;
  }
}

class TaskChanMix : public testing::TestWithParam<std::tuple<side, side, int>> {};

// Every value sent arrives exactly once, each sender's values in order (FIFO per sender),
// whoever parks on which side; close then ends every receiver's range.
TEST_P(TaskChanMix, EveryValueArrivesOnceInOrderPerSender) {
  auto [send_side, recv_side, capacity] = GetParam();
  constexpr int senders = 3, receivers = 3;
  constexpr int per_sender = gocxx_test::sanitized ? 300 : 3000;
  auto ch = go::make_chan<int>(static_cast<std::size_t>(capacity));
  auto results = go::make_chan<std::vector<int>>(receivers);
  auto senders_done = go::make_chan<void>(senders);
  std::vector<std::thread> threads;
  for (int s = 0; s < senders; ++s) {
    auto blocking = [ch, senders_done, s] {
      for (int i = 0; i < per_sender; ++i) ch.send(s * per_sender + i);
      senders_done.send();
    };
    auto awaiting = [ch, senders_done, s]() -> go::task<void> {
      for (int i = 0; i < per_sender; ++i) co_await go::async_send(ch, s * per_sender + i);
      co_await go::async_send(senders_done);
    };
    start(send_side, blocking, awaiting, threads);
  }
  for (int r = 0; r < receivers; ++r) {
    auto blocking = [ch, results] {
      std::vector<int> got;
      for (int v : ch) got.push_back(v);
      results.send(std::move(got));
    };
    auto awaiting = [ch, results]() -> go::task<void> {
      std::vector<int> got;
      while (auto v = co_await go::async_recv(ch)) got.push_back(*v);
      co_await go::async_send(results, std::move(got));
    };
    start(recv_side, blocking, awaiting, threads);
  }
  for (int s = 0; s < senders; ++s) senders_done.recv();
  ch.close();
  std::vector<int> seen(senders * per_sender, 0);
  for (int r = 0; r < receivers; ++r) {
    std::vector<int> got = *results.recv();
    std::vector<int> last(senders, -1);
    for (int v : got) {
      ++seen[static_cast<std::size_t>(v)];
      int s = v / per_sender;
      EXPECT_GT(v, last[static_cast<std::size_t>(s)]) << "sender " << s << " out of order";
      last[static_cast<std::size_t>(s)] = v;
    }
  }
  for (int v = 0; v < senders * per_sender; ++v) ASSERT_EQ(seen[static_cast<std::size_t>(v)], 1) << "value " << v;
  for (auto& t : threads) t.join();
}

INSTANTIATE_TEST_SUITE_P(Sides, TaskChanMix,
                         testing::Combine(testing::Values(side::stackful, side::stackless, side::thread),
                                          testing::Values(side::stackful, side::stackless, side::thread),
                                          testing::Values(0, 1, 16)),
                         [](const testing::TestParamInfo<TaskChanMix::ParamType>& info) {
                           return side_name(std::get<0>(info.param)) + "To" + side_name(std::get<1>(info.param)) +
                                  "Cap" + std::to_string(std::get<2>(info.param));
                         });

// A send happens before the matching receive completes (Go's memory model), whoever waits.
TEST_P(TaskChanMix, SendHappensBeforeTheReceiveCompletes) {
  auto [send_side, recv_side, capacity] = GetParam();
  constexpr int rounds = gocxx_test::sanitized ? 200 : 2000;
  auto ch = go::make_chan<int*>(static_cast<std::size_t>(capacity));
  auto done = go::make_chan<long>(1);
  std::vector<std::thread> threads;
  auto blocking_send = [ch] {
    for (int i = 0; i < rounds; ++i) ch.send(new int(i));  // plain writes, published by the send
    ch.close();
  };
  auto awaiting_send = [ch]() -> go::task<void> {
    for (int i = 0; i < rounds; ++i) co_await go::async_send(ch, new int(i));
    ch.close();
  };
  auto blocking_recv = [ch, done] {
    long sum = 0;
    for (int* p : ch) {
      sum += *p;
      delete p;
    }
    done.send(sum);
  };
  auto awaiting_recv = [ch, done]() -> go::task<void> {
    long sum = 0;
    while (auto p = co_await go::async_recv(ch)) {
      sum += **p;
      delete *p;
    }
    co_await go::async_send(done, sum);
  };
  start(recv_side, blocking_recv, awaiting_recv, threads);
  start(send_side, blocking_send, awaiting_send, threads);
  EXPECT_EQ(*done.recv(), static_cast<long>(rounds) * (rounds - 1) / 2);
  for (auto& t : threads) t.join();
}

TEST(TaskSelect, ReceivesFromTheCaseThatBecomesReady) {
  go::run([] {
    auto a = go::make_chan<int>(), b = go::make_chan<int>();
    auto out = go::make_chan<int>(1);
    go::spawn([a, b, out]() -> go::task<void> {
      int got = 0;
      int index = co_await go::async_select(go::recv_case(a, [&](std::optional<int> v) { got = 100 + *v; }),
                                            go::recv_case(b, [&](std::optional<int> v) { got = 200 + *v; }));
      co_await go::async_send(out, got * 10 + index);
    });
    dump_once_it_shows("[select]");
    b.send(7);
    EXPECT_EQ(*out.recv(), 2071);
    EXPECT_FALSE(a.try_send(1)) << "the losing case's waiter is still queued";
  });
}

TEST(TaskSelect, DefaultRunsWhenNoCaseIsReady) {
  go::run([] {
    auto a = go::make_chan<int>();
    auto out = go::make_chan<int>(1);
    go::spawn([a, out]() -> go::task<void> {
      int r = co_await go::async_select(go::recv_case(a), go::default_case());
      co_await go::async_send(out, r);
    });
    EXPECT_EQ(*out.recv(), 1);
    EXPECT_FALSE(a.try_send(1));  // nothing was left queued
  });
}

TEST(TaskSelect, TimeoutCaseOnAfter) {
  go::run([] {
    auto never = go::make_chan<int>();
    auto out = go::make_chan<std::string>(1);
    go::spawn([never, out]() -> go::task<void> {
      std::string r =
          co_await go::async_select(go::recv_case(never, [](std::optional<int>) { return std::string("value"); }),
                                    go::recv_case(go::after(20ms), [] { return std::string("timeout"); }));
      co_await go::async_send(out, r);
    });
    EXPECT_EQ(*out.recv(), "timeout");
  });
}

TEST(TaskSelect, SendCaseHandsTheValueToAParkedReceiver) {
  go::run([] {
    auto a = go::make_chan<int>(), b = go::make_chan<int>();
    auto out = go::make_chan<int>(1);
    go::spawn([a, b, out]() -> go::task<void> {
      int r = co_await go::async_select(go::send_case(a, 5), go::recv_case(b));
      co_await go::async_send(out, r);
    });
    EXPECT_EQ(*a.recv(), 5);
    EXPECT_EQ(*out.recv(), 0);
  });
}

TEST(TaskSelect, SendCaseOnAClosedChannelThrows) {
  go::run([] {
    auto a = go::make_chan<int>(), never = go::make_chan<int>();
    auto out = go::make_chan<std::string>(1);
    go::spawn([a, never, out]() -> go::task<void> {
      std::string what = "no exception";
      try {
        co_await go::async_select(go::send_case(a, 1), go::recv_case(never));  // parks, then a closes
      } catch (const go::chan_error& e) {
        what = e.what();
      }
      co_await go::async_send(out, what);
    });
    dump_once_it_shows("[select]");
    a.close();
    EXPECT_EQ(*out.recv(), "send on closed channel");
  });
}

TEST(TaskSelect, ContextDoneCase) {
  go::run([] {
    auto [ctx, cancel] = go::with_cancel(go::background());
    auto work = go::make_chan<int>();
    auto out = go::make_chan<bool>(1);
    go::spawn([ctx = ctx, work, out]() -> go::task<void> {
      bool cancelled = co_await go::async_select(go::recv_case(work, [](std::optional<int>) { return false; }),
                                                 go::recv_case(ctx.done(), [] { return true; }));
      co_await go::async_send(out, cancelled);
    });
    go::sleep(5ms);
    cancel();
    EXPECT_TRUE(*out.recv());
  });
}

TEST(TaskSelect, ChoosesUniformlyAmongReadyCases) {
  go::run([] {
    auto a = go::make_chan<int>(1), b = go::make_chan<int>(1);
    auto out = go::make_chan<int>(1);
    constexpr int rounds = 4000;
    go::spawn([a, b, out]() -> go::task<void> {
      int from_a = 0;
      for (int i = 0; i < rounds; ++i) {
        (void)a.try_send(1);
        (void)b.try_send(2);
        int r = co_await go::async_select(go::recv_case(a), go::recv_case(b));
        if (r == 0) ++from_a;
      }
      co_await go::async_send(out, from_a);
    });
    int from_a = *out.recv();
    EXPECT_GT(from_a, rounds * 4 / 10);
    EXPECT_LT(from_a, rounds * 6 / 10);
  });
}

// Stackful and stackless selects, and plain receivers, compete for the same channels; every
// value arrives exactly once.
TEST(TaskSelect, MixedSelectsLoseAndInventNothing) {
  constexpr int per = gocxx_test::sanitized ? 500 : 5000;
  auto a = go::make_chan<int>(), b = go::make_chan<int>(4);
  auto sums = go::make_chan<long>(8);
  auto quit = go::make_chan<void>();
  // A receive case's handler: adds the value to sum; false: not done.
  auto add_to = [](long& sum) {
    return [&sum](std::optional<int> v) {
      sum += *v;
      return false;
    };
  };
  for (int k = 0; k < 2; ++k) {
    go::spawn([a, b, sums, quit, add_to]() -> go::task<void> {
      long sum = 0;
      for (bool done = false; !done;) {
        done = co_await go::async_select(go::recv_case(a, add_to(sum)), go::recv_case(b, add_to(sum)),
                                         go::recv_case(quit, [] { return true; }));
      }
      while (auto r = b.try_recv()) sum += *r.value;  // what the buffer still holds
      co_await go::async_send(sums, sum);
    });
    go::spawn([a, b, sums, quit, add_to] {
      long sum = 0;
      for (bool done = false; !done;) {
        done = go::select(go::recv_case(a, add_to(sum)), go::recv_case(b, add_to(sum)),
                          go::recv_case(quit, [] { return true; }));
      }
      while (auto r = b.try_recv()) sum += *r.value;
      sums.send(sum);
    });
  }
  go::wait_group senders;
  senders.add(2);
  go::spawn([a, b, &senders]() -> go::task<void> {
    for (int i = 1; i <= per; ++i) co_await go::async_select(go::send_case(a, i), go::send_case(b, i));
    senders.done();
  });
  std::thread t([a, b, &senders] {
    for (int i = 1; i <= per; ++i) (i % 2 ? a : b).send(i);
    senders.done();
  });
  senders.wait();
  t.join();
  quit.close();
  long total = 0;
  for (int k = 0; k < 4; ++k) total += *sums.recv();
  EXPECT_EQ(total, 2L * per * (per + 1) / 2);
}

TEST(Task, DumpShowsTheWaitReasonAndTheCoAwaitLine) {
  go::run([] {
    auto ch = go::make_chan<int>();
    go::spawn([ch]() -> go::task<void> {
      co_await go::async_recv(ch);  // the line the dump shows
    });
    constexpr int await_line = __LINE__ - 2;
    std::string dump = dump_once_it_shows("[chan receive]");
    EXPECT_NE(dump.find("[chan receive]"), std::string::npos) << dump;
    EXPECT_NE(dump.find("task_test.cpp:" + std::to_string(await_line)), std::string::npos) << dump;
    ch.send(1);
  });
}

TEST(Task, DumpShowsASleepingStacklessGoroutine) {
  go::run([] {
    go::spawn([]() -> go::task<void> { co_await go::async_sleep(1h); });
    std::string dump = dump_once_it_shows("[sleep]");
    EXPECT_NE(dump.find("[sleep]"), std::string::npos) << dump;
  });
}

// Each awaiter keeps its co_await's position until it suspends: a dump shows every goroutine
// blocked at its own line, whichever awaiter it waits in, and so does a wait the library
// continues in a coroutine of its own (cond's wait relocking its mutex).
TEST(Task, DumpShowsTheCoAwaitLineOfEachAwaiter) {
  go::run([] {
    auto never = go::make_chan<int>(), quiet = go::make_chan<int>();
    go::mutex mu, cm;
    go::cond c(cm);
    go::wait_group wg;
    wg.add(1);
    auto finished = go::make_chan<void>(3);  // the locks and wg outlive the goroutines that use them
    mu.lock();
    std::vector<int> lines;
    go::spawn([never]() -> go::task<void> { co_await go::async_send(never, 1); });
    lines.push_back(__LINE__ - 1);
    go::spawn([quiet]() -> go::task<void> { co_await go::async_select(go::recv_case(quiet), go::recv_case(quiet)); });
    lines.push_back(__LINE__ - 1);
    go::spawn([]() -> go::task<void> { co_await go::async_sleep(1h); });
    lines.push_back(__LINE__ - 1);
    go::spawn([&mu, finished]() -> go::task<void> {
      co_await go::async_lock(mu);
      mu.unlock();
      co_await go::async_send(finished);
    });
    lines.push_back(__LINE__ - 4);
    go::spawn([&wg, finished]() -> go::task<void> {
      co_await go::async_wait(wg);
      co_await go::async_send(finished);
    });
    lines.push_back(__LINE__ - 3);
    go::spawn([&cm, &c, finished]() -> go::task<void> {
      co_await go::async_lock(cm);
      co_await go::async_wait(c);
      cm.unlock();
      co_await go::async_send(finished);
    });
    const int cond_line = __LINE__ - 4;
    // A "blocked at" line: the position, then the function (a "created by" ends at the line).
    auto at_line = [](int line) { return "task_test.cpp:" + std::to_string(line) + " in "; };
    // The dump once `pred` holds for it (5 s at most), or the last one taken.
    auto dump_once = [](auto pred) {
      std::string dump;
      for (int k = 0; k < 500; ++k) {
        std::ostringstream out;
        go::dump_goroutines(out);
        dump = out.str();
        if (pred(dump)) break;
        go::sleep(10ms);
      }
      return dump;
    };
    // The reason in the header of the goroutine whose entry holds `at`.
    auto reason_at = [](const std::string& dump, std::size_t at) {
      auto open = dump.rfind('[', dump.rfind("goroutine ", at) == std::string::npos ? 0 : at);
      return dump.substr(open, dump.find(']', open) - open + 1);
    };
    std::string dump = dump_once([&](const std::string& d) {
      for (int line : lines) {
        if (d.find(at_line(line)) == std::string::npos) return false;
      }
      return d.find(at_line(cond_line)) != std::string::npos;
    });
    for (int line : lines) EXPECT_NE(dump.find(at_line(line)), std::string::npos) << line << "\n" << dump;
    // Woken with cm held, the waiter blocks relocking it: at the line of its co_await.
    cm.lock();
    c.signal();
    dump = dump_once([&](const std::string& d) {
      auto at = d.find(at_line(cond_line));
      return at != std::string::npos && reason_at(d, at) == "[sync.Mutex.Lock]";
    });
    auto at = dump.find(at_line(cond_line));
    ASSERT_NE(at, std::string::npos) << dump;
    EXPECT_EQ(reason_at(dump, at), "[sync.Mutex.Lock]") << dump;
    cm.unlock();
    mu.unlock();
    wg.done();
    never.recv();
    quiet.close();
    for (int k = 0; k < 3; ++k) finished.recv();
  });
}

TEST(TaskDeathTest, ExceptionEscapingAGoroutineIsAPanic) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(go::run([] {
                auto done = go::make_chan<void>();
                go::spawn([]() -> go::task<void> {
                  co_await go::async_yield();
                  throw std::runtime_error("boom in a task");
                });
                done.recv();
              }),
              testing::ExitedWithCode(2), "^panic: boom in a task\n\ngoroutine [0-9]+ \\[running\\]");
}

TEST(TaskDeathTest, BlockingCallInAStacklessGoroutineIsFatal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(go::run([] {
                auto ch = go::make_chan<int>();
                auto done = go::make_chan<void>();
                go::spawn([ch]() -> go::task<void> {
                  ch.recv();  // not co_await: there is no stack to park
                  co_return;
                });
                done.recv();
              }),
              testing::ExitedWithCode(2), "fatal error: blocking call in a stackless goroutine \\(use co_await\\)");
}

TEST(TaskDeathTest, DeadlockWithStacklessGoroutinesIsReported) {
  if (!gocxx_test::deadlock_detected) GTEST_SKIP() << "other threads in the process: detection is off";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(go::run([] {
                auto ch = go::make_chan<int>();
                go::spawn([ch]() -> go::task<void> { co_await go::async_recv(ch); });
                ch.recv();  // nobody will ever send
              }),
              testing::ExitedWithCode(2),
              "fatal error: all goroutines are asleep - deadlock!\n\ngoroutine [0-9]+ \\[chan receive\\]");
}
