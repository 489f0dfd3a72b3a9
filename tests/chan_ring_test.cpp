// Buffered channels: the semantics a ring buffer implementation must keep (FIFO over many
// laps and odd capacities, exact accounting under contention, close racing with sends,
// parked senders and receivers, len/cap, select, non-blocking operations, plain threads).
// Every check is about behaviour, not internals, and none depends on timing: where a test
// needs goroutines to be parked it runs in a synctest bubble and uses synctest::wait().
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "go/go.hpp"
#include "go/synctest.hpp"
#include "test_scale.hpp"

using gocxx_test::max_procs_scope;
using gocxx_test::scaled;

namespace {

constexpr std::size_t kOddCaps[] = {1, 2, 3, 7, 64};

// ---- Element types ----

// 24 bytes, trivially copyable: every field is checked, so a torn or partial copy shows.
struct triple {
  std::uint64_t a, b, c;
};
static_assert(sizeof(triple) == 24 && std::is_trivially_copyable_v<triple>);
triple make_triple(long i) {
  auto u = static_cast<std::uint64_t>(i);
  return {u, ~u, u * 0x9E3779B97F4A7C15ull};
}
bool is_triple(long i, const triple& t) {
  triple w = make_triple(i);
  return t.a == w.a && t.b == w.b && t.c == w.c;
}

// Short (SSO) and long (heap) strings alternate.
std::string make_string(long i) {
  return i % 3 == 0 ? std::to_string(i) : "a-string-too-long-for-the-small-buffer-" + std::to_string(i);
}

// Heap objects owned by unique_ptr: live counts those not yet destroyed.
struct tracked {
  static inline std::atomic<long> live{0};
  explicit tracked(long v) : v(v) { ++live; }
  tracked(const tracked&) = delete;
  tracked& operator=(const tracked&) = delete;
  ~tracked() { --live; }
  long v;
};

// Move-only by value, non-trivial move and destructor: live counts every object (moved-from
// ones too, until destroyed), so a slot destroyed twice or never shows in live.
struct counted {
  static inline std::atomic<long> live{0};
  static constexpr std::uint64_t moved_from = ~std::uint64_t{0};
  explicit counted(std::uint64_t v) : v(v) { ++live; }
  counted(counted&& o) noexcept : v(std::exchange(o.v, moved_from)) { ++live; }
  counted(const counted&) = delete;
  counted& operator=(const counted&) = delete;
  counted& operator=(counted&&) = delete;
  ~counted() { --live; }
  std::uint64_t v;
};

struct empty_elem {};

// Over-aligned, with a non-trivial move so that the channel constructs it in its slot by
// the move constructor, which checks its own and its source's alignment.
struct alignas(64) aligned64 {
  static inline std::atomic<int> misaligned{0};
  explicit aligned64(long v) : v(v) {}
  aligned64(aligned64&& o) noexcept : v(o.v) {
    if (reinterpret_cast<std::uintptr_t>(this) % 64 != 0 || reinterpret_cast<std::uintptr_t>(&o) % 64 != 0) {
      ++misaligned;
    }
  }
  long v;
};

// Big and trivially copyable: a slot stride or offset that is off by anything shows.
struct big {
  std::array<std::uint32_t, 50> w;
};
big make_big(long i) {
  big b;
  for (std::size_t k = 0; k < b.w.size(); ++k) b.w[k] = static_cast<std::uint32_t>(i * 131 + static_cast<long>(k));
  return b;
}
bool is_big(long i, const big& b) {
  for (std::size_t k = 0; k < b.w.size(); ++k) {
    if (b.w[k] != static_cast<std::uint32_t>(i * 131 + static_cast<long>(k))) return false;
  }
  return true;
}

// ---- Helpers ----

// spsc sends make(0..n-1) from one goroutine and receives them on the caller (a goroutine),
// checking each with check(i, v) and the order; then the channel is closed and drained.
template <class T, class Make, class Check>
void spsc_fifo(std::size_t cap, long n, Make make, Check check) {
  auto ch = go::make_chan<T>(cap);
  go::wait_group wg;
  wg.go([ch, n, make] {
    for (long i = 0; i < n; ++i) ch.send(make(i));
    ch.close();
  });
  long i = 0, first_bad = -1;
  for (;;) {
    auto v = ch.recv();
    if (!v) break;
    if (first_bad < 0 && !check(i, *v)) first_bad = i;
    ++i;
  }
  wg.wait();
  EXPECT_EQ(first_bad, -1) << "cap " << cap << ": value " << first_bad << " wrong or out of order";
  EXPECT_EQ(i, n) << "cap " << cap;
  EXPECT_FALSE(ch.recv().has_value());
  EXPECT_EQ(ch.try_recv().status, go::chan_status::closed);
  EXPECT_EQ(ch.len(), 0u);
}

// advance moves a buffered channel's ring by k positions (k sends and receives), so that
// the tests that follow start at a different offset, and wrap. v is the value to send, or
// a function that makes it (for move-only types).
template <class T, class V>
void advance(const go::chan<T>& ch, long k, const V& v) {
  for (long i = 0; i < k; ++i) {
    if constexpr (std::is_invocable_v<const V&>) ch.send(v());
    else ch.send(T(v));
    ASSERT_TRUE(ch.recv().has_value());
  }
}

// Values of many producers: producer p's seq-th value.
constexpr std::uint64_t tag(std::uint64_t p, std::uint64_t seq) { return p << 32 | seq; }
constexpr std::uint64_t producer_of(std::uint64_t v) { return v >> 32; }
constexpr std::uint64_t seq_of(std::uint64_t v) { return v & 0xffffffffu; }

// fifo_checker: per consumer, values of each producer arrive in increasing sequence.
class fifo_checker {
 public:
  explicit fifo_checker(std::size_t producers) : last_(producers, -1) {}
  void see(std::uint64_t v) {
    auto p = producer_of(v);
    if (p >= last_.size()) {
      ++bad_;
      return;
    }
    auto s = static_cast<long long>(seq_of(v));
    if (s <= last_[p]) ++bad_;
    last_[p] = s;
  }
  int bad() const { return bad_; }

 private:
  std::vector<long long> last_;
  int bad_ = 0;
};

// exactly_once checks that the values received (all consumers' lists) are exactly
// tag(p, 0..sent[p]-1) for every p, each once.
void expect_exactly_once(const std::vector<std::vector<std::uint64_t>>& got, const std::vector<long>& sent,
                         const char* what) {
  std::vector<std::vector<int>> seen(sent.size());
  for (std::size_t p = 0; p < sent.size(); ++p) seen[p].assign(static_cast<std::size_t>(sent[p]), 0);
  long unknown = 0;
  for (const auto& list : got) {
    for (std::uint64_t v : list) {
      auto p = producer_of(v), s = seq_of(v);
      if (p >= sent.size() || s >= seen[p].size()) {
        ++unknown;
        continue;
      }
      ++seen[p][s];
    }
  }
  EXPECT_EQ(unknown, 0) << what << ": values received that were never sent (or whose send failed)";
  for (std::size_t p = 0; p < sent.size(); ++p) {
    long lost = 0, dup = 0;
    for (int n : seen[p]) {
      lost += n == 0;
      dup += n > 1;
    }
    EXPECT_EQ(lost, 0) << what << ": producer " << p << " values lost";
    EXPECT_EQ(dup, 0) << what << ": producer " << p << " values received twice";
  }
}

}  // namespace

