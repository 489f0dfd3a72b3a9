// errgroup: a group of goroutines working on subtasks of one task (golang.org/x/sync/errgroup).
//
//   Go                                       gocxx
//   var g errgroup.Group                     go::errgroup g;
//   g, ctx := errgroup.WithContext(ctx)      auto [g, ctx] = go::errgroup::with_context(parent);
//   g.Go(func() error { ... })               g.go([]() -> go::error { ... });   (or a void function)
//   ok := g.TryGo(f)                         bool ok = g.try_go(f);
//   g.SetLimit(n)                            g.set_limit(n);                   (n < 0: no limit)
//   err := g.Wait()                          go::error err = g.wait();
//     in a stackless goroutine (go/task.hpp)    go::error err = co_await go::async_wait(g);
//   g.Go(f) in a stackless goroutine         co_await go::async_go(g, f);     (waits for a slot)
//   context.Cause(ctx) after a failure       go::cause(ctx): the first error
//   a panic in f crashes the program         g.set_recover(false)   (by default an exception is f's error)
//
// Guarantees (x/sync/errgroup's)
// - wait() blocks until every function started by go or try_go has returned, then returns the
//   first non-nil error (the first to be recorded, in time), or nil.
// - A group made by with_context(parent) has a derived context that is cancelled the first
//   time a function returns an error, or when wait() returns, whichever happens first. It is
//   cancelled with that error as its cause: go::cause(ctx) returns the first error, or
//   errc::canceled when wait() cancelled it without one (Go's WithCancelCause).
// - co_await go::async_wait(g) is wait() in a stackless goroutine: the same wait, context
//   cancellation and result. It does not suspend when every function has returned already.
// - co_await go::async_go(g, f) is go(f) in a stackless goroutine: it waits for a slot of the
//   limit by suspending (on the same channel, first come first served with go's callers),
//   then starts f in a new goroutine. It does not suspend when a slot is free.
// - The functions may return go::error or void.
// - set_limit(n) bounds the number of active goroutines to n: go blocks until one can start,
//   try_go returns false instead. A limit of 0 makes go block forever and try_go fail. A
//   negative n removes the limit, at any time. A non-negative n while goroutines are active
//   throws std::logic_error, as Go panics ("errgroup: modify limit while 2 goroutines in the
//   group are still active").
// - errgroup is a handle: copies refer to the same group, and the running functions keep the
//   group's state alive, so a handle may go away before the functions return.
//
// Exceptions, where Go has panics. An exception thrown by a function is caught and becomes
// that function's error (go::error holding the exception), which wait() returns and which
// cancels the context like any other. Go's errgroup lets a panic crash the program instead
// (it propagated panics for a while in 2025 and went back), because a panic is a bug and
// carrying it to wait() delays it, hides its stack and may deadlock. gocxx catches by
// default because C++ code reports ordinary failures with exceptions (std::system_error
// from I/O, std::bad_alloc, a parser's errors): an exception in a task is usually the task's
// error, not a bug, and a caller of wait() expects to see it. set_recover(false) gives Go's
// behaviour: the exception escapes the goroutine, which ends the process with the panic
// report and goroutine dump, as any goroutine's escaped exception does.
//
// Example:
//   auto [g, ctx] = go::errgroup::with_context(go::background());
//   for (auto& url : urls) g.go([ctx, url] { return fetch(ctx, url); });
//   if (go::error err = g.wait()) std::printf("failed: %s\n", err.message().c_str());
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "go/chan.hpp"
#include "go/context.hpp"
#include "go/errors.hpp"
#include "go/runtime.hpp"
#include "go/sync.hpp"
#include "go/task.hpp"

namespace go {

class GOCXX_CALL_SITE_ABI errgroup_wait_awaiter;
template <class F>
class GOCXX_CALL_SITE_ABI errgroup_go_awaiter;

class errgroup {
 public:
  struct with_context_result;

  // An empty group with no limit and no context.
  errgroup() : s_(std::make_shared<state>()) {}

  // with_context returns a new group and a context derived from parent (see the top).
  [[nodiscard]] static with_context_result with_context(const context& parent);

  // go calls f in a new goroutine; with a limit, it first blocks until a slot is free.
  template <class F>
    requires std::invocable<std::decay_t<F>&>
  void go(F&& f) {
    chan<void> slot = s_->sem;
    if (slot != nullptr) slot.send();
    start(std::forward<F>(f), slot);
  }

  // try_go calls f in a new goroutine only if that does not exceed the limit; it reports
  // whether it did.
  template <class F>
    requires std::invocable<std::decay_t<F>&>
  [[nodiscard]] bool try_go(F&& f) {
    chan<void> slot = s_->sem;
    if (slot != nullptr && !slot.try_send()) return false;
    start(std::forward<F>(f), slot);
    return true;
  }

  // set_limit limits the number of active goroutines to n; n < 0 removes the limit (see
  // the top). Call it while no go or try_go runs.
  void set_limit(int n) {
    if (n < 0) {
      s_->sem = nullptr;
      return;
    }
    if (std::size_t active = s_->sem.len(); active != 0) {
      throw std::logic_error("errgroup: modify limit while " + std::to_string(active) +
                             " goroutines in the group are still active");
    }
    s_->sem = make_chan<void>(static_cast<std::size_t>(n));
  }

