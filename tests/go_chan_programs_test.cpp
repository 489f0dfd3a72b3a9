// Go's channel test programs (go/test/chan/*.go, Go 1.19), ported behaviour by behaviour.
// Sizes are Go's, divided by 20 under the sanitizers (test_scale.hpp).
//
// Each Go program is a `package main` that panics on failure; here each is one TEST and the
// panics are assertions. Where a Go program just leaves goroutines blocked forever when main
// returns, the port shuts them down instead (a quit channel, or closing the pipeline), so a
// test leaves no goroutine behind, except select3's, whose whole point is blocking forever.
//
// Not ported:
// - select5.go generates a Go program (select statements with every combination of cases,
//   evaluation-order checks of Go expressions); it is a code generator, not a test of its own.
// - select8.go and powser2.go: not in the list asked for (powser2 is powser1 with interfaces).
// - select2.go's memory measurement (runtime.MemStats); the select loop itself is kept.

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "go/chan.hpp"
#include "go/runtime.hpp"
#include "go/select.hpp"
#include "go/sync.hpp"
#include "go/time.hpp"
#include "test_scale.hpp"

using namespace std::chrono_literals;

namespace {

constexpr std::array<int, 25> kPrimes = {2,  3,  5,  7,  11, 13, 17, 19, 23, 29, 31, 37, 41,
                                         43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97};

using gocxx_test::settle_goroutines;  // tests/test_scale.hpp

// Waits for wg with a deadline; true if it reached zero in time.
bool wait_within(const std::shared_ptr<go::wait_group>& wg, std::chrono::milliseconds limit) {
  auto done = go::make_chan<void>();
  go::spawn([wg, done] {
    wg->wait();
    done.close();
  });
  return go::select(go::recv_case(done), go::recv_case(go::after(limit))) == 0;
}

// Thrown inside a goroutine started by stopper::spawn to unwind it once the stopper stops.
struct quit_signal {};

// Lets a test end a web of goroutines that would otherwise stay blocked forever: every
// channel operation also waits on a quit channel, and once that is closed the goroutine
// unwinds (quit_signal) and returns. A cheap handle, copied into each goroutine.
class stopper {
 public:
  // select over cases plus the quit channel; returns the index of the case that ran.
  template <class... Cases>
  int select(Cases&&... cases) const {
    int i = go::select(std::forward<Cases>(cases)..., go::recv_case(quit_));
    if (i == static_cast<int>(sizeof...(Cases))) throw quit_signal{};
    return i;
  }
  template <class C, class V>
  void send(const C& c, V&& v) const {
    select(go::send_case(c, std::forward<V>(v)));
  }
  template <class C>
  std::optional<typename C::value_type> recv_ok(const C& c) const {
    using T = typename C::value_type;
    std::optional<T> out;
    select(go::recv_case(c, [&](std::optional<T> v) { out = std::move(v); }));
    return out;
  }
  // Go's `<-c`: the zero value once c is closed.
  template <class C>
  typename C::value_type recv(const C& c) const {
    return recv_ok(c).value_or(typename C::value_type{});
  }
  template <class F>
  void spawn(F f) const {
    running_->go([f = std::move(f)]() mutable {
      try {
        f();
      } catch (const quit_signal&) {
      }
    });
  }
  // Stops every goroutine started through this stopper; true if they all returned in time.
  bool stop(std::chrono::milliseconds limit = 10s) const {
    quit_.close();
    return wait_within(running_, limit);
  }