// ---- 1. SPSC FIFO over odd capacities and many laps, per element type ----

TEST(ChanRing, SpscFifoInt) {
  max_procs_scope procs(2);
  go::run([] {
    for (std::size_t cap : kOddCaps) {
      spsc_fifo<int>(
          cap, scaled(100000), [](long i) { return static_cast<int>(i); }, [](long i, int v) { return v == i; });
    }
  });
}

// One- and two-byte values (chan<bool>, chan<char>): copied inline both on go::chan<T>'s
// lock-free path and under the lock (copy_small), never through a wider copy.
TEST(ChanRing, SpscFifoOneAndTwoByteValues) {
  max_procs_scope procs(2);
  go::run([] {
    for (std::size_t cap : kOddCaps) {
      spsc_fifo<unsigned char>(
          cap, scaled(20000), [](long i) { return static_cast<unsigned char>(i * 7); },
          [](long i, unsigned char v) { return v == static_cast<unsigned char>(i * 7); });
      spsc_fifo<std::uint16_t>(
          cap, scaled(20000), [](long i) { return static_cast<std::uint16_t>(i * 31); },
          [](long i, std::uint16_t v) { return v == static_cast<std::uint16_t>(i * 31); });
      spsc_fifo<bool>(
          cap, scaled(20000), [](long i) { return i % 3 == 0; }, [](long i, bool v) { return v == (i % 3 == 0); });
    }
  });
}

TEST(ChanRing, SpscFifoTrivial24ByteStruct) {
  max_procs_scope procs(2);
  go::run([] {
    for (std::size_t cap : kOddCaps) spsc_fifo<triple>(cap, scaled(100000), make_triple, is_triple);
  });
}

TEST(ChanRing, SpscFifoString) {
  max_procs_scope procs(2);
  go::run([] {
    for (std::size_t cap : kOddCaps) {
      spsc_fifo<std::string>(cap, scaled(50000), make_string,
                             [](long i, const std::string& s) { return s == make_string(i); });
    }
  });
}

TEST(ChanRing, SpscFifoUniquePtrDoesNotLeak) {
  max_procs_scope procs(2);
  go::run([] {
    for (std::size_t cap : kOddCaps) {
      spsc_fifo<std::unique_ptr<tracked>>(
          cap, scaled(50000), [](long i) { return std::make_unique<tracked>(i); },
          [](long i, const std::unique_ptr<tracked>& p) { return p && p->v == i; });
    }
  });
  EXPECT_EQ(tracked::live.load(), 0);
}

TEST(ChanRing, SpscFifoCountedMoveOnlyValueDestroysEachSlotOnce) {
  max_procs_scope procs(2);
  go::run([] {
    for (std::size_t cap : kOddCaps) {
      spsc_fifo<counted>(
          cap, scaled(50000), [](long i) { return counted(static_cast<std::uint64_t>(i)); },
          [](long i, const counted& c) { return c.v == static_cast<std::uint64_t>(i); });
    }
  });
  EXPECT_EQ(counted::live.load(), 0);
}

TEST(ChanRing, SpscFifoOverAlignedAndBigElements) {
  max_procs_scope procs(2);
  go::run([] {
    for (std::size_t cap : kOddCaps) {
      spsc_fifo<aligned64>(
          cap, scaled(20000), [](long i) { return aligned64(i); }, [](long i, const aligned64& a) { return a.v == i; });
      spsc_fifo<big>(cap, scaled(20000), make_big, is_big);
    }
  });
  EXPECT_EQ(aligned64::misaligned.load(), 0);
}

TEST(ChanRing, SpscEmptyStructAndVoidCountExactly) {
  max_procs_scope procs(2);
  go::run([] {
    const long n = scaled(100000);
    for (std::size_t cap : kOddCaps) {
      spsc_fifo<empty_elem>(
          cap, n, [](long) { return empty_elem{}; }, [](long, empty_elem) { return true; });

      auto ch = go::make_chan<void>(cap);
      go::wait_group wg;
      wg.go([ch] {
        for (long i = 0; i < n; ++i) ch.send();
        ch.close();
      });
      long got = 0;
      while (ch.recv()) ++got;
      wg.wait();
      EXPECT_EQ(got, n) << "cap " << cap;
      EXPECT_FALSE(ch.recv());
      EXPECT_EQ(ch.try_recv(), go::chan_status::closed);

      // len and cap of signal channels, quiescent, across laps.
      auto s = go::make_chan<void>(cap);
      auto e = go::make_chan<empty_elem>(cap);
      for (int lap = 0; lap < 3; ++lap) {
        for (std::size_t k = 0; k < cap; ++k) {
          EXPECT_TRUE(s.try_send());
          EXPECT_TRUE(e.try_send(empty_elem{}));
          EXPECT_EQ(s.len(), k + 1);
          EXPECT_EQ(e.len(), k + 1);
        }
        EXPECT_FALSE(s.try_send());
        EXPECT_FALSE(e.try_send(empty_elem{}));
        for (std::size_t k = cap; k > 0; --k) {
          EXPECT_EQ(s.try_recv(), go::chan_status::ok);
          EXPECT_TRUE(e.try_recv());
          EXPECT_EQ(s.len(), k - 1);
          EXPECT_EQ(e.len(), k - 1);
        }
        EXPECT_EQ(s.try_recv(), go::chan_status::would_block);
        EXPECT_EQ(e.try_recv().status, go::chan_status::would_block);
      }
      EXPECT_EQ(s.cap(), cap);
      EXPECT_EQ(e.cap(), cap);
    }
  });
}

TEST(ChanRing, SpscMixedBlockingNonBlockingAndSelectShareOneOrder) {
  // The producer alternates send, try_send (then send if it would block) and select; the
  // consumer alternates recv, try_recv (then recv) and select. A fast path and a slow path
  // that do not agree on the ring's order, or a failed try_send that still enqueued, show
  // as a wrong value.
  max_procs_scope procs(2);
  go::run([] {
    const long n = scaled(30000);
    for (std::size_t cap : kOddCaps) {
      auto ch = go::make_chan<long>(cap);
      go::chan<long> nil;
      go::wait_group wg;
      wg.go([ch, nil] {
        for (long i = 0; i < n; ++i) {
          switch (i % 3) {
            case 0: ch.send(i); break;
            case 1:
              if (!ch.try_send(i)) ch.send(i);
              break;
            default: go::select(go::send_case(ch, i), go::recv_case(nil)); break;
          }
        }
        ch.close();
      });
      long i = 0, first_bad = -1;
      for (;;) {
        std::optional<long> v;
        switch (i % 3) {
          case 0: v = ch.recv(); break;
          case 1: {
            auto r = ch.try_recv();
            v = r.status == go::chan_status::would_block ? ch.recv() : std::move(r.value);
            break;
          }
          default: go::select(go::recv_case(ch, [&](std::optional<long> x) { v = x; }), go::send_case(nil, 0L)); break;
        }
        if (!v) break;
        if (first_bad < 0 && *v != i) first_bad = i;
        ++i;
      }
      wg.wait();
      EXPECT_EQ(first_bad, -1) << "cap " << cap;
      EXPECT_EQ(i, n) << "cap " << cap;
    }
  });
}

