// select: the guarantees of include/go/select.hpp beyond Go's own select tests.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <new>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "go/go.hpp"
#include "test_scale.hpp"

using namespace std::chrono_literals;
using gocxx_test::scaled;

// Direction: a receive case on a send-only channel, or a send case on a receive-only one,
// does not compile (Go's perm.go).
template <class C>
concept can_recv_case = requires(const C& c) { go::recv_case(c); };
template <class C>
concept can_send_case = requires(const C& c) { go::send_case(c, 1); };
static_assert(can_recv_case<go::chan<int>> && can_recv_case<go::recv_chan<int>> && !can_recv_case<go::send_chan<int>>);
static_assert(can_send_case<go::chan<int>> && can_send_case<go::send_chan<int>> && !can_send_case<go::recv_chan<int>>);

TEST(Select, ReturnsTheIndexOfTheCaseThatRanAndRunsItsHandler) {
  auto a = go::make_chan<int>(1), b = go::make_chan<int>(1);
  b << 7;
  int got = 0;
  int i = go::select(go::recv_case(a, [&](std::optional<int> v) { got = *v + 100; }),
                     go::recv_case(b, [&](std::optional<int> v) { got = *v; }));
  EXPECT_EQ(i, 1);
  EXPECT_EQ(got, 7);
  bool defaulted = false;
  EXPECT_EQ(go::select(go::recv_case(a), go::default_case([&] { defaulted = true; })), 1);
  EXPECT_TRUE(defaulted);
  EXPECT_EQ(go::select(go::default_case(), go::send_case(a, 3)), 1);
  EXPECT_EQ(*a.recv(), 3);
}

// Handlers that return a value: select returns the chosen handler's value (a handler that
// returns nothing gives a value-initialized one), so a case can end the loop around the select
// as Go's `return` or `break` inside a case does. With no such handler it returns the index.
template <class... Cases>
concept can_select = requires(Cases&&... cases) { go::select(std::forward<Cases>(cases)...); };
inline constexpr auto gives_bool = [] { return true; };
inline constexpr auto gives_int = [] { return 1; };
inline constexpr auto gives_nothing = [] {};
inline constexpr auto gives_no_default = [] { return std::ref(std::cout); };
using recv_with_bool = decltype(go::recv_case(go::chan<int>(), gives_bool));
using recv_with_int = decltype(go::recv_case(go::chan<int>(), gives_int));
using recv_with_nothing = decltype(go::recv_case(go::chan<int>(), gives_nothing));
using recv_with_no_default = decltype(go::recv_case(go::chan<int>(), gives_no_default));
static_assert(std::is_same_v<decltype(go::select(std::declval<recv_with_nothing>(), go::default_case())), int>);
static_assert(std::is_same_v<decltype(go::select(std::declval<recv_with_bool>(), go::default_case())), bool>);
static_assert(
    std::is_same_v<decltype(go::select(std::declval<recv_with_nothing>(), std::declval<recv_with_bool>())), bool>);
static_assert(can_select<recv_with_bool, recv_with_bool>);
static_assert(!can_select<recv_with_bool, recv_with_int>);  // the handlers disagree
static_assert(can_select<recv_with_no_default, recv_with_no_default>);
static_assert(!can_select<recv_with_no_default, recv_with_nothing>);  // no value for the second

TEST(Select, HandlersThatReturnAValueEndALoop) {
  auto in = go::make_chan<int>(3);
  auto done = go::make_chan<void>(1);
  in << 1 << 2 << 3;
  int sum = 0;
  int rounds = 0;
  for (;;) {
    ++rounds;
    bool quit = go::select(go::recv_case(in, [&](std::optional<int> v) { sum += v.value_or(0); }),
                           go::recv_case(done, [] { return true; }), go::default_case([&] { done.send(); }));
    if (quit) break;
  }
  EXPECT_EQ(sum, 6);
  EXPECT_EQ(rounds, 5);  // three values, the default that signals done, done
}

