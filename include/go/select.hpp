// select: wait on several channel operations at once, with Go's semantics.
//
//   select {                                 go::select(
//   case v, ok := <-a: use(v, ok)              go::recv_case(a, [](std::optional<T> v) { use(v); }),
//   case b <- x: sent()                        go::send_case(b, x, [] { sent(); }),
//   case <-time.After(d): timeout()            go::recv_case(go::after(d), [](auto) { timeout(); }),
//   default: idle()                            go::default_case([] { idle(); }));
//   }
//
// select returns the index (0-based, in argument order) of the case that ran, after running
// its handler. Handlers are optional: recv_case(ch) and send_case(ch, v) just do the operation.
// A receive handler may take the std::optional<T> (empty: the channel is closed) or nothing.
// send_case(ch, v) accepts exactly the values that ch.send(v) accepts.
//
// Handlers that return a value: if any handler returns a value, select returns what the
// handler of the case that ran returned instead of the index, and a case whose handler
// returns nothing (or that has none) gives a value-initialized one (false, 0, empty). All
// handlers that return a value return the same type. This is how a case leaves the loop
// around the select, where Go writes `return` or `break` inside the case:
//
//   for {                                    for (;;) {
//     select {                                 bool quit = go::select(
//     case v := <-in: sum += v                   go::recv_case(in, [&](std::optional<int> v) { sum += v.value_or(0); }),
//     case <-done: return sum                    go::recv_case(done, [] { return true; }));
//     }                                        if (quit) return sum;
//   }                                        }
//
// Guarantees (Go's select.go)
// - If several cases are ready, one is chosen uniformly at random.
// - A case on a nil channel is never ready. With no ready case and no default, select blocks
//   until one is ready; with no cases at all it blocks forever.
// - The same channel may appear in several cases, for sending and receiving at once.
// - Atomic: exactly one case happens. A case that does not win consumes nothing: no value
//   is received and dropped, and a send case's value stays in the case (cancel safety).
// - A send case on a closed channel throws chan_error("send on closed channel") if chosen.
// - No busy polling: a blocked select parks once, on all its channels.
// - No heap allocation with a fixed number of cases (tests/alloc_test.cpp).
// - A goroutine (or thread) that blocked in a select keeps a reference to the channels of
//   its last blocking selects, at most four, until it selects on others or exits: their
//   losing cases stay queued there, unable to win, for the next select to reuse (see
//   src/runtime/select.cpp). A buffered channel's values may outlive its last handle as long.
//
// select_cases is the dynamic form (Go's reflect.Select) for a list of cases built at run
// time, e.g. fan-in over N channels; select_recv is its common case.
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include "go/detail/source_location.hpp"
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "go/chan.hpp"

namespace go {

namespace detail {

struct no_handler {};

// take_received moves a received value out of a case's raw buffer.
template <class T>
std::optional<T> take_received(unsigned char* buf, bool received) {
  if (!received) return std::nullopt;
  T* p = std::launder(reinterpret_cast<T*>(buf));
  std::optional<T> v(std::move(*p));
  p->~T();
  return v;
}

// Each case's finish runs its handler and returns what the handler returned.
template <class T, class F>
struct recv_case_t {
  chan_core* c;
  F f;
  alignas(stored_t<T>) unsigned char buf[sizeof(stored_t<T>)];

