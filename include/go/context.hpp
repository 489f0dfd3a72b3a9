// Contexts (Go's package context): cancellation, deadlines and request-scoped values that
// flow down a tree of calls and goroutines.
//
//   Go                                        gocxx
//   context.Context                           go::context               (a cheap copyable handle)
//   context.Background(), context.TODO()      go::background(), go::todo()   (go::context{} is Background)
//   ctx, cancel := context.WithCancel(p)      auto [ctx, cancel] = go::with_cancel(p);
//   context.WithCancelCause(p)                go::with_cancel_cause(p)  (cancel(cause))
//   context.WithDeadline(p, t)                go::with_deadline(p, t)   (t: steady_clock::time_point)
//   context.WithTimeout(p, d)                 go::with_timeout(p, d)    (d: any std::chrono duration)
//   context.WithDeadlineCause, WithTimeoutCause   go::with_deadline_cause, go::with_timeout_cause
//   context.WithValue(p, key, v)              go::with_value(p, key, v) (key: a go::context_key<T>)
//   ctx.Value(key).(T)                        ctx.value(key)            (const T*, null if absent)
//   context.WithoutCancel(p)                  go::without_cancel(p)
//   stop := context.AfterFunc(ctx, f)         go::stop_func stop = go::after_func(ctx, f);
//   <-ctx.Done()                              ctx.done().recv()  or go::recv_case(ctx.done(), ...) in a select
//     in a stackless goroutine (go/task.hpp)    co_await go::async_recv(ctx.done())  (done() is a channel)
//   ctx.Err()                                 ctx.err()                 (a go::error: empty, canceled or deadline_exceeded)
//   context.Cause(ctx)                        go::cause(ctx)
//   ctx.Deadline()                            ctx.deadline()            (std::optional<steady_clock::time_point>)
//   (C++20)                                   ctx.stop_token(), go::with_stop_token(p, token)
//   ctx.String(), fmt.Sprint(ctx)             ctx.string(), std::cout << ctx
//
// Guarantees (Go's)
// - Cancelling a context cancels all contexts derived from it, synchronously: when cancel()
//   returns, every descendant's done() is closed and its err() set. The cancel function
//   cancels only its own context and its descendants, never the parent. Cancel functions are
//   idempotent and may be called from any goroutine or thread, concurrently. (Another
//   goroutine that sees a context done may for a moment still see a descendant not done, as
//   in Go, where a parent's done channel closes before its children's.)
// - err() is empty until done() is closed, then errc::canceled or errc::deadline_exceeded
//   for good. cause(ctx) is the cause given to the cancel function of with_cancel_cause (or
//   with_deadline_cause's when the deadline passes), else err().
// - done() of a context that can never be cancelled (background, todo, without_cancel and
//   what only adds values to them) is the nil channel: receiving blocks forever, and a select
//   case on it is never ready.
// - A deadline earlier than the parent's takes effect; a later one does not (the result is
//   then like with_cancel). A deadline already passed cancels at once with deadline_exceeded.
// - value(key) walks up the chain and returns the nearest value stored under key. Keys are
//   go::context_key<T> objects compared by address, so two keys never collide and the value
//   type is checked at compile time. The pointer is valid while the context (or one derived
//   from it) is alive.
// - after_func(ctx, f) runs f in its own goroutine once ctx is done (at once if it is done
//   already). Calling the returned stop_func unregisters f: it returns true if that stopped
//   f from running, false if f has started or stop was called before.
// - No leaks, stronger than Go's: a child that is cancelled, or that nobody references any
//   more (no handle to it or to a context below it, no cancel function, no after_func), is
//   removed from its parent and its timer is stopped and freed. A long-lived parent can make
//   millions of short-lived children; its set of children stays as large as the live ones.
//   (As in Go, call cancel as soon as the work is done: a child referenced but never
//   cancelled stays registered.)
// - A deadline's cancellation runs in a goroutine of its own, like Go's; after_func
//   callbacks and std::stop_callback callbacks registered on stop_token() never run on a
//   scheduler stack.
//
// Printed form (Go's String()): the chain of functions that made the context, from its root,
// e.g. "context.Background.WithCancel.WithValue(request_id, 42)". Go's names:
// context.Background, context.TODO, .WithCancel (with_cancel and with_cancel_cause, and
// with_deadline when the parent's deadline comes first), .WithDeadline(m=+<steady_clock
// time in seconds> [<time left, as Go prints a Duration>]) for with_deadline and
// with_timeout, .WithoutCancel, .WithValue(<key>, <value>); with_stop_token's is
// .WithStopToken. A key prints as its name, or as its type if it has none; a value as
// itself if it converts to std::string_view, through its string() member if it has one (a
// Go Stringer), as <nil> if it is a null pointer, and otherwise as its type, as Go's does.
//
// C++20 interop: ctx.stop_token() returns a std::stop_token that is stop-requested when ctx
// is done (std::stop_callback callbacks then run in the cancelling goroutine or thread); the
// token does not keep the context alive, so keep the context while you use it.
// go::with_stop_token(parent, token) derives a context that is also cancelled
// (errc::canceled) when stop is requested on token, e.g. by a std::jthread's destructor.
//
// Errors are go::error values (go/errors.hpp): `if (ctx.err() == go::errc::canceled)`.
//
// Example:
//   go::error fetch(go::context ctx, const std::string& url);
//
//   auto [ctx, cancel] = go::with_timeout(go::background(), 2s);
//   auto results = go::make_chan<std::string>(1);
//   go::spawn([ctx, results] { results.send(fetch(ctx, "a").message()); });
//   go::select(go::recv_case(results, [](auto v) { use(*v); }),
//              go::recv_case(ctx.done(), [&] { log(ctx.err().message()); }));
//   cancel();
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "go/chan.hpp"
#include "go/detail/counted_ref.hpp"
#include "go/errors.hpp"
#include "go/time.hpp"