TEST(Select, TheChosenHandlersValueIsReturned) {
  auto a = go::make_chan<int>(1), b = go::make_chan<int>(1);
  b << 2;
  auto named = [](const char* name) { return [name](std::optional<int>) { return std::string(name); }; };
  auto by_default = [] { return std::string("default"); };
  EXPECT_EQ(go::select(go::recv_case(a, named("a")), go::recv_case(b, named("b"))), "b");
  // The send case, which has no handler, then the receive case without one, which takes the 3.
  EXPECT_EQ(go::select(go::recv_case(a, named("a")), go::send_case(b, 3), go::default_case(by_default)), "");
  EXPECT_EQ(go::select(go::recv_case(a, named("a")), go::recv_case(b), go::default_case(by_default)), "");
  EXPECT_EQ(go::select(go::recv_case(a, named("a")), go::default_case(by_default)), "default");
}

TEST(Select, ClosedChannelReceiveGivesEmptyOptional) {
  auto a = go::make_chan<int>();
  a.close();
  bool empty = false;
  EXPECT_EQ(go::select(go::recv_case(a, [&](std::optional<int> v) { empty = !v; })), 0);
  EXPECT_TRUE(empty);
}

TEST(Select, SendCaseOnClosedChannelThrows) {
  auto a = go::make_chan<int>(1);
  a.close();
  EXPECT_THROW(go::select(go::send_case(a, 1)), go::chan_error);
  // Blocked in select when the close happens: the send case wins and throws.
  go::run([] {
    auto b = go::make_chan<int>();
    go::spawn([b] {
      go::sleep(10ms);
      b.close();
    });
    EXPECT_THROW(go::select(go::send_case(b, 1), go::recv_case(go::make_chan<int>())), go::chan_error);
  });
}

TEST(Select, NilCasesAreNeverReady) {
  go::chan<int> nil;
  auto ready = go::make_chan<int>(1);
  ready << 1;
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(go::select(go::recv_case(nil), go::send_case(nil, 1), go::default_case()), 2);
  }
  EXPECT_EQ(go::select(go::recv_case(nil), go::recv_case(ready)), 1);
}

TEST(Select, NoCasesBlocksForever) {
  go::run([] {
    auto done = go::make_chan<void>(1);
    go::spawn([done] {
      go::select();
      done.send();
    });
    EXPECT_EQ(go::select(go::recv_case(done), go::recv_case(go::after(50ms))), 1);
    auto done2 = go::make_chan<void>(1);
    go::chan<int> nil;
    go::spawn([done2, nil] {
      go::select(go::recv_case(nil));  // only nil cases: also forever
      done2.send();
    });
    EXPECT_EQ(go::select(go::recv_case(done2), go::recv_case(go::after(50ms))), 1);
  });
}

TEST(Select, UniformRandomAmongReadyCases) {
  constexpr int n = 4, rounds = 40000;
  std::array<go::chan<int>, n> chans;
  for (auto& c : chans) {
    c = go::make_chan<int>(1);
  }
  std::array<int, n> hits{};
  for (int r = 0; r < rounds; ++r) {
    for (auto& c : chans) c.try_send(1);
    int i =
        go::select(go::recv_case(chans[0]), go::recv_case(chans[1]), go::recv_case(chans[2]), go::recv_case(chans[3]));
    hits[static_cast<size_t>(i)]++;
  }
  // Expected 10000 each; 5 sigma is about 470.
  for (int h : hits) EXPECT_NEAR(h, rounds / n, 600);
}