  void bind(select_case& sc) { sc = {c, buf, false}; }
  auto finish(bool received) {
    if constexpr (std::is_void_v<T>) {
      if constexpr (std::is_invocable_v<F&, bool>) return f(received);
      else if constexpr (std::is_invocable_v<F&>) return f();
    } else {
      if constexpr (std::is_invocable_v<F&, std::optional<T>>) {
        return f(take_received<T>(buf, received));
      } else {
        if (received) std::launder(reinterpret_cast<T*>(buf))->~T();
        if constexpr (std::is_invocable_v<F&>) return f();
        else static_assert(std::is_same_v<F, no_handler>, "recv_case handler must take std::optional<T> or nothing");
      }
    }
  }
};

template <class T, class F>
struct send_case_t {
  chan_core* c;
  stored_t<T> v;
  F f;
  void bind(select_case& sc) { sc = {c, &v, true}; }
  auto finish(bool) {
    if constexpr (std::is_invocable_v<F&>) return f();
  }
};

template <class F>
struct default_case_t {
  F f;
  auto finish(bool) {
    if constexpr (std::is_invocable_v<F&>) return f();
  }
};

template <class C>
struct is_default : std::false_type {};
template <class F>
struct is_default<default_case_t<F>> : std::true_type {};

template <class C>
using chan_value_t = typename std::remove_cvref_t<C>::value_type;

// Direction checks, as Go's compiler does them: receive from chan<T> or recv_chan<T> only,
// send on chan<T> or send_chan<T> only.
template <class C>
concept receivable = requires(const C& c) { c.try_recv(); };
template <class C>
concept sendable = requires(const C& c) { c.close(); };

}  // namespace detail

// recv_case(ch, f): receive from ch (a chan<T> or recv_chan<T>); f gets std::optional<T>
// (empty if ch is closed), or nothing. recv_case(ch) receives and drops the value.
// A case does nothing until it is passed to select.
template <detail::receivable C, class F = detail::no_handler>
[[nodiscard]] auto recv_case(const C& ch, F f = {}) {
  return detail::recv_case_t<detail::chan_value_t<C>, F>{ch.core(), std::move(f), {}};
}

// send_case(ch, v, f): send v on ch (a chan<T> or send_chan<T>), then call f(). v is a T, as
// for ch.send(v): what converts implicitly to T, nothing else.
template <detail::sendable C, class F = detail::no_handler>
  requires(!std::is_void_v<detail::chan_value_t<C>>)
[[nodiscard]] auto send_case(const C& ch, std::type_identity_t<detail::chan_value_t<C>> v, F f = {}) {
  using T = detail::chan_value_t<C>;
  return detail::send_case_t<T, F>{ch.core(), std::move(v), std::move(f)};
}
// send_signal_case(ch, f) on a chan<void>: send a signal.
template <detail::sendable C, class F = detail::no_handler>
  requires std::is_void_v<detail::chan_value_t<C>>
[[nodiscard]] auto send_signal_case(const C& ch, F f = {}) {
  return detail::send_case_t<void, F>{ch.core(), {}, std::move(f)};
}

// default_case(f): run f if no other case is ready.
template <class F = detail::no_handler>
[[nodiscard]] auto default_case(F f = {}) {
  return detail::default_case_t<F>{std::move(f)};
}

namespace detail {

template <class Case>
using case_result_t = decltype(std::declval<std::remove_cvref_t<Case>&>().finish(false));

// The type the handlers that return a value return (the first one's), or void if none does.
template <class... Results>
struct handler_result {
  using type = void;
};
template <class R, class... Results>
struct handler_result<R, Results...> {
  using type = std::conditional_t<std::is_void_v<R>, typename handler_result<Results...>::type, R>;
};
template <class... Results>
using handler_result_t = typename handler_result<Results...>::type;

// The handlers that return a value all return the same type, which has a value-initialized
// form if some handler returns nothing.
template <class... Results>
concept handlers_return_one_type =
    std::is_void_v<handler_result_t<Results...>> ||
    (((std::is_void_v<Results> || std::is_same_v<Results, handler_result_t<Results...>>)&&...) &&
     ((!std::is_void_v<Results> && ...) || std::is_default_constructible_v<handler_result_t<Results...>>));

// What select returns: the handlers' type, or the case's index when no handler returns a value.
template <class... Results>
using select_result_t =
    std::conditional_t<std::is_void_v<handler_result_t<Results...>>, int, handler_result_t<Results...>>;

// finish_case runs the handler of case `index` (I or a later one; the last is the only one
// left, so it is not checked) and returns select's result: the index when index_result, else
// the handler's value, or a value-initialized R for a handler that returns nothing.
template <class R, bool index_result, std::size_t I, class Tuple>
R finish_case(Tuple& cases, int index, bool received) {
  if constexpr (I + 1 < std::tuple_size_v<Tuple>) {
    if (static_cast<int>(I) != index) return finish_case<R, index_result, I + 1>(cases, index, received);
  }
  auto& chosen = std::get<I>(cases);
  if constexpr (index_result) {
    chosen.finish(received);
    return index;
  } else if constexpr (std::is_void_v<decltype(chosen.finish(received))>) {
    chosen.finish(received);
    return R{};
  } else {
    return chosen.finish(received);
  }
}

}  // namespace detail

// select runs exactly one of the cases and returns the index of the case that ran, or what
// its handler returned when some handler returns a value; see the top of this file.
//
// Always inlined, so that select_go's return address, where the goroutine dump finds where it
// blocked (traceback.cpp), is in the caller.
template <class... Cases>
  requires detail::handlers_return_one_type<detail::case_result_t<Cases>...>
[[gnu::always_inline]] inline detail::select_result_t<detail::case_result_t<Cases>...> select(Cases&&... in_cases) {
  using result = detail::select_result_t<detail::case_result_t<Cases>...>;
  constexpr bool index_result = std::is_void_v<detail::handler_result_t<detail::case_result_t<Cases>...>>;
  constexpr int n_default = (0 + ... + (detail::is_default<std::remove_cvref_t<Cases>>::value ? 1 : 0));
  static_assert(n_default <= 1, "select: at most one default_case");
  constexpr int n = sizeof...(Cases);
  constexpr int n_chan = n - n_default;
  // The cases the caller built in the call (temporaries, alive until the call's full
  // expression ends) are used in place; a case passed as a named object is copied, so that
  // a send_case can be reused. (Copying the temporaries cost select_uncontended a fifth of
  // its time: the copies' 16-byte loads of fields just stored as 8 bytes could not be
  // forwarded from the store buffer.)
  std::tuple<std::conditional_t<std::is_lvalue_reference_v<Cases>, std::remove_cvref_t<Cases>, Cases&&>...> cases(
      std::forward<Cases>(in_cases)...);
  std::array<detail::select_case, n_chan == 0 ? 1 : n_chan> raw{};
  std::array<int, n_chan == 0 ? 1 : n_chan> position{};  // raw index -> argument index
  int default_position = -1;
  int k = 0;
  std::apply(
      [&](auto&... c) {
        int arg = 0;
        auto one = [&](auto& cs) {
          if constexpr (detail::is_default<std::remove_cvref_t<decltype(cs)>>::value) {
            default_position = arg;
          } else {
            cs.bind(raw[k]);
            position[k++] = arg;
          }
          ++arg;
        };
        (one(c), ...);
        (void)one;
      },
      cases);
  bool received = false;
  int chosen = detail::select_go(raw.data(), n_chan, n_default == 0, &received, detail::source_location::current());
  int index = chosen < 0 ? default_position : position[chosen];
  if constexpr (n == 0) {
    return index;  // not reached: with no cases, select_go blocks forever
  } else {
    return detail::finish_case<result, index_result, 0>(cases, index, received);
  }
}

// select_cases is a select over cases chosen at run time (Go's reflect.Select).
//
// Example (fan-in):
//   go::select_cases sel;
//   for (auto& in : inputs) sel.recv(in, [&](std::optional<int> v) { ... });
//   int i = sel.select();   // index in the order the cases were added
class select_cases {
 public:
  template <detail::receivable C, class F = detail::no_handler>
  select_cases& recv(const C& ch, F f = {}) {
    using T = detail::chan_value_t<C>;
    using E = detail::stored_t<T>;
    auto holder = std::make_shared<detail::recv_case_t<T, F>>(detail::recv_case_t<T, F>{ch.core(), std::move(f), {}});
    entries_.push_back({ch.core(), holder->buf, false, [holder](bool r) { holder->finish(r); }});
    (void)sizeof(E);
    return *this;
  }
  // send adds a case that sends v, a T as for ch.send(v).
  template <detail::sendable C, class F = detail::no_handler>
    requires(!std::is_void_v<detail::chan_value_t<C>>)
  select_cases& send(const C& ch, std::type_identity_t<detail::chan_value_t<C>> v, F f = {}) {
    using T = detail::chan_value_t<C>;
    auto holder =
        std::make_shared<detail::send_case_t<T, F>>(detail::send_case_t<T, F>{ch.core(), std::move(v), std::move(f)});
    entries_.push_back({ch.core(), &holder->v, true, [holder](bool r) { holder->finish(r); }});
    return *this;
  }
  template <class F = detail::no_handler>
  select_cases& default_case(F f = {}) {
    has_default_ = true;
    default_ = [f = std::move(f)]() mutable {
      if constexpr (std::is_invocable_v<F&>) f();
    };
    return *this;
  }
  std::size_t size() const noexcept { return entries_.size(); }

