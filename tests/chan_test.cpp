// Channels: the guarantees of include/go/chan.hpp that Go's own tests (go_chan_*_test.cpp)
// do not cover because they are about the C++ surface: handles, types, errors, threads.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "go/go.hpp"
#include "test_scale.hpp"

using namespace std::chrono_literals;
using gocxx_test::scaled;

namespace {

// Direction views: what does not compile is checked here.
template <class C>
concept can_recv = requires(const C& c) { c.recv(); };
template <class C>
concept can_send = requires(const C& c) { c.send(1); };
template <class C>
concept can_close = requires(const C& c) { c.close(); };
static_assert(can_send<go::chan<int>> && can_recv<go::chan<int>> && can_close<go::chan<int>>);
static_assert(can_send<go::send_chan<int>> && !can_recv<go::send_chan<int>> && can_close<go::send_chan<int>>);
static_assert(can_recv<go::recv_chan<int>> && !can_send<go::recv_chan<int>> && !can_close<go::recv_chan<int>>);
static_assert(std::is_convertible_v<go::chan<int>, go::send_chan<int>>);
static_assert(std::is_convertible_v<go::chan<int>, go::recv_chan<int>>);
static_assert(!std::is_convertible_v<go::recv_chan<int>, go::chan<int>>);
static_assert(!std::is_convertible_v<go::send_chan<int>, go::recv_chan<int>>);

// Signal channels store nothing.
struct empty_signal {};
static_assert(go::detail::elem_ops_for<go::detail::void_elem>::ops.size == 0);
static_assert(go::detail::elem_ops_for<empty_signal>::ops.size == 0);
static_assert(go::detail::elem_ops_for<int>::ops.size == sizeof(int));

// Completes within a generous bound? Used to check "blocks" (it must not) vs "completes".
template <class F>
bool completes_within(std::chrono::milliseconds d, F f) {
  auto done = go::make_chan<void>(1);
  go::spawn([f, done]() mutable {
    f();
    done.send();
  });
  return go::select(go::recv_case(done), go::recv_case(go::after(d))) == 0;
}

struct no_default {
  explicit no_default(int v) : v(v) {}
  int v;
};

}  // namespace

TEST(Chan, HandlesAreSharedAndComparable) {
  auto a = go::make_chan<int>(1);
  go::chan<int> b = a;
  go::chan<int> nil;
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a == go::make_chan<int>(1));
  EXPECT_TRUE(nil == nullptr);
  EXPECT_FALSE(a == nullptr);
  b.send(5);
  EXPECT_EQ(a.len(), 1u);
  EXPECT_EQ(*a.recv(), 5);
  go::recv_chan<int> r = a;
  go::send_chan<int> s = a;
  s.send(6);
  EXPECT_EQ(*r.recv(), 6);
  EXPECT_EQ(a.cap(), 1u);
  EXPECT_EQ(nil.cap(), 0u);
  EXPECT_EQ(nil.len(), 0u);
}

TEST(Chan, MoveOnlyAndNonDefaultConstructibleValues) {
  go::run([] {
    auto ch = go::make_chan<std::unique_ptr<std::string>>();
    go::spawn([ch] {
      for (int i = 0; i < 3; ++i) ch << std::make_unique<std::string>(std::string("v").append(std::to_string(i)));
      ch.close();
    });
    std::vector<std::string> got;
    for (auto& p : ch) got.push_back(*p);  // move-only: take the value by reference
    EXPECT_EQ(got, (std::vector<std::string>{"v0", "v1", "v2"}));

    auto nd = go::make_chan<no_default>(2);
    nd.send(no_default(7));
    nd.send(no_default(8));
    EXPECT_EQ(nd.recv()->v, 7);
    EXPECT_EQ(nd.recv()->v, 8);
  });
}

TEST(Chan, BufferedValuesAreDestroyedWithTheChannel) {
  auto counter = std::make_shared<int>(0);
  {
    auto ch = go::make_chan<std::shared_ptr<int>>(4);
    ch.send(counter);
    ch.send(counter);
    EXPECT_EQ(counter.use_count(), 3);
  }
  EXPECT_EQ(counter.use_count(), 1);
}