TEST(Select, UniformRandomAmongTheCasesThatAreReady) {
  // Cases 0, 1 and 3 are ready, case 2 never is; 0 and 2 have one slot (under the lock), 1
  // and 3 have eight (lock-free rings). Each ready case must win a third of the rounds: a
  // select that took the first ready case, or the first after a random starting case,
  // would favour some.
  constexpr int rounds = 30000;
  auto c0 = go::make_chan<int>(1), c1 = go::make_chan<int>(8), c2 = go::make_chan<int>(1), c3 = go::make_chan<int>(8);
  std::array<int, 4> hits{};
  for (int r = 0; r < rounds; ++r) {
    c0.try_send(1);
    c1.try_send(1);
    c3.try_send(1);
    int i = go::select(go::recv_case(c0), go::recv_case(c1), go::recv_case(c2), go::recv_case(c3));
    hits[static_cast<size_t>(i)]++;
  }
  // Expected 10000 each; 5 sigma is about 410.
  EXPECT_NEAR(hits[0], rounds / 3, 600);
  EXPECT_NEAR(hits[1], rounds / 3, 600);
  EXPECT_EQ(hits[2], 0);
  EXPECT_NEAR(hits[3], rounds / 3, 600);
}

TEST(Select, SameChannelForSendAndReceive) {
  go::run([] {
    auto c = go::make_chan<int>();
    std::atomic<int> sent{0}, received{0};
    go::wait_group wg;
    for (int g = 0; g < 2; ++g) {
      wg.go([&, c] {
        for (int i = 0; i < 1000; ++i) {
          go::select(go::send_case(c, 1, [&] { sent++; }), go::recv_case(c, [&](std::optional<int>) { received++; }));
        }
      });
    }
    wg.wait();
    EXPECT_EQ(sent.load(), 1000);
    EXPECT_EQ(received.load(), 1000);
  });
}

TEST(Select, LoserNeverConsumesAValue) {
  // Receivers select over two channels; senders send plainly on both. Each value is
  // received exactly once: a select that loses on one channel leaves that channel alone.
  go::run([] {
    const int per = static_cast<int>(scaled(20000));
    auto a = go::make_chan<int>(), b = go::make_chan<int>();
    std::atomic<long> sum{0};
    std::atomic<int> count{0};
    go::wait_group senders, receivers;
    senders.go([&, a] {
      for (int i = 1; i <= per; ++i) a << i;
    });
    senders.go([&, b] {
      for (int i = 1; i <= per; ++i) b << i;
    });
    for (int r = 0; r < 4; ++r) {
      receivers.go([&, a, b] {
        for (;;) {
          bool closed = false;
          auto take = [&](std::optional<int> v) {
            if (!v) {
              closed = true;
              return;
            }
            sum += *v;
            count++;
          };
          go::select(go::recv_case(a, take), go::recv_case(b, take));
          if (closed) return;
        }
      });
    }
    senders.wait();
    a.close();
    b.close();
    receivers.wait();
    EXPECT_EQ(count.load(), 2 * per);
    EXPECT_EQ(sum.load(), 2L * per * (per + 1) / 2);
  });
}

TEST(Select, LosingSendCaseKeepsItsValue) {
  auto a = go::make_chan<std::unique_ptr<int>>(1);
  auto full = go::make_chan<std::unique_ptr<int>>(1);
  full << std::make_unique<int>(0);
  // The send on `full` cannot happen; the default runs; the value stays in the case.
  auto c = go::send_case(full, std::make_unique<int>(5));
  EXPECT_EQ(go::select(std::move(c), go::default_case()), 1);
  (void)a;
}

TEST(Select, TimeoutWithAfter) {
  go::run([] {
    auto never = go::make_chan<int>();
    auto start = std::chrono::steady_clock::now();
    bool timed_out = false;
    go::select(go::recv_case(never), go::recv_case(go::after(20ms), [&](auto) { timed_out = true; }));
    EXPECT_TRUE(timed_out);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
  });
}