namespace go {

class context;

// context_key<T> is a key for values of type T. Its address is its identity: define it once,
// e.g. as a global or static object, and use that object to store and to look up.
//
// Example:
//   static const go::context_key<std::string> request_id{"request_id"};
//   auto ctx = go::with_value(parent, request_id, std::string("42"));
//   if (const std::string* id = ctx.value(request_id)) ...
template <class T>
class context_key {
 public:
  constexpr explicit context_key(const char* name = "") noexcept : name_(name) {}
  context_key(const context_key&) = delete;
  context_key& operator=(const context_key&) = delete;
  const char* name() const noexcept { return name_; }

 private:
  const char* name_;
};

namespace detail {

// The part of every context node that the handle touches; context.cpp has the rest.
struct context_node {
  std::atomic<std::int32_t> refs{1};
};
inline void context_retain(context_node* n) noexcept { n->refs.fetch_add(1, std::memory_order_relaxed); }
void context_release(context_node* n) noexcept;
using context_ref = counted_ref<context_node, context_retain, context_release>;

struct context_access;

// A registration in a cancellable context's list of things to cancel: a child context, an
// after_func, or a runtime hook. The fields belong to context.cpp.
struct context_link {
  context_link* prev = nullptr;
  context_link* next = nullptr;
  context_link* work_next = nullptr;  // the cancelling thread's work list
  void* owner = nullptr;              // the cancel context whose list holds this link
  bool linked = false;                // guarded by the owner's lock
  std::uint8_t kind = 0;
};

// context_hook lets a runtime primitive (the semaphore) wait for a context without a
// goroutine or a channel: on_cancel runs once, in the cancelling thread, with the context's
// lock held; it must be short and must not block.
struct context_hook : context_link {
  void (*on_cancel)(context_hook* h) noexcept = nullptr;
};

}  // namespace detail

// context carries a deadline, a cancellation signal and values (Go's context.Context). A
// default-constructed context is Background. Copies are cheap and refer to the same context.
class context {
 public:
  context() noexcept = default;

  // done returns a channel that is closed when this context is cancelled or its deadline
  // passes; the nil channel if it can never be.
  recv_chan<void> done() const;

  // err is empty while done() is open, then why it closed: errc::canceled or
  // errc::deadline_exceeded.
  error err() const noexcept;

  // deadline returns when this context will be cancelled by a deadline, if it has one.
  std::optional<steady_clock::time_point> deadline() const noexcept;

  // value returns the value stored under key by this context or the nearest ancestor that
  // stores one, or null.
  template <class T>
  const T* value(const context_key<T>& key) const noexcept;