TEST(ChanRing, BufferedValuesAtAnyRingOffsetAreDestroyedWithTheChannel) {
  // Values left in the ring when the last handle goes: each destroyed exactly once, wherever
  // the ring's head is and however it wraps.
  for (std::size_t cap : kOddCaps) {
    for (std::size_t offset : {std::size_t{0}, std::size_t{1}, cap / 2, cap - 1, cap, cap + 1, 3 * cap + 2}) {
      for (std::size_t k = 0; k <= cap; ++k) {
        {
          auto ch = go::make_chan<counted>(cap);
          advance(ch, static_cast<long>(offset), [] { return counted(0); });
          for (std::size_t i = 0; i < k; ++i) ch.send(counted(i));
          EXPECT_EQ(counted::live.load(), static_cast<long>(k));
          EXPECT_EQ(ch.len(), k);
          if (k > 0) {
            EXPECT_EQ(ch.recv()->v, 0u);  // the head is the first one sent
            EXPECT_EQ(counted::live.load(), static_cast<long>(k - 1));
          }
          if (k > 1) ch.close();  // closed or not, the rest go with the channel
        }
        ASSERT_EQ(counted::live.load(), 0) << "cap " << cap << " offset " << offset << " left " << k;
        {
          auto ch = go::make_chan<std::unique_ptr<tracked>>(cap);
          advance(ch, static_cast<long>(offset), nullptr);
          for (std::size_t i = 0; i < k; ++i) ch.send(std::make_unique<tracked>(static_cast<long>(i)));
        }
        ASSERT_EQ(tracked::live.load(), 0) << "cap " << cap << " offset " << offset << " left " << k;
      }
    }
  }
}