 private:
  go::chan<void> quit_ = go::make_chan<void>();
  std::shared_ptr<go::wait_group> running_ = std::make_shared<go::wait_group>();
};

// Receives from c, or gives up after `limit` (a deadlock, as a test failure not a hang).
template <class C>
std::optional<typename C::value_type> recv_within(const C& c, std::chrono::milliseconds limit) {
  using T = typename C::value_type;
  std::optional<T> out;
  go::select(go::recv_case(c, [&](std::optional<T> v) { out = std::move(v); }), go::recv_case(go::after(limit)));
  return out;
}

// Waits for a signal or the close of c, or gives up after `limit`; true if it came.
template <class C>
bool signal_within(const C& c, std::chrono::milliseconds limit) {
  return go::select(go::recv_case(c), go::recv_case(go::after(limit))) == 0;
}

// Sends v on c, or gives up after `limit`; true if sent.
template <class C, class V>
bool send_within(const C& c, V&& v, std::chrono::milliseconds limit) {
  return go::select(go::send_case(c, std::forward<V>(v)), go::recv_case(go::after(limit))) == 0;
}

// ---------------------------------------------------------------------------------------
// sieve1.go: the concurrent prime sieve, a daisy chain of Filter goroutines.
//
// Go leaves the chain blocked when main returns. Here main closes `primes` at the end; the
// Sieve's blocked send then throws chan_error, and each goroutine, on its way out, closes
// its input channel, so the failure to send travels up the chain to Generate.
// (Filter takes its input as chan<int> rather than <-chan int only so it can close it.)
// A wait_group counts the chain's goroutines, so the test checks that all of them return.

void sieve1_generate(go::send_chan<int> ch) {
  try {
    for (int i = 2;; i++) ch.send(i);  // Send 'i' to channel 'ch'.
  } catch (const go::chan_error&) {
    // The consumer is gone.
  }
}

// Copy the values from channel 'in' to channel 'out', removing those divisible by 'prime'.
void sieve1_filter(go::chan<int> in, go::send_chan<int> out, int prime) {
  try {
    for (int i : in) {  // Loop over values received from 'in'.
      if (i % prime != 0) out.send(i);
    }
  } catch (const go::chan_error&) {
  }
  in.close();
}

// The prime sieve: Daisy-chain Filter processes together.
void sieve1_sieve(go::send_chan<int> primes, std::shared_ptr<go::wait_group> wg) {
  auto ch = go::make_chan<int>();         // Create a new channel.
  wg->go([ch] { sieve1_generate(ch); });  // Start Generate() as a subprocess.
  try {
    for (;;) {
      // Note that ch is different on each iteration.
      int prime = *ch.recv();
      primes.send(prime);
      auto ch1 = go::make_chan<int>();
      wg->go([ch, ch1, prime] { sieve1_filter(ch, ch1, prime); });
      ch = ch1;
    }
  } catch (const go::chan_error&) {
  }
  ch.close();
}

TEST(GoChanPrograms, Sieve1) {
  go::run([] {
    settle_goroutines settle;
    auto primes = go::make_chan<int>();
    auto wg = std::make_shared<go::wait_group>();
    wg->go([primes, wg] { sieve1_sieve(primes, wg); });
    for (int want : kPrimes) {
      auto x = primes.recv();
      ASSERT_TRUE(x.has_value());
      EXPECT_EQ(*x, want);
    }
    // Shut the chain down: the Sieve's pending send must fail (send on closed channel), and
    // that failure travels up the chain, each goroutine closing its input on its way out.
    primes.close();
    EXPECT_TRUE(wait_within(wg, 10s)) << "the sieve's goroutines did not all return";
  });
}

// ---------------------------------------------------------------------------------------
// sieve2.go: a more efficient prime sieve: odd numbers, a heap-merge of the channels of
// multiples of each prime, and a buffering send proxy whose select disables its send case
// with a nil channel when its buffer is empty. Goroutines stop through a stopper.

// Return a chan of odd numbers, starting from 5.
go::chan<int> sieve2_odds(const stopper& s) {
  auto out = go::make_chan<int>(50);
  s.spawn([s, out] {
    int n = 5;
    for (;;) {
      s.send(out, n);
      n += 2;
    }
  });
  return out;
}

// Return a chan of odd multiples of the prime number p, starting from p*p.
go::chan<int> sieve2_multiples(const stopper& s, int p) {
  auto out = go::make_chan<int>(10);
  s.spawn([s, out, p] {
    int n = p * p;
    for (;;) {
      s.send(out, n);
      n += 2 * p;
    }
  });
  return out;
}

// Return a channel to serve as a sending proxy to 'out'. A goroutine receives values from
// the proxy and stores them in an expanding buffer, so that sending to 'out' never blocks.
go::send_chan<int> sieve2_sendproxy(const stopper& s, go::send_chan<int> out) {
  auto proxy = go::make_chan<int>(10);
  s.spawn([s, out, proxy] {
    std::deque<int> buffer;
    for (;;) {
      go::send_chan<int> c = out;
      int e = 0;
      if (buffer.empty()) {
        c = nullptr;  // buffer empty: disable output
      } else {
        e = buffer.front();
      }
      s.select(go::recv_case(proxy, [&](std::optional<int> v) { buffer.push_back(*v); }),
               go::send_case(c, e, [&] { buffer.pop_front(); }));
    }
  });
  return proxy;
}

// Return a chan int of primes.
go::chan<int> sieve2_sieve(const stopper& s) {
  // The output values.
  auto out = go::make_chan<int>(10);
  out.send(2);
  out.send(3);

  // The channel of all composites to be eliminated in increasing order.
  auto composites = go::make_chan<int>(50);

  // The feedback loop.
  auto primes = go::make_chan<int>(10);
  primes.send(3);

  // Merge channels of multiples of 'primes' into 'composites'.
  s.spawn([s, primes, composites] {
    struct peek_ch {
      int head;
      go::chan<int> ch;
    };
    std::vector<peek_ch> h;  // a min-heap on head
    auto greater = [](const peek_ch& a, const peek_ch& b) { return a.head > b.head; };
    auto advance_min = [&](int& min) {
      std::pop_heap(h.begin(), h.end(), greater);
      peek_ch& minchan = h.back();
      min = minchan.head;
      minchan.head = s.recv(minchan.ch);
      std::push_heap(h.begin(), h.end(), greater);
    };
    int min = 15;
    for (;;) {
      auto m = sieve2_multiples(s, s.recv(primes));
      int head = s.recv(m);
      while (min < head) {
        s.send(composites, min);
        advance_min(min);
      }
      while (min == head) advance_min(min);
      s.send(composites, head);
      h.push_back({s.recv(m), m});
      std::push_heap(h.begin(), h.end(), greater);
    }
  });

  // Sieve out 'composites' from 'candidates'.
  s.spawn([s, primes, composites, out] {
    // The merging goroutine receives from 'primes' much slower than this goroutine sends to
    // it; the proxy buffers automatically so that this goroutine never blocks there.
    auto proxied_primes = sieve2_sendproxy(s, primes);
    auto candidates = sieve2_odds(s);
    int p = s.recv(candidates);
    for (;;) {
      int c = s.recv(composites);
      while (p < c) {
        s.send(proxied_primes, p);
        s.send(out, p);
        p = s.recv(candidates);
      }
      if (p == c) p = s.recv(candidates);
    }
  });

  return out;
}

TEST(GoChanPrograms, Sieve2) {
  go::run([] {
    settle_goroutines settle;
    stopper s;
    auto primes = sieve2_sieve(s);
    for (int want : kPrimes) {
      auto x = recv_within(primes, 10s);
      ASSERT_TRUE(x.has_value()) << "no prime after " << want - 1;
      EXPECT_EQ(*x, want);
    }
    // Also well past the first 25, where the proxy's buffer must grow.
    int last = 97;
    for (int i = 0; i < 300; i++) {
      auto x = recv_within(primes, 10s);
      ASSERT_TRUE(x.has_value());
      ASSERT_GT(*x, last);
      for (int d = 2; d * d <= *x; d++) ASSERT_NE(*x % d, 0) << *x << " is not prime";
      last = *x;
    }
    EXPECT_EQ(last, 2153);  // the 325th prime
    EXPECT_TRUE(s.stop()) << "goroutines did not all return";
  });
}

// ---------------------------------------------------------------------------------------
// powser1.go: power series as networks of goroutines exchanging rationals on demand
// channels (McIlroy's "Squinting at power series"). Everything is as in Go, except:
// seqno is atomic (Go's version races on it), the channel names are dropped, functions the
// test does not use are left out, and goroutines stop through a stopper at the end.

namespace powser {

struct rat {
  std::int64_t num = 0, den = 0;  // numerator, denominator
  friend bool operator==(const rat&, const rat&) = default;
  friend std::ostream& operator<<(std::ostream& os, const rat& u) {
    if (u.den == 1) return os << u.num;
    return os << u.num << "/" << u.den;
  }
};

// Integer gcd; needed for rational arithmetic.
std::int64_t gcd(std::int64_t u, std::int64_t v) {
  if (u < 0) return gcd(-u, v);
  if (u == 0) return v;
  return gcd(v % u, u);
}

// Make a rational from two ints and from one int.
rat i2tor(std::int64_t u, std::int64_t v) {
  std::int64_t g = gcd(u, v);
  rat r;
  if (v > 0) {
    r.num = u / g;
    r.den = v / g;
  } else {
    r.num = -u / g;
    r.den = -v / g;
  }
  return r;
}
rat itor(std::int64_t u) { return i2tor(u, 1); }

const rat zero = itor(0);
const rat one = itor(1);
const rat finis = i2tor(1, 0);  // end mark

std::int64_t end(rat u) { return u.den == 0 ? 1 : 0; }

rat add(rat u, rat v) {
  std::int64_t g = gcd(u.den, v.den);
  return i2tor(u.num * (v.den / g) + v.num * (u.den / g), u.den * (v.den / g));
}
rat mul(rat u, rat v) {
  std::int64_t g1 = gcd(u.num, v.den);
  std::int64_t g2 = gcd(u.den, v.num);
  rat r;
  r.num = (u.num / g1) * (v.num / g2);
  r.den = (u.den / g2) * (v.den / g1);
  return r;
}
rat neg(rat u) { return i2tor(-u.num, u.den); }

// A demand channel: send a request on req, get the next term on dat.
struct dch {
  go::chan<int> req;
  go::chan<rat> dat;
};
// dch2 is shared by the generations of split, which swap its two entries.
using dch2 = std::shared_ptr<std::array<dch, 2>>;

int next_seqno() {
  static std::atomic<int> seqno{0};
  return ++seqno;
}

struct network {
  stopper s;

