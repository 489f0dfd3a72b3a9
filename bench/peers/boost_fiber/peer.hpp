// The Boost.Fiber side of gocxx's side-by-side benchmark: what the scenario files share.
//
// bench/peers/go/SCENARIOS.md specifies every scenario; this program implements those that
// Boost.Fiber can express (it has no select, no timers, no context) with the Go peer's
// command line and output, so that bench/compare.py runs all three implementations alike.
#pragma once

#include <atomic>
#include <bit>
#include <boost/fiber/all.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace peer {

using clock_type = std::chrono::steady_clock;
using i64 = std::int64_t;

namespace fibers = boost::fibers;

struct result {
  std::string name;
  double value;
  const char* unit;
  i64 checksum;
};

using results = std::vector<result>;

struct scenario {
  std::string name;
  int n;  // default N: the Go peer's (see SCENARIOS.md for its meaning per scenario)
  std::function<results(int)> run;
};

// The scenario tables of sched.cpp, chans.cpp, sync.cpp and patterns.cpp, in SCENARIOS.md's
// order.
std::vector<scenario> sched_scenarios();
std::vector<scenario> chan_scenarios();
std::vector<scenario> sync_scenarios();
std::vector<scenario> pattern_scenarios();

inline i64 since_ns(clock_type::time_point start) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - start).count();
}

// ns_per_op builds the usual one-line result.
inline results ns_per_op(const std::string& name, i64 elapsed_ns, i64 ops, i64 checksum) {
  return {{name, static_cast<double>(elapsed_ns) / static_cast<double>(ops), "ns/op", checksum}};
}

// sum_to returns 1 + 2 + ... + n.
inline i64 sum_to(i64 n) { return n * (n + 1) / 2; }

// Every fiber gets a 16 KiB fixedsize_stack (malloc'ed, no guard page), plenty for the
// scenarios. Boost's default, 128 KiB, is at glibc's mmap threshold: while a million fibers are
// alive each stack is an mmap() of its own, and spawning costs 10-40 us per fiber. Boost's own
// skynet benchmarks use one page.
constexpr std::size_t stack_size = 16 * 1024;

// spawn starts a detached fiber, as Go's `go` statement starts a goroutine: the caller goes on
// and the new fiber is queued (launch::post, Boost's default).
template <class F, class... Args>
void spawn(F&& f, Args&&... args) {
  fibers::fiber(std::allocator_arg, fibers::fixedsize_stack(stack_size), std::forward<F>(f),
                std::forward<Args>(args)...)
      .detach();
}

// wait_group is Go's sync.WaitGroup for fibers (Boost.Fiber has none): add() and done() are an
// atomic counter; only the done() that brings it to zero takes the fiber mutex, to wake wait().
// wait() returns only after seeing `zero_` under the mutex, which the last done() sets while
// holding it, so the last done() has stopped touching the wait_group when wait() returns and the
// waiter may destroy it (a lock-free early return on a zero counter would break that). One round
// per wait_group, add() of a positive count before wait(), as the scenarios use it.
class wait_group {
 public:
  void add(i64 n) { count_.fetch_add(n, std::memory_order_relaxed); }

  void done() {
    if (count_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    std::lock_guard<fibers::mutex> lock(mu_);
    zero_ = true;
    cv_.notify_all();
  }

  void wait() {
    std::unique_lock<fibers::mutex> lock(mu_);
    cv_.wait(lock, [this] { return zero_; });
  }

 private:
  std::atomic<i64> count_{0};
  fibers::mutex mu_;
  fibers::condition_variable cv_;
  bool zero_ = false;  // guarded by mu_
};

// Channels. Boost.Fiber's buffered_channel needs a power-of-two capacity of at least 2 and holds
// one element less than its capacity; Go's `make(chan T, k)` is mapped to the smallest one that
// holds at least k elements (k = 1 -> exactly 1; 10 -> 15; 100, 128 -> 127, 255; N -> > N).
// k = 0 is unbuffered_channel. Boost has no unbounded channel; as in Go, capacity N stands in.
using unbuffered = fibers::unbuffered_channel<i64>;
using buffered = fibers::buffered_channel<i64>;

inline std::size_t buffered_capacity(int k) { return std::bit_ceil(static_cast<std::size_t>(k) + 1); }

// recv is Go's `v := <-c` for a channel that is never closed while it is used.
template <class Chan>
auto recv(Chan& c) {
  typename Chan::value_type v{};
  c.pop(v);
  return v;
}

}  // namespace peer