TEST(ChanRing, BuffersOfManyMegabytesFillDrainAndDestroyTheirValues) {
  // Slot arrays from 2 MiB up are mapped on their own (huge pages, chan.cpp): a buffer of
  // 300,000 longs (4.8 MB of slots) fills, drains in order over a lap and a half, and one of
  // 200,000 counted values (3.2 MB) destroys what is left in it with the channel.
  const long n = 300'000;
  auto ch = go::make_chan<long>(static_cast<std::size_t>(n));
  for (long i = 0; i < n; ++i) ASSERT_TRUE(ch.try_send(i));
  EXPECT_FALSE(ch.try_send(-1));
  EXPECT_EQ(ch.len(), static_cast<std::size_t>(n));
  for (long i = 0; i < n / 2; ++i) ASSERT_EQ(*ch.recv(), i);
  for (long i = n; i < n + n / 2; ++i) ASSERT_TRUE(ch.try_send(i));
  for (long i = n / 2; i < n + n / 2; ++i) ASSERT_EQ(*ch.recv(), i);
  EXPECT_EQ(ch.len(), 0u);
  {
    auto values = go::make_chan<counted>(200'000);
    for (std::size_t i = 0; i < 150'000; ++i) values.send(counted(i));
    EXPECT_EQ(values.recv()->v, 0u);
    EXPECT_EQ(counted::live.load(), 149'999);
  }
  EXPECT_EQ(counted::live.load(), 0);
}

// ---- 2. Many producers, many consumers ----

TEST(ChanRing, MpmcEveryValueOnceAndPerProducerFifo) {
  max_procs_scope procs(2);
  go::run([] {
    constexpr int producers = 4, consumers = 4;
    const long per = scaled(25000);
    for (std::size_t cap : {std::size_t{1}, std::size_t{4}, std::size_t{128}}) {
      auto ch = go::make_chan<std::uint64_t>(cap);
      std::atomic<int> left{producers};
      std::vector<std::vector<std::uint64_t>> got(consumers);
      std::vector<int> out_of_order(consumers, 0);
      go::wait_group wg;
      for (int p = 0; p < producers; ++p) {
        wg.go([&, ch, p] {
          for (long s = 0; s < per; ++s) ch.send(tag(static_cast<std::uint64_t>(p), static_cast<std::uint64_t>(s)));
          if (--left == 0) ch.close();
        });
      }
      for (int c = 0; c < consumers; ++c) {
        wg.go([&, ch, c] {
          fifo_checker order(producers);
          for (std::uint64_t v : ch) {
            order.see(v);
            got[static_cast<std::size_t>(c)].push_back(v);
          }
          out_of_order[static_cast<std::size_t>(c)] = order.bad();
        });
      }
      wg.wait();
      std::size_t total = 0;
      for (auto& g : got) total += g.size();
      EXPECT_EQ(total, static_cast<std::size_t>(producers * per)) << "cap " << cap;
      for (int c = 0; c < consumers; ++c) EXPECT_EQ(out_of_order[static_cast<std::size_t>(c)], 0) << "cap " << cap;
      expect_exactly_once(got, std::vector<long>(producers, per), "mpmc");
      EXPECT_EQ(ch.len(), 0u);
    }
  });
}

TEST(ChanRing, MpmcStringsKeepTheirContents) {
  max_procs_scope procs(2);
  go::run([] {
    constexpr int producers = 3, consumers = 3;
    const long per = scaled(10000);
    for (std::size_t cap : {std::size_t{1}, std::size_t{3}, std::size_t{64}}) {
      auto ch = go::make_chan<std::string>(cap);
      std::atomic<int> left{producers};
      std::atomic<long> received{0}, bad{0};
      go::wait_group wg;
      for (int p = 0; p < producers; ++p) {
        wg.go([&, ch, p] {
          for (long s = 0; s < per; ++s) ch.send(std::to_string(p) + ":" + make_string(s));
          if (--left == 0) ch.close();
        });
      }
      for (int c = 0; c < consumers; ++c) {
        wg.go([&, ch] {
          std::vector<long> next(producers, 0);
          for (const std::string& v : ch) {
            auto colon = v.find(':');
            int p = colon == 1 ? v[0] - '0' : -1;
            if (p < 0 || p >= producers) {
              ++bad;
              continue;
            }
            // Per-producer FIFO: the value is this producer's next or a later one.
            long s = next[static_cast<std::size_t>(p)];
            while (s < per && v.compare(2, std::string::npos, make_string(s)) != 0) ++s;
            if (s == per) ++bad;
            next[static_cast<std::size_t>(p)] = s + 1;
            ++received;
          }
        });
      }
      wg.wait();
      EXPECT_EQ(bad.load(), 0) << "cap " << cap;
      EXPECT_EQ(received.load(), producers * per) << "cap " << cap;
    }
  });
}

// ---- 3. close racing with in-flight sends ----

TEST(ChanRing, CloseRacingWithSendsLosesAndInventsNothing) {
  // Producers send (by send, try_send and select) until the channel is closed under them;
  // the consumer that takes the close_after-th value closes it. Every value
  // whose send returned is received exactly once, no value whose send threw is, a receive
  // that saw the close is never followed by a value, and every element is destroyed once.
  max_procs_scope procs(2);
  go::run([] {
    constexpr int producers = 3, consumers = 3;
    const int rounds = static_cast<int>(scaled(300)) + 2;
    for (std::size_t cap : {std::size_t{1}, std::size_t{3}, std::size_t{64}}) {
      for (int round = 0; round < rounds; ++round) {
        auto ch = go::make_chan<counted>(cap);
        const long close_after = 50 + (round * 97) % 400;
        std::vector<long> sent(producers, 0);
        std::vector<int> threw(producers, 0), wrong_error(producers, 0);
        std::vector<std::vector<std::uint64_t>> got(consumers);
        std::vector<int> out_of_order(consumers, 0), after_close(consumers, 0);
        std::atomic<long> received{0};
        go::wait_group wg;
        for (int p = 0; p < producers; ++p) {
          wg.go([&, ch, p] {
            auto up = static_cast<std::size_t>(p);
            for (std::uint64_t s = 0;; ++s) {
              try {
                counted v(tag(up, s));
                switch (p % 3) {
                  case 0: ch.send(std::move(v)); break;
                  case 1:
                    // A failed try_send leaves v as it was (a moved-from value would arrive
                    // as an unknown one); then a blocking send.
                    if (!ch.try_send(std::move(v))) ch.send(std::move(v));
                    break;
                  default: go::select(go::send_case(ch, std::move(v))); break;
                }
              } catch (const go::chan_error& e) {
                threw[up] = 1;
                if (std::string(e.what()) != "send on closed channel") wrong_error[up] = 1;
                break;
              }
              sent[up] = static_cast<long>(s + 1);
            }
            // Once it has thrown, every send throws.
            try {
              ch.send(counted(tag(up, 1u << 30)));
              wrong_error[up] = 1;
            } catch (const go::chan_error&) {
            }
          });
        }
        for (int c = 0; c < consumers; ++c) {
          wg.go([&, ch, c, close_after] {
            auto uc = static_cast<std::size_t>(c);
            fifo_checker order(producers);
            auto take = [&](std::uint64_t v) {
              order.see(v);
              got[uc].push_back(v);
              if (++received == close_after) ch.close();  // while the producers send
            };
            for (;;) {
              if (c == 1) {
                auto r = ch.try_recv();
                if (r.status == go::chan_status::closed) break;
                if (r.status == go::chan_status::would_block) {
                  auto v = ch.recv();  // no spinning: block instead
                  if (!v) break;
                  take(v->v);
                } else {
                  take(r.value->v);
                }
              } else if (c == 2) {
                bool closed = false;
                go::select(go::recv_case(ch, [&](std::optional<counted> v) {
                  if (v) take(v->v);
                  else closed = true;
                }));
                if (closed) break;
              } else {
                auto v = ch.recv();
                if (!v) break;
                take(v->v);
              }
            }
            for (int k = 0; k < 3; ++k) {
              if (ch.recv()) ++after_close[uc];
              if (ch.try_recv().status != go::chan_status::closed) ++after_close[uc];
            }
            out_of_order[uc] = order.bad();
          });
        }
        wg.wait();
        for (int p = 0; p < producers; ++p) {
          EXPECT_EQ(threw[static_cast<std::size_t>(p)], 1);
          EXPECT_EQ(wrong_error[static_cast<std::size_t>(p)], 0);
        }
        for (int c = 0; c < consumers; ++c) {
          EXPECT_EQ(out_of_order[static_cast<std::size_t>(c)], 0) << "cap " << cap << " round " << round;
          EXPECT_EQ(after_close[static_cast<std::size_t>(c)], 0) << "cap " << cap << " round " << round;
        }
        expect_exactly_once(got, sent, "close race");
        EXPECT_GE(received.load(), close_after);
        EXPECT_EQ(ch.len(), 0u);
        EXPECT_EQ(counted::live.load(), 0) << "cap " << cap << " round " << round;
        if (::testing::Test::HasFailure()) return;
      }
    }
  });
}

// ---- 4. Receivers parked on an empty buffered channel, then M < K values and close ----

TEST(ChanRing, ParkedReceiversGetValuesSentBeforeCloseInOrderThenEmpty) {
  // In a bubble: K receivers (plain and select) park in order on an empty buffered
  // channel, M values are sent and the channel closed: receiver i < M gets value i (first
  // come, first served), the others the close. The ring starts at several offsets.
  go::synctest::run([] {
    constexpr int K = 8;
    for (std::size_t cap : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7}}) {
      for (std::size_t offset : {std::size_t{0}, std::size_t{1}, cap - 1, cap + 2}) {
        for (int M : {0, 1, 3, 7}) {
          auto ch = go::make_chan<int>(cap);
          advance(ch, static_cast<long>(offset), 0);
          go::chan<int> nil;
          std::vector<std::optional<int>> got(K);
          std::vector<int> done(K, 0);
          go::wait_group wg;
          for (int r = 0; r < K; ++r) {
            wg.go([&, ch, nil, r] {
              auto ur = static_cast<std::size_t>(r);
              if (r % 2 == 0) {
                got[ur] = ch.recv();
              } else {
                go::select(go::recv_case(ch, [&](std::optional<int> v) { got[ur] = v; }), go::recv_case(nil));
              }
              done[ur] = 1;
            });
            go::synctest::wait();  // r is parked before r + 1 starts
          }
          EXPECT_EQ(ch.len(), 0u);
          for (int i = 0; i < M; ++i) ch.send(100 + i);  // each goes to a parked receiver
          go::synctest::wait();
          EXPECT_EQ(ch.len(), 0u) << "values buffered while receivers were parked";
          for (int r = 0; r < K; ++r) EXPECT_EQ(done[static_cast<std::size_t>(r)], r < M ? 1 : 0);
          ch.close();
          wg.wait();
          for (int r = 0; r < K; ++r) {
            auto ur = static_cast<std::size_t>(r);
            if (r < M) {
              EXPECT_EQ(got[ur], std::optional<int>(100 + r)) << "cap " << cap << " offset " << offset << " M " << M;
            } else {
              EXPECT_FALSE(got[ur].has_value()) << "cap " << cap << " offset " << offset << " M " << M;
            }
          }
          EXPECT_EQ(ch.try_recv().status, go::chan_status::closed);
        }
      }
    }
  });
}

TEST(ChanRing, ReceiversRacingWithSendsAndCloseGetExactlyTheValuesSent) {
  // Without a bubble, on two workers and plain threads: whether the receivers are parked
  // yet or not, M values sent (cap >= M, so no send blocks) and a close give exactly M
  // values, each once, and K - M empty receives.
  max_procs_scope procs(2);
  go::run([] {
    constexpr int K = 10, threads = 2;
    const int rounds = static_cast<int>(scaled(150)) + 3;
    for (std::size_t cap : {std::size_t{1}, std::size_t{3}, std::size_t{8}}) {
      for (int round = 0; round < rounds; ++round) {
        const int M = static_cast<int>(static_cast<std::size_t>(round) % (cap + 1));
        auto ch = go::make_chan<int>(cap);
        std::atomic<int> empty{0};
        std::vector<std::atomic<int>> seen(static_cast<std::size_t>(M));
        for (auto& s : seen) s = 0;
        std::atomic<int> bad{0};
        auto receive = [&, ch] {
          if (auto v = ch.recv()) {
            if (*v < 0 || *v >= M) ++bad;
            else ++seen[static_cast<std::size_t>(*v)];
          } else {
            ++empty;
          }
        };
        go::wait_group wg;
        for (int r = 0; r < K - threads; ++r) wg.go(receive);
        std::vector<std::thread> ts;
        for (int t = 0; t < threads; ++t) ts.emplace_back(receive);
        if (round % 2) go::yield();
        for (int i = 0; i < M; ++i) ch.send(i);
        ch.close();
        wg.wait();
        for (auto& t : ts) t.join();
        EXPECT_EQ(bad.load(), 0);
        EXPECT_EQ(empty.load(), K - M) << "cap " << cap << " round " << round;
        for (int i = 0; i < M; ++i) EXPECT_EQ(seen[static_cast<std::size_t>(i)].load(), 1) << "value " << i;
        if (::testing::Test::HasFailure()) return;
      }
    }
  });
}

// ---- 5. Senders parked on a full buffered channel ----

TEST(ChanRing, ParkedSendersAreServedInOrderAfterTheBuffer) {
  // In a bubble: fill the ring (at several offsets), park senders one at a time (plain and
  // select), then receive one at a time: the buffered values first, then the parked
  // senders' in the order they parked; the buffer stays full while senders remain.
  go::synctest::run([] {
    constexpr int S = 5;
    for (std::size_t cap : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7}}) {
      for (std::size_t offset : {std::size_t{0}, std::size_t{1}, cap - 1, cap, 2 * cap + 1}) {
        auto ch = go::make_chan<std::string>(cap);
        advance(ch, static_cast<long>(offset), std::string("x"));
        go::chan<std::string> nil;
        std::vector<std::string> want;
        for (std::size_t i = 0; i < cap; ++i) {
          want.push_back("buffered-" + make_string(static_cast<long>(i)));
          ch.send(want.back());
        }
        EXPECT_EQ(ch.len(), cap);
        go::wait_group wg;
        for (int s = 0; s < S; ++s) {
          std::string v = "parked-" + make_string(s);
          want.push_back(v);
          wg.go([ch, nil, s, v] {
            if (s % 2 == 0) ch.send(v);
            else go::select(go::send_case(ch, v), go::recv_case(nil));
          });
          go::synctest::wait();  // s is parked before s + 1 starts
          EXPECT_EQ(ch.len(), cap);
        }
        std::vector<std::string> got;
        for (std::size_t i = 0; i < want.size(); ++i) {
          auto v = ch.recv();
          ASSERT_TRUE(v.has_value());
          got.push_back(*v);
          go::synctest::wait();  // the sender it let go has returned
          std::size_t left = want.size() - i - 1;
          EXPECT_EQ(ch.len(), std::min(left, cap)) << "cap " << cap << " offset " << offset << " after " << i;
        }
        wg.wait();
        EXPECT_EQ(got, want) << "cap " << cap << " offset " << offset;
        EXPECT_EQ(ch.try_recv().status, go::chan_status::would_block);
        // The ring still works on its fast path afterwards.
        for (std::size_t i = 0; i < cap; ++i) EXPECT_TRUE(ch.try_send(std::to_string(i)));
        EXPECT_FALSE(ch.try_send(std::string("full")));
        for (std::size_t i = 0; i < cap; ++i) EXPECT_EQ(ch.try_recv().value, std::to_string(i));
      }
    }
  });
}

