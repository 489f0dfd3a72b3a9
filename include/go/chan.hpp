// Channels: Go's `chan T`, with Go's semantics.
//
//   Go                              gocxx
//   var ch chan T                   go::chan<T> ch;             (the nil channel)
//   ch := make(chan T)              auto ch = go::make_chan<T>();
//   ch := make(chan T, n)           auto ch = go::make_chan<T>(n);
//   ch <- v                         ch.send(v);  or  ch << v;
//   v := <-ch                       T v = ch.recv().value_or(T{});    (T{}: closed and drained)
//   v, ok := <-ch                   std::optional<T> v = ch.recv();   (empty: closed and drained)
//   <-ch                            ch.recv();
//   for v := range ch               for (T v : ch)
//   select { case ch <- v: default: }   ch.try_send(v)            (false: would block)
//   select { case v, ok := <-ch: default: }   ch.try_recv()       (status: ok, would_block, closed)
//   select { case <-ch: default: }      (void)ch.try_recv();      (drops the value, if any)
//   close(ch), len(ch), cap(ch)     ch.close(), ch.len(), ch.cap()
//   chan<- T, <-chan T              go::send_chan<T>, go::recv_chan<T> (convert implicitly from chan<T>)
//   chan struct{}                   go::chan<void>: send(), recv() -> bool; no element storage
//
// Guarantees
// - A chan<T> is a cheap handle: copies refer to the same channel and compare equal; the
//   channel lives while a handle to it does. A default-constructed handle is the nil channel:
//   send and receive on it block forever, close throws.
// - Misuse throws go::chan_error with Go's message: "send on closed channel",
//   "close of closed channel", "close of nil channel". A goroutine that does not catch it
//   panics, as in Go.
// - Blocked senders and receivers are served first come, first served. close wakes every
//   blocked receiver (they get an empty optional) and every blocked sender (they throw).
//   Values buffered before close are still received, in order.
// - Go's memory model: a send happens before the matching receive completes; the k-th receive
//   on a channel of capacity C happens before the (k+C)-th send completes; a close happens
//   before a receive that returns because the channel is closed.
// - T may be move-only and need not be default-constructible; its move constructor must not
//   throw, and must not block (it runs inside the channel operation, which other senders and
//   receivers may be waiting on). An empty T (or void) costs no storage.
// - Goroutines and plain OS threads may use the same channel in any mix.
//
// Example:
//   auto ch = go::make_chan<int>();
//   go::spawn([ch] { for (int i = 0; i < 3; ++i) ch << i; ch.close(); });
//   for (int v : ch) std::printf("%d\n", v);
#pragma once

#include <concepts>
#include <cstddef>
#include <iterator>
#include <optional>
#include "go/detail/source_location.hpp"
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "go/detail/chan_core.hpp"
#include "go/detail/chan_ring.hpp"
#include "go/detail/counted_ref.hpp"

