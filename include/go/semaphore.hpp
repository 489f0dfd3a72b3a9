// Weighted semaphore (golang.org/x/sync/semaphore).
//
//   Go                                       gocxx
//   s := semaphore.NewWeighted(n)            go::semaphore s(n);
//   err := s.Acquire(ctx, n)                 go::error err = s.acquire(ctx, n);
//   s.Acquire(context.Background(), n)       s.acquire(n);
//   ok := s.TryAcquire(n)                    bool ok = s.try_acquire(n);
//   s.Release(n)                             s.release(n);
//   in a stackless goroutine (go/task.hpp):
//   err := s.Acquire(ctx, n)                 go::error err = co_await go::async_acquire(s, ctx, n);
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
// - co_await go::async_acquire(s, ctx, n) is acquire(ctx, n) in a stackless goroutine, with
//   the same queue, so goroutines of both kinds and threads are served in one arrival order.
//   When it does not wait it does not suspend.
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
#include "go/task.hpp"

namespace go {

class semaphore;

namespace detail {

// A waiter of acquire, on the waiting goroutine's stack or in its coroutine frame
// (src/x/sync/semaphore.cpp). Its context hook dequeues it when the context is done.
struct semaphore_waiter : context_hook {
  enum : std::uint8_t { waiting, granted, cancelled };
  // What acquire does after its first step: done (the result is known), park (queued),
  // never (the request exceeds the size: it waits for the context only).
  enum step : std::uint8_t { done, park, never };
  semaphore* sem = nullptr;
  std::int64_t n = 0;
  parker* who = nullptr;
  semaphore_waiter* prev = nullptr;
  semaphore_waiter* next = nullptr;
  semaphore_waiter* wake_next = nullptr;
  std::uint8_t state = waiting;  // guarded by the semaphore's lock
  hook_status hook = hook_status::never;
};

}  // namespace detail

class GOCXX_CALL_SITE_ABI acquire_awaiter;

// semaphore is a weighted semaphore of a fixed size (Go's semaphore.Weighted).
class semaphore {
 public:
  explicit semaphore(std::int64_t size) noexcept : size_(size) {}
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;

  // acquire takes n, blocking until it is available or ctx is done (see the top).
  // The goroutine dump shows the caller's line as where it waits.
  [[nodiscard]] error acquire(const context& ctx, std::int64_t n = 1,
                              const detail::source_location& site = detail::source_location::current());
  // acquire without a context waits as long as it takes.
  void acquire(std::int64_t n = 1, const detail::source_location& site = detail::source_location::current()) {
    (void)acquire(context(), n, site);
  }

  // try_acquire takes n without blocking; false (and no change) if it cannot.
  [[nodiscard]] bool try_acquire(std::int64_t n = 1) noexcept;

  // release returns n; throws sync_error if that is more than is held.
  void release(std::int64_t n = 1);

 private:
  friend class acquire_awaiter;

  // acquire's steps, shared by its two forms: acquire_begin up to the park (err: the result
  // when done), acquire_end after it; acquire_suspend is the park of a stackless goroutine
  // suspended at `handle`.
  detail::semaphore_waiter::step acquire_begin(const context& ctx, std::int64_t n, detail::semaphore_waiter& w,
                                               error& err);
  error acquire_end(const context& ctx, detail::semaphore_waiter& w);
  static bool acquire_suspend(void* handle, const detail::source_location& site) noexcept;
  static void cancel_waiter(detail::context_hook* h) noexcept;
  void* grant_locked() noexcept;

  const std::int64_t size_;
  std::int64_t cur_ = 0;  // guarded by lock_
  std::atomic<std::uint32_t> lock_{0};
  void* head_ = nullptr;  // FIFO of waiters (semaphore.cpp), guarded by lock_
  void* tail_ = nullptr;
};

// acquire_awaiter: co_await go::async_acquire(s, ctx, n) takes n from s, waiting until it is
// available or ctx is done, and returns what s.acquire(ctx, n) returns (see the top).
class [[nodiscard]] GOCXX_CALL_SITE_ABI acquire_awaiter {
 public:
  acquire_awaiter(semaphore& s, context ctx, std::int64_t n, detail::call_site site) noexcept
      : s_(s), ctx_(std::move(ctx)), n_(n), site_(site) {}
  acquire_awaiter(const acquire_awaiter&) = delete;
  acquire_awaiter& operator=(const acquire_awaiter&) = delete;

  bool await_ready() {
    step_ = s_.acquire_begin(ctx_, n_, w_, err_);
    return step_ == detail::semaphore_waiter::done;
  }
  bool await_suspend(std::coroutine_handle<> h) {
    if (step_ == detail::semaphore_waiter::park) return semaphore::acquire_suspend(h.address(), site_.location());
    done_.emplace(ctx_.done().core(), site_);  // never: wait for ctx alone
    return !done_->await_ready() && done_->await_suspend(h);
  }
  error await_resume() {
    switch (step_) {
      case detail::semaphore_waiter::done: return std::move(err_);
      case detail::semaphore_waiter::park: return s_.acquire_end(ctx_, w_);
      case detail::semaphore_waiter::never: break;
    }
    return ctx_.err();
  }

 private:
  semaphore& s_;
  context ctx_;
  std::int64_t n_;
  detail::call_site site_;
  detail::semaphore_waiter::step step_ = detail::semaphore_waiter::done;
  error err_;
  detail::semaphore_waiter w_;
  std::optional<recv_awaiter<void>> done_;
};

inline acquire_awaiter async_acquire(semaphore& s, const context& ctx, std::int64_t n = 1,
                                     detail::call_site::arg site = GOCXX_CALL_SITE) {
  return acquire_awaiter(s, ctx, n, site);
}

}  // namespace go