TEST(Select, DynamicSelectCases) {
  go::run([] {
    constexpr int n = 20;  // more than the fixed-size fast path
    std::vector<go::chan<int>> ins;
    for (int i = 0; i < n; ++i) ins.push_back(go::make_chan<int>());
    for (int i = 0; i < n; ++i) {
      go::spawn([c = ins[static_cast<size_t>(i)], i] {
        c << i;
        c.close();
      });
    }
    // select_recv: fan-in until every input is closed.
    int open = n;
    long sum = 0;
    std::vector<go::chan<int>> live = ins;
    while (open > 0) {
      auto [i, v] = go::select_recv<int>(live);
      if (v) {
        sum += *v;
      } else {
        live[i] = go::chan<int>();  // closed: make it nil, never ready again
        --open;
      }
    }
    EXPECT_EQ(sum, n * (n - 1) / 2);

    go::select_cases sel;
    auto a = go::make_chan<int>(1), b = go::make_chan<int>(1);
    int got = -1;
    sel.recv(a, [&](std::optional<int> v) { got = *v; });
    sel.send(b, 9);
    sel.default_case([&] { got = -2; });
    EXPECT_EQ(sel.select(), 1u);  // only the send is ready
    EXPECT_EQ(*b.recv(), 9);
    a << 4;
    go::select_cases sel2;
    sel2.recv(a, [&](std::optional<int> v) { got = *v; });
    EXPECT_EQ(sel2.select(), 0u);
    EXPECT_EQ(got, 4);
    go::select_cases sel3;
    sel3.recv(a).default_case([&] { got = -2; });
    EXPECT_EQ(sel3.select(), 1u);
    EXPECT_EQ(got, -2);
  });
}

TEST(Select, ThreadsBlockInSelect) {
  auto a = go::make_chan<int>(), b = go::make_chan<int>();
  std::thread t([a, b] {
    int got = 0;
    for (int i = 0; i < 100; ++i)
      go::select(go::recv_case(a, [&](auto v) { got += *v; }), go::recv_case(b, [&](auto v) { got += *v; }));
    a.send(got);
  });
  go::run([a, b] {
    for (int i = 0; i < 50; ++i) {
      a << 1;
      b << 2;
    }
    EXPECT_EQ(*a.recv(), 150);
  });
  t.join();
}

TEST(SelectStress, ExactAccountingWithTimeoutsAndCloseRaces) {
  // Producers select on send with a timeout (retrying), consumers select on receive with a
  // timeout; a closer races with the last values. Nothing is lost or duplicated.
  go::run([] {
    const int per = static_cast<int>(scaled(5000));
    constexpr int producers = 4, consumers = 4;
    auto a = go::make_chan<int>(), b = go::make_chan<int>(4);
    std::vector<std::atomic<int>> seen(static_cast<size_t>(producers * per));
    for (auto& s : seen) s = 0;
    go::wait_group prod, cons;
    for (int p = 0; p < producers; ++p) {
      prod.go([&, p, a, b] {
        for (int i = 0; i < per; ++i) {
          int v = p * per + i;
          while (go::select(go::send_case(a, v), go::send_case(b, v), go::recv_case(go::after(1ms))) == 2) {
          }
        }
      });
    }
    for (int c = 0; c < consumers; ++c) {
      cons.go([&, a, b] {
        int closed = 0;
        go::chan<int> ca = a, cb = b;
        while (closed < 2) {
          auto on = [&](go::chan<int>& which) {
            return [&](std::optional<int> v) {
              if (!v) {
                which = go::chan<int>();
                closed++;
              } else {
                seen[static_cast<size_t>(*v)]++;
              }
            };
          };
          go::select(go::recv_case(ca, on(ca)), go::recv_case(cb, on(cb)), go::recv_case(go::after(1ms)));
        }
      });
    }
    prod.wait();
    a.close();
    b.close();
    cons.wait();
    for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i].load(), 1) << i;
  });
}

// --- Waiters a select leaves queued (lazy withdrawal, src/runtime/select.cpp) ---
// A blocking select of up to four channel cases leaves its losing waiters queued and re-arms
// them in place at the next select on the same channels. Each must behave as if withdrawn.