TEST(ChanRing, CloseThrowsInParkedSendersAndKeepsTheBufferInOrder) {
  go::synctest::run([] {
    constexpr int S = 4;
    for (std::size_t cap : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7}}) {
      for (std::size_t offset : {std::size_t{0}, cap - 1, cap + 1}) {
        auto ch = go::make_chan<std::unique_ptr<tracked>>(cap);
        advance(ch, static_cast<long>(offset), nullptr);
        for (std::size_t i = 0; i < cap; ++i) ch.send(std::make_unique<tracked>(static_cast<long>(i)));
        go::chan<int> nil;
        std::atomic<int> threw{0};
        go::wait_group wg;
        for (int s = 0; s < S; ++s) {
          wg.go([&, ch, nil, s] {
            try {
              if (s % 2 == 0) ch.send(std::make_unique<tracked>(1000 + s));
              else go::select(go::send_case(ch, std::make_unique<tracked>(1000 + s)), go::recv_case(nil));
            } catch (const go::chan_error&) {
              ++threw;
            }
          });
          go::synctest::wait();
        }
        ch.close();
        wg.wait();
        EXPECT_EQ(threw.load(), S);
        EXPECT_EQ(ch.len(), cap);
        EXPECT_EQ(tracked::live.load(), static_cast<long>(cap));  // the parked senders' values are gone
        for (std::size_t i = 0; i < cap; ++i) {
          auto v = ch.recv();
          ASSERT_TRUE(v.has_value() && *v);
          EXPECT_EQ((*v)->v, static_cast<long>(i));
        }
        EXPECT_FALSE(ch.recv().has_value());
        EXPECT_EQ(tracked::live.load(), 0);
      }
    }
  });
}

TEST(ChanRing, AlternatingParkedReceiversParkedSendersAndFastPath) {
  // The ring moves between "receivers parked", "senders parked" and "nobody parked" again
  // and again, at every offset: values keep their order and len stays exact in each phase.
  go::synctest::run([] {
    for (std::size_t cap : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7}}) {
      auto ch = go::make_chan<int>(cap);
      const int R = 3, S = 2;
      int next = 0;
      std::vector<int> got;
      for (int round = 0; round < static_cast<int>(2 * cap + 3); ++round) {
        got.clear();
        int first = next;
        go::wait_group wg;
        // Phase A: R receivers parked (in order) on the empty ring.
        std::vector<int> recvd(R, -1);
        for (int r = 0; r < R; ++r) {
          wg.go([&, ch, r] { recvd[static_cast<std::size_t>(r)] = *ch.recv(); });
          go::synctest::wait();
        }
        for (int r = 0; r < R; ++r) ch.send(next++);  // straight to the parked receivers
        go::synctest::wait();
        EXPECT_EQ(ch.len(), 0u);
        for (int r = 0; r < R; ++r) got.push_back(recvd[static_cast<std::size_t>(r)]);
        // Phase B: fill the ring, then S senders parked on it.
        for (std::size_t i = 0; i < cap; ++i) ch.send(next++);
        for (int s = 0; s < S; ++s) {
          int v = next++;
          wg.go([ch, v] { ch.send(v); });
          go::synctest::wait();
        }
        EXPECT_EQ(ch.len(), cap);
        for (std::size_t i = 0; i < cap + S; ++i) got.push_back(*ch.recv());
        go::synctest::wait();
        EXPECT_EQ(ch.len(), 0u);
        // Phase C: nobody parked; a partial fill moves the offset for the next round.
        const std::size_t partial = static_cast<std::size_t>(round) % cap + 1;
        for (std::size_t i = 0; i < partial; ++i) ch.send(next++);
        EXPECT_EQ(ch.len(), partial);
        for (std::size_t i = 0; i < partial; ++i) got.push_back(*ch.recv());
        EXPECT_EQ(ch.try_recv().status, go::chan_status::would_block);
        wg.wait();
        std::vector<int> want(got.size());
        for (std::size_t i = 0; i < want.size(); ++i) want[i] = first + static_cast<int>(i);
        ASSERT_EQ(got, want) << "cap " << cap << " round " << round;
      }
    }
  });
}

// ---- 6. len and cap ----

