// Weighted semaphore (golang.org/x/sync/semaphore).
//
//   Go                                       gocxx
//   s := semaphore.NewWeighted(n)            go::semaphore s(n);
//   err := s.Acquire(ctx, n)                 go::error err = s.acquire(ctx, n);
//   s.Acquire(context.Background(), n)       s.acquire(n);
//   ok := s.TryAcquire(n)                    bool ok = s.try_acquire(n);
//   s.Release(n)                             s.release(n);
//
// Guarantees (x/sync/semaphore's)
// - A semaphore bounds concurrent access to a resource: the weights held at once never sum
//   to more than the size given at construction.
// - Waiters are served first come, first served: a request that does not fit yet makes every
//   later request wait behind it, even one that would fit, so a large request is not starved
//   by a stream of small ones.
// - acquire(ctx, n) blocks until n is available or ctx is done. On success it returns an
//   empty error; on failure ctx.err(), with the semaphore unchanged and nothing left queued
//   (waiters behind it are served if the tokens now fit). A context that is done already
//   fails acquire even when the tokens are free, and one that becomes done while the tokens
//   are being granted makes acquire give them back and fail: a done context never acquires
//   (Go issue 63615). A request larger than the size never succeeds: it waits for ctx
//   without making others wait.
// - try_acquire(n) takes n only if that does not block and no one is waiting.
// - release(n) returns n; releasing more than is held throws go::sync_error("semaphore:
//   released more than held") and leaves the semaphore unchanged.
// - Waiting parks the goroutine, never the worker thread; plain OS threads may use it too.
//   The object must not move while in use (it is neither copyable nor movable).
//
// Example (bound the number of concurrent fetches to 4):
//   go::semaphore sem(4);
//   go::wait_group wg;
//   for (auto& url : urls) {
//     if (auto err = sem.acquire(ctx, 1)) break;  // ctx done
//     wg.go([&, url] { fetch(url); sem.release(1); });
//   }
//   wg.wait();
#pragma once

#include <atomic>
#include <cstdint>

#include "go/context.hpp"
#include "go/errors.hpp"
#include "go/sync.hpp"

namespace go {

// semaphore is a weighted semaphore of a fixed size (Go's semaphore.Weighted).
class semaphore {
 public:
  explicit semaphore(std::int64_t size) noexcept : size_(size) {}
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;

  // acquire takes n, blocking until it is available or ctx is done (see the top).
  // The goroutine dump shows the caller's line as where it waits.
  [[nodiscard]] error acquire(const context& ctx, std::int64_t n = 1,
                              detail::source_location site = detail::source_location::current());
  // acquire without a context waits as long as it takes.
  void acquire(std::int64_t n = 1, detail::source_location site = detail::source_location::current()) {
    (void)acquire(context(), n, site);
  }

  // try_acquire takes n without blocking; false (and no change) if it cannot.
  [[nodiscard]] bool try_acquire(std::int64_t n = 1) noexcept;

  // release returns n; throws sync_error if that is more than is held.
  void release(std::int64_t n = 1);

 private:
  static void cancel_waiter(detail::context_hook* h) noexcept;
  void* grant_locked() noexcept;

  const std::int64_t size_;
  std::int64_t cur_ = 0;          // guarded by lock_
  std::atomic<std::uint32_t> lock_{0};
  void* head_ = nullptr;          // FIFO of waiters (semaphore.cpp), guarded by lock_
  void* tail_ = nullptr;
};

}  // namespace go
