// Ports of golang.org/x/time/rate's rate_test.go, named after them. The reserve and allow
// tests use explicit times as Go's do; the wait tests use the real clock with d = 100ms.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <vector>

#include "go/context.hpp"
#include "go/rate.hpp"
#include "go/synctest.hpp"
#include "go/time.hpp"

namespace {

using namespace std::chrono_literals;
using go::rate::limiter;
using go::rate::reservation;
using clk = std::chrono::steady_clock;

constexpr auto d = 100ms;
const clk::time_point t0 = clk::now();
const clk::time_point t1 = t0 + 1 * d, t2 = t0 + 2 * d, t3 = t0 + 3 * d, t4 = t0 + 4 * d, t5 = t0 + 5 * d,
                      t9 = t0 + 9 * d;

TEST(GoRate, Limit) { EXPECT_NE(go::rate::limit(10), go::rate::inf); }

TEST(GoRate, Every) {
  struct tc {
    std::chrono::nanoseconds interval;
    go::rate::limit lim;
  };
  std::vector<tc> cases{{0ns, go::rate::inf},
                        {-1ns, go::rate::inf},
                        {1ns, 1e9},
                        {1us, 1e6},
                        {1ms, 1e3},
                        {10ms, 100},
                        {100ms, 10},
                        {1s, 1},
                        {2s, 0.5},
                        {2500ms, 0.4},
                        {4s, 0.25},
                        {10s, 0.1},
                        {std::chrono::nanoseconds::max(), 1e9 / double(std::numeric_limits<std::int64_t>::max())}};
  for (const auto& c : cases) {
    go::rate::limit lim = go::rate::every(c.interval);
    EXPECT_LT(std::abs(lim / c.lim) - 1.0, 1e-9) << c.interval.count() << "ns";
  }
}

struct allow {
  clk::time_point t;
  double toks;
  int n;
  bool ok;
};

int d_since(clk::time_point t) { return static_cast<int>((t - t0 + d / 2) / d); }

void run(limiter& lim, const std::vector<allow>& allows) {
  for (std::size_t i = 0; i < allows.size(); ++i) {
    const allow& a = allows[i];
    EXPECT_EQ(lim.tokens_at(a.t), a.toks) << "step " << i;
    EXPECT_EQ(lim.allow_n(a.t, a.n), a.ok) << "step " << i;
  }
}

TEST(GoRate, LimiterBurst1) {
  limiter lim(10, 1);
  run(lim, {{t0, 1, 1, true},
            {t0, 0, 1, false},
            {t0, 0, 1, false},
            {t1, 1, 1, true},
            {t1, 0, 1, false},
            {t1, 0, 1, false},
            {t2, 1, 2, false},
            {t2, 1, 1, true},
            {t2, 0, 1, false}});
}

TEST(GoRate, LimiterBurst3) {
  limiter lim(10, 3);
  run(lim, {{t0, 3, 2, true},
            {t0, 1, 2, false},
            {t0, 1, 1, true},
            {t0, 0, 1, false},
            {t1, 1, 4, false},
            {t2, 2, 1, true},
            {t3, 2, 1, true},
            {t4, 2, 1, true},
            {t4, 1, 1, true},
            {t4, 0, 1, false},
            {t4, 0, 1, false},
            {t9, 3, 3, true},
            {t9, 0, 0, true}});
}

TEST(GoRate, LimiterJumpBackwards) {
  limiter lim(10, 3);
  run(lim, {{t1, 3, 1, true},
            {t0, 2, 1, true},
            {t0, 1, 1, true},
            {t0, 0, 1, false},
            {t0, 0, 1, false},
            {t1, 1, 1, true},
            {t1, 0, 1, false},
            {t1, 0, 1, false},
            {t2, 1, 1, true},
            {t2, 0, 1, false},
            {t2, 0, 1, false}});
}

TEST(GoRate, LimiterNoTruncationErrors) {
  limiter lim(0.7692307692307693, 1);
  EXPECT_TRUE(lim.allow());
}

struct request {
  clk::time_point t;
  int n;
  clk::time_point act;
  bool ok;
};

reservation run_reserve(limiter& lim, const request& req) {
  reservation r = lim.reserve_n(req.t, req.n);
  EXPECT_EQ(r.ok(), req.ok) << "reserve_n(t" << d_since(req.t) << ", " << req.n << ")";
  if (r.ok() && req.ok) {
    EXPECT_EQ(d_since(req.t + r.delay_from(req.t)), d_since(req.act))
        << "reserve_n(t" << d_since(req.t) << ", " << req.n << ")";
  }
  return r;
}

TEST(GoRate, SimpleReserve) {
  limiter lim(10, 2);
  run_reserve(lim, {t0, 2, t0, true});
  run_reserve(lim, {t0, 2, t2, true});
  run_reserve(lim, {t3, 2, t4, true});
}

TEST(GoRate, Mix) {
  limiter lim(10, 2);
  run_reserve(lim, {t0, 3, t1, false});  // n > burst
  run_reserve(lim, {t0, 2, t0, true});
  run(lim, {{t1, 1, 2, false}});  // not enough tokens
  run_reserve(lim, {t1, 2, t2, true});
  run(lim, {{t1, -1, 1, false}});  // negative tokens
  run(lim, {{t3, 1, 1, true}});
}

TEST(GoRate, CancelInvalid) {
  limiter lim(10, 2);
  run_reserve(lim, {t0, 2, t0, true});
  reservation r = run_reserve(lim, {t0, 3, t3, false});
  r.cancel_at(t0);                      // no effect
  run_reserve(lim, {t0, 2, t2, true});  // did not get extra tokens
}

TEST(GoRate, CancelLast) {
  limiter lim(10, 2);
  run_reserve(lim, {t0, 2, t0, true});
  reservation r = run_reserve(lim, {t0, 2, t2, true});
  r.cancel_at(t1);  // 2 tokens back
  run_reserve(lim, {t1, 2, t2, true});
}

TEST(GoRate, CancelTooLate) {
  limiter lim(10, 2);
  run_reserve(lim, {t0, 2, t0, true});
  reservation r = run_reserve(lim, {t0, 2, t2, true});
  r.cancel_at(t3);  // too late: no effect
  run_reserve(lim, {t3, 2, t4, true});
}

TEST(GoRate, Cancel0Tokens) {
  limiter lim(10, 2);
  run_reserve(lim, {t0, 2, t0, true});
  reservation r = run_reserve(lim, {t0, 1, t1, true});
  run_reserve(lim, {t0, 1, t2, true});
  r.cancel_at(t0);  // 0 tokens back
  run_reserve(lim, {t0, 1, t3, true});
}

TEST(GoRate, Cancel1Token) {
  limiter lim(10, 2);
  run_reserve(lim, {t0, 2, t0, true});
  reservation r = run_reserve(lim, {t0, 2, t2, true});
  run_reserve(lim, {t0, 1, t3, true});
  r.cancel_at(t2);  // 1 token back
  run_reserve(lim, {t2, 2, t4, true});
}

TEST(GoRate, CancelMulti) {
  limiter lim(10, 4);
  run_reserve(lim, {t0, 4, t0, true});
  reservation a = run_reserve(lim, {t0, 3, t3, true});
  run_reserve(lim, {t0, 1, t4, true});
  reservation c = run_reserve(lim, {t0, 1, t5, true});
  c.cancel_at(t1);  // 1 token back
  a.cancel_at(t1);  // 2 tokens back, as if c was never reserved
  run_reserve(lim, {t1, 3, t5, true});
}

TEST(GoRate, ReserveJumpBack) {
  limiter lim(10, 2);
  run_reserve(lim, {t1, 2, t1, true});
  run_reserve(lim, {t0, 1, t1, true});
  run_reserve(lim, {t2, 2, t3, true});
  run_reserve(lim, {t0, 3, {}, false});  // n > burst: no change
  run_reserve(lim, {t2, 1, t4, true});
  // (Go's maxReserve step is internal API; allow_n is reserve with no future reserve.)
  EXPECT_FALSE(lim.allow_n(t0, 2));
  run_reserve(lim, {t2, 1, t5, true});
}

TEST(GoRate, ReserveJumpBackCancel) {
  limiter lim(10, 2);
  run_reserve(lim, {t1, 2, t1, true});
  reservation r = run_reserve(lim, {t1, 2, t3, true});
  run_reserve(lim, {t1, 1, t4, true});
  r.cancel_at(t0);  // 1 token back
  run_reserve(lim, {t1, 2, t4, true});
}

TEST(GoRate, ReserveSetLimit) {
  limiter lim(5, 2);
  run_reserve(lim, {t0, 2, t0, true});
  run_reserve(lim, {t0, 2, t4, true});
  lim.set_limit_at(t2, 10);
  run_reserve(lim, {t2, 1, t4, true});
}

TEST(GoRate, ReserveSetBurst) {
  limiter lim(5, 2);
  run_reserve(lim, {t0, 2, t0, true});
  run_reserve(lim, {t0, 2, t4, true});
  lim.set_burst_at(t3, 4);
  run_reserve(lim, {t0, 4, t9, true});
}

TEST(GoRate, ReserveSetLimitCancel) {
  limiter lim(5, 2);
  run_reserve(lim, {t0, 2, t0, true});
  reservation r = run_reserve(lim, {t0, 2, t4, true});
  lim.set_limit_at(t2, 10);
  r.cancel_at(t2);  // 2 tokens back
  run_reserve(lim, {t2, 2, t3, true});
}

// wait_n against the real clock; `delay` in multiples of d (tolerance 1.5x + d/2, as Go's).
void run_wait(limiter& lim, const char* name, const go::context& ctx, int n, int delay, bool nil_err) {
  auto start = clk::now();
  go::error err = lim.wait_n(ctx, n);
  auto got = clk::now() - start;
  EXPECT_EQ(!err, nil_err) << name << ": " << err.message();
  auto want = delay * d;
  EXPECT_GE(got, want - 5ms) << name;
  EXPECT_LE(got, want * 3 / 2 + d / 2) << name;
}

TEST(GoRate, WaitSimple) {
  limiter lim(10, 3);
  auto [ctx, cancel] = go::with_cancel(go::background());
  cancel();
  run_wait(lim, "already-cancelled", ctx, 1, 0, false);
  run_wait(lim, "exceed-burst-error", go::background(), 4, 0, false);
  run_wait(lim, "act-now", go::background(), 2, 0, true);
  run_wait(lim, "act-later", go::background(), 3, 2, true);
}

TEST(GoRate, WaitCancel) {
  limiter lim(10, 3);
  auto [ctx, cancel] = go::with_cancel(go::background());
  run_wait(lim, "act-now", ctx, 2, 0, true);  // tokens = 1
  go::spawn([cancel = cancel] {
    go::sleep(d);
    cancel();
  });
  run_wait(lim, "will-cancel", ctx, 3, 1, false);
  // The 3 tokens came back: 2 available (1 left + 1 refilled during d).
  run_wait(lim, "act-now-after-cancel", go::background(), 2, 0, true);
}

TEST(GoRate, WaitTimeout) {
  limiter lim(10, 3);
  auto [ctx, cancel] = go::with_timeout(go::background(), d);
  run_wait(lim, "act-now", ctx, 2, 0, true);
  run_wait(lim, "w-timeout-err", ctx, 3, 0, false);  // would need 2d > the deadline
  cancel();
}

TEST(GoRate, WaitInf) {
  limiter lim(go::rate::inf, 0);
  run_wait(lim, "exceed-burst-no-error", go::background(), 3, 0, true);
}

TEST(GoRate, ZeroLimit) {
  limiter lim(0, 1);
  EXPECT_TRUE(lim.allow()) << "limit 0, burst 1: true when first used";
  EXPECT_FALSE(lim.allow()) << "false when already used";
}

// TestSetAfterZeroLimit (Go issue 68541): a limit of 0 does not use up the burst, so once
// set_limit(10) makes the bucket refill, wait gets its token 100 ms later. In a synctest
// bubble, so the 100 ms are exact.
TEST(GoRate, SetAfterZeroLimit) {
  go::synctest::run([] {
    limiter lim(0, 1);
    EXPECT_TRUE(lim.allow()) << "the limiter starts full: the first request is allowed";
    EXPECT_FALSE(lim.allow()) << "the bucket does not refill at limit 0";
    lim.set_limit(10);
    auto start = go::now();
    go::error err = lim.wait(go::background());
    EXPECT_FALSE(err) << err.message();
    EXPECT_EQ(go::now() - start, d) << "a token 100 ms after the limit became 10/s";
    EXPECT_EQ(lim.burst(), 1);
  });
}

// TestTinyLimit (Go issue 71154): a tiny rate starts with the full burst and does not allow
// more than burst.
TEST(GoRate, TinyLimit) {
  limiter lim(1e-10, 1);
  EXPECT_TRUE(lim.allow()) << "the limiter starts with 1 burst token";
  EXPECT_FALSE(lim.allow()) << "the bucket has not refilled yet";
}

}  // namespace