TEST(ChanRing, LenIsExactWhenQuiescentAtEveryOffset) {
  for (std::size_t cap : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{5}, std::size_t{7},
                          std::size_t{63}, std::size_t{64}, std::size_t{65}}) {
    auto ch = go::make_chan<int>(cap);
    EXPECT_EQ(ch.cap(), cap);
    int next = 0, expect = 0;
    // Offsets 0 .. 3 laps: for each, fill to every level k and drain back.
    for (std::size_t offset = 0; offset <= 3 * cap; offset += (cap > 8 ? 5 : 1)) {
      for (std::size_t k = 0; k <= cap; ++k) {
        for (std::size_t i = 0; i < k; ++i) {
          ch.send(next++);
          ASSERT_EQ(ch.len(), i + 1) << "cap " << cap << " offset " << offset;
        }
        if (k == cap) {
          EXPECT_FALSE(ch.try_send(-1)) << "cap " << cap << " offset " << offset;
        }
        for (std::size_t i = k; i > 0; --i) {
          ASSERT_EQ(*ch.recv(), expect++);
          ASSERT_EQ(ch.len(), i - 1) << "cap " << cap << " offset " << offset;
        }
        EXPECT_EQ(ch.try_recv().status, go::chan_status::would_block);
      }
      advance(ch, cap > 8 ? 5 : 1, -2);
      EXPECT_EQ(ch.len(), 0u);
      EXPECT_EQ(ch.cap(), cap);
    }
    // After close, len still counts the buffered values.
    for (std::size_t i = 0; i < cap; ++i) ch.send(next++);
    ch.close();
    for (std::size_t i = cap; i > 0; --i) {
      EXPECT_EQ(ch.len(), i);
      EXPECT_EQ(*ch.recv(), expect++);
    }
    EXPECT_EQ(ch.len(), 0u);
    EXPECT_EQ(ch.cap(), cap);
  }
}

TEST(ChanRing, LenNeverLeavesZeroToCapUnderConcurrency) {
  // Producers and consumers run while a goroutine and a plain thread sample len(): it must
  // stay within [0, cap] (a negative count reads as a huge size_t).
  max_procs_scope procs(2);
  go::run([] {
    const long per = scaled(20000);
    for (std::size_t cap : {std::size_t{1}, std::size_t{3}, std::size_t{7}, std::size_t{64}}) {
      auto ch = go::make_chan<long>(cap);
      std::atomic<bool> stop{false};
      std::atomic<long> over{0}, samples{0}, received{0};
      std::atomic<int> left{2};
      auto sample = [&, ch, cap] {
        while (!stop.load()) {
          std::size_t n = ch.len();
          if (n > cap) ++over;
          if (ch.cap() != cap) ++over;
          ++samples;
          go::yield();
        }
      };
      std::thread sampler(sample);
      go::wait_group wg, samplers;
      samplers.go(sample);
      for (int p = 0; p < 2; ++p) {
        wg.go([&, ch] {
          for (long i = 0; i < per; ++i) {
            if (i % 2 || !ch.try_send(i)) ch.send(i);
          }
          if (--left == 0) ch.close();
        });
      }
      for (int c = 0; c < 2; ++c) {
        wg.go([&, ch, c] {
          if (c) {
            for (long v : ch) received += v >= 0;
          } else {
            for (;;) {
              auto r = ch.try_recv();
              if (r.status == go::chan_status::closed) break;
              if (r) {
                ++received;
              } else if (auto v = ch.recv()) {
                ++received;
              } else {
                break;
              }
            }
          }
        });
      }
      wg.wait();
      stop = true;
      samplers.wait();
      sampler.join();
      EXPECT_EQ(over.load(), 0) << "cap " << cap << ": len() out of [0, cap] in " << over.load() << " of "
                                << samples.load() << " samples";
      EXPECT_EQ(received.load(), 2 * per);
      EXPECT_EQ(ch.len(), 0u);
    }
  });
}

// ---- 7. select mixed with plain operations ----

TEST(ChanRing, SelectMixedWithPlainOperationsAccountsExactly) {
  // Selects receive from a and b and send to c while plain senders and receivers use the
  // same three channels. Every value sent on a, b and c (by a plain send or a select that
  // chose its send case) is received exactly once; a select's send value is delivered only
  // if the select chose it.
  max_procs_scope procs(2);
  go::run([] {
    constexpr int selectors = 3;
    const long per = scaled(8000);
    for (std::size_t cap : {std::size_t{1}, std::size_t{3}, std::size_t{32}}) {
      auto a = go::make_chan<std::uint64_t>(cap), b = go::make_chan<std::uint64_t>(cap);
      auto c = go::make_chan<std::uint64_t>(cap);
      // Producers of a: ids 0, 1; of b: 2, 3; plain senders on c: 4; selectors: 5 .. 7.
      constexpr std::uint64_t a0 = 0, b0 = 2, c_plain = 4, sel0 = 5;
      std::vector<long> sent(sel0 + selectors, 0);
      std::vector<std::vector<std::uint64_t>> got_ab(selectors + 2), got_c(2);
      std::atomic<int> a_left{2}, b_left{2}, c_left{selectors + 1};
      go::wait_group wg;
      auto producer = [&](go::chan<std::uint64_t> ch, std::uint64_t id, std::atomic<int>* left) {
        wg.go([&, ch, id, left] {
          for (long s = 0; s < per; ++s) ch.send(tag(id, static_cast<std::uint64_t>(s)));
          sent[id] = per;
          if (--*left == 0) ch.close();
        });
      };
      producer(a, a0, &a_left);
      producer(a, a0 + 1, &a_left);
      producer(b, b0, &b_left);
      producer(b, b0 + 1, &b_left);
      wg.go([&, c] {
        for (long s = 0; s < per / 2; ++s) c.send(tag(c_plain, static_cast<std::uint64_t>(s)));
        sent[c_plain] = per / 2;
        if (--c_left == 0) c.close();
      });
      for (int k = 0; k < selectors; ++k) {
        wg.go([&, a, b, c, k] {
          const std::uint64_t id = sel0 + static_cast<std::uint64_t>(k);
          auto& mine = got_ab[static_cast<std::size_t>(k)];
          go::chan<std::uint64_t> ra = a, rb = b;
          std::uint64_t s = 0;
          while (ra != nullptr || rb != nullptr) {
            go::select(go::recv_case(ra,
                                     [&](std::optional<std::uint64_t> v) {
                                       if (v) mine.push_back(*v);
                                       else ra = nullptr;
                                     }),
                       go::recv_case(rb,
                                     [&](std::optional<std::uint64_t> v) {
                                       if (v) mine.push_back(*v);
                                       else rb = nullptr;
                                     }),
                       go::send_case(c, tag(id, s), [&] { ++s; }));
          }
          sent[id] = static_cast<long>(s);
          if (--c_left == 0) c.close();
        });
      }
      // Plain receivers on a and b (competing with the selects), and on c.
      wg.go([&, a] {
        for (std::uint64_t v : a) got_ab[selectors].push_back(v);
      });
      wg.go([&, b] {
        for (std::uint64_t v : b) got_ab[selectors + 1].push_back(v);
      });
      for (std::size_t k = 0; k < 2; ++k)
        wg.go([&, c, k] {
          for (std::uint64_t v : c) got_c[k].push_back(v);
        });
      wg.wait();
      std::vector<long> ab_sent(sent.begin(), sent.begin() + c_plain);
      expect_exactly_once(got_ab, ab_sent, "select a/b");
      std::vector<long> c_sent(sent.size(), 0);
      for (std::size_t id = c_plain; id < sent.size(); ++id) c_sent[id] = sent[id];
      expect_exactly_once(got_c, c_sent, "select c");
      std::size_t ab_total = 0;
      for (auto& g : got_ab) ab_total += g.size();
      EXPECT_EQ(ab_total, static_cast<std::size_t>(4 * per)) << "cap " << cap;
    }
  });
}

