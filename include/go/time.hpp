// Time (Go's package time): sleeping, timers and tickers.
//
//   Go                                  gocxx
//   time.Now()                          go::now()   (a steady_clock::time_point)
//   time.Sleep(d)                       go::sleep(d)
//   <-time.After(d)                     go::after(d).recv()   or go::recv_case(go::after(d), ...) in a select
//   time.Tick(d)                        go::tick(d)
//   t := time.NewTimer(d)               go::timer t = go::new_timer(d);
//   <-t.C                               t.c().recv()
//   t.Stop(), t.Reset(d)                t.stop(), t.reset(d)
//   t := time.AfterFunc(d, f)           go::timer t = go::after_func(d, f);
//   tk := time.NewTicker(d)             go::ticker tk = go::new_ticker(d);
//   tk.C, tk.Stop(), tk.Reset(d)        tk.c(), tk.stop(), tk.reset(d)
//   time.Duration, time.Time            any std::chrono duration; std::chrono::steady_clock::time_point
//
// Guarantees (Go 1.23's)
// - Timers live in the scheduler: a 4-ary heap per worker, as in Go. Starting, stopping and
//   resetting a timer are O(log n) with no thread per timer, so a million pending timers are
//   cheap. A timer or ticker enters a heap only when its channel is first asked for (c()),
//   as Go 1.23 heaps a timer only when a goroutine waits on it: until then it costs one
//   allocation, and starting, stopping and resetting it are O(1). A plain thread may use
//   every function here; go::sleep then sleeps the thread.
// - A timer's channel receives the time the timer was due (never earlier than asked). A
//   ticker holds at most one undelivered tick: a slow receiver misses ticks rather than
//   seeing them pile up, and later ticks keep to the original period.
// - The channels are synchronous, as in Go 1.23: len() and cap() of a timer's or ticker's
//   channel (go::after's and go::tick's too) are always 0, even when a value is ready to be
//   received.
// - After stop() or reset() returns, no stale value is received from the timer's channel:
//   a value sent by the old setting and not yet received is discarded. stop() and reset()
//   return true if the call stopped a value from being delivered (the timer was pending, or
//   had fired and its value was still unreceived), false if it had already expired and been
//   received, or had been stopped. For an after_func timer, true means f will not run for
//   this setting; false means it has started (in its own goroutine) or the timer was stopped.
// - Unreferenced timers are freed even if never stopped. go::timer and go::ticker are
//   handles: copies refer to the same timer. When the last handle goes away and nobody else
//   holds the timer's channel, the timer is stopped. A channel timer whose only remaining
//   reference is its channel (go::after, go::tick, or a handle dropped while its channel is
//   kept) stays while the channel is referenced and is stopped once it is not. A timer
//   whose channel was never asked for is freed with its last handle. Otherwise a stopped
//   timer's memory is freed when it would have fired or, sooner, when its heap sweeps: a
//   heap sweeps once a quarter of it may be stopped or unreachable timers, so such garbage
//   never exceeds about a third of the live timers (a loop of selects on go::after(1h)
//   keeps memory bounded). Stopping is O(1), as in Go. An after_func timer runs its
//   function whether or not a handle is kept, as in Go.
// - Callbacks of after_func run in their own goroutine, so f may block.
// - Misuse throws std::logic_error with Go's message: stop or reset of an uninitialized
//   (default-constructed) timer; std::invalid_argument for a non-positive ticker interval.
//
// Not as in Go: durations beyond what steady_clock can represent mean "never".
//
// Example:
//   go::ticker tk = go::new_ticker(100ms);
//   go::timer deadline = go::new_timer(1s);
//   for (bool done = false; !done;) {
//     go::select(go::recv_case(tk.c(), [](auto t) { poll(); }),
//                go::recv_case(deadline.c(), [&](auto) { done = true; }));
//   }
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "go/chan.hpp"
#include "go/detail/counted_ref.hpp"

