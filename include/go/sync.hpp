// Synchronization (Go's package sync).
//
//   var wg sync.WaitGroup       go::wait_group wg;
//   wg.Add(n); wg.Done()        wg.add(n); wg.done();
//   wg.Wait()                   wg.wait();
//   wg.Go(f)                    wg.go(f);              (Go 1.25)
//
// Everything here parks the goroutine, never the worker thread, and also works from plain
// OS threads. Objects must not move while in use (they are not copyable, like Go's noCopy).
#pragma once

#include <atomic>
#include <cstdint>
#include "go/detail/source_location.hpp"
#include <stdexcept>
#include <utility>

#include "go/runtime.hpp"

namespace go {

// sync_error is thrown for misuse of a sync primitive; what() is Go's fatal message.
class sync_error : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// wait_group waits for a collection of goroutines to finish. add(n) adds n to the counter,
// done() subtracts one, and wait() blocks until the counter is zero. A counter that goes
// negative throws sync_error("sync: negative WaitGroup counter"). As in Go, calls to add
// with a positive delta that start when the counter is zero must happen before wait.
//
// Example:
//   go::wait_group wg;
//   for (auto& url : urls) wg.go([&url] { fetch(url); });
//   wg.wait();
class wait_group {
 public:
  wait_group() noexcept = default;
  wait_group(const wait_group&) = delete;
  wait_group& operator=(const wait_group&) = delete;

  void add(int delta);
  void done() { add(-1); }
  void wait(detail::source_location site = detail::source_location::current()) noexcept;

  // go calls f in a new goroutine and adds that task to the group.
  template <class F>
  void go(F&& f) {
    add(1);
    try {
      spawn([this, f = std::forward<F>(f)]() mutable {
        struct done_on_exit {
          wait_group* wg;
          ~done_on_exit() noexcept(false) { wg->done(); }
        } guard{this};
        f();
      });
    } catch (...) {
      done();
      throw;
    }
  }

 private:
  std::atomic<std::int64_t> counter_{0};
  std::atomic<std::uint32_t> waiting_{0};
  std::atomic<std::uint32_t> lock_{0};
  void* waiters_ = nullptr;  // detail::waiter list, guarded by lock_
};

}  // namespace go
