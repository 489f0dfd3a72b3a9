// defer: run a function when a scope ends (Go's defer, as a C++ scope guard).
//
//   Go                                gocxx
//   defer wg.Done()                   go::defer done([&wg] { wg.done(); });
//   ctx, cancel := context.WithCancel(p)
//   defer cancel()                    auto [ctx, cancel] = go::with_cancel(p); go::defer stop(cancel);
//   mu.Lock(); defer mu.Unlock()      std::lock_guard lock(mu);   (a type that unlocks itself: RAII)
//   defer f.Close()                   a type whose destructor closes, as std::ifstream
//
// Guarantees
// - The function runs once, when the defer object goes out of scope: at the end of its block,
//   on return, and while an exception (Go's panic) unwinds through it. Go runs deferred calls
//   when the function returns; a defer at the function's top level has that timing, one in a
//   loop body runs at the end of each iteration.
// - The defer holds its own copy (or move) of the function: go::defer stop(cancel) copies the
//   cancel function, a cheap handle.
// - Several defers in a scope run in reverse order of declaration, as Go's.
// - Go evaluates a deferred call's arguments at the defer statement; a lambda that captures by
//   reference reads the variables when it runs. Capture by value for Go's behaviour.
// - A function that throws while no exception is unwinding propagates the exception, as a
//   panic in a deferred call does in Go; one that throws during unwinding ends the program
//   (std::terminate).
//
// Example:
//   void worker(go::wait_group& wg, go::chan<int> results) {
//     go::defer done([&wg] { wg.done(); });
//     results << compute();
//   }
#pragma once

#include <type_traits>
#include <utility>

namespace go {

template <class F>
class defer {
 public:
  explicit defer(F f) noexcept(std::is_nothrow_move_constructible_v<F>) : f_(std::move(f)) {}
  defer(const defer&) = delete;
  defer& operator=(const defer&) = delete;
  ~defer() noexcept(false) { static_cast<void>(f_()); }  // results are dropped, as Go drops them

 private:
  F f_;
};

}  // namespace go
