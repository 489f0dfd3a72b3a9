// The token bucket of go::rate::limiter, a port of golang.org/x/time/rate/rate.go.
//
// Invariants (all under limiter::mu_):
// - tokens_ is the bucket's content at last_; it never exceeds burst_ and is negative while
//   reservations wait for tokens not yet refilled. It starts at burst_, so that the first
//   events are allowed whatever the rate: a tiny rate that refilled from empty since
//   last_ = min() (about 292 years at most) would start with less than one token.
// - A limit of 0 is no special case: it refills nothing, so an event that needs tokens the
//   bucket does not hold waits forever (allow fails; a reservation's delay is infinite).
//   burst_ is only ever changed by set_burst.
// - last_event_ is the time_to_act of the latest ok reservation; cancel uses it to give back
//   only the tokens that no later reservation has already counted on.
// - wait_n and a stackless goroutine's async_wait_n are the same steps (wait_reserve_locked,
//   a timer raced against the context's done, cancel_locked on failure), with mu_ locked by
//   async_lock and the wait an async_select in the latter.
// Durations follow Go's time.Duration: integer nanoseconds that saturate instead of
// overflowing (time_point::min() as "never" makes every elapsed time saturate).
#include "go/rate.hpp"

#include <cmath>
#include <cstdint>
#include <mutex>
#include <string>

#include "go/select.hpp"
#include "go/time.hpp"

namespace go::rate {

namespace {

// t - u, saturating as Go's Time.Sub does.
duration sub(steady_clock::time_point t, steady_clock::time_point u) noexcept {
  std::int64_t a = t.time_since_epoch().count(), b = u.time_since_epoch().count(), d;
  if (__builtin_sub_overflow(a, b, &d)) return a > b ? duration::max() : duration::min();
  return std::chrono::duration_cast<duration>(steady_clock::duration(d));
}

steady_clock::time_point add(steady_clock::time_point t, duration d) noexcept {
  std::int64_t a = t.time_since_epoch().count(), b = steady_clock::duration(d).count(), r;
  if (__builtin_add_overflow(a, b, &r))
    return b > 0 ? steady_clock::time_point::max() : steady_clock::time_point::min();
  return steady_clock::time_point(steady_clock::duration(r));
}

duration duration_from_tokens(limit l, double tokens) noexcept {
  if (l <= 0) return inf_duration;
  double ns = 1e9 * (tokens / l);
  if (ns >= 9.2e18) return duration::max();
  if (ns <= -9.2e18) return duration::min();
  return duration(static_cast<std::int64_t>(ns));
}

double tokens_from_duration(limit l, duration d) noexcept {
  if (l <= 0) return 0;
  return std::chrono::duration<double>(d).count() * l;
}

}  // namespace

duration reservation::delay_from(steady_clock::time_point t) const noexcept {
  if (!ok_) return inf_duration;
  duration d = sub(time_to_act_, t);
  return d < duration::zero() ? duration::zero() : d;
}

void reservation::cancel_at(steady_clock::time_point t) {
  if (!ok_) return;
  std::lock_guard lock(lim_->mu_);
  cancel_locked(t);
}

void reservation::cancel_locked(steady_clock::time_point t) {
  if (lim_->limit_ == inf || tokens_ == 0 || time_to_act_ < t) return;
  // The tokens to give back: those reserved, less those reserved after us (already counted
  // on by later reservations).
  double restore = tokens_ - tokens_from_duration(limit_, sub(lim_->last_event_, time_to_act_));
  if (restore <= 0) return;
  auto [now, tokens] = lim_->advance(t);
  tokens += restore;
  if (double burst = lim_->burst_; tokens > burst) tokens = burst;
  lim_->last_ = now;
  lim_->tokens_ = tokens;
  if (time_to_act_ == lim_->last_event_) {
    auto prev_event = add(time_to_act_, duration_from_tokens(limit_, -tokens_));
    if (!(prev_event < now)) lim_->last_event_ = prev_event;
  }
}

limit limiter::limit() const {
  std::lock_guard lock(mu_);
  return limit_;
}

int limiter::burst() const {
  std::lock_guard lock(mu_);
  return burst_;
}

double limiter::tokens_at(steady_clock::time_point t) const {
  std::lock_guard lock(mu_);
  return advance(t).tokens;
}

bool limiter::allow_n(steady_clock::time_point t, int n) {
  std::lock_guard lock(mu_);
  return reserve_locked(t, n, duration::zero()).ok_;
}

reservation limiter::reserve_n(steady_clock::time_point t, int n) {
  std::lock_guard lock(mu_);
  return reserve_locked(t, n, inf_duration);
}

error limiter::wait_reserve_locked(const context& ctx, int n, steady_clock::time_point t, reservation& r) {
  if (n > burst_ && limit_ != inf) {
    return make_error("rate: Wait(n=" + std::to_string(n) + ") exceeds limiter's burst " + std::to_string(burst_));
  }
  if (error err = ctx.err()) return err;
  duration wait_limit = inf_duration;
  if (auto deadline = ctx.deadline()) wait_limit = sub(*deadline, t);
  r = reserve_locked(t, n, wait_limit);
  if (!r.ok()) return make_error("rate: Wait(n=" + std::to_string(n) + ") would exceed context deadline");
  return {};
}

error limiter::wait_n(const context& ctx, int n) {
  steady_clock::time_point t = go::now();
  reservation r;
  {
    std::lock_guard lock(mu_);
    if (error err = wait_reserve_locked(ctx, n, t, r)) return err;
  }
  duration delay = r.delay_from(t);
  if (delay == duration::zero()) return {};
  timer tm = new_timer(delay);
  error err;
  go::select(go::recv_case(tm.c()), go::recv_case(ctx.done(), [&] { err = ctx.err(); }));
  if (err) {
    tm.stop();
    r.cancel();
  }
  return err;
}

}  // namespace go::rate