  static dch mkdch() { return {go::make_chan<int>(), go::make_chan<rat>()}; }
  static dch2 mkdch2() { return std::make_shared<std::array<dch, 2>>(std::array<dch, 2>{mkdch(), mkdch()}); }

  // split reads a single demand channel and replicates its output onto two, which may be
  // read at different rates. A process is created at first demand for a rat and dies after
  // the rat has been sent to both outputs. When multiple generations of split exist, the
  // newest services requests on out[0], the oldest on out[1]; a signal on the release-wait
  // channel tells the next newer generation to begin servicing out[1].
  void dosplit(dch in, dch2 out, go::chan<int> wait) const {
    bool both = false;  // do not service both channels
    if (s.select(go::recv_case((*out)[0].req), go::recv_case(wait)) == 1) {
      both = true;
      if (s.select(go::recv_case((*out)[0].req), go::recv_case((*out)[1].req)) == 1) {
        std::swap((*out)[0], (*out)[1]);
      }
    }
    s.send(in.req, next_seqno());
    auto release = go::make_chan<int>();
    s.spawn([*this, in, out, release] { dosplit(in, out, release); });
    rat dat = s.recv(in.dat);
    s.send((*out)[0].dat, dat);
    if (!both) s.recv(wait);
    s.recv((*out)[1].req);
    s.send((*out)[1].dat, dat);
    s.send(release, 0);
  }

  void split(dch in, dch2 out) const {
    auto release = go::make_chan<int>();
    s.spawn([*this, in, out, release] { dosplit(in, out, release); });
    s.send(release, 0);
  }

  void put(rat dat, dch out) const {
    s.recv(out.req);
    s.send(out.dat, dat);
  }

  rat get(dch in) const {
    s.send(in.req, next_seqno());
    return s.recv(in.dat);
  }

  // Get one rat from each of 2 demand channels, serving whichever is ready first.
  std::array<rat, 2> get2(dch in0, dch in1) const {
    std::array<go::chan<int>, 2> req = {in0.req, in1.req};
    std::array<go::chan<rat>, 2> dat = {nullptr, nullptr};
    std::array<rat, 2> out{};
    for (int n = 2 * 2; n > 0; n--) {
      int seqno = next_seqno();
      s.select(go::send_case(req[0], seqno,
                             [&] {
                               dat[0] = in0.dat;
                               req[0] = nullptr;
                             }),
               go::send_case(req[1], seqno,
                             [&] {
                               dat[1] = in1.dat;
                               req[1] = nullptr;
                             }),
               go::recv_case(dat[0],
                             [&](std::optional<rat> it) {
                               out[0] = *it;
                               dat[0] = nullptr;
                             }),
               go::recv_case(dat[1], [&](std::optional<rat> it) {
                 out[1] = *it;
                 dat[1] = nullptr;
               }));
    }
    return out;
  }

  void copy(dch in, dch out) const {
    for (;;) {
      s.recv(out.req);
      s.send(out.dat, get(in));
    }
  }

  void repeat(rat dat, dch out) const {
    for (;;) put(dat, out);
  }

  // Make a pair of power series identical to a given power series.
  dch2 Split(dch U) const {
    dch2 UU = mkdch2();
    s.spawn([*this, U, UU] { split(U, UU); });
    return UU;
  }

  // Add two power series.
  dch Add(dch U, dch V) const {
    dch Z = mkdch();
    s.spawn([*this, U, V, Z] {
      for (;;) {
        s.recv(Z.req);
        auto uv = get2(U, V);
        switch (end(uv[0]) + 2 * end(uv[1])) {
          case 0: s.send(Z.dat, add(uv[0], uv[1])); break;
          case 1:
            s.send(Z.dat, uv[1]);
            copy(V, Z);
            break;
          case 2:
            s.send(Z.dat, uv[0]);
            copy(U, Z);
            break;
          case 3: s.send(Z.dat, finis); break;
        }
      }
    });
    return Z;
  }

  // Multiply a power series by a constant.
  dch Cmul(rat c, dch U) const {
    dch Z = mkdch();
    s.spawn([*this, c, U, Z] {
      bool done = false;
      while (!done) {
        s.recv(Z.req);
        rat u = get(U);
        if (end(u) != 0) {
          done = true;
        } else {
          s.send(Z.dat, mul(c, u));
        }
      }
      s.send(Z.dat, finis);
    });
    return Z;
  }

  dch Sub(dch U, dch V) const { return Add(U, Cmul(neg(one), V)); }

  dch Rep(rat c) const {
    dch Z = mkdch();
    s.spawn([*this, c, Z] { repeat(c, Z); });
    return Z;
  }

  // Multiply. With U = u + x*UU and V = v + x*VV: UV = u*v + x*(u*VV+v*UU) + x*x*UU*VV.
  dch Mul(dch U, dch V) const {
    dch Z = mkdch();
    s.spawn([*this, U, V, Z] {
      s.recv(Z.req);
      auto uv = get2(U, V);
      if (end(uv[0]) != 0 || end(uv[1]) != 0) {
        s.send(Z.dat, finis);
      } else {
        s.send(Z.dat, mul(uv[0], uv[1]));
        dch2 UU = Split(U);
        dch2 VV = Split(V);
        dch W = Add(Cmul(uv[0], (*VV)[0]), Cmul(uv[1], (*UU)[0]));
        s.recv(Z.req);
        s.send(Z.dat, get(W));
        copy(Add(W, Mul((*UU)[1], (*VV)[1])), Z);
      }
    });
    return Z;
  }

