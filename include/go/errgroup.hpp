// errgroup: a group of goroutines working on subtasks of one task (golang.org/x/sync/errgroup).
//
//   Go                                       gocxx
//   var g errgroup.Group                     go::errgroup g;
//   g, ctx := errgroup.WithContext(ctx)      auto [g, ctx] = go::errgroup::with_context(parent);
//   g.Go(func() error { ... })               g.go([]() -> go::error { ... });   (or a void function)
//   ok := g.TryGo(f)                         bool ok = g.try_go(f);
//   g.SetLimit(n)                            g.set_limit(n);                   (n < 0: no limit)
//   err := g.Wait()                          go::error err = g.wait();
//
// Guarantees (x/sync/errgroup's)
// - wait() blocks until every function started by go or try_go has returned, then returns the
//   first non-nil error (the first to be recorded, in time), or nil.
// - A group made by with_context(parent) has a derived context that is cancelled the first
//   time a function returns an error, or when wait() returns, whichever happens first.
// - An exception thrown by a function is caught and becomes that function's error
//   (go::error holding the exception); it does not end the process as an escaped exception
//   in a plain goroutine does. The function may return go::error or void.
// - set_limit(n) bounds the number of active goroutines to n: go blocks until one can start,
//   try_go returns false instead. A limit of 0 makes go block forever and try_go fail. Setting
//   the limit while goroutines are active throws std::logic_error, as Go panics.
// - errgroup is a handle: copies refer to the same group, and the running functions keep the
//   group's state alive, so a handle may go away before the functions return.
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

namespace go {

class errgroup {
 public:
  struct with_context_result;

  // An empty group with no limit and no context.
  errgroup() : s_(std::make_shared<state>()) {}

  // with_context returns a new group and a context derived from parent (see the top).
  static with_context_result with_context(const context& parent);

  // go calls f in a new goroutine; with a limit, it first blocks until a slot is free.
  template <class F>
    requires std::invocable<std::decay_t<F>&>
  void go(F&& f) {
    if (s_->limited) s_->sem.send();
    start(std::forward<F>(f));
  }

  // try_go calls f in a new goroutine only if that does not exceed the limit; it reports
  // whether it did.
  template <class F>
    requires std::invocable<std::decay_t<F>&>
  bool try_go(F&& f) {
    if (s_->limited && !s_->sem.try_send()) return false;
    start(std::forward<F>(f));
    return true;
  }

  // set_limit limits the number of active goroutines to n; n < 0 removes the limit.
  void set_limit(int n) {
    if (s_->limited && s_->sem.len() != 0) {
      throw std::logic_error("errgroup: modify limit while " + std::to_string(s_->sem.len()) +
                             " goroutines in the group are still active");
    }
    s_->limited = n >= 0;
    s_->sem = n < 0 ? chan<void>() : make_chan<void>(static_cast<std::size_t>(n));
  }

  // wait blocks until all functions have returned, cancels the group's context and returns
  // the first error.
  error wait() {
    s_->wg.wait();
    s_->cancel();
    return s_->first_error();
  }

 private:
  struct state {
    wait_group wg;
    bool limited = false;
    chan<void> sem;  // when limited: one buffered value per active goroutine
    cancel_func cancel;
    once err_once;
    error err;  // written once, inside err_once; read after wg.wait()

    void record(error e) {
      err_once.call([&] {
        err = std::move(e);
        cancel();
      });
    }
    error first_error() {
      // Every writer ran inside err_once before its done(); done happens before wait returns.
      return err;
    }
  };

  template <class F>
  void start(F&& f) {
    s_->wg.add(1);
    try {
      spawn([s = s_, f = std::forward<F>(f)]() mutable {
        error e;
        try {
          if constexpr (std::is_void_v<std::invoke_result_t<std::decay_t<F>&>>) {
            f();
          } else {
            e = error(f());
          }
        } catch (...) {
          e = error(std::current_exception());
        }
        if (e) s->record(std::move(e));
        if (s->limited) s->sem.recv();
        s->wg.done();
      });
    } catch (...) {
      if (s_->limited) s_->sem.recv();
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
  auto [ctx, cancel] = go::with_cancel(parent);
  errgroup g;
  g.s_->cancel = std::move(cancel);
  return {std::move(g), std::move(ctx)};
}

}  // namespace go
