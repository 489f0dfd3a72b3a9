// Deterministic testing of concurrent code (Go's testing/synctest, and a seeded scheduler).
//
//   Go                                  gocxx
//   synctest.Test(t, f) / Run(f)        go::synctest::run(f)
//   synctest.Wait()                     go::synctest::wait()
//   (none)                              go::synctest::run({.seed = s}, f): a random schedule
//   time.Now() inside the bubble        go::now()
//
// run(f) runs f as a goroutine in a "bubble" and returns when f and every goroutine it
// started (directly or not) have returned.
// - The bubble's goroutines run on one thread of their own, one at a time, never on the
//   runtime's workers. Goroutines spawned by a bubble's goroutine, and the goroutines of
//   after_func timers created in it, belong to the bubble.
// - Time in the bubble is fake. go::now() starts at steady_clock::time_point(946684800 s)
//   (Go's bubbles start at 2000-01-01 UTC) and moves only when every goroutine of the bubble
//   is blocked: then it jumps to the earliest timer of the bubble and fires it. So sleeps,
//   timers, tickers, go::after in select, context deadlines (with_timeout) and rate limiters
//   take no real time, and happen exactly when due. Read the time with go::now(), not
//   std::chrono::steady_clock::now(), which stays real.
// - wait() blocks the calling goroutine of a bubble until every other goroutine of the
//   bubble is blocked (on a channel, select, mutex, wait group, cond, semaphore, sleep or
//   timer of the bubble): then nothing in the bubble can move until time does, and the
//   test can look at the state. Only one goroutine of a bubble may wait at a time.
// - Deadlock: when every goroutine of the bubble is blocked, no timer is pending and no
//   goroutine is in wait(), run throws go::synctest::deadlock_error, whose what() says
//   "deadlock: all goroutines in bubble are blocked" followed by the dump of the bubble's
//   goroutines (where each is blocked, and where it was created). Those goroutines are
//   abandoned (they stay blocked, and count in num_goroutine) so that the test can fail
//   cleanly. In a GoogleTest test the exception fails the test with that text.
// - An exception that escapes f is rethrown by run. One that escapes another goroutine of the
//   bubble is a panic, as everywhere (the process aborts with the dump).
// - Schedules. By default the bubble runs goroutines first come, first served, as the
//   scheduler's queues would on one worker: the same test gives the same interleaving every
//   time. With options::seed, whenever a goroutine blocks, yields or exits the next one is
//   picked at random among the runnable ones, from a generator seeded with the seed, and
//   select's random choice among ready cases uses it too: a seed names one interleaving, and
//   the same seed gives the same one again. go::testing::for_each_seed (go/testing.hpp) runs
//   a test body under many seeds and names the first one that fails.
//
// Limits (as Go's synctest)
// - The bubble must be closed: its goroutines block only on things of the bubble. A goroutine
//   of the bubble blocked on a channel that only a goroutine or thread outside will send to
//   counts as blocked, so the fake clock jumps past it, or run reports a deadlock. Values may
//   flow from the bubble to the outside (a send to an outside goroutine's channel).
// - Scheduling is cooperative, as everywhere: an interleaving changes only where goroutines
//   block or yield. Races between plain memory accesses without synchronization are
//   ThreadSanitizer's business, not the seed's.
// - run may be called from a plain thread or from a goroutine (which parks meanwhile), but
//   not from inside a bubble.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <stdexcept>
#include <utility>

#include "go/detail/source_location.hpp"
#include "go/time.hpp"

namespace go::synctest {

struct options {
  // Unset: first come, first served. Set: the random schedule this seed names.
  std::optional<std::uint64_t> seed;
};

// What run throws when every goroutine of the bubble is blocked for good.
class deadlock_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace go::synctest

namespace go::detail {
void run_bubble(const synctest::options& o, void (*body)(void*), void* arg);
}  // namespace go::detail

namespace go::synctest {

// run runs f() in a new bubble (see above) and returns when every goroutine of the bubble has
// returned. Throws deadlock_error on a deadlock, and rethrows what escapes f.
template <class F>
void run(const options& o, F&& f) {
  std::exception_ptr failure;
  auto body = [&] {
    try {
      std::invoke(f);
    } catch (...) {
      failure = std::current_exception();
    }
  };
  go::detail::run_bubble(
      o, [](void* p) { (*static_cast<decltype(body)*>(p))(); }, &body);
  if (failure) std::rethrow_exception(failure);
}

template <class F>
void run(F&& f) {
  run(options{}, std::forward<F>(f));
}

// wait blocks until every other goroutine of the calling goroutine's bubble is blocked.
// Throws std::logic_error outside a bubble or when another goroutine of the bubble waits.
void wait(const go::detail::source_location& site = go::detail::source_location::current());

// in_bubble tells whether the caller is a goroutine of a bubble.
bool in_bubble() noexcept;

}  // namespace go::synctest
