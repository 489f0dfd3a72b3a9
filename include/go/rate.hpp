// Rate limiting: a token bucket (golang.org/x/time/rate).
//
//   Go                                       gocxx
//   rate.Limit, rate.Inf, rate.Every(d)      go::rate::limit (events/s, a double), go::rate::inf, go::rate::every(d)
//   lim := rate.NewLimiter(r, b)             go::rate::limiter lim(r, b);
//   lim.Allow(), lim.AllowN(t, n)            lim.allow(), lim.allow_n(n), lim.allow_n(t, n)
//   lim.Wait(ctx), lim.WaitN(ctx, n)         go::error err = lim.wait(ctx); lim.wait_n(ctx, n)
//     in a stackless goroutine (go/task.hpp)    co_await go::async_wait(lim, ctx); go::async_wait_n(lim, ctx, n)
//   r := lim.Reserve(), lim.ReserveN(t, n)   go::rate::reservation r = lim.reserve(); lim.reserve_n(t, n)
//   r.OK(), r.Delay(), r.Cancel()            r.ok(), r.delay(), r.cancel()
//   lim.SetLimit(l), lim.SetBurst(b)         lim.set_limit(l), lim.set_burst(b)  (and *_at(t, ...))
//   lim.Limit(), lim.Burst(), lim.Tokens()   lim.limit(), lim.burst(), lim.tokens()
//   s := rate.Sometimes{First: 3}            go::rate::sometimes s{.first = 3};   (.every, .interval too)
//   s.Do(f)                                  s.call(f)
//
// Guarantees (x/time/rate's)
// - The bucket holds at most burst tokens and refills at `limit` tokens per second; it starts
//   full. An event of n tokens happens when n tokens are available.
// - allow_n(n) takes n tokens if they are there now, else takes nothing and returns false.
// - reserve_n(n) always takes the tokens (the bucket may go negative) and says how long to wait
//   before acting: delay(). A reservation of more than burst tokens is not ok(). cancel()
//   gives back the tokens as far as no later reservation depends on them.
// - wait_n(ctx, n) blocks until n tokens are available, or fails at once with an error if n
//   exceeds burst, if ctx is done, or if ctx's deadline comes before the tokens would. On
//   failure nothing stays reserved.
// - co_await go::async_wait_n(lim, ctx, n) is wait_n(ctx, n) in a stackless goroutine: the
//   same checks, reservation and result; it waits by suspending. It runs as a task (go/task.hpp).
// - A limit of inf allows every event (burst is ignored). A limit of 0 refills nothing: it
//   allows the `burst` tokens the bucket starts with and then no more, until set_limit gives
//   it a positive limit, from which time it refills up to the same burst.
// - Time is std::chrono::steady_clock, read with go::now() (a synctest bubble's fake clock
//   inside one). The *_at(t, ...) forms take the time explicitly, as
//   Go's AllowN(t, n) does; times earlier than the last one seen count as the last one.
// - All members may be called concurrently (they share a go::mutex). A limiter must not move
//   while in use.
//
// Tokens are a double and durations integer nanoseconds, as in Go.
//
// Example (at most 10 requests per second, bursts of 3):
//   go::rate::limiter lim(10, 3);
//   for (auto& req : requests) {
//     if (go::error err = lim.wait(ctx)) return err;
//     handle(req);
//   }
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <limits>
#include <mutex>
#include <utility>

#include "go/context.hpp"
#include "go/errors.hpp"
#include "go/sync.hpp"
#include "go/task.hpp"

namespace go {

namespace rate {
class limiter;
}

// async_wait_n and async_wait are the limiter's wait_n and wait in a stackless goroutine (see
// the top).
task<error> async_wait_n(rate::limiter& lim, context ctx, int n,
                         detail::source_location site = detail::source_location::current());
inline task<error> async_wait(rate::limiter& lim, context ctx,
                              detail::source_location site = detail::source_location::current()) {
  return async_wait_n(lim, std::move(ctx), 1, site);
}

}  // namespace go

namespace go::rate {

using steady_clock = std::chrono::steady_clock;
using duration = std::chrono::nanoseconds;

// limit is the maximum rate of events, in events per second.
using limit = double;

// inf is the infinite rate limit: every event is allowed, burst is ignored.
inline constexpr limit inf = std::numeric_limits<double>::max();

// inf_duration is the delay of a reservation that is not ok.
inline constexpr duration inf_duration = duration::max();

// every converts a minimum time between events to a limit; a non-positive interval is inf.
template <class Rep, class Period>
constexpr limit every(std::chrono::duration<Rep, Period> interval) noexcept {
  if (interval <= interval.zero()) return inf;
  return 1.0 / std::chrono::duration<double>(interval).count();
}

class limiter;

// reservation holds tokens taken by reserve for an event that may happen after delay().
class reservation {
 public:
  // ok reports whether the limiter can provide the tokens within the maximum wait. A
  // reservation that is not ok took nothing and has nothing to cancel.
  bool ok() const noexcept { return ok_; }
  // delay_from returns how long after t the event may happen; 0 means now; inf_duration when
  // not ok.
  duration delay_from(steady_clock::time_point t) const noexcept;
  duration delay() const { return delay_from(go::now()); }
  // cancel_at tells the limiter that the event will not happen, giving back what tokens it
  // can without affecting later reservations.
  void cancel_at(steady_clock::time_point t);
  void cancel() { cancel_at(go::now()); }