  // stop_token returns a token that is stop-requested when this context is done (a token
  // that can never stop for a context that can never be cancelled).
  std::stop_token stop_token() const;

  // string returns the context's printed form (Go's String(); see the top).
  std::string string() const;
  friend std::ostream& operator<<(std::ostream& out, const context& ctx);

  friend bool operator==(const context& a, const context& b) noexcept { return a.n_ == b.n_; }

 private:
  friend struct detail::context_access;
  explicit context(detail::context_node* adopt) noexcept : n_(adopt) {}
  detail::context_ref n_;
};

// cancel_func cancels its context with errc::canceled (Go's CancelFunc). Idempotent; safe from
// any thread. A default-constructed cancel_func does nothing.
class cancel_func {
 public:
  cancel_func() noexcept = default;
  void operator()() const noexcept;

 private:
  friend struct detail::context_access;
  explicit cancel_func(detail::context_node* adopt) noexcept : n_(adopt) {}
  detail::context_ref n_;
};

// cancel_cause_func cancels its context with errc::canceled and records cause, which
// go::cause returns (Go's CancelCauseFunc). An empty cause records errc::canceled.
class cancel_cause_func {
 public:
  cancel_cause_func() noexcept = default;
  void operator()(const error& cause = {}) const noexcept;

 private:
  friend struct detail::context_access;
  explicit cancel_cause_func(detail::context_node* adopt) noexcept : n_(adopt) {}
  detail::context_ref n_;
};

// What with_cancel and its relatives return: auto [ctx, cancel] = go::with_cancel(parent);
struct cancel_context {
  context ctx;
  cancel_func cancel;
};
struct cancel_cause_context {
  context ctx;
  cancel_cause_func cancel;
};

namespace detail {
struct after_func_entry;
void after_func_retain(after_func_entry* e) noexcept;
void after_func_release(after_func_entry* e) noexcept;
}  // namespace detail

// stop_func unregisters an after_func (Go's `stop func() bool` from context.AfterFunc).
class stop_func {
 public:
  stop_func() noexcept = default;
  // true if this call stopped f from being run; false if f has started or was stopped.
  bool operator()() const noexcept;