namespace {

// lose_on_a parks a select with a send case on `a` and a receive case on `b` and returns
// once a value on b won; the waiter on a stays queued.
void lose_on_a(go::chan<int> a, go::chan<int> b, go::chan<int> recv_a) {
  go::spawn([b] { b << 1; });
  int got = 0;
  int i =
      go::select(go::send_case(a, 5), go::recv_case(recv_a), go::recv_case(b, [&](std::optional<int> v) { got = *v; }));
  EXPECT_EQ(i, 2);
  EXPECT_EQ(got, 1);
}

void left_waiters_take_nothing() {
  auto a = go::make_chan<int>(), b = go::make_chan<int>(), recv_a = go::make_chan<int>();
  lose_on_a(a, b, recv_a);
  // The send waiter left on a offers nothing, and the receive waiter on recv_a takes nothing.
  EXPECT_EQ(a.try_recv().status, go::chan_status::would_block);
  EXPECT_FALSE(recv_a.try_send(8));
  EXPECT_EQ(recv_a.len(), 0u);
  // A sender that blocks on recv_a meanwhile is served by a real receiver, not by the waiter.
  go::wait_group wg;
  wg.add(1);
  go::spawn([recv_a, &wg] {
    recv_a << 9;
    wg.done();
  });
  go::sleep(5ms);
  EXPECT_EQ(*recv_a.recv(), 9);
  wg.wait();
}

}  // namespace

TEST(SelectLazy, WaitersLeftByALostSelectTakeNothing) {
  go::run(left_waiters_take_nothing);
  left_waiters_take_nothing();  // a plain thread keeps its waiters too
}

TEST(SelectLazy, LeftWaiterDoesNotWinALaterSelectOnOtherChannels) {
  go::run([] {
    auto a = go::make_chan<int>(), b = go::make_chan<int>(), c = go::make_chan<int>(), d = go::make_chan<int>();
    go::spawn([b] { b << 1; });
    EXPECT_EQ(go::select(go::recv_case(a), go::recv_case(b)), 1);  // leaves a waiter on a
    auto tried = go::make_chan<bool>(1);
    go::spawn([a, c, tried] {
      go::sleep(5ms);          // the select below is parked on c and d by now
      tried << a.try_send(7);  // must find no receiver: the waiter on a is not this select's
      c << 3;
    });
    int got = -1;
    int i = go::select(go::recv_case(c, [&](std::optional<int> v) { got = *v; }), go::recv_case(d));
    EXPECT_EQ(i, 0);
    EXPECT_EQ(got, 3);
    EXPECT_FALSE(*tried.recv());
  });
}

namespace go::detail {
void select_generation_set_for_test(std::uint32_t gen) noexcept;  // src/runtime/select.cpp
}

// A select's generation is 24 bits. At the wrap every waiter left queued is withdrawn, or
// the one left by generation 1 would match the word of the next generation 1.
TEST(SelectLazy, LeftWaiterDoesNotWinAcrossTheGenerationWrap) {
  go::run([] {
    go::wait_group wg;
    wg.add(1);
    go::spawn([&wg] {  // a fresh goroutine: its first select is generation 1
      auto a = go::make_chan<int>(), b = go::make_chan<int>(), c = go::make_chan<int>(), d = go::make_chan<int>();
      go::spawn([b] {
        go::sleep(2ms);
        b << 1;
      });
      EXPECT_EQ(go::select(go::recv_case(a), go::recv_case(b)), 1);  // leaves a waiter on a
      go::detail::select_generation_set_for_test((1u << 24) - 1);    // the next select wraps to 1
      auto tried = go::make_chan<bool>(1);
      go::spawn([a, c, tried] {
        go::sleep(5ms);
        tried << a.try_send(7);
        c << 3;
      });
      int got = -1;
      EXPECT_EQ(go::select(go::recv_case(c, [&](std::optional<int> v) { got = *v; }), go::recv_case(d)), 0);
      EXPECT_EQ(got, 3);
      EXPECT_FALSE(*tried.recv());
      wg.done();
    });
    wg.wait();
  });
}