  // Differentiate.
  dch Diff(dch U) const {
    dch Z = mkdch();
    s.spawn([*this, U, Z] {
      s.recv(Z.req);
      rat u = get(U);
      if (end(u) == 0) {
        bool done = false;
        for (std::int64_t i = 1; !done; i++) {
          u = get(U);
          if (end(u) != 0) {
            done = true;
          } else {
            s.send(Z.dat, mul(itor(i), u));
            s.recv(Z.req);
          }
        }
      }
      s.send(Z.dat, finis);
    });
    return Z;
  }

  // Integrate, with const of integration.
  dch Integ(rat c, dch U) const {
    dch Z = mkdch();
    s.spawn([*this, c, U, Z] {
      put(c, Z);
      bool done = false;
      for (std::int64_t i = 1; !done; i++) {
        s.recv(Z.req);
        rat u = get(U);
        if (end(u) != 0) done = true;
        s.send(Z.dat, mul(i2tor(1, i), u));
      }
      s.send(Z.dat, finis);
    });
    return Z;
  }

  // Exponential of a power series with constant term 0: Z = exp(U), DZ = Z*DU, integrate.
  dch Exp(dch U) const {
    dch2 ZZ = mkdch2();
    split(Integ(one, Mul((*ZZ)[0], Diff(U))), ZZ);
    return (*ZZ)[1];
  }

  // Monomial Substitution: U(c x^n). Each Ui is multiplied by c^i and followed by n-1 zeros.
  dch MonSubst(dch U, rat c0, int n) const {
    dch Z = mkdch();
    s.spawn([*this, U, c0, n, Z] {
      rat c = one;
      for (;;) {
        s.recv(Z.req);
        rat u = get(U);
        s.send(Z.dat, mul(u, c));
        c = mul(c, c0);
        if (end(u) != 0) {
          s.send(Z.dat, finis);
          break;
        }
        for (int i = 1; i < n; i++) {
          s.recv(Z.req);
          s.send(Z.dat, zero);
        }
      }
    });
    return Z;
  }

  void check(dch U, rat c, int count, const char* str) const {
    for (int i = 0; i < count; i++) {
      rat r = get(U);
      EXPECT_EQ(r, c) << str << ", term " << i;
    }
  }

  static constexpr int N = 10;