  // select runs one case (blocking unless a default was added) and returns its index in the
  // order added, or size() if the default ran; what a handler returns is dropped. The cases
  // stay; a send case that ran has given its value away and must not be selected again.
  std::size_t select(const detail::source_location& site = detail::source_location::current());

 private:
  struct entry {
    detail::chan_core* c;
    void* elem;
    bool is_send;
    std::function<void(bool)> finish;
  };
  std::vector<entry> entries_;
  std::vector<detail::select_case> raw_;
  bool has_default_ = false;
  std::function<void()> default_;
};

inline std::size_t select_cases::select(const detail::source_location& site) {
  raw_.resize(entries_.size());
  for (std::size_t i = 0; i < entries_.size(); ++i) raw_[i] = {entries_[i].c, entries_[i].elem, entries_[i].is_send};
  bool received = false;
  int chosen = detail::select_go(raw_.data(), static_cast<int>(raw_.size()), !has_default_, &received, site);
  if (chosen < 0) {
    default_();
    return entries_.size();
  }
  entries_[static_cast<std::size_t>(chosen)].finish(received);
  return static_cast<std::size_t>(chosen);
}

// select_recv receives from whichever of chans is ready first (chosen at random among ready
// ones) and returns its index and the value (empty: that channel is closed). Nil channels in
// the list are never ready. Blocks forever if the list is empty or all nil.
template <class T>
[[gnu::always_inline]] inline std::pair<std::size_t, std::optional<T>> select_recv(std::span<const chan<T>> chans) {
  using E = detail::stored_t<T>;
  constexpr std::size_t small = 16;
  std::array<detail::select_case, small> raw_small;
  std::vector<detail::select_case> raw_big;
  detail::select_case* raw = raw_small.data();
  if (chans.size() > small) {
    raw_big.resize(chans.size());
    raw = raw_big.data();
  }
  alignas(E) unsigned char buf[sizeof(E)];
  for (std::size_t i = 0; i < chans.size(); ++i) raw[i] = {chans[i].core(), buf, false};
  bool received = false;
  int i = detail::select_go(raw, static_cast<int>(chans.size()), true, &received, detail::source_location::current());
  return {static_cast<std::size_t>(i), detail::take_received<T>(buf, received)};
}

}  // namespace go