namespace go {

// chan_error is thrown for misuse of a channel; what() is Go's panic message.
class chan_error : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// What a non-blocking operation found.
enum class chan_status : std::uint8_t { ok, would_block, closed };

template <class T>
struct try_recv_result {
  chan_status status;  // ok: value holds the value; closed: closed and drained
  std::optional<T> value;
  explicit operator bool() const noexcept { return status == chan_status::ok; }
};

template <class T>
class chan;
template <class T>
class send_chan;
template <class T>
class recv_chan;

namespace detail {

struct void_elem {};  // the element of chan<void>

template <class T>
using stored_t = std::conditional_t<std::is_void_v<T>, void_elem, T>;

// The shared handle: owns one reference to the channel.
using chan_handle = counted_ref<chan_core, chan_retain, chan_release>;

// recv_value and try_recv_value are inlined into their callers. Out of line, GCC built the
// std::optional<long> it returns in memory, stored its flag as a byte and loaded it back as
// 8 bytes for the return registers, a load the store cannot forward to: a stall on every
// receive. Inlined, the value stays in a register (docs/tuning.md, chan_spsc_1).
template <class T>
[[gnu::always_inline]] inline std::optional<T> recv_value(chan_core* c, const detail::source_location& site) {
  alignas(T) unsigned char buf[sizeof(T)];
  bool done = false;
  if constexpr (ring_inline<T>) done = ring_recv_inline<T>(c, buf);
  if (!done && !chan_recv(c, buf, site)) return std::nullopt;
  T* p = std::launder(reinterpret_cast<T*>(buf));
  std::optional<T> out(std::move(*p));
  p->~T();
  return out;
}

template <class T>
[[gnu::always_inline]] inline try_recv_result<T> try_recv_value(chan_core* c) {
  alignas(T) unsigned char buf[sizeof(T)];
  try_status st = try_status::ok;
  bool done = false;
  if constexpr (ring_inline<T>) done = ring_recv_inline<T>(c, buf);
  if (!done) st = chan_try_recv(c, buf);
  if (st != try_status::ok) {
    return {st == try_status::closed ? chan_status::closed : chan_status::would_block, std::nullopt};
  }
  T* p = std::launder(reinterpret_cast<T*>(buf));
  try_recv_result<T> out{chan_status::ok, std::optional<T>(std::move(*p))};
  p->~T();
  return out;
}

// Sending side of a channel of T (shared by chan<T> and send_chan<T>).
template <class Derived, class T>
class send_ops {
 public:
  // send blocks until a receiver takes v (unbuffered) or there is room in the buffer.
  void send(T v, const detail::source_location& site = detail::source_location::current()) const { send_from(v, site); }
  const Derived& operator<<(T v) const {
    send_from(v, detail::source_location::current());
    return static_cast<const Derived&>(*this);
  }
  // try_send sends v only if that does not block; v is moved from only when it is sent. Its
  // result may be ignored: `ch.try_send(v);` is Go's `select { case ch <- v: default: }`, a
  // send that gives up when it would block (e.g. a wake-up that need not be sent twice).
  bool try_send(T&& v) const {
    if constexpr (ring_inline<T>) {
      if (ring_send_inline(self(), v)) return true;
    }
    return chan_try_send(self(), &v);
  }
  bool try_send(const T& v) const
    requires std::copy_constructible<T>
  {
    T copy(v);
    return try_send(std::move(copy));
  }
  // close: no more values will be sent. Throws chan_error if closed already or nil.
  void close() const { chan_close(self()); }

 private:
  chan_core* self() const noexcept { return static_cast<const Derived&>(*this).core(); }
  // send_from sends v, moving from it: inline into a buffered channel's ring when T is
  // trivially copyable and the ring has room (go/detail/chan_ring.hpp), else chan_send.
  void send_from(T& v, const detail::source_location& site) const {
    if constexpr (ring_inline<T>) {
      if (ring_send_inline(self(), v)) return;
    }
    chan_send(self(), &v, site);
  }
};

template <class Derived>
class send_ops<Derived, void> {
 public:
  void send(const detail::source_location& site = detail::source_location::current()) const {
    void_elem v;
    if (!ring_send_inline(self(), v)) chan_send(self(), &v, site);
  }
  bool try_send() const {
    void_elem v;
    return ring_send_inline(self(), v) || chan_try_send(self(), &v);
  }
  void close() const { chan_close(self()); }

 private:
  chan_core* self() const noexcept { return static_cast<const Derived&>(*this).core(); }
};

// Receiving side of a channel of T (shared by chan<T> and recv_chan<T>).
template <class Derived, class T>
class recv_ops {
 public:
  // recv blocks until a value arrives; empty once the channel is closed and drained.
  std::optional<T> recv(const detail::source_location& site = detail::source_location::current()) const {
    return recv_value<T>(self(), site);
  }
  // try_recv receives only if that does not block. Ignoring its result drops a value.
  [[nodiscard]] try_recv_result<T> try_recv() const { return try_recv_value<T>(self()); }