TEST(Chan, VoidChannelSignals) {
  go::run([] {
    auto done = go::make_chan<void>();
    int v = 0;
    go::spawn([done, &v] {
      v = 1;
      done.send();
    });
    EXPECT_TRUE(done.recv());
    EXPECT_EQ(v, 1);
    auto b = go::make_chan<void>(2);
    EXPECT_TRUE(b.try_send());
    EXPECT_TRUE(b.try_send());
    EXPECT_FALSE(b.try_send());
    EXPECT_EQ(b.len(), 2u);
    b.close();
    EXPECT_EQ(b.try_recv(), go::chan_status::ok);
    EXPECT_TRUE(b.recv());
    EXPECT_FALSE(b.recv());
    EXPECT_EQ(b.try_recv(), go::chan_status::closed);
  });
}

TEST(Chan, MisuseGivesGosErrors) {
  auto ch = go::make_chan<int>(1);
  ch.close();
  try {
    ch.send(1);
    FAIL() << "send on closed channel did not throw";
  } catch (const go::chan_error& e) {
    EXPECT_STREQ(e.what(), "send on closed channel");
  }
  try {
    ch.close();
    FAIL();
  } catch (const go::chan_error& e) {
    EXPECT_STREQ(e.what(), "close of closed channel");
  }
  go::chan<int> nil;
  try {
    nil.close();
    FAIL();
  } catch (const go::chan_error& e) {
    EXPECT_STREQ(e.what(), "close of nil channel");
  }
  EXPECT_THROW(ch.try_send(1), go::chan_error);
}

TEST(Chan, NilChannelBlocksForever) {
  go::run([] {
    go::chan<int> nil;
    EXPECT_FALSE(completes_within(50ms, [nil] { nil.send(1); }));
    EXPECT_FALSE(completes_within(50ms, [nil] { nil.recv(); }));
    EXPECT_FALSE(nil.try_send(1));
    EXPECT_EQ(nil.try_recv().status, go::chan_status::would_block);
  });
}

TEST(Chan, TryRecvTellsWouldBlockFromClosed) {
  auto ch = go::make_chan<int>(2);
  EXPECT_EQ(ch.try_recv().status, go::chan_status::would_block);
  EXPECT_TRUE(ch.try_send(1));
  ch.close();
  auto r = ch.try_recv();
  EXPECT_EQ(r.status, go::chan_status::ok);
  EXPECT_EQ(r.value, 1);
  EXPECT_EQ(ch.try_recv().status, go::chan_status::closed);
  auto unbuffered = go::make_chan<int>();
  EXPECT_FALSE(unbuffered.try_send(1));  // nobody receiving
}

TEST(Chan, TrySendMovesOnlyWhenSent) {
  auto ch = go::make_chan<std::unique_ptr<int>>(1);
  auto a = std::make_unique<int>(1), b = std::make_unique<int>(2);
  EXPECT_TRUE(ch.try_send(std::move(a)));
  EXPECT_EQ(a, nullptr);
  EXPECT_FALSE(ch.try_send(std::move(b)));
  ASSERT_NE(b, nullptr);  // would block: b kept its value
  EXPECT_EQ(*b, 2);
}

TEST(Chan, BufferedValuesSurviveCloseInOrder) {
  auto ch = go::make_chan<int>(5);
  for (int i = 0; i < 5; ++i) ch << i;
  ch.close();
  std::vector<int> got;
  for (int v : ch) got.push_back(v);
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_FALSE(ch.recv().has_value());
}

TEST(Chan, CloseWakesEveryBlockedReceiverAndSender) {
  go::run([] {
    auto ch = go::make_chan<int>();
    go::wait_group wg;
    std::atomic<int> empty{0}, threw{0};
    for (int i = 0; i < 10; ++i)
      wg.go([&, ch] {
        if (!ch.recv()) empty++;
      });
    auto full = go::make_chan<int>(1);
    full << 0;
    for (int i = 0; i < 10; ++i) {
      wg.go([&, full] {
        try {
          full.send(1);
        } catch (const go::chan_error&) {
          threw++;
        }
      });
    }
    go::sleep(20ms);  // let them block (not required for correctness)
    ch.close();
    full.close();
    wg.wait();
    EXPECT_EQ(empty.load(), 10);
    EXPECT_EQ(threw.load(), 10);
    EXPECT_EQ(*full.recv(), 0);  // the buffered value survived
  });
}