namespace go {

using steady_clock = std::chrono::steady_clock;

namespace detail {

// Saturating conversions: a duration too long for steady_clock means "never" (INT64_MAX).
template <class Rep, class Period>
constexpr std::int64_t duration_ns(std::chrono::duration<Rep, Period> d) noexcept {
  if (d <= d.zero()) return 0;
  if (std::chrono::duration<long double, std::nano>(d).count() >= 9.2e18L) return INT64_MAX;
  return std::chrono::ceil<std::chrono::nanoseconds>(d).count();
}
inline std::int64_t time_ns(steady_clock::time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
std::int64_t now_ns() noexcept;  // go::now() in nanoseconds
inline std::int64_t deadline_after(std::int64_t ns) noexcept {
  std::int64_t now = now_ns();
  return ns >= INT64_MAX - now ? INT64_MAX : now + ns;
}

void sleep_until_ns(std::int64_t when, const source_location& site);
void sleep_for_ns(std::int64_t ns, const source_location& site);  // ns > 0
recv_chan<steady_clock::time_point> after_until(std::int64_t when);
recv_chan<steady_clock::time_point> tick_every(std::int64_t period);

// The shared state of a timer or ticker (runtime/timer.hpp).
struct timer_state;

// A callable behind a small interface (what after_func runs), so that move-only F works.
struct boxed_func {
  virtual void run() = 0;
  virtual ~boxed_func() = default;
};
template <class F>
struct boxed_func_of final : boxed_func {
  explicit boxed_func_of(F f) : f(std::move(f)) {}
  void run() override { f(); }
  F f;
};

// Each returns a state holding one handle reference. The channel is returned through *c.
timer_state* timer_new_chan(std::int64_t when, std::int64_t period);
timer_state* timer_new_func(std::int64_t when, std::unique_ptr<boxed_func> f);
// timer_chan returns the timer's channel, made on first use (nil for after_func timers).
recv_chan<steady_clock::time_point> timer_chan(timer_state* s);
void timer_retain_handle(timer_state* s) noexcept;
void timer_release_handle(timer_state* s) noexcept;
bool timer_stop(timer_state* s);
bool timer_reset(timer_state* s, std::int64_t when, std::int64_t period);

// live_timer_states counts timer states not yet freed (tests use it to find leaks).
std::int64_t live_timer_states() noexcept;

// The shared part of go::timer and go::ticker: a counted handle.
using timer_handle = counted_ref<timer_state, timer_retain_handle, timer_release_handle>;

}  // namespace detail

// now is time.Now: steady_clock::now(), except in a synctest bubble (go/synctest.hpp), where
// it reads the bubble's fake clock. Code that may run in a bubble reads the time with it.
[[nodiscard]] inline steady_clock::time_point now() noexcept {
  return steady_clock::time_point(std::chrono::nanoseconds(detail::now_ns()));
}

// sleep pauses the calling goroutine for at least d. A zero or negative d returns at once.
// The goroutine dump shows the caller's line as where the goroutine sleeps.
template <class Rep, class Period>
void sleep(std::chrono::duration<Rep, Period> d,
           const detail::source_location& site = detail::source_location::current()) {
  if (d <= d.zero()) return;
  detail::sleep_for_ns(detail::duration_ns(d), site);
}

// sleep_until pauses the calling goroutine until t.
inline void sleep_until(steady_clock::time_point t,
                        const detail::source_location& site = detail::source_location::current()) {
  detail::sleep_until_ns(detail::time_ns(t), site);
}

// after returns a channel that receives the time once, at least d from now (Go's time.After).
// Nothing leaks if no one ever receives (see "Unreferenced timers" above).
template <class Rep, class Period>
[[nodiscard]] recv_chan<steady_clock::time_point> after(std::chrono::duration<Rep, Period> d) {
  return detail::after_until(detail::deadline_after(detail::duration_ns(d)));
}

// tick returns a channel that receives the time every d (Go's time.Tick): a ticker with no
// handle, collected once its channel is no longer referenced. A non-positive d returns the
// nil channel.
template <class Rep, class Period>
[[nodiscard]] recv_chan<steady_clock::time_point> tick(std::chrono::duration<Rep, Period> d) {
  if (d <= d.zero()) return {};
  return detail::tick_every(detail::duration_ns(d));
}

// timer is a handle to a single event (Go's *time.Timer): when it expires, the time is sent
// on c(), unless the timer was made by after_func, which instead runs a function.
class timer {
 public:
  // An uninitialized timer: stop and reset throw std::logic_error.
  timer() noexcept = default;

  // c is the channel on which the time is delivered (Go's t.C); the nil channel for an
  // after_func timer or an uninitialized one. Every call returns the same channel.
  recv_chan<steady_clock::time_point> c() const { return h_ ? detail::timer_chan(h_.get()) : nullptr; }