  // iterator is a std::input_iterator. It receives when its element or the end is first
  // asked for, not when it is incremented, so that an adaptor that stops after n elements
  // (ch | std::views::take(n)) receives exactly n; incrementing past an element nobody
  // looked at receives and drops it.
  class iterator {
   public:
    using iterator_concept = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    iterator() = default;  // at the end
    iterator(chan_core* c, const detail::source_location& site) noexcept : c_(c), site_(site), received_(false) {}
    T& operator*() const { return *receive(); }
    iterator& operator++() {
      receive();
      received_ = false;
      return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(std::default_sentinel_t) const { return !receive().has_value(); }

   private:
    [[gnu::always_inline]] std::optional<T>& receive() const {
      if (!received_) {
        v_ = recv_value<T>(c_, site_);  // a dump shows the range-for's line
        received_ = true;
      }
      return v_;
    }
    chan_core* c_ = nullptr;
    detail::source_location site_;
    mutable std::optional<T> v_;
    mutable bool received_ = true;
  };
  // for (T v : ch) receives until the channel is closed and drained; so does any range
  // adaptor over ch (std::views::take, filter, transform...).
  iterator begin(const detail::source_location& site = detail::source_location::current()) const {
    return iterator(self(), site);
  }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  chan_core* self() const noexcept { return static_cast<const Derived&>(*this).core(); }
};

template <class Derived>
class recv_ops<Derived, void> {
 public:
  // recv blocks until a signal arrives; false once the channel is closed and drained.
  bool recv(const detail::source_location& site = detail::source_location::current()) const {
    void_elem v;
    return ring_recv_inline<void_elem>(self(), &v) || chan_recv(self(), &v, site);
  }
  [[nodiscard]] chan_status try_recv() const {
    void_elem v;
    if (ring_recv_inline<void_elem>(self(), &v)) return chan_status::ok;
    switch (chan_try_recv(self(), &v)) {
      case try_status::ok: return chan_status::ok;
      case try_status::closed: return chan_status::closed;
      default: return chan_status::would_block;
    }
  }

 private:
  chan_core* self() const noexcept { return static_cast<const Derived&>(*this).core(); }
};

template <class Derived>
class common_ops {
 public:
  [[nodiscard]] std::size_t len() const noexcept { return chan_len(self()); }
  [[nodiscard]] std::size_t cap() const noexcept { return chan_cap(self()); }
  friend bool operator==(const Derived& a, const Derived& b) noexcept { return a.core() == b.core(); }
  friend bool operator==(const Derived& a, std::nullptr_t) noexcept { return a.core() == nullptr; }

 private:
  chan_core* self() const noexcept { return static_cast<const Derived&>(*this).core(); }
};

template <class T>
chan_core* make_core(std::size_t capacity) {
  using E = stored_t<T>;
  static_assert(std::is_nothrow_move_constructible_v<E>, "go::chan<T> needs a noexcept move constructor");
  return chan_make(&elem_ops_for<E>::ops, capacity);
}

}  // namespace detail

// chan<T> is a bidirectional channel handle (Go's chan T).
template <class T>
class chan : public detail::send_ops<chan<T>, T>,
             public detail::recv_ops<chan<T>, T>,
             public detail::common_ops<chan<T>> {
 public:
  using value_type = T;
  chan() noexcept = default;  // the nil channel
  chan(std::nullptr_t) noexcept {}
  detail::chan_core* core() const noexcept { return h_.get(); }

 private:
  template <class U>
  friend chan<U> make_chan(std::size_t);
  explicit chan(detail::chan_core* c) noexcept : h_(c) {}
  detail::chan_handle h_;
};

// send_chan<T> can only send (Go's chan<- T).
template <class T>
class send_chan : public detail::send_ops<send_chan<T>, T>, public detail::common_ops<send_chan<T>> {
 public:
  using value_type = T;
  send_chan() noexcept = default;
  send_chan(std::nullptr_t) noexcept {}
  send_chan(const chan<T>& c) noexcept : h_(detail::chan_handle::share(c.core())) {}
  detail::chan_core* core() const noexcept { return h_.get(); }

 private:
  detail::chan_handle h_;
};

// recv_chan<T> can only receive (Go's <-chan T).
template <class T>
class recv_chan : public detail::recv_ops<recv_chan<T>, T>, public detail::common_ops<recv_chan<T>> {
 public:
  using value_type = T;
  recv_chan() noexcept = default;
  recv_chan(std::nullptr_t) noexcept {}
  recv_chan(const chan<T>& c) noexcept : h_(detail::chan_handle::share(c.core())) {}
  detail::chan_core* core() const noexcept { return h_.get(); }

 private:
  detail::chan_handle h_;
};

// make_chan<T>() makes an unbuffered channel, make_chan<T>(n) one with a buffer of n values.
template <class T>
[[nodiscard]] chan<T> make_chan(std::size_t capacity = 0) {
  return chan<T>(detail::make_core<T>(capacity));
}

}  // namespace go