namespace go {

// wait_n with the awaitables: mu_ locked with async_lock, the wait an async_select.
task<error> async_wait_n(rate::limiter& lim, context ctx, int n, detail::source_location site) {
  rate::steady_clock::time_point t = go::now();
  rate::reservation r;
  co_await lock_awaiter<detail::mutex_lock_op>({lim.mu_}, detail::call_site::of(site));
  error err = lim.wait_reserve_locked(ctx, n, t, r);
  lim.mu_.unlock();
  if (err) co_return err;
  rate::duration delay = r.delay_from(t);
  if (delay == rate::duration::zero()) co_return error();
  timer tm = new_timer(delay);
  auto fired = go::recv_case(tm.c());
  auto cancelled = go::recv_case(ctx.done(), [&] { err = ctx.err(); });
  co_await async_select<decltype(fired)&, decltype(cancelled)&>(fired, cancelled, detail::call_site::of(site));
  if (err) {
    tm.stop();
    co_await lock_awaiter<detail::mutex_lock_op>({lim.mu_}, detail::call_site::of(site));
    r.cancel_locked(go::now());
    lim.mu_.unlock();
  }
  co_return err;
}

}  // namespace go

namespace go::rate {

void limiter::set_limit_at(steady_clock::time_point t, rate::limit l) {
  std::lock_guard lock(mu_);
  auto [now, tokens] = advance(t);
  last_ = now;
  tokens_ = tokens;
  limit_ = l;
}

void limiter::set_burst_at(steady_clock::time_point t, int b) {
  std::lock_guard lock(mu_);
  auto [now, tokens] = advance(t);
  last_ = now;
  tokens_ = tokens;
  burst_ = b;
}

reservation limiter::reserve_locked(steady_clock::time_point t, int n, duration max_future_reserve) {
  reservation r;
  r.lim_ = this;
  if (limit_ == inf) {
    r.ok_ = true;
    r.tokens_ = n;
    r.time_to_act_ = t;
    return r;
  }
  auto [now, tokens] = advance(t);
  tokens -= n;
  duration wait = duration::zero();
  if (tokens < 0) wait = duration_from_tokens(limit_, -tokens);
  r.ok_ = n <= burst_ && wait <= max_future_reserve;
  r.limit_ = limit_;
  if (r.ok_) {
    r.tokens_ = n;
    r.time_to_act_ = add(now, wait);
    last_ = now;
    tokens_ = tokens;
    last_event_ = r.time_to_act_;
  }
  return r;
}

limiter::advanced limiter::advance(steady_clock::time_point t) const {
  auto last = last_;
  if (t < last) last = t;
  double tokens = tokens_ + tokens_from_duration(limit_, sub(t, last));
  if (double burst = burst_; tokens > burst) tokens = burst;
  return {t, tokens};
}

}  // namespace go::rate
