// Go's runtime channel tests (go/src/runtime/chan_test.go, Go 1.19), ported behaviour by
// behaviour. Sizes are Go's full ones where they run fast, smaller (between Go's -short and
// full sizes) where noted, so the file runs in about a second on two cores; divided by 20
// under the sanitizers (test_scale.hpp; TestChan: capacities 0..19, Go's -short).
//
// Not ported:
// - TestChanSendInterface: about interface values (escape analysis of `any`); no C++ analogue.
// - TestShrinkStackDuringBlockedSend, TestNoShrinkStackWhileParking: Go moves and shrinks
//   goroutine stacks during GC; gocxx stacks never move.
// - The benchmarks.
// TestSelectStackAdjust is kept without its GC part: selects with duplicate cases whose
// receive slots are on the goroutine's stack.

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "go/chan.hpp"
#include "go/runtime.hpp"
#include "go/select.hpp"
#include "go/sync.hpp"
#include "go/time.hpp"
#include "test_scale.hpp"

using namespace std::chrono_literals;

namespace {

using gocxx_test::max_procs_scope;

using gocxx_test::settle_goroutines;  // tests/test_scale.hpp

// Waits for a signal or the close of c with a deadline, so that a
// deadlock fails the test instead of hanging it.
template <class C>
bool signal_within(const C& c, std::chrono::milliseconds limit) {
  return go::select(go::recv_case(c), go::recv_case(go::after(limit))) == 0;
}

// ---------------------------------------------------------------------------------------
// TestChan: for every capacity 0..99 (Go: 0..199, -short 0..19), blocking and non-blocking
// receive and send, receive from a closed channel, close waking a receiver, FIFO order with
// one and with several senders and receivers, len and cap.

TEST(GoChan, Chan) {
  max_procs_scope procs(4);
  static constexpr int N = gocxx_test::sanitized ? 20 : 100;
  go::run([] {
    settle_goroutines settle;
    for (int chanCap = 0; chanCap < N; chanCap++) {
      const auto cap = static_cast<std::size_t>(chanCap);
      {
        // Ensure that receive from empty chan blocks.
        auto c = go::make_chan<int>(cap);
        auto recv1 = std::make_shared<std::atomic<bool>>(false);
        auto recv2 = std::make_shared<std::atomic<bool>>(false);
        go::spawn([c, recv1] {
          (void)*c.recv();
          recv1->store(true);
        });
        go::spawn([c, recv2] {
          auto v = c.recv();
          (void)v.has_value();
          recv2->store(true);
        });
        go::sleep(1ms);
        ASSERT_FALSE(recv1->load() || recv2->load()) << "chan[" << chanCap << "]: receive from empty chan";
        // Ensure that non-blocking receive does not block.
        ASSERT_EQ(go::select(go::recv_case(c), go::default_case()), 1)
            << "chan[" << chanCap << "]: receive from empty chan";
        ASSERT_EQ(go::select(go::recv_case(c, [](std::optional<int>) {}), go::default_case()), 1)
            << "chan[" << chanCap << "]: receive from empty chan";
        c.send(0);
        c.send(0);
      }

      {
        // Ensure that send to full chan blocks.
        auto c = go::make_chan<int>(cap);
        for (int i = 0; i < chanCap; i++) c.send(i);
        auto sent = std::make_shared<std::atomic<std::uint32_t>>(0);
        go::spawn([c, sent] {
          c.send(0);
          sent->store(1);
        });
        go::sleep(1ms);
        ASSERT_EQ(sent->load(), 0u) << "chan[" << chanCap << "]: send to full chan";
        // Ensure that non-blocking send does not block.
        ASSERT_EQ(go::select(go::send_case(c, 0), go::default_case()), 1)
            << "chan[" << chanCap << "]: send to full chan";
        c.recv();
      }

      {
        // Ensure that we receive 0 from closed chan.
        auto c = go::make_chan<int>(cap);
        for (int i = 0; i < chanCap; i++) c.send(i);
        c.close();
        for (int i = 0; i < chanCap; i++) {
          auto v = c.recv();
          ASSERT_TRUE(v.has_value()) << "chan[" << chanCap << "]: value " << i << " lost by close";
          ASSERT_EQ(*v, i) << "chan[" << chanCap << "]";
        }
        ASSERT_EQ(c.recv().value_or(0), 0) << "chan[" << chanCap << "]";
        auto v = c.recv();
        ASSERT_FALSE(v.has_value()) << "chan[" << chanCap << "]: received " << *v << "/true, expected 0/false";
      }

      {
        // Ensure that close unblocks receive.
        auto c = go::make_chan<int>(cap);
        auto done = go::make_chan<bool>();
        go::spawn([c, done] {
          auto v = c.recv();
          done.send(!v.has_value());
        });
        go::sleep(1ms);
        c.close();
        ASSERT_TRUE(done.recv().value_or(false)) << "chan[" << chanCap << "]: received non zero from closed chan";
      }

      {
        // Send 100 integers, ensure that we receive them non-corrupted in FIFO order.
        auto c = go::make_chan<int>(cap);
        go::spawn([c] {
          for (int i = 0; i < 100; i++) c.send(i);
        });
        for (int i = 0; i < 100; i++) {
          int v = c.recv().value_or(-1);
          ASSERT_EQ(v, i) << "chan[" << chanCap << "]";
        }

        // Same, but using recv2.
        go::spawn([c] {
          for (int i = 0; i < 100; i++) c.send(i);
        });
        for (int i = 0; i < 100; i++) {
          auto v = c.recv();
          ASSERT_TRUE(v.has_value()) << "chan[" << chanCap << "]: receive failed, expected " << i;
          ASSERT_EQ(*v, i) << "chan[" << chanCap << "]";
        }

        // Send 1000 integers in 4 goroutines, ensure that we receive what we send.
        static constexpr int P = 4;
        static constexpr int L = 1000;
        for (int p = 0; p < P; p++) {
          go::spawn([c] {
            for (int i = 0; i < L; i++) c.send(i);
          });
        }
        auto done = go::make_chan<std::vector<int>>();
        for (int p = 0; p < P; p++) {
          go::spawn([c, done] {
            std::vector<int> recv(L);
            for (int i = 0; i < L; i++) {
              int v = c.recv().value_or(-1);
              if (v < 0 || v >= L) {
                ADD_FAILURE() << "received corrupt value " << v;
                continue;
              }
              recv[static_cast<std::size_t>(v)]++;
            }
            done.send(std::move(recv));
          });
        }
        std::vector<int> recv(L);
        for (int p = 0; p < P; p++) {
          auto part = done.recv();
          ASSERT_TRUE(part.has_value());
          for (int k = 0; k < L; k++) recv[static_cast<std::size_t>(k)] += (*part)[static_cast<std::size_t>(k)];
        }
        for (int k = 0; k < L; k++) {
          ASSERT_EQ(recv[static_cast<std::size_t>(k)], P)
              << "chan[" << chanCap << "]: value " << k << " received the wrong number of times";
        }
      }

      {
        // Test len/cap.
        auto c = go::make_chan<int>(cap);
        ASSERT_EQ(c.len(), 0u) << "chan[" << chanCap << "]: bad len";
        ASSERT_EQ(c.cap(), cap) << "chan[" << chanCap << "]: bad cap";
        for (int i = 0; i < chanCap; i++) c.send(i);
        ASSERT_EQ(c.len(), cap) << "chan[" << chanCap << "]: bad len";
        ASSERT_EQ(c.cap(), cap) << "chan[" << chanCap << "]: bad cap";
      }
    }
  });
}

// ---------------------------------------------------------------------------------------
// TestNonblockRecvRace: a non-blocking receive racing with close must see the channel ready
// (its value, or closed), never take the default case. (Go: 10000, -short 100.)

TEST(GoChan, NonblockRecvRace) {
  static constexpr int n = static_cast<int>(gocxx_test::scaled(10000));
  go::run([] {
    settle_goroutines settle;
    auto failures = std::make_shared<std::atomic<int>>(0);
    go::wait_group wg;
    for (int i = 0; i < n; i++) {
      auto c = go::make_chan<int>(1);
      c.send(1);
      wg.go([c, failures] {
        if (go::select(go::recv_case(c), go::default_case()) == 1) failures->fetch_add(1);
      });
      c.close();
      c.recv();
      if (failures->load() != 0) break;
    }
    wg.wait();
    EXPECT_EQ(failures->load(), 0) << "chan is not ready";
  });
}

// ---------------------------------------------------------------------------------------
// TestNonblockSelectRace: select acts on the state of the channels at one moment, not over
// a smeared window. From the time the goroutine is created, at least one of c1 and c2 is
// ready, so its non-blocking select must never take the default case.
// (Sanitized builds: 1000.)

static constexpr int kNonblockSelectRaceN = gocxx_test::sanitized ? 1000 : 100000;  // Go: 100000, -short 1000

TEST(GoChan, NonblockSelectRace) {
  go::run([] {
    settle_goroutines settle;
    auto done = go::make_chan<bool>(1);
    for (int i = 0; i < kNonblockSelectRaceN; i++) {
      auto c1 = go::make_chan<int>(1);
      auto c2 = go::make_chan<int>(1);
      c1.send(1);
      go::spawn([c1, c2, done] {
        if (go::select(go::recv_case(c1), go::recv_case(c2), go::default_case()) == 2) {
          done.send(false);
          return;
        }
        done.send(true);
      });
      c2.send(1);
      go::select(go::recv_case(c1), go::default_case());
      ASSERT_TRUE(done.recv().value_or(false)) << "no chan is ready (iteration " << i << ")";
    }
  });
}

// Same as NonblockSelectRace, but close(c2) replaces c2 <- 1.
TEST(GoChan, NonblockSelectRace2) {
  go::run([] {
    settle_goroutines settle;
    auto done = go::make_chan<bool>(1);
    for (int i = 0; i < kNonblockSelectRaceN; i++) {
      auto c1 = go::make_chan<int>(1);
      auto c2 = go::make_chan<int>();
      c1.send(1);
      go::spawn([c1, c2, done] {
        if (go::select(go::recv_case(c1), go::recv_case(c2), go::default_case()) == 2) {
          done.send(false);
          return;
        }
        done.send(true);
      });
      c2.close();
      go::select(go::recv_case(c1), go::default_case());
      ASSERT_TRUE(done.recv().value_or(false)) << "no chan is ready (iteration " << i << ")";
    }
  });
}

// ---------------------------------------------------------------------------------------
// TestSelfSelect: send and receive on the same channel in one select neither crashes nor
// deadlocks, and on an unbuffered channel a goroutine never receives its own value.

TEST(GoChan, SelfSelect) {
  max_procs_scope procs(2);
  go::run([] {
    settle_goroutines settle;
    for (int chanCap : {0, 10}) {
      go::wait_group wg;
      auto self_receives = std::make_shared<std::atomic<int>>(0);
      auto c = go::make_chan<int>(static_cast<std::size_t>(chanCap));
      for (int p = 0; p < 2; p++) {
        wg.go([c, p, chanCap, self_receives] {
          auto check = [&](std::optional<int> v) {
            if (chanCap == 0 && v.value_or(-1) == p) self_receives->fetch_add(1);
          };
          for (int i = 0; i < 1000; i++) {
            if (p == 0 || i % 2 == 0) {
              go::select(go::send_case(c, p), go::recv_case(c, check));
            } else {
              go::select(go::recv_case(c, check), go::send_case(c, p));
            }
            if (self_receives->load() != 0) return;
          }
        });
      }
      wg.wait();
      EXPECT_EQ(self_receives->load(), 0) << "self receive (cap " << chanCap << ")";
    }
  });
}

// ---------------------------------------------------------------------------------------
// TestSelectStress: 4 goroutines send N values on each of 4 channels (two unbuffered, two
// buffered), 4 receive N values from each, one sends N values on each in a single select and
// one receives N values from each in a single select, disabling a channel's case (nil) once
// its N are done. All of that interacts chaotically but must neither deadlock nor lose or
// invent a value. (Here N = 50000; Go: 100000, -short 10000. GOMAXPROCS 10 as in Go.)

TEST(GoChan, SelectStress) {
  max_procs_scope procs(10);
  static constexpr int N = static_cast<int>(gocxx_test::scaled(50000));
  go::run([] {
    settle_goroutines settle;
    std::array<go::chan<int>, 4> c = {go::make_chan<int>(), go::make_chan<int>(), go::make_chan<int>(2),
                                      go::make_chan<int>(3)};
    auto wgp = std::make_shared<go::wait_group>();  // outlives main if the deadlock check fails
    go::wait_group& wg = *wgp;
    auto received = std::make_shared<std::array<std::atomic<long>, 4>>();
    for (int k = 0; k < 4; k++) {
      auto ch = c[static_cast<std::size_t>(k)];
      wg.go([ch] {
        for (int i = 0; i < N; i++) ch.send(1);
      });
      wg.go([ch, received, k] {
        long sum = 0;
        for (int i = 0; i < N; i++) sum += ch.recv().value_or(0);
        (*received)[static_cast<std::size_t>(k)] += sum;
      });
    }
    wg.go([c] {
      std::array<int, 4> n{};
      auto c1 = c;
      for (int i = 0; i < 4 * N; i++) {
        auto sent = [&](std::size_t k) {
          return [&n, &c1, k] {
            if (++n[k] == N) c1[k] = nullptr;
          };
        };
        go::select(go::send_case(c1[3], 1, sent(3)), go::send_case(c1[2], 1, sent(2)), go::send_case(c1[0], 1, sent(0)),
                   go::send_case(c1[1], 1, sent(1)));
      }
      for (int k = 0; k < 4; k++) EXPECT_EQ(n[static_cast<std::size_t>(k)], N);
    });
    wg.go([c, received] {
      std::array<int, 4> n{};
      auto c1 = c;
      for (int i = 0; i < 4 * N; i++) {
        auto got = [&](std::size_t k) {
          return [&n, &c1, k, received](std::optional<int> v) {
            (*received)[k] += v.value_or(0);
            if (++n[k] == N) c1[k] = nullptr;
          };
        };
        go::select(go::recv_case(c1[0], got(0)), go::recv_case(c1[1], got(1)), go::recv_case(c1[2], got(2)),
                   go::recv_case(c1[3], got(3)));
      }
      for (int k = 0; k < 4; k++) EXPECT_EQ(n[static_cast<std::size_t>(k)], N);
    });
    auto finished = go::make_chan<void>();
    go::spawn([wgp, finished] {
      wgp->wait();
      finished.close();
    });
    ASSERT_TRUE(signal_within(finished, 60s)) << "deadlock";
    for (int k = 0; k < 4; k++) {
      EXPECT_EQ((*received)[static_cast<std::size_t>(k)].load(), 2L * N) << "channel " << k;
    }
  });
}

// ---------------------------------------------------------------------------------------
// TestSelectFairness: with two cases always ready (and two never ready), select picks each
// about half the time: at a confidence level of six nines, |r - 0.5| <= 4.891676/(2*sqrt(n)).

TEST(GoChan, SelectFairness) {
  static constexpr int trials = 10000;
  go::run([] {
    settle_goroutines settle;
    auto c1 = go::make_chan<std::uint8_t>(trials + 1);
    auto c2 = go::make_chan<std::uint8_t>(trials + 1);
    for (int i = 0; i < trials + 1; i++) {
      c1.send(1);
      c2.send(2);
    }
    auto c3 = go::make_chan<std::uint8_t>();
    auto c4 = go::make_chan<std::uint8_t>();
    auto out = go::make_chan<std::uint8_t>();
    auto done = go::make_chan<std::uint8_t>();
    go::wait_group wg;
    wg.go([=] {
      for (;;) {
        std::uint8_t b = 0;
        auto take = [&](std::optional<std::uint8_t> v) { b = v.value_or(0); };
        go::select(go::recv_case(c3, take), go::recv_case(c4, take), go::recv_case(c1, take), go::recv_case(c2, take));
        if (go::select(go::send_case(out, b), go::recv_case(done)) == 1) return;
      }
    });
    int cnt1 = 0, cnt2 = 0;
    for (int i = 0; i < trials; i++) {
      int b = out.recv().value_or(0);
      if (b == 1) {
        cnt1++;
      } else if (b == 2) {
        cnt2++;
      } else {
        ADD_FAILURE() << "unexpected value " << b << " on channel";
        break;
      }
    }
    // If the select in the goroutine is fair, cnt1 and cnt2 should be about the same value.
    double r = static_cast<double>(cnt1) / trials;
    double e = std::abs(r - 0.5);
    EXPECT_LE(e, 4.891676 / (2 * std::sqrt(static_cast<double>(trials))))
        << "unfair select: in " << trials << " trials, results were " << cnt1 << ", " << cnt2;
    done.close();
    wg.wait();
  });
}

// ---------------------------------------------------------------------------------------
// TestPseudoRandomSend: a select of two sends on the same channel (values 1 and 0) picks
// both, pseudo-randomly: each value more than n/10 times out of n.

TEST(GoChan, PseudoRandomSend) {
  static constexpr int n = 100;
  go::run([] {
    settle_goroutines settle;
    for (int chanCap : {0, n}) {
      auto c = go::make_chan<int>(static_cast<std::size_t>(chanCap));
      auto l = std::make_shared<std::vector<int>>(n);
      auto unlocked = go::make_chan<void>();
      go::spawn([c, l, unlocked] {
        for (int i = 0; i < n; i++) {
          go::yield();
          (*l)[static_cast<std::size_t>(i)] = c.recv().value_or(-1);
        }
        unlocked.close();
      });
      for (int i = 0; i < n; i++) go::select(go::send_case(c, 1), go::send_case(c, 0));
      unlocked.recv();  // wait
      int n0 = 0, n1 = 0;
      for (int i : *l) {
        ASSERT_TRUE(i == 0 || i == 1) << i;
        n0 += (i + 1) % 2;
        n1 += i;
      }
      EXPECT_GT(n0, n / 10) << "Want pseudorandom, got " << n0 << " zeros and " << n1 << " ones (chan cap " << chanCap
                            << ")";
      EXPECT_GT(n1, n / 10) << "Want pseudorandom, got " << n0 << " zeros and " << n1 << " ones (chan cap " << chanCap
                            << ")";
    }
  });
}

// ---------------------------------------------------------------------------------------
// TestMultiConsumer: 23 workers ranging over one channel, a feeder that closes it, a closer
// that closes the results once the workers are done: every value arrives exactly once.

TEST(GoChan, MultiConsumer) {
  static constexpr int nwork = 23;
  static constexpr int niter = static_cast<int>(gocxx_test::scaled(271828));
  static constexpr std::array<int, 10> pn = {2, 3, 7, 11, 13, 17, 19, 23, 27, 31};
  go::run([] {
    settle_goroutines settle;
    auto q = go::make_chan<int>(nwork * 3);
    auto r = go::make_chan<int>(nwork * 3);

    // workers
    auto wg = std::make_shared<go::wait_group>();
    for (int i = 0; i < nwork; i++) {
      wg->add(1);
      go::spawn(
          [q, r, wg](int w) {
            for (int v : q) {
              // mess with the fifo-ish nature of range
              if (pn[static_cast<std::size_t>(w) % pn.size()] == v) go::yield();
              r.send(v);
            }
            wg->done();
          },
          i);
    }

    // feeder & closer
    auto expect = std::make_shared<long>(0);
    go::spawn([q, r, wg, expect] {
      for (int i = 0; i < niter; i++) {
        int v = pn[static_cast<std::size_t>(i) % pn.size()];
        *expect += v;
        q.send(v);
      }
      q.close();   // no more work
      wg->wait();  // workers done
      r.close();   // ... so there can be no more results
    });

    // consume & check
    int n = 0;
    long s = 0;
    for (int v : r) {
      n++;
      s += v;
    }
    EXPECT_EQ(n, niter);
    EXPECT_EQ(s, *expect) << "from " << niter << " iter (saw " << n << ")";
  });
}

// ---------------------------------------------------------------------------------------
// TestSelectDuplicateChannel: a goroutine may be queued on the same channel several times
// (two cases on c). When it is woken through d it must dequeue itself from c completely, or
// a later send on c would try to wake it instead of goroutine B.

TEST(GoChan, SelectDuplicateChannel) {
  go::run([] {
    settle_goroutines settle;
    auto c = go::make_chan<int>();
    auto d = go::make_chan<int>();
    auto e = go::make_chan<int>();
    auto b_got = go::make_chan<int>(1);

    // goroutine A
    go::spawn([c, d, e] {
      int k = go::select(go::recv_case(c), go::recv_case(c), go::recv_case(d));
      EXPECT_EQ(k, 2);
      e.send(9);
    });
    go::sleep(1ms);  // make sure goroutine A gets queued first on c

    // goroutine B
    go::spawn([c, b_got] { b_got.send(c.recv().value_or(-1)); });
    go::sleep(1ms);  // make sure goroutine B gets queued on c before continuing

    // wake up A, it dequeues itself from c.
    ASSERT_EQ(go::select(go::send_case(d, 7), go::recv_case(go::after(10s))), 0) << "A is not receiving on d";
    ASSERT_TRUE(signal_within(e, 10s)) << "A did not finish";  // A tells us it's done
    // wake up B: this used to fail when c's receive queue was corrupted.
    ASSERT_EQ(go::select(go::send_case(c, 8), go::recv_case(go::after(10s))), 0) << "B is not receiving on c";
    EXPECT_EQ(b_got.recv().value_or(0), 8);
  });
}

// ---------------------------------------------------------------------------------------
// TestSelectStackAdjust (without the GC): two goroutines, having used some stack, park in a
// select of four receive cases whose result slots are on their stacks; in one of them the
// cases are duplicated (c twice, d twice), in the other two are nil. close(d) must wake both
// through a d case, leaving cx, which only the c case writes, pointing at the local val.

int stack_growth_recursive(int i) {
  volatile char pad[128 * 8];
  pad[0] = static_cast<char>(i);
  if (i == 0) return pad[0];
  return stack_growth_recursive(i - 1) + pad[0];
}

TEST(GoChan, SelectStackAdjust) {
  go::run([] {
    settle_goroutines settle;
    auto c = go::make_chan<int*>();
    auto d = go::make_chan<int*>();
    auto ready1 = go::make_chan<bool>();
    auto ready2 = go::make_chan<bool>();

    auto f = [c, d](go::chan<bool> ready, bool dup) {
      // Temporarily grow the stack to 10K.
      (void)stack_growth_recursive((10 << 10) / (128 * 8));

      ready.send(true);

      int val = 42;
      int* cx = &val;

      go::chan<int*> c2;
      go::chan<int*> d2;
      if (dup) {
        c2 = c;
        d2 = d;
      }

      // Receive from d. cx won't be affected.
      int k = go::select(go::recv_case(c, [&](std::optional<int*> v) { cx = v.value_or(nullptr); }), go::recv_case(c2),
                         go::recv_case(d), go::recv_case(d2));
      EXPECT_TRUE(k == 2 || (dup && k == 3)) << "woken through case " << k;

      // Check that pointer in cx was not changed.
      if (cx != &val) {
        ADD_FAILURE() << "cx no longer points to val";
      } else if (val != 42) {
        ADD_FAILURE() << "val changed";
      } else {
        *cx = 43;
        EXPECT_EQ(val, 43) << "changing *cx failed to change val";
      }
      ready.send(true);
    };

    go::spawn(f, ready1, false);
    go::spawn(f, ready2, true);

    // Let the goroutines get into the select.
    ready1.recv();
    ready2.recv();
    go::sleep(10ms);

    // Wake selects.
    d.close();
    ASSERT_TRUE(signal_within(ready1, 10s));
    ASSERT_TRUE(signal_within(ready2, 10s));
  });
}

}  // namespace