  void checka(dch U, const std::array<rat, N>& a, const char* str) const {
    for (int i = 0; i < N; i++) {
      rat r = get(U);
      EXPECT_EQ(r, a[i]) << str << ", term " << i;
    }
  }
};

}  // namespace powser

TEST(GoChanPrograms, Powser1) {
  using namespace powser;
  go::run([] {
    settle_goroutines settle;
    network ps;
    dch Ones = ps.Rep(one);
    dch Twos = ps.Rep(itor(2));
    ps.check(Ones, one, 5, "Ones");
    // Go checks these three with a count of 0 (nothing); 5 terms each are checked here.
    ps.check(ps.Add(Ones, Ones), itor(2), 5, "Add Ones Ones");  // 2 2 2 2 2
    ps.check(ps.Add(Ones, Twos), itor(3), 5, "Add Ones Twos");  // 3 3 3 3 3
    std::array<rat, network::N> a{};
    dch d = ps.Diff(Ones);
    for (int i = 0; i < network::N; i++) a[i] = itor(i + 1);
    ps.checka(d, a, "Diff");  // 1 2 3 4 5
    dch in = ps.Integ(zero, Ones);
    a[0] = zero;  // integration constant
    for (int i = 1; i < network::N; i++) a[i] = i2tor(1, i);
    ps.checka(in, a, "Integ");                                   // 0 1 1/2 1/3 1/4 1/5
    ps.check(ps.Cmul(neg(one), Twos), itor(-2), 10, "CMul");     // -2 -2 -2 -2 -2
    ps.check(ps.Sub(Ones, Twos), itor(-1), 5, "Sub Ones Twos");  // -1 -1 -1 -1 -1
    dch m = ps.Mul(Ones, Ones);
    for (int i = 0; i < network::N; i++) a[i] = itor(i + 1);
    ps.checka(m, a, "Mul");  // 1 2 3 4 5
    dch e = ps.Exp(Ones);
    a[0] = itor(1);
    a[1] = itor(1);
    a[2] = i2tor(3, 2);
    a[3] = i2tor(13, 6);
    a[4] = i2tor(73, 24);
    a[5] = i2tor(167, 40);
    a[6] = i2tor(4051, 720);
    a[7] = i2tor(37633, 5040);
    a[8] = i2tor(43817, 4480);
    a[9] = i2tor(4596553, 362880);
    ps.checka(e, a, "Exp");  // 1 1 3/2 13/6 73/24
    dch at = ps.Integ(zero, ps.MonSubst(Ones, neg(one), 2));
    for (int c = 1, i = 0; i < network::N; i++) {
      if (i % 2 == 0) {
        a[i] = zero;
      } else {
        a[i] = i2tor(c, i);
        c *= -1;
      }
    }
    ps.checka(at, a, "ATan");  // 0 1 0 -1/3 0 1/5
    EXPECT_TRUE(ps.s.stop()) << "goroutines did not all return";
  });
}

// ---------------------------------------------------------------------------------------
// doubleselect.go: a select with four send cases must run exactly one of them: if two ran,
// the same value would arrive twice.

TEST(GoChanPrograms, DoubleSelect) {
  static constexpr int iterations = static_cast<int>(gocxx_test::scaled(100000));
  go::run([] {
    settle_goroutines settle;
    // sender sends a counter to one of four different channels.
    auto sender = [](int n, go::send_chan<int> c1, go::send_chan<int> c2, go::send_chan<int> c3,
                     go::send_chan<int> c4) {
      for (int i = 0; i < n; i++) {
        go::select(go::send_case(c1, i), go::send_case(c2, i), go::send_case(c3, i), go::send_case(c4, i));
      }
      c4.close();
      c3.close();
      c2.close();
      c1.close();
    };
    // mux receives the values from sender and forwards them onto another channel.
    auto mux = [](go::send_chan<int> out, go::recv_chan<int> in, go::send_chan<bool> done) {
      for (int v : in) out.send(v);
      done.send(true);
    };
    auto c1 = go::make_chan<int>();
    auto c2 = go::make_chan<int>();
    auto c3 = go::make_chan<int>();
    auto c4 = go::make_chan<int>();
    auto done = go::make_chan<bool>();
    auto cmux = go::make_chan<int>();
    go::spawn(sender, iterations, c1, c2, c3, c4);
    go::spawn(mux, cmux, c1, done);
    go::spawn(mux, cmux, c2, done);
    go::spawn(mux, cmux, c3, done);
    go::spawn(mux, cmux, c4, done);
    go::spawn([done, cmux] {
      done.recv();
      done.recv();
      done.recv();
      done.recv();
      cmux.close();
    });
    // recver: check for duplicates (and, here, that nothing is lost).
    std::vector<bool> seen(iterations);
    int received = 0;
    for (int v : cmux) {
      ASSERT_GE(v, 0);
      ASSERT_LT(v, iterations);
      ASSERT_FALSE(seen[static_cast<std::size_t>(v)]) << "got duplicate value: " << v;
      seen[static_cast<std::size_t>(v)] = true;
      received++;
    }
    EXPECT_EQ(received, iterations);
  });
}

// ---------------------------------------------------------------------------------------
// fifo.go: buffered channels are FIFO; so are blocked receivers chained one after another.

TEST(GoChanPrograms, Fifo) {
  static constexpr int N = 10;
  go::run([] {
    settle_goroutines settle;
    {  // AsynchFifo
      auto ch = go::make_chan<int>(N);
      for (int i = 0; i < N; i++) ch.send(i);
      for (int i = 0; i < N; i++) EXPECT_EQ(ch.recv().value_or(-1), i) << "bad receive";
    }
    {  // SynchFifo: thread together a daisy chain to read the elements in sequence
      auto chain = [](go::recv_chan<int> ch, int val, go::recv_chan<int> in, go::send_chan<int> out) {
        in.recv();
        EXPECT_EQ(ch.recv().value_or(-1), val);
        out.send(1);
      };
      auto ch = go::make_chan<int>();
      auto in = go::make_chan<int>();
      auto start = in;
      for (int i = 0; i < N; i++) {
        auto out = go::make_chan<int>();
        go::spawn(chain, ch, i, in, out);
        in = out;
      }
      start.send(0);
      for (int i = 0; i < N; i++) ch.send(i);
      EXPECT_EQ(in.recv().value_or(-1), 1);
    }
  });
}

// ---------------------------------------------------------------------------------------
// nonblock.go: non-blocking sends and receives (select with default) on unbuffered and
// buffered channels of several element types succeed once, and only once, the other side
// is ready, and carry the right value.

void nonblock_pause() {
  // Go: two ticks of a 10us ticker and three Goscheds.
  go::sleep(10us);
  go::sleep(10us);
  go::yield();
  go::yield();
  go::yield();
}

constexpr int kNonblockMaxTries = 10000;

template <class T>
void nonblock_round(int buffer, go::chan<bool> sync, T receiver_wants, T sender_sends) {
  auto c = go::make_chan<T>(static_cast<std::size_t>(buffer));

  // Nothing was sent: a non-blocking receive takes the default case.
  int k = go::select(go::recv_case(c, [](std::optional<T>) { ADD_FAILURE() << "blocked sender"; }), go::default_case());
  EXPECT_EQ(k, 1);

  go::spawn([c, sync, receiver_wants] {
    EXPECT_EQ(c.recv().value_or(T{}), receiver_wants) << "receiver value";
    sync.send(true);
  });
  int tries = 0;
  while (go::select(go::send_case(c, receiver_wants), go::default_case()) != 0) {
    tries++;
    ASSERT_LE(tries, kNonblockMaxTries) << "receiver, buffer=" << buffer;
    nonblock_pause();
  }
  sync.recv();

  go::spawn([c, sync, sender_sends] {
    c.send(sender_sends);
    sync.send(true);
  });
  if (buffer > 0) sync.recv();
  tries = 0;
  T got{};
  while (go::select(go::recv_case(c, [&](std::optional<T> v) { got = *v; }), go::default_case()) != 0) {
    tries++;
    ASSERT_LE(tries, kNonblockMaxTries) << "sender, buffer=" << buffer;
    nonblock_pause();
  }
  EXPECT_EQ(got, sender_sends) << "sender value";
  if (buffer == 0) sync.recv();
}

TEST(GoChanPrograms, Nonblock) {
  go::run([] {
    settle_goroutines settle;
    auto sync = go::make_chan<bool>();
    for (int buffer = 0; buffer < 2; buffer++) {
      nonblock_round<std::int32_t>(buffer, sync, 123, 234);
      nonblock_round<std::int64_t>(buffer, sync, 123456, 234567);
      nonblock_round<bool>(buffer, sync, true, true);
      nonblock_round<std::string>(buffer, sync, "hello", "hello again");
    }
  });
}

// ---------------------------------------------------------------------------------------
// select.go: every send expression of a select is evaluated exactly once each time the
// select runs (also for nil channels), a nil channel's case is never chosen, and a select
// with a default falls through to it once no case is ready.

TEST(GoChanPrograms, Select) {
  go::run([] {
    settle_goroutines settle;
    unsigned counter = 0;
    unsigned shift = 0;
    auto get_value = [&] {
      counter++;
      return 1u << shift;
    };
    auto send = [&](go::chan<unsigned> a, go::chan<unsigned> b) {
      int i = 0;
      for (;;) {
        int k = go::select(go::send_case(a, get_value(),
                                         [&] {
                                           i++;
                                           a = nullptr;
                                         }),
                           go::send_case(b, get_value(),
                                         [&] {
                                           i++;
                                           b = nullptr;
                                         }),
                           go::default_case());
        if (k == 2) break;
        shift++;
      }
      return i;
    };
    auto a = go::make_chan<unsigned>(1);
    auto b = go::make_chan<unsigned>(1);
    EXPECT_EQ(send(a, b), 2);
    unsigned av = a.recv().value_or(0);
    unsigned bv = b.recv().value_or(0);
    EXPECT_EQ(av | bv, 3u) << "bad values " << av << " " << bv;
    EXPECT_EQ(send(a, nullptr), 1);
    EXPECT_EQ(counter, 10u);
    EXPECT_EQ(a.len(), 1u);
    EXPECT_EQ(a.recv().value_or(0), 4u);  // sent after shift reached 2
  });
}

// ---------------------------------------------------------------------------------------
// select2.go: a select whose receive case wins every time, 100000 times over, twice. The
// memory measurement of the Go program is dropped; the behaviour is kept: every value is
// received through the c case and the never-ready case never runs.

TEST(GoChanPrograms, Select2) {
  static constexpr int n = static_cast<int>(gocxx_test::scaled(100000));
  go::run([] {
    settle_goroutines settle;
    auto sender = [](go::chan<int> c, int count) {
      for (int i = 0; i < count; i++) c.send(1);
    };
    auto receiver = [](go::chan<int> c, go::chan<int> dummy, int count) {
      int got = 0;
      for (int i = 0; i < count; i++) {
        go::select(go::recv_case(c, [&](std::optional<int> v) { got += v.value_or(0); }),
                   go::recv_case(dummy, [] { ADD_FAILURE() << "dummy"; }));
      }
      return got;
    };
    auto c = go::make_chan<int>();
    auto dummy = go::make_chan<int>();
    // warm up
    go::spawn(sender, c, n);
    EXPECT_EQ(receiver(c, dummy, n), n);
    // second time
    go::spawn(sender, c, n);
    EXPECT_EQ(receiver(c, dummy, n), n);
    EXPECT_EQ(c.len(), 0u);
  });
}

// ---------------------------------------------------------------------------------------
// select3.go: which operations block and which panic. test_block runs f in a goroutine and
// checks empirically that it blocks (has not finished after 100 ms; Go waits 10 ms) or that
// it does not (finishes within 10 s, as in Go). A goroutine that blocks forever is left
// behind, parked, as in Go.

enum class blocks { always, never };

void test_block(blocks expect, std::function<void()> f, int line) {
  auto done = go::make_chan<void>(1);
  go::spawn([done, f] {
    f();
    done.send();
  });
  auto limit = expect == blocks::always ? std::chrono::milliseconds(100) : std::chrono::milliseconds(10s);
  bool finished = go::select(go::recv_case(done), go::recv_case(go::after(limit))) == 0;
  if (expect == blocks::always) {
    EXPECT_FALSE(finished) << "function did not block (case at line " << line << ")";
  } else {
    EXPECT_TRUE(finished) << "function blocked (case at line " << line << ")";
  }
}

void unreachable() { ADD_FAILURE() << "control flow shouldn't reach here"; }

TEST(GoChanPrograms, Select3) {
  go::run([] {
    settle_goroutines settle(/*left_blocked=*/10);  // the test_block(always) cases
    constexpr std::size_t async = 1;                // asynchronous channels
    go::chan<int> nilch;
    auto closedch = go::make_chan<int>();
    closedch.close();

    // sending/receiving from a nil channel blocks
    test_block(
        blocks::always, [nilch] { nilch.send(7); }, __LINE__);
    test_block(
        blocks::always, [nilch] { nilch.recv(); }, __LINE__);

    // sending/receiving from a nil channel inside a select is never selected
    EXPECT_NO_THROW(go::select(go::send_case(nilch, 7, unreachable), go::default_case()));
    EXPECT_NO_THROW(go::select(go::recv_case(nilch, unreachable), go::default_case()));
    EXPECT_EQ(go::select(go::send_case(nilch, 7, unreachable), go::default_case()), 1);
    EXPECT_EQ(go::select(go::recv_case(nilch, unreachable), go::default_case()), 1);

    // sending to an async channel with free buffer space never blocks
    test_block(
        blocks::never,
        [] {
          auto ch = go::make_chan<int>(async);
          ch.send(7);
        },
        __LINE__);

    // receiving from a closed channel never blocks
    test_block(
        blocks::never,
        [closedch] {
          for (int i = 0; i < 10; i++) {
            EXPECT_EQ(closedch.recv().value_or(0), 0) << "expected zero value when reading from closed channel";
            auto x = closedch.recv();
            EXPECT_FALSE(x.has_value()) << "expected 0, false from closed channel";
          }
        },
        __LINE__);

    // sending to a closed channel panics.
    EXPECT_THROW(closedch.send(7), go::chan_error);

    // receiving from a non-ready channel always blocks. (The channels of the goroutines
    // blocked for good are made outside them and captured: a channel referenced only from a
    // parked goroutine's stack would be reported by LeakSanitizer at exit.)
    test_block(
        blocks::always, [ch = go::make_chan<int>()] { ch.recv(); }, __LINE__);

    // empty selects always block (also the dynamic form with no cases)
    test_block(
        blocks::always, [] { go::select(); }, __LINE__);
    test_block(
        blocks::always, [] { go::select_cases().select(); }, __LINE__);

    // selects with only nil channels always block
    test_block(
        blocks::always, [nilch] { go::select(go::recv_case(nilch, unreachable)); }, __LINE__);
    test_block(
        blocks::always, [nilch] { go::select(go::send_case(nilch, 7, unreachable)); }, __LINE__);
    test_block(
        blocks::always,
        [nilch] { go::select(go::recv_case(nilch, unreachable), go::send_case(nilch, 7, unreachable)); }, __LINE__);

    // selects with non-ready non-nil channels always block
    test_block(
        blocks::always, [ch = go::make_chan<int>()] { go::select(go::recv_case(ch, unreachable)); }, __LINE__);

    // selects with default cases don't block
    test_block(
        blocks::never, [] { go::select(go::default_case()); }, __LINE__);
    test_block(
        blocks::never, [nilch] { go::select(go::recv_case(nilch, unreachable), go::default_case()); }, __LINE__);
    test_block(
        blocks::never, [nilch] { go::select(go::send_case(nilch, 7, unreachable), go::default_case()); }, __LINE__);

    // selects with ready channels don't block
    test_block(
        blocks::never,
        [] {
          auto ch = go::make_chan<int>(async);
          go::select(go::send_case(ch, 7), go::default_case(unreachable));
          EXPECT_EQ(ch.len(), 1u);
        },
        __LINE__);
    test_block(
        blocks::never,
        [] {
          auto ch = go::make_chan<int>(async);
          ch.send(7);
          go::select(go::recv_case(ch), go::default_case(unreachable));
          EXPECT_EQ(ch.len(), 0u);
        },
        __LINE__);

    // selects with closed channels behave like ordinary operations
    test_block(
        blocks::never, [closedch] { go::select(go::recv_case(closedch)); }, __LINE__);
    test_block(
        blocks::never,
        [closedch] { go::select(go::recv_case(closedch, [](std::optional<int> x) { EXPECT_EQ(x.value_or(0), 0); })); },
        __LINE__);
    test_block(
        blocks::never,
        [closedch] { go::select(go::recv_case(closedch, [](std::optional<int> x) { EXPECT_FALSE(x.has_value()); })); },
        __LINE__);
    EXPECT_THROW(go::select(go::send_case(closedch, 7)), go::chan_error);

    // select should not get confused if it sees itself
    test_block(
        blocks::always, [c = go::make_chan<int>()] { go::select(go::send_case(c, 1), go::recv_case(c)); }, __LINE__);
  });
}

// ---------------------------------------------------------------------------------------
// select4.go: only the chosen case's assignment runs; the left-hand side of a receive case
// that is not chosen is never evaluated.

TEST(GoChanPrograms, Select4) {
  go::run([] {
    settle_goroutines settle;
    bool f_called = false;
    int sink = 0;
    auto f = [&]() -> int* {
      f_called = true;  // BUG: called f
      return &sink;
    };
    struct {
      int a = 0;
    } x;
    auto c = go::make_chan<int>(1);
    auto c1 = go::make_chan<int>();
    c.send(42);
    int k = go::select(go::recv_case(c1, [&](std::optional<int> v) { *f() = v.value_or(0); }),
                       go::recv_case(c, [&](std::optional<int> v) { x.a = v.value_or(0); }));
    EXPECT_EQ(k, 1);
    EXPECT_FALSE(f_called);
    EXPECT_EQ(x.a, 42);
  });
}

// select5.go is a program generator (see the top of this file): not ported.

// ---------------------------------------------------------------------------------------
// select6.go: a goroutine whose select was woken through c2 must no longer be queued on c1;
// otherwise the later sends on c1 go to a stale waiter (Go issue 2075). Both goroutines that
// receive from c1 must get one value each.

TEST(GoChanPrograms, Select6) {
  go::run([] {
    settle_goroutines settle;
    auto c1 = go::make_chan<bool>();
    auto c2 = go::make_chan<bool>();
    auto c3 = go::make_chan<bool>();
    auto got = go::make_chan<int>(2);
    go::spawn([c1, got] {
      c1.recv();
      got.send(1);
    });
    go::spawn([c1, c2, c3, got] {
      go::select(go::recv_case(c1, [] { ADD_FAILURE() << "dummy"; }), go::recv_case(c2, [&] { c3.send(true); }));
      c1.recv();
      got.send(2);
    });
    go::spawn([c2] { c2.send(true); });
    ASSERT_TRUE(recv_within(c3, 10s).has_value());
    ASSERT_TRUE(send_within(c1, true, 10s)) << "deadlock";
    ASSERT_TRUE(send_within(c1, true, 10s)) << "deadlock";
    auto a = recv_within(got, 10s);
    auto b = recv_within(got, 10s);
    ASSERT_TRUE(a.has_value() && b.has_value());
    EXPECT_EQ(*a + *b, 3);
  });
}

// ---------------------------------------------------------------------------------------
// select7.go: every combination of a plain, a one-case select and a two-case select on the
// sending side with the same three forms on the receiving side completes (and, here, carries
// the value).

void select7_recv1(go::recv_chan<int> c, go::send_chan<int> got) { got.send(*c.recv()); }

void select7_recv2(go::recv_chan<int> c, go::send_chan<int> got) {
  go::select(go::recv_case(c, [&](std::optional<int> v) { got.send(*v); }));
}

void select7_recv3(go::recv_chan<int> c, go::send_chan<int> got) {
  auto c2 = go::make_chan<int>();
  go::select(go::recv_case(c, [&](std::optional<int> v) { got.send(*v); }),
             go::recv_case(c2, [] { ADD_FAILURE() << "c2"; }));
}

using select7_receiver = void (*)(go::recv_chan<int>, go::send_chan<int>);

void select7_send1(select7_receiver recv, go::send_chan<int> got) {
  auto c = go::make_chan<int>();
  go::spawn(recv, c, got);
  go::yield();
  c.send(1);
}

void select7_send2(select7_receiver recv, go::send_chan<int> got) {
  auto c = go::make_chan<int>();
  go::spawn(recv, c, got);
  go::yield();
  go::select(go::send_case(c, 1));
}

void select7_send3(select7_receiver recv, go::send_chan<int> got) {
  auto c = go::make_chan<int>();
  go::spawn(recv, c, got);
  go::yield();
  auto c2 = go::make_chan<int>();
  EXPECT_EQ(go::select(go::send_case(c, 1), go::send_case(c2, 1)), 0);
}

TEST(GoChanPrograms, Select7) {
  go::run([] {
    settle_goroutines settle;
    using sender = void (*)(select7_receiver, go::send_chan<int>);
    const sender senders[] = {select7_send1, select7_send2, select7_send3};
    const select7_receiver receivers[] = {select7_recv1, select7_recv2, select7_recv3};
    for (int r = 0; r < 3; r++) {
      for (int s = 0; s < 3; s++) {
        auto got = go::make_chan<int>(1);
        auto finished = go::make_chan<void>();
        go::spawn([send = senders[s], recv = receivers[r], got, finished] {
          send(recv, got);
          finished.close();
        });
        EXPECT_TRUE(signal_within(finished, 10s)) << "send" << s + 1 << "(recv" << r + 1 << ") did not complete";
        EXPECT_EQ(recv_within(got, 10s).value_or(0), 1) << "send" << s + 1 << "(recv" << r + 1 << ")";
      }
    }
  });
}

// ---------------------------------------------------------------------------------------
// zerosize.go: channels of zero-size elements, unbuffered and buffered. Go only makes them;
// here they also carry values.

struct empty_elem {};

template <class T>
void zerosize_channels() {
  auto u = go::make_chan<T>();
  auto b = go::make_chan<T>(1);
  EXPECT_EQ(u.cap(), 0u);
  EXPECT_EQ(b.cap(), 1u);
  b.send(T{});
  EXPECT_EQ(b.len(), 1u);
  EXPECT_FALSE(b.try_send(T{}));
  EXPECT_TRUE(b.recv().has_value());
  EXPECT_EQ(b.len(), 0u);
  go::spawn([u] { u.send(T{}); });
  EXPECT_TRUE(u.recv().has_value());
  u.close();
  EXPECT_FALSE(u.recv().has_value());
}

TEST(GoChanPrograms, Zerosize) {
  go::run([] {
    settle_goroutines settle;
    zerosize_channels<std::array<std::byte, 0>>();  // chan [0]byte
    zerosize_channels<empty_elem>();                // chan struct{}
    // chan struct{} as gocxx spells it: chan<void>.
    auto u = go::make_chan<void>();
    auto b = go::make_chan<void>(1);
    EXPECT_EQ(u.cap(), 0u);
    EXPECT_EQ(b.cap(), 1u);
    b.send();
    EXPECT_EQ(b.len(), 1u);
    EXPECT_FALSE(b.try_send());
    EXPECT_TRUE(b.recv());
    go::spawn([u] { u.send(); });
    EXPECT_TRUE(u.recv());
    u.close();
    EXPECT_FALSE(u.recv());
  });
}

// ---------------------------------------------------------------------------------------
// perm.go: channel direction is checked at compile time. In Go those are `// ERROR` lines of
// an errorcheck test; here they are static_asserts on requires-expressions.

template <class C>
concept can_recv = requires(const C& c) { c.recv(); };
template <class C>
concept can_try_recv = requires(const C& c) { c.try_recv(); };
template <class C>
concept can_range = requires(const C& c) {
  c.begin();
  c.end();
};
template <class C>
concept can_send = requires(const C& c) { c.send(0); };
template <class C>
concept can_send_op = requires(const C& c) { c << 0; };
template <class C>
concept can_try_send = requires(const C& c) { c.try_send(0); };
template <class C>
concept can_close = requires(const C& c) { c.close(); };

// cr = c, cs = c: ok. c = cr, c = cs, cr = cs, cs = cr: errors.
static_assert(std::is_convertible_v<go::chan<int>, go::recv_chan<int>>);
static_assert(std::is_convertible_v<go::chan<int>, go::send_chan<int>>);
static_assert(!std::is_convertible_v<go::recv_chan<int>, go::chan<int>>);
static_assert(!std::is_convertible_v<go::send_chan<int>, go::chan<int>>);
static_assert(!std::is_convertible_v<go::send_chan<int>, go::recv_chan<int>>);
static_assert(!std::is_convertible_v<go::recv_chan<int>, go::send_chan<int>>);
static_assert(!std::is_assignable_v<go::chan<int>&, go::recv_chan<int>>);
static_assert(!std::is_assignable_v<go::chan<int>&, go::send_chan<int>>);
static_assert(!std::is_assignable_v<go::recv_chan<int>&, go::send_chan<int>>);
static_assert(!std::is_assignable_v<go::send_chan<int>&, go::recv_chan<int>>);
// <-n, n <- 2 on a non-channel: errors.
static_assert(!can_recv<int> && !can_send<int>);
// c <- 0, <-c, x, ok := <-c, close(c): ok.
static_assert(can_send<go::chan<int>> && can_send_op<go::chan<int>> && can_try_send<go::chan<int>>);
static_assert(can_recv<go::chan<int>> && can_try_recv<go::chan<int>> && can_range<go::chan<int>>);
static_assert(can_close<go::chan<int>>);
// cr <- 0: error; <-cr: ok; close(cr): error.
static_assert(!can_send<go::recv_chan<int>> && !can_send_op<go::recv_chan<int>> && !can_try_send<go::recv_chan<int>>);
static_assert(can_recv<go::recv_chan<int>> && can_try_recv<go::recv_chan<int>> && can_range<go::recv_chan<int>>);
static_assert(!can_close<go::recv_chan<int>>);
// cs <- 0: ok; <-cs, x, ok = <-cs, for range cs: errors; close(cs): ok.
static_assert(can_send<go::send_chan<int>> && can_send_op<go::send_chan<int>> && can_try_send<go::send_chan<int>>);
static_assert(!can_recv<go::send_chan<int>> && !can_try_recv<go::send_chan<int>> && !can_range<go::send_chan<int>>);
static_assert(can_close<go::send_chan<int>>);
// The same for chan struct{} (chan<void>).
template <class C>
concept can_signal = requires(const C& c) { c.send(); };
static_assert(can_signal<go::chan<void>> && can_recv<go::chan<void>> && can_close<go::chan<void>>);
static_assert(can_signal<go::send_chan<void>> && !can_recv<go::send_chan<void>> && can_close<go::send_chan<void>>);
static_assert(!can_signal<go::recv_chan<void>> && can_recv<go::recv_chan<void>> && !can_close<go::recv_chan<void>>);

TEST(GoChanPrograms, Perm) {
  go::run([] {
    settle_goroutines settle;
    // The run-time half: the directional handles made from c are c.
    auto c = go::make_chan<int>(1);
    go::recv_chan<int> cr = c;  // ok
    go::send_chan<int> cs = c;  // ok
    cs.send(5);
    EXPECT_EQ(c.len(), 1u);
    EXPECT_EQ(cr.len(), 1u);
    EXPECT_EQ(cr.recv().value_or(0), 5);
    c.send(6);
    auto x = cr.try_recv();
    EXPECT_EQ(x.status, go::chan_status::ok);
    EXPECT_EQ(x.value.value_or(0), 6);
    // select { case c <- 0: case x := <-cr: case cs <- 0: }: all ok.
    int k = go::select(go::send_case(c, 0), go::recv_case(cr), go::send_case(cs, 0));
    EXPECT_TRUE(k == 0 || k == 2);
    EXPECT_EQ(c.len(), 1u);
    cs.close();  // close(cs): ok
    EXPECT_EQ(cr.recv().value_or(-1), 0);
    EXPECT_FALSE(cr.recv().has_value());
    EXPECT_THROW(c.close(), go::chan_error);
  });
}

// ---------------------------------------------------------------------------------------
// goroutines.go: a chain of 10000 goroutines, each passing one value from its right
// neighbour to its left.

TEST(GoChanPrograms, Goroutines) {
  static constexpr int n = static_cast<int>(gocxx_test::scaled(10000));
  go::run([] {
    settle_goroutines settle;
    auto f = [](go::chan<int> left, go::chan<int> right) { left.send(*right.recv()); };
    auto leftmost = go::make_chan<int>();
    auto right = leftmost;
    auto left = leftmost;
    for (int i = 0; i < n; i++) {
      right = go::make_chan<int>();
      go::spawn(f, left, right);
      left = right;
    }
    go::spawn([](go::chan<int> c) { c.send(1); }, right);
    auto v = recv_within(leftmost, 60s);
    ASSERT_TRUE(v.has_value()) << "the value did not make it through the chain";
    EXPECT_EQ(*v, 1);
  });
}

// ---------------------------------------------------------------------------------------
// sendstmt.go: the channel of a send case may itself come from a receive (`<-cc <- 2`), and
// the value sent is the whole expression.

TEST(GoChanPrograms, Sendstmt) {
  go::run([] {
    settle_goroutines settle;
    {  // chanchan
      auto cc = go::make_chan<go::chan<int>>(1);
      auto c = go::make_chan<int>(1);
      cc.send(c);
      int k = go::select(go::send_case(*cc.recv(), 2), go::default_case([] { ADD_FAILURE() << "nonblock"; }));
      EXPECT_EQ(k, 0);
      EXPECT_EQ(c.recv().value_or(0), 2) << "bad receive";
    }
    {  // sendprec
      auto c = go::make_chan<bool>(1);
      c << (false || true);
      EXPECT_TRUE(c.recv().value_or(false)) << "sent false";
    }
  });
}

}  // namespace
