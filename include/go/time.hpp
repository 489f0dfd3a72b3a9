// Time (Go's package time): sleeping and one-shot timer channels.
//
//   time.Sleep(d)        go::sleep(d)
//   <-time.After(d)      go::after(d).recv()    or go::recv_case(go::after(d), ...) in a select
//
// Durations are any std::chrono duration; instants are std::chrono::steady_clock time points.
// Timers live in the scheduler (a 4-ary heap per worker, as in Go), so a hundred thousand
// sleeping goroutines cost no threads. A plain thread calling go::sleep just sleeps.
#pragma once

#include <chrono>

#include "go/chan.hpp"

namespace go {

using steady_clock = std::chrono::steady_clock;

namespace detail {
void sleep_until(steady_clock::time_point when);
recv_chan<steady_clock::time_point> after_until(steady_clock::time_point when);
}  // namespace detail

// sleep pauses the calling goroutine for at least d. A zero or negative d returns at once.
template <class Rep, class Period>
void sleep(std::chrono::duration<Rep, Period> d) {
  if (d <= d.zero()) return;
  detail::sleep_until(steady_clock::now() + std::chrono::ceil<steady_clock::duration>(d));
}

// sleep_until pauses the calling goroutine until t.
inline void sleep_until(steady_clock::time_point t) { detail::sleep_until(t); }

// after returns a channel that delivers the time once, at least d from now (Go's time.After).
// The channel has room for that one value, so the timer never blocks, and nothing leaks if no
// one ever receives.
template <class Rep, class Period>
recv_chan<steady_clock::time_point> after(std::chrono::duration<Rep, Period> d) {
  return detail::after_until(steady_clock::now() +
                             std::chrono::ceil<steady_clock::duration>(d < d.zero() ? d.zero() : d));
}

}  // namespace go