TEST(Chan, CloseWakesThousandsOfReceiversAndSelectsWhileOthersRace) {
  // close wakes receivers in batches of 128 with the lock free between them: every one
  // of them and every select waiting on the channel still sees the close exactly once,
  // selects won meanwhile by another channel lose nothing, and receives that start during
  // the close see it closed.
  go::run([] {
    auto ch = go::make_chan<int>(), other = go::make_chan<int>();
    constexpr int n = 1000, selects = 300;
    std::atomic<int> receivers_closed{0}, selects_closed{0}, selects_other{0}, late_closed{0};
    go::wait_group wg;
    for (int i = 0; i < n; ++i)
      wg.go([&, ch] {
        if (!ch.recv()) receivers_closed++;
      });
    for (int i = 0; i < selects; ++i) {
      wg.go([&, ch, other] {
        go::select(go::recv_case(ch,
                                 [&](std::optional<int> v) {
                                   if (!v) selects_closed++;
                                 }),
                   go::recv_case(other, [&](std::optional<int> v) {
                     if (v) selects_other++;
                   }));
      });
    }
    go::sleep(20ms);  // let them block (not required for correctness)
    std::atomic<int> sent{0};
    go::wait_group racers;
    racers.go([&, other] {
      for (int i = 0; i < selects; ++i) sent += other.try_send(i) ? 1 : 0;
    });
    for (int i = 0; i < 50; ++i)
      racers.go([&, ch] {
        if (!ch.recv()) late_closed++;
      });
    ch.close();
    racers.wait();
    wg.wait();
    EXPECT_EQ(receivers_closed.load(), n);
    EXPECT_EQ(late_closed.load(), 50);
    EXPECT_EQ(selects_other.load(), sent.load());
    EXPECT_EQ(selects_closed.load() + selects_other.load(), selects);
  });
}

// Each goroutine blocks before the next is started (synctest::wait: a yield does not
// promise that the goroutine it lets run gets as far as blocking).
TEST(Chan, BlockedSendersAndReceiversAreServedFifo) {
  go::synctest::run([] {
    auto ch = go::make_chan<int>();
    auto order = go::make_chan<int>(10);
    // Receivers block in order 0..9.
    for (int i = 0; i < 10; ++i) {
      go::spawn([ch, order, i] {
        ch.recv();
        order << i;
      });
      go::synctest::wait();
    }
    for (int i = 0; i < 10; ++i) {
      ch << i;
      EXPECT_EQ(*order.recv(), i);
    }
    // Senders block in order 0..9; a receiver gets their values in that order.
    for (int i = 0; i < 10; ++i) {
      go::spawn([ch, i] { ch << i; });
      go::synctest::wait();
    }
    for (int i = 0; i < 10; ++i) EXPECT_EQ(*ch.recv(), i);
  });
}

TEST(Chan, ThreadsAndGoroutinesMix) {
  auto ping = go::make_chan<int>(), pong = go::make_chan<int>();
  std::thread t([ping, pong] {
    for (auto v = ping.recv(); v; v = ping.recv()) pong << *v + 1;
    pong.close();
  });
  go::run([ping, pong] {
    int x = 0;
    for (int i = 0; i < 1000; ++i) {
      ping << x;
      x = *pong.recv();
    }
    EXPECT_EQ(x, 1000);
    ping.close();
    EXPECT_FALSE(pong.recv());
  });
  t.join();
  // Two plain threads, no goroutines at all.
  auto ch = go::make_chan<int>();
  std::thread producer([ch] {
    for (int i = 1; i <= 100; ++i) ch << i;
    ch.close();
  });
  int sum = 0;
  for (int v : ch) sum += v;
  producer.join();
  EXPECT_EQ(sum, 5050);
}