  // set_recover(false) lets an exception thrown by a function escape its goroutine and end
  // the process, as a panic in Go's errgroup does; set_recover(true), the default, makes it
  // the function's error (see the top). Call it before go or try_go.
  void set_recover(bool recover) noexcept { s_->recover = recover; }

  // wait blocks until all functions have returned, cancels the group's context (with the
  // first error as its cause) and returns the first error.
  // The goroutine dump shows the caller's line as where it waits.
  error wait(const detail::source_location& site = detail::source_location::current()) {
    s_->wg.wait(site);
    return s_->finish();
  }

 private:
  friend class errgroup_wait_awaiter;
  template <class F>
  friend class errgroup_go_awaiter;

  struct state {
    wait_group wg;
    // Go's g.sem: nil without a limit, else one buffered value per active goroutine. Each
    // goroutine keeps the channel it took its slot from, so set_limit(-1) may drop it while
    // they run.
    chan<void> sem;
    bool recover = true;
    cancel_cause_func cancel;  // does nothing for a group made without with_context
    once err_once;
    error err;  // written once, inside err_once

    // finish is wait's end, once wg's wait returned. Every writer of err ran inside err_once
    // before its done(); done happens before wait returns.
    error finish() {
      cancel(err);
      return err;
    }

    void record(error e) {
      err_once.call([&] {
        err = std::move(e);
        cancel(err);
      });
    }
  };

  // run calls f and returns its error, the exception it threw if s->recover.
  template <class F>
  static error run(state& s, F& f) {
    if (!s.recover) return call(f);
    try {
      return call(f);
    } catch (...) {
      return error(std::current_exception());
    }
  }
  template <class F>
  static error call(F& f) {
    if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
      f();
      return {};
    } else {
      return error(f());
    }
  }

  // start runs f in a new goroutine that holds `slot` (a slot of the limit, or nil).
  template <class F>
  void start(F&& f, const chan<void>& slot) {
    s_->wg.add(1);
    try {
      spawn([s = s_, slot, f = std::forward<F>(f)]() mutable {
        if (error e = run(*s, f)) s->record(std::move(e));
        if (slot != nullptr) slot.recv();
        s->wg.done();
      });
    } catch (...) {
      if (slot != nullptr) slot.recv();
      s_->wg.done();
      throw;
    }
  }

  std::shared_ptr<state> s_;
};

// What errgroup::with_context returns: auto [g, ctx] = go::errgroup::with_context(parent);
struct errgroup::with_context_result {
  errgroup group;
  context ctx;
};

inline errgroup::with_context_result errgroup::with_context(const context& parent) {
  auto [ctx, cancel] = go::with_cancel_cause(parent);
  errgroup g;
  g.s_->cancel = std::move(cancel);
  return {std::move(g), std::move(ctx)};
}

// errgroup_wait_awaiter: co_await go::async_wait(g) is g.wait() in a stackless goroutine: it
// waits for every function to return, cancels the group's context and returns the first
// error (see the top).
class [[nodiscard]] GOCXX_CALL_SITE_ABI errgroup_wait_awaiter {
 public:
  errgroup_wait_awaiter(const errgroup& g, detail::call_site site) noexcept : s_(g.s_), wait_(s_->wg, site) {}
  bool await_ready() const noexcept { return wait_.await_ready(); }
  bool await_suspend(std::coroutine_handle<> h) noexcept { return wait_.await_suspend(h); }
  error await_resume() { return s_->finish(); }

 private:
  std::shared_ptr<errgroup::state> s_;  // the group lives while it is awaited
  wait_group_awaiter wait_;
};

inline errgroup_wait_awaiter async_wait(const errgroup& g, detail::call_site::arg site = GOCXX_CALL_SITE) {
  return errgroup_wait_awaiter(g, site);
}

// errgroup_go_awaiter: co_await go::async_go(g, f) is g.go(f) in a stackless goroutine: with
// a limit, it waits by suspending until a slot is free (the slot channel's send, as go's
// blocking send), then starts f in a new goroutine as go does (see the top).
template <class F>
class [[nodiscard]] GOCXX_CALL_SITE_ABI errgroup_go_awaiter {
 public:
  errgroup_go_awaiter(errgroup& g, F f, detail::call_site site)
      : g_(g), f_(std::move(f)), slot_(g.s_->sem), send_(slot_.core(), detail::void_elem{}, site) {}
  errgroup_go_awaiter(const errgroup_go_awaiter&) = delete;
  errgroup_go_awaiter& operator=(const errgroup_go_awaiter&) = delete;
  bool await_ready() { return slot_ == nullptr || slot_.try_send(); }  // try_go's test
  bool await_suspend(std::coroutine_handle<> h) { return send_.await_suspend(h); }
  void await_resume() {
    send_.await_resume();  // nothing unless the send waited
    g_.start(std::move(f_), slot_);
  }

 private:
  errgroup g_;  // a handle: the group lives while it is awaited
  F f_;
  chan<void> slot_;  // nil without a limit
  send_awaiter<void> send_;
};

template <class F>
  requires std::invocable<std::decay_t<F>&>
errgroup_go_awaiter<std::decay_t<F>> async_go(errgroup& g, F&& f, detail::call_site::arg site = GOCXX_CALL_SITE) {
  return errgroup_go_awaiter<std::decay_t<F>>(g, std::forward<F>(f), site);
}

}  // namespace go