TEST(ChanRing, SelectThatLosesConsumesNothing) {
  // Deterministic: two ready receive cases, a ready receive and a blocked send, a ready send
  // and an empty receive. Exactly one case happens; the other channels are untouched.
  for (std::size_t cap : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7}}) {
    auto a = go::make_chan<int>(cap), b = go::make_chan<int>(cap), full = go::make_chan<int>(cap);
    advance(a, static_cast<long>(cap / 2 + 1), 0);
    advance(full, static_cast<long>(cap - 1), 0);
    for (std::size_t i = 0; i < cap; ++i) full.send(1000 + static_cast<int>(i));
    int next_a = 0, next_b = 0, exp_a = 0, exp_b = 0;
    std::size_t in_a = 0, in_b = 0;  // what a and b hold (len() is checked against it)
    for (int round = 0; round < 200; ++round) {
      // Top a and b up to 1 or 2 values (as the round says, up to cap).
      std::size_t want = std::min<std::size_t>(cap, 1 + static_cast<std::size_t>(round % 2));
      for (; in_a < want; ++in_a) ASSERT_TRUE(a.try_send(next_a++));
      for (; in_b < want; ++in_b) ASSERT_TRUE(b.try_send(next_b++));
      ASSERT_EQ(a.len(), in_a);
      ASSERT_EQ(b.len(), in_b);
      std::optional<int> took;
      // The default only runs if neither receive is ready, which is a bug here.
      int idx = go::select(go::recv_case(a, [&](std::optional<int> v) { took = v; }),
                           go::recv_case(b, [&](std::optional<int> v) { took = v; }), go::send_case(full, -1),
                           go::default_case());
      ASSERT_TRUE(idx == 0 || idx == 1) << "case " << idx << " chosen, cap " << cap;
      if (idx == 0) {
        EXPECT_EQ(took, std::optional<int>(exp_a++));
        --in_a;
      } else {
        EXPECT_EQ(took, std::optional<int>(exp_b++));
        --in_b;
      }
      EXPECT_EQ(a.len(), in_a);
      EXPECT_EQ(b.len(), in_b);
      EXPECT_EQ(full.len(), cap);
    }
    // A ready send beats an empty receive; the receive channel stays empty, the value arrives.
    auto empty = go::make_chan<int>(cap), room = go::make_chan<int>(cap);
    advance(room, static_cast<long>(cap), 0);
    for (std::size_t i = 0; i < cap; ++i) {
      EXPECT_EQ(go::select(go::recv_case(empty), go::send_case(room, static_cast<int>(i))), 1);
      EXPECT_EQ(room.len(), i + 1);
      EXPECT_EQ(empty.len(), 0u);
    }
    // Full and empty with a default: the default runs and nothing moves.
    EXPECT_EQ(go::select(go::recv_case(empty), go::send_case(room, -1), go::default_case()), 2);
    EXPECT_EQ(room.len(), cap);
    for (std::size_t i = 0; i < cap; ++i) EXPECT_EQ(*room.recv(), static_cast<int>(i));
    for (std::size_t i = 0; i < cap; ++i) EXPECT_EQ(*full.recv(), 1000 + static_cast<int>(i));
    // Drain what is left in a and b: nothing was lost or duplicated.
    for (auto r = a.try_recv(); r; r = a.try_recv()) EXPECT_EQ(r.value, exp_a++);
    for (auto r = b.try_recv(); r; r = b.try_recv()) EXPECT_EQ(r.value, exp_b++);
    EXPECT_EQ(exp_a, next_a);
    EXPECT_EQ(exp_b, next_b);
    // Send and receive on the same half-full channel: exactly one happens.
    auto same = go::make_chan<int>(cap + 1);
    for (int round = 0; round < 50; ++round) {
      same.send(round);
      std::size_t before = same.len();
      std::optional<int> v;
      int idx = go::select(go::recv_case(same, [&](std::optional<int> x) { v = x; }), go::send_case(same, 7));
      if (idx == 0) {
        EXPECT_EQ(v, std::optional<int>(round));
        EXPECT_EQ(same.len(), before - 1);
      } else {
        EXPECT_EQ(same.len(), before + 1);
        EXPECT_EQ(*same.recv(), round);
        EXPECT_EQ(*same.recv(), 7);
      }
      EXPECT_EQ(same.len(), 0u);
    }
  }
}

TEST(ChanRing, SelectMoveOnlySendValueStaysWhenNotChosen) {
  // A losing (or default-taking) select does not consume the send case's value or a
  // buffered one; a counted value type shows every element destroyed exactly once.
  {
    auto full = go::make_chan<counted>(2);
    full.send(counted(1));
    full.send(counted(2));
    auto ready = go::make_chan<counted>(3);
    advance(ready, 2, [] { return counted(0); });
    ready.send(counted(10));
    for (int round = 0; round < 20; ++round) {
      std::uint64_t got = 0;
      EXPECT_EQ(go::select(go::send_case(full, counted(99)),
                           go::recv_case(ready, [&](std::optional<counted> v) { got = v->v; })),
                1);
      EXPECT_EQ(got, 10u + static_cast<std::uint64_t>(round));
      ready.send(counted(11 + static_cast<std::uint64_t>(round)));
      EXPECT_EQ(go::select(go::send_case(full, counted(99)), go::default_case()), 1);
      EXPECT_EQ(full.len(), 2u);
      EXPECT_EQ(counted::live.load(), 3);
    }
    EXPECT_EQ(full.recv()->v, 1u);
    EXPECT_EQ(full.recv()->v, 2u);
  }
  EXPECT_EQ(counted::live.load(), 0);
}

// ---- 8. Non-blocking operations ----

TEST(ChanRing, TrySendTryRecvOnFullEmptyAndClosedAtEveryOffset) {
  for (std::size_t cap : kOddCaps) {
    for (std::size_t offset : {std::size_t{0}, std::size_t{1}, cap - 1, cap, 2 * cap + 1}) {
      auto ch = go::make_chan<std::unique_ptr<tracked>>(cap);
      advance(ch, static_cast<long>(offset), nullptr);
      auto empty = ch.try_recv();
      EXPECT_EQ(empty.status, go::chan_status::would_block);
      EXPECT_FALSE(empty.value.has_value());
      for (std::size_t i = 0; i < cap; ++i) EXPECT_TRUE(ch.try_send(std::make_unique<tracked>(static_cast<long>(i))));
      auto extra = std::make_unique<tracked>(-1);
      EXPECT_FALSE(ch.try_send(std::move(extra)));
      ASSERT_NE(extra, nullptr) << "a try_send that would block moved its value";
      EXPECT_EQ(extra->v, -1);
      EXPECT_EQ(ch.len(), cap);
      // Take one, put one: the ring wraps under try operations too.
      auto r = ch.try_recv();
      ASSERT_EQ(r.status, go::chan_status::ok);
      EXPECT_EQ((*r.value)->v, 0);
      EXPECT_TRUE(ch.try_send(std::move(extra)));
      EXPECT_EQ(extra, nullptr);
      // Closed with values buffered: try_send throws (full or not), try_recv still gets
      // every value in order, then reports closed (not would_block).
      ch.close();
      EXPECT_THROW(ch.try_send(std::make_unique<tracked>(-2)), go::chan_error);
      EXPECT_EQ(ch.len(), cap);
      for (std::size_t i = 1; i < cap; ++i) {
        auto t = ch.try_recv();
        ASSERT_EQ(t.status, go::chan_status::ok) << "cap " << cap << " offset " << offset;
        EXPECT_EQ((*t.value)->v, static_cast<long>(i));
        EXPECT_EQ(ch.len(), cap - i);
      }
      auto last = ch.try_recv();
      ASSERT_EQ(last.status, go::chan_status::ok);
      EXPECT_EQ((*last.value)->v, -1);
      EXPECT_THROW(ch.try_send(std::make_unique<tracked>(-3)), go::chan_error);  // closed and empty
      for (int k = 0; k < 3; ++k) {
        auto c = ch.try_recv();
        EXPECT_EQ(c.status, go::chan_status::closed);
        EXPECT_FALSE(c.value.has_value());
      }
      EXPECT_FALSE(ch.recv().has_value());
      EXPECT_THROW(ch.send(nullptr), go::chan_error);
    }
  }
  EXPECT_EQ(tracked::live.load(), 0);
}