 private:
  friend struct detail::context_access;
  explicit stop_func(detail::after_func_entry* adopt) noexcept : e_(adopt) {}
  detail::counted_ref<detail::after_func_entry, detail::after_func_retain, detail::after_func_release> e_;
};

// background returns the root context: never cancelled, no deadline, no values.
inline context background() noexcept { return context(); }

// todo returns a root context like background, for code not yet given a context.
context todo() noexcept;

// with_cancel returns a child of parent with a new done channel, closed when cancel is called
// or parent is done, whichever happens first.
[[nodiscard]] cancel_context with_cancel(const context& parent);

// with_cancel_cause is with_cancel whose cancel function records a cause (see go::cause).
[[nodiscard]] cancel_cause_context with_cancel_cause(const context& parent);

// with_deadline returns a child of parent that is cancelled with errc::deadline_exceeded at d
// (or earlier, by cancel or by parent).
[[nodiscard]] cancel_context with_deadline(const context& parent, steady_clock::time_point d);

// with_deadline_cause is with_deadline whose cause(), once the deadline passes, is cause.
[[nodiscard]] cancel_context with_deadline_cause(const context& parent, steady_clock::time_point d, error cause);

// with_timeout is with_deadline(parent, now + timeout).
template <class Rep, class Period>
[[nodiscard]] cancel_context with_timeout(const context& parent, std::chrono::duration<Rep, Period> timeout);
template <class Rep, class Period>
[[nodiscard]] cancel_context with_timeout_cause(const context& parent, std::chrono::duration<Rep, Period> timeout,
                                                error cause);

// with_value returns a child of parent in which value(key) is value.
template <class T, class U>
[[nodiscard]] context with_value(const context& parent, const context_key<T>& key, U&& value);

// without_cancel returns a child of parent that keeps parent's values but is never cancelled:
// no deadline, nil done(), empty err().
[[nodiscard]] context without_cancel(const context& parent);

// with_stop_token returns a child of parent that is also cancelled when stop is requested on
// token. A token that can never stop gives parent itself.
[[nodiscard]] context with_stop_token(const context& parent, std::stop_token token);

// after_func arranges to call f in its own goroutine after ctx is done (Go's
// context.AfterFunc). Calls are independent: each gets its own goroutine.
template <class F>
stop_func after_func(const context& ctx, F&& f);

// cause returns why ctx was cancelled: the cause given to its (or an ancestor's) cancel
// function, or the deadline cause, or err() when there is none; empty if not cancelled.
error cause(const context& ctx) noexcept;

// --- implementation ---

namespace detail {

// type_name<T>() is T's name as the compiler spells it, e.g. "int" or "std::vector<int>".
template <class T>
constexpr std::string_view type_name() noexcept {
  // GCC: "... type_name() [with T = int; std::string_view = ...]"; Clang: "... [T = int]".
  std::string_view f = __PRETTY_FUNCTION__;
  std::size_t start = f.find("T = ") + 4;
  std::size_t end = f.find("; ", start);
  return f.substr(start, (end == std::string_view::npos ? f.size() - 1 : end) - start);
}

// What a value node needs to know about its value's type T, and its key's.
struct context_value_ops {
  void (*destroy)(void* value) noexcept;
  std::string (*describe)(const void* value);  // Go's stringify(value)
  std::string_view key_type;                   // for a key without a name
};

template <class T>
std::string describe_value(const void* p) {
  const T& v = *static_cast<const T*>(p);
  if constexpr (std::is_pointer_v<T> || std::is_null_pointer_v<T>) {
    if (v == nullptr) return "<nil>";
  }
  if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    return std::string(std::string_view(v));
  } else if constexpr (requires { std::string(v.string()); }) {
    return std::string(v.string());
  } else {
    return std::string(type_name<T>());
  }
}

template <class T>
inline constexpr context_value_ops context_value_ops_for{[](void* p) noexcept { delete static_cast<T*>(p); },
                                                         &describe_value<T>, type_name<context_key<T>>()};

context context_with_value(const context& parent, const void* key, const char* key_name, void* value,
                           const context_value_ops* ops);
const void* context_value(const context_node* n, const void* key) noexcept;
std::int64_t context_deadline_ns(const context_node* n) noexcept;
stop_func context_after_func(const context& ctx, std::unique_ptr<boxed_func> f);

// What context_add_hook did: added (on_cancel will run when ctx is done, unless removed),
// done (ctx is done already; not added), never (ctx can never be done; not added).
enum class hook_status : std::uint8_t { added, done, never };
hook_status context_add_hook(const context& ctx, context_hook* h) noexcept;
// context_remove_hook removes h; false if on_cancel has run (it has then returned).
bool context_remove_hook(context_hook* h) noexcept;

// For tests: children registered with ctx's nearest cancellable context (0 if none), and
// context nodes not yet freed.
std::size_t context_child_count(const context& ctx) noexcept;
std::int64_t live_context_nodes() noexcept;

}  // namespace detail

template <class T>
const T* context::value(const context_key<T>& key) const noexcept {
  return static_cast<const T*>(detail::context_value(n_.get(), &key));
}

template <class Rep, class Period>
cancel_context with_timeout(const context& parent, std::chrono::duration<Rep, Period> timeout) {
  return with_deadline(
      parent, steady_clock::time_point(std::chrono::nanoseconds(detail::deadline_after(detail::duration_ns(timeout)))));
}

template <class Rep, class Period>
cancel_context with_timeout_cause(const context& parent, std::chrono::duration<Rep, Period> timeout, error cause) {
  return with_deadline_cause(
      parent, steady_clock::time_point(std::chrono::nanoseconds(detail::deadline_after(detail::duration_ns(timeout)))),
      std::move(cause));
}

template <class T, class U>
context with_value(const context& parent, const context_key<T>& key, U&& value) {
  auto v = std::make_unique<T>(std::forward<U>(value));
  context c = detail::context_with_value(parent, &key, key.name(), v.get(), &detail::context_value_ops_for<T>);
  v.release();
  return c;
}

template <class F>
stop_func after_func(const context& ctx, F&& f) {
  return detail::context_after_func(ctx, std::make_unique<detail::boxed_func_of<std::decay_t<F>>>(std::forward<F>(f)));
}

}  // namespace go