TEST(Chan, SendHappensBeforeReceiveCompletes) {
  // ThreadSanitizer checks the edge: the plain writes must be visible after the receive.
  go::run([] {
    for (int cap : {0, 1, 16}) {
      auto ch = go::make_chan<std::vector<int>*>(static_cast<size_t>(cap));
      go::wait_group wg;
      wg.go([ch] {
        for (int i = 0; i < 200; ++i) {
          auto* v = new std::vector<int>(100, i);  // written before the send
          ch << v;
        }
        ch.close();
      });
      long sum = 0;
      for (auto* v : ch) {
        sum += (*v)[50];
        delete v;
      }
      wg.wait();
      EXPECT_EQ(sum, 199 * 200 / 2);
    }
  });
}

TEST(Chan, ReceiveHappensBeforeSendCompletesWithCapacity) {
  // A buffered channel of capacity C as a counting semaphore: the k-th receive happens
  // before the (k+C)-th send completes, so at most C holders of `in_use` at once, and
  // their plain writes to `shared` never race (TSan would report it).
  go::run([] {
    constexpr int C = 3;
    auto sem = go::make_chan<int>(C);
    std::atomic<int> in_use{0};
    int shared[C] = {};
    std::atomic<int> max_seen{0};
    go::wait_group wg;
    for (int i = 0; i < 50; ++i) {
      wg.go([&, sem] {
        sem << 0;
        int n = ++in_use;
        int m = max_seen.load();
        while (n > m && !max_seen.compare_exchange_weak(m, n)) {
        }
        go::yield();
        --in_use;
        sem.recv();
      });
    }
    wg.wait();
    EXPECT_LE(max_seen.load(), C);
    (void)shared;
  });
}

TEST(Chan, CloseHappensBeforeReceiveThatSeesIt) {
  go::run([] {
    for (int i = 0; i < 100; ++i) {
      auto ch = go::make_chan<int>();
      int* data = new int(0);
      go::spawn([ch, data] {
        *data = 42;  // before the close
        ch.close();
      });
      EXPECT_FALSE(ch.recv());
      EXPECT_EQ(*data, 42);
      delete data;
    }
  });
}

TEST(ChanStress, ExactAccountingWithCloseRaces) {
  // Many producers and consumers over buffered and unbuffered channels; the channel is
  // closed by the last producer while consumers race to drain it. Every value sent is
  // received exactly once, and the run ends.
  go::run([] {
    for (size_t cap : {size_t{0}, size_t{1}, size_t{64}}) {
      constexpr int producers = 8, consumers = 8;
      const int per = static_cast<int>(scaled(20000));
      auto ch = go::make_chan<int>(cap);
      std::vector<std::atomic<int>> seen(static_cast<size_t>(producers * per));
      for (auto& s : seen) s = 0;
      std::atomic<int> left{producers};
      go::wait_group wg;
      for (int p = 0; p < producers; ++p) {
        wg.go([&, p, ch] {
          for (int i = 0; i < per; ++i) ch << p * per + i;
          if (--left == 0) ch.close();
        });
      }
      for (int c = 0; c < consumers; ++c) {
        wg.go([&, ch] {
          for (int v : ch) seen[static_cast<size_t>(v)]++;
        });
      }
      wg.wait();
      for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i].load(), 1) << "value " << i << " cap " << cap;
    }
  });
}

TEST(ChanStress, ThreadsAndGoroutinesExactAccounting) {
  // Two thread producers, two goroutine producers, two thread consumers and two goroutine
  // consumers share one channel; a wait group (usable from both) tells when to close it.
  constexpr int per = 5000;
  auto ch = go::make_chan<int>(8);
  std::atomic<long> sum{0};
  go::wait_group producers, consumers;
  producers.add(4);
  consumers.add(4);
  auto produce = [ch, &producers] {
    for (int i = 1; i <= per; ++i) ch << i;
    producers.done();
  };
  auto consume = [ch, &sum, &consumers] {
    for (int v : ch) sum += v;
    consumers.done();
  };
  std::vector<std::thread> threads;
  threads.emplace_back(produce);
  threads.emplace_back(produce);
  threads.emplace_back(consume);
  threads.emplace_back(consume);
  go::spawn(produce);
  go::spawn(produce);
  go::spawn(consume);
  go::spawn(consume);
  producers.wait();
  ch.close();
  consumers.wait();
  for (auto& t : threads) t.join();
  EXPECT_EQ(sum.load(), 4L * per * (per + 1) / 2);
}