 private:
  friend class limiter;
  friend task<error> go::async_wait_n(rate::limiter&, context, int, detail::source_location);
  void cancel_locked(steady_clock::time_point t);  // cancel_at with lim_->mu_ held

  bool ok_ = false;
  limiter* lim_ = nullptr;
  int tokens_ = 0;
  steady_clock::time_point time_to_act_{};
  rate::limit limit_ = 0;  // the limit at reservation time; may differ from lim_'s later
};

// limiter is a token bucket; see the top of the file.
class limiter {
 public:
  // limiter(r, b) allows events at up to rate r with bursts of at most b tokens.
  // The bucket starts full (b tokens), whatever the rate.
  limiter(rate::limit r, int b) noexcept : limit_(r), burst_(b), tokens_(b) {}
  limiter(const limiter&) = delete;
  limiter& operator=(const limiter&) = delete;

  rate::limit limit() const;
  int burst() const;
  // tokens_at returns the number of tokens available at time t.
  double tokens_at(steady_clock::time_point t) const;
  double tokens() const { return tokens_at(go::now()); }

  [[nodiscard]] bool allow() { return allow_n(go::now(), 1); }
  [[nodiscard]] bool allow_n(int n) { return allow_n(go::now(), n); }
  [[nodiscard]] bool allow_n(steady_clock::time_point t, int n);

  [[nodiscard]] reservation reserve() { return reserve_n(go::now(), 1); }
  [[nodiscard]] reservation reserve_n(int n) { return reserve_n(go::now(), n); }
  [[nodiscard]] reservation reserve_n(steady_clock::time_point t, int n);

  error wait(const context& ctx) { return wait_n(ctx, 1); }
  error wait_n(const context& ctx, int n);

  void set_limit(rate::limit l) { set_limit_at(go::now(), l); }
  void set_limit_at(steady_clock::time_point t, rate::limit l);
  void set_burst(int b) { set_burst_at(go::now(), b); }
  void set_burst_at(steady_clock::time_point t, int b);

 private:
  friend class reservation;
  friend task<error> go::async_wait_n(rate::limiter&, context, int, detail::source_location);
  // wait_reserve_locked is wait_n's check and reservation at t, under mu_: an error, or r
  // reserved for the event.
  error wait_reserve_locked(const context& ctx, int n, steady_clock::time_point t, reservation& r);
  struct advanced {
    steady_clock::time_point t;
    double tokens;
  };
  advanced advance(steady_clock::time_point t) const;  // requires mu_; does not change *this
  reservation reserve_locked(steady_clock::time_point t, int n, duration max_future_reserve);

  mutable go::mutex mu_;  // guards every field below
  rate::limit limit_;
  int burst_;
  double tokens_;
  // last_: the last time tokens_ was updated; min() means never (tokens_ is still burst_).
  steady_clock::time_point last_ = steady_clock::time_point::min();
  // last_event_: the latest time of a rate-limited event, past or future.
  steady_clock::time_point last_event_ = steady_clock::time_point::min();
};

// sometimes performs an action occasionally (Go's rate.Sometimes). first, every and interval
// govern call, which performs the action; a sometimes with none of them set performs it
// exactly once.
//
// In Go's words: the model is a union (not intersection) of filters. The first call always
// runs f. Subsequent calls run f if allowed by first or every or interval:
// - a non-zero first (N) causes the first N calls to run f;
// - a non-zero every (M) causes every Mth call, starting with the first, to run f;
// - a non-zero interval causes a call to run f if interval has elapsed since call last ran
//   f (time as go::now() reads it: a synctest bubble's fake clock inside one).
// Specifying several filters produces the union of these execution streams.
//
// Concurrent calls block and run serially (they share a go::mutex), so call is meant for
// lightweight actions; f must not call call on the same sometimes (deadlock). If f throws,
// the exception propagates and the call is not counted, as a panic in Go's Do skips its count.
// A sometimes must not move while in use.
//
// Example (logging with rate limiting):
//   go::rate::sometimes spammy_log{.first = 3, .interval = 10s};
//   void spammy() { spammy_log.call([] { std::puts("here I am!"); }); }
struct sometimes {
  int first = 0;                         // if non-zero, the first `first` calls run f
  int every = 0;                         // if non-zero, every `every`th call runs f
  std::chrono::nanoseconds interval{0};  // if positive and elapsed since f last ran, call runs f

  template <class F>
    requires std::invocable<F&&>
  void call(F&& f) {
    std::lock_guard lock(mu_);
    if (count_ == 0 || (first > 0 && count_ < first) || (every > 0 && count_ % every == 0) ||
        (interval > interval.zero() && interval_elapsed())) {
      std::invoke(std::forward<F>(f));
      if (interval > interval.zero()) last_ = go::now();
    }
    ++count_;
  }

  // The state below is call's, guarded by mu_; it is public only so that sometimes stays an
  // aggregate (designated initializers, as Go's struct literal).
  go::mutex mu_{};
  std::int64_t count_ = 0;                                           // calls so far
  steady_clock::time_point last_ = steady_clock::time_point::min();  // when f last ran; min: never

 private:
  bool interval_elapsed() const noexcept {
    return last_ == steady_clock::time_point::min() || go::now() - last_ >= interval;
  }
};

}  // namespace go::rate