  // stop prevents the timer from firing; true if that stopped a delivery (see the top).
  bool stop() {
    if (!h_) throw std::logic_error("time: Stop called on uninitialized Timer");
    return detail::timer_stop(h_.get());
  }

  // reset changes the timer to expire after d; true if the timer was pending (as stop).
  template <class Rep, class Period>
  bool reset(std::chrono::duration<Rep, Period> d) {
    if (!h_) throw std::logic_error("time: Reset called on uninitialized Timer");
    return detail::timer_reset(h_.get(), detail::deadline_after(detail::duration_ns(d)), 0);
  }
  bool reset_until(steady_clock::time_point t) {
    if (!h_) throw std::logic_error("time: Reset called on uninitialized Timer");
    return detail::timer_reset(h_.get(), detail::time_ns(t), 0);
  }

  explicit operator bool() const noexcept { return static_cast<bool>(h_); }

 private:
  explicit timer(detail::timer_state* s) noexcept : h_(s) {}
  template <class Rep, class Period>
  friend timer new_timer(std::chrono::duration<Rep, Period> d);
  friend timer new_timer_until(steady_clock::time_point t);
  template <class Rep, class Period, class F>
  friend timer after_func(std::chrono::duration<Rep, Period> d, F&& f);
  detail::timer_handle h_;
};

// new_timer returns a timer that sends the time on its channel after at least d.
template <class Rep, class Period>
[[nodiscard]] timer new_timer(std::chrono::duration<Rep, Period> d) {
  return timer(detail::timer_new_chan(detail::deadline_after(detail::duration_ns(d)), 0));
}

// new_timer_until returns a timer that sends the time on its channel at t.
[[nodiscard]] inline timer new_timer_until(steady_clock::time_point t) {
  return timer(detail::timer_new_chan(detail::time_ns(t), 0));
}

// after_func waits for d and then calls f in its own goroutine (Go's time.AfterFunc). The
// returned timer's stop() cancels the call; reset() schedules it again.
template <class Rep, class Period, class F>
timer after_func(std::chrono::duration<Rep, Period> d, F&& f) {
  auto fn = std::make_unique<detail::boxed_func_of<std::decay_t<F>>>(std::forward<F>(f));
  return timer(detail::timer_new_func(detail::deadline_after(detail::duration_ns(d)), std::move(fn)));
}

// ticker is a handle to a channel that delivers the time every period (Go's *time.Ticker).
class ticker {
 public:
  ticker() noexcept = default;

  // c is the channel on which the ticks are delivered (Go's tk.C); the same every call.
  recv_chan<steady_clock::time_point> c() const { return h_ ? detail::timer_chan(h_.get()) : nullptr; }

  // stop turns off the ticker; no tick is received after stop returns. It does not close
  // the channel, so a receive after stop blocks. It returns nothing, as Go's Ticker.Stop,
  // while timer::stop returns bool as Timer.Stop does: in Go they are methods of two types,
  // and a ticker has no single delivery whose prevention stop could report.
  void stop() {
    if (h_.get()) detail::timer_stop(h_.get());
  }

  // reset stops the ticker and resets its period to d; the next tick arrives d from now.
  // Throws std::invalid_argument if d <= 0.
  template <class Rep, class Period>
  void reset(std::chrono::duration<Rep, Period> d) {
    if (d <= d.zero()) throw std::invalid_argument("non-positive interval for Ticker.Reset");
    if (!h_) throw std::logic_error("time: Reset called on uninitialized Ticker");
    std::int64_t period = detail::duration_ns(d);
    detail::timer_reset(h_.get(), detail::deadline_after(period), period);
  }

  explicit operator bool() const noexcept { return static_cast<bool>(h_); }

 private:
  explicit ticker(detail::timer_state* s) noexcept : h_(s) {}
  template <class Rep, class Period>
  friend ticker new_ticker(std::chrono::duration<Rep, Period> d);
  detail::timer_handle h_;
};

// new_ticker returns a ticker that sends the time on its channel every d. Throws
// std::invalid_argument if d <= 0.
template <class Rep, class Period>
[[nodiscard]] ticker new_ticker(std::chrono::duration<Rep, Period> d) {
  if (d <= d.zero()) throw std::invalid_argument("non-positive interval for NewTicker");
  std::int64_t period = detail::duration_ns(d);
  return ticker(detail::timer_new_chan(detail::deadline_after(period), period));
}

}  // namespace go