TEST(ChanRing, TryOperationsNeverFailSpuriouslyAcrossThreads) {
  // A plain thread fills the ring with try_send (it is empty: each must succeed) and hands
  // over with a signal; the goroutine on the other side then empties it with try_recv
  // (each must succeed, then would_block) and hands back. The signal orders the two sides,
  // so a "would block" or "closed" answer on either is wrong. The last batch ends in close:
  // try_recv then gets the values and then closed.
  max_procs_scope procs(2);
  for (std::size_t cap : kOddCaps) {
    auto ch = go::make_chan<long>(cap);
    auto filled = go::make_chan<void>(), emptied = go::make_chan<void>();
    const long batches = scaled(4000) / static_cast<long>(cap) + 5;
    std::atomic<long> send_fail{0};
    std::thread producer([=, &send_fail] {
      long next = 0;
      for (long b = 0; b < batches; ++b) {
        std::size_t k = static_cast<std::size_t>(b) % cap + 1;  // 1 .. cap values
        for (std::size_t i = 0; i < k; ++i) send_fail += ch.try_send(next++) ? 0 : 1;
        if (k == cap) send_fail += ch.try_send(-1) ? 1 : 0;  // full now
        if (b + 1 == batches) ch.close();
        filled.send();
        emptied.recv();
      }
    });
    long recv_bad = 0, expect = 0;
    go::run([&] {
      go::wait_group wg;
      wg.go([&] {
        for (long b = 0; b < batches; ++b) {
          filled.recv();
          std::size_t k = static_cast<std::size_t>(b) % cap + 1;
          for (std::size_t i = 0; i < k; ++i) {
            auto r = ch.try_recv();
            if (r.status != go::chan_status::ok || *r.value != expect) ++recv_bad;
            ++expect;
          }
          auto after = ch.try_recv().status;
          if (after != (b + 1 == batches ? go::chan_status::closed : go::chan_status::would_block)) ++recv_bad;
          emptied.send();
        }
      });
      wg.wait();
    });
    producer.join();
    EXPECT_EQ(send_fail.load(), 0) << "cap " << cap;
    EXPECT_EQ(recv_bad, 0) << "cap " << cap;
  }
}

// ---- 9. Plain threads and goroutines on one buffered channel ----

TEST(ChanRing, ThreadsAndGoroutinesShareOneRing) {
  max_procs_scope procs(2);
  constexpr int thread_producers = 2, go_producers = 2, thread_consumers = 2, go_consumers = 2;
  constexpr int producers = thread_producers + go_producers, consumers = thread_consumers + go_consumers;
  const long per = scaled(10000);
  for (std::size_t cap : {std::size_t{1}, std::size_t{3}, std::size_t{64}}) {
    auto ch = go::make_chan<std::uint64_t>(cap);
    std::atomic<int> left{producers};
    std::vector<std::vector<std::uint64_t>> got(consumers);
    std::vector<int> out_of_order(consumers, 0);
    auto produce = [&, ch](int p) {
      for (long s = 0; s < per; ++s) {
        std::uint64_t v = tag(static_cast<std::uint64_t>(p), static_cast<std::uint64_t>(s));
        if (s % 4 != 3 || !ch.try_send(v)) ch.send(v);
      }
      if (--left == 0) ch.close();
    };
    auto consume = [&, ch](int c) {
      fifo_checker order(producers);
      for (std::uint64_t v : ch) {
        order.see(v);
        got[static_cast<std::size_t>(c)].push_back(v);
      }
      out_of_order[static_cast<std::size_t>(c)] = order.bad();
    };
    std::vector<std::thread> threads;
    for (int p = 0; p < thread_producers; ++p) threads.emplace_back(produce, p);
    for (int c = 0; c < thread_consumers; ++c) threads.emplace_back(consume, c);
    // Under go::run, whose deadlock check must not fire while the plain threads wake
    // goroutines and exit (Diagnostics.NoDeadlockWhenAThreadWakesAGoroutineAndExits).
    go::run([&] {
      go::wait_group wg;
      for (int p = thread_producers; p < producers; ++p) wg.go([&, p] { produce(p); });
      for (int c = thread_consumers; c < consumers; ++c) wg.go([&, c] { consume(c); });
      wg.wait();
    });
    for (auto& t : threads) t.join();
    for (int c = 0; c < consumers; ++c) EXPECT_EQ(out_of_order[static_cast<std::size_t>(c)], 0) << "cap " << cap;
    expect_exactly_once(got, std::vector<long>(producers, per), "threads and goroutines");
    std::size_t total = 0;
    for (auto& g : got) total += g.size();
    EXPECT_EQ(total, static_cast<std::size_t>(producers * per));
  }
}

// ---- Memory model through the ring ----

TEST(ChanRing, ValuesPublishPlainWritesAndCapOneChannelIsAMutex) {
  // A send happens before its receive completes: plain writes to the object a pointer
  // points at are visible to the receiver (ThreadSanitizer checks the edge). And the k-th
  // receive happens before the (k+C)-th send completes: a cap-1 channel used as a lock
  // protects a plain counter (lost updates, or a TSan report, otherwise).
  max_procs_scope procs(2);
  go::run([] {
    for (std::size_t cap : {std::size_t{1}, std::size_t{3}, std::size_t{64}}) {
      auto ch = go::make_chan<std::vector<long>*>(cap);
      const long n = scaled(20000);
      go::wait_group wg;
      wg.go([ch] {
        for (long i = 0; i < n; ++i) ch.send(new std::vector<long>(4, i));
        ch.close();
      });
      long i = 0, bad = 0;
      for (auto* v : ch) {
        for (long x : *v) bad += x != i;
        delete v;
        ++i;
      }
      wg.wait();
      EXPECT_EQ(bad, 0);
      EXPECT_EQ(i, n);
    }
  });
  auto lock = go::make_chan<int>(1);
  long counter = 0;  // plain: only touched while holding `lock`
  std::atomic<long> spurious{0};
  const long per = scaled(20000);
  std::thread t([&, lock] {
    for (long k = 0; k < per; ++k) {
      lock.send(0);
      ++counter;
      lock.recv();
    }
  });
  go::run([&] {
    go::wait_group wg;
    for (int g = 0; g < 3; ++g) {
      wg.go([&, lock] {
        for (long k = 0; k < per; ++k) {
          if (k % 2 == 0 || !lock.try_send(0)) lock.send(0);
          ++counter;
          // Our own token is in the buffer and only we take it: try_recv cannot miss it.
          if (k % 3) {
            lock.recv();
          } else if (!lock.try_recv()) {
            ++spurious;
            lock.recv();
          }
        }
      });
    }
    wg.wait();
  });
  t.join();
  EXPECT_EQ(counter, 4 * per);
  EXPECT_EQ(spurious.load(), 0) << "try_recv missed the token its own goroutine had sent";
}