TEST(SelectLazy, ReArmedCasesWinWithTheirOwnValues) {
  go::run([] {
    auto a = go::make_chan<int>(), b = go::make_chan<int>();
    constexpr int rounds = 3000;
    go::spawn([a, b] {
      for (int r = 0; r < rounds; ++r) (r % 3 == 0 ? a : b) << r;
    });
    // After the first, each select finds the waiter the last one left on the losing channel
    // still queued and re-arms it.
    for (int r = 0; r < rounds; ++r) {
      int v = -1;
      int i = go::select(go::recv_case(a, [&](std::optional<int> x) { v = *x; }),
                         go::recv_case(b, [&](std::optional<int> x) { v = *x; }));
      ASSERT_EQ(v, r);
      ASSERT_EQ(i, r % 3 == 0 ? 0 : 1);
    }
  });
}

TEST(SelectLazy, CloseWakesAReArmedCase) {
  go::run([] {
    auto a = go::make_chan<int>(), b = go::make_chan<int>();
    lose_on_a(go::make_chan<int>(), b, a);  // leaves a receive waiter on a
    go::spawn([a] {
      go::sleep(5ms);
      a.close();
    });
    bool ok = true;
    EXPECT_EQ(go::select(go::recv_case(a, [&](std::optional<int> v) { ok = v.has_value(); }), go::recv_case(b)), 0);
    EXPECT_FALSE(ok);
    auto s = go::make_chan<int>();
    lose_on_a(s, b, go::make_chan<int>());  // leaves a send waiter on s
    go::spawn([s] {
      go::sleep(5ms);
      s.close();
    });
    EXPECT_THROW(go::select(go::send_case(s, 1), go::recv_case(b)), go::chan_error);
  });
}

namespace {

std::atomic<int> live_counted{0};

struct counted {
  int v = 0;
  explicit counted(int x) : v(x) { live_counted.fetch_add(1); }
  counted(counted&& o) noexcept : v(o.v) { live_counted.fetch_add(1); }
  counted& operator=(counted&&) = default;
  ~counted() { live_counted.fetch_sub(1); }
};

// select_on_full_channels parks n selects, each with a send case on a full buffered channel
// of its own (then dropped by everyone but the select's waiter) and a receive case that wins.
void select_on_full_channels(int n) {
  auto b = go::make_chan<int>();
  for (int k = 0; k < n; ++k) {
    go::spawn([b, k] {
      go::sleep(2ms);  // so that the select parks, and leaves its waiter on full
      b << k;
    });
    auto full = go::make_chan<counted>(1);
    full << counted(k);
    int got = -1;
    EXPECT_EQ(
        go::select(go::send_case(full, counted(100 + k)), go::recv_case(b, [&](std::optional<int> v) { got = *v; })),
        1);
    EXPECT_EQ(got, k);
  }
}

}  // namespace

TEST(SelectLazy, ChannelsOfLeftWaitersAreReleasedWhenTheGoroutineExits) {
  go::run([] {
    live_counted = 0;
    go::wait_group wg;
    wg.add(1);
    go::spawn([&wg] {
      select_on_full_channels(1);
      wg.done();
    });
    wg.wait();
    go::sleep(5ms);  // the goroutine's exit follows its wg.done()
    EXPECT_EQ(live_counted.load(), 0);
    // More channels than a goroutine keeps waiters for: the oldest are withdrawn on the way.
    wg.add(1);
    go::spawn([&wg] {
      select_on_full_channels(10);
      EXPECT_LE(live_counted.load(), 4);
      wg.done();
    });
    wg.wait();
    go::sleep(5ms);
    EXPECT_EQ(live_counted.load(), 0);
  });
}

TEST(SelectLazy, ChannelsOfLeftWaitersAreReleasedWhenTheThreadExits) {
  live_counted = 0;
  go::run([] {
    std::thread t([] {
      select_on_full_channels(3);
      EXPECT_LE(live_counted.load(), 3);  // each channel's value, kept by the waiter left on it
    });
    t.join();
    EXPECT_EQ(live_counted.load(), 0);
  });
}
