// The type-erased channel that go::chan<T> wraps. runtime/chan.cpp implements it; its file
// header has the invariants and the design; docs/runtime.md has the lock order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include "go/detail/source_location.hpp"
#include <type_traits>

namespace go::detail {

// How a channel moves its element type around: like Go's typedmemmove, but for C++ types.
// move == nullptr means "copy the bytes"; destroy == nullptr means "nothing to do".
// size == 0 means the element carries no data (signal channels): nothing is stored or copied.
struct elem_ops {
  std::size_t size;
  std::size_t align;
  void (*move)(void* dst, void* src) noexcept;  // construct *dst from std::move(*src)
  void (*destroy)(void* p) noexcept;
};

template <class T>
struct elem_ops_for {
  static void move(void* dst, void* src) noexcept { ::new (dst) T(std::move(*static_cast<T*>(src))); }
  static void destroy(void* p) noexcept { static_cast<T*>(p)->~T(); }
  static constexpr bool empty = std::is_empty_v<T> && std::is_trivially_copyable_v<T>;
  static constexpr elem_ops ops{empty ? 0 : sizeof(T), alignof(T), std::is_trivially_copyable_v<T> ? nullptr : &move,
                                std::is_trivially_destructible_v<T> ? nullptr : &destroy};
};

struct chan_core;

chan_core* chan_make(const elem_ops* ops, std::size_t capacity);  // refcount 1; throws bad_alloc
void chan_retain(chan_core* c) noexcept;
void chan_release(chan_core* c) noexcept;

// elem points at the value to send: it is moved from only when it is sent. c may be null
// (the nil channel: blocks forever). Throws chan_error("send on closed channel").
void chan_send(chan_core* c, void* elem, const detail::source_location& site);
// Receives into the raw storage at out. Returns false (out untouched) once c is closed and
// drained.
bool chan_recv(chan_core* c, void* out, const detail::source_location& site);

enum class try_status : std::uint8_t { ok, would_block, closed };
// Non-blocking forms: decide without blocking, as Go's select with a default case.
bool chan_try_send(chan_core* c, void* elem);  // false: would block; throws on closed
try_status chan_try_recv(chan_core* c, void* out);

void chan_close(chan_core* c);  // throws chan_error for nil or closed
std::size_t chan_len(const chan_core* c) noexcept;
std::size_t chan_cap(const chan_core* c) noexcept;

// A goroutine's standing receive on a context's done channel, which lets its blocking sends
// and receives be Go's
//   select { case ch <- v: case <-ctx.Done(): }   and   select { case v, ok := <-ch: case <-ctx.Done(): }
// without locking the done channel for every message (go/patterns.hpp's context_watch; the
// design and its proof are in runtime/done_waiter.cpp). One parker uses it at a time.
struct done_waiter;
done_waiter* done_waiter_make(chan_core* done);  // done: not null; outlives the waiter
void done_waiter_free(done_waiter* w) noexcept;
// chan_send_or_done sends like chan_send unless done is closed first: false then, with elem
// untouched. chan_recv_or_done receives like chan_recv: ok, closed (c closed and drained) or,
// with out untouched, would_block meaning that done was closed first.
bool chan_send_or_done(chan_core* c, void* elem, done_waiter* w, const detail::source_location& site);
try_status chan_recv_or_done(chan_core* c, void* out, done_waiter* w, const detail::source_location& site);

// One case of a select, in the order the user wrote it.
struct select_case {
  chan_core* c;  // null: never ready
  void* elem;    // send: the value; receive: raw storage for the value (or null)
  bool is_send;
};

// Go's selectgo. Returns the index of the case that ran, or -1 if none was ready and
// `block` is false. *received tells whether a receive case got a value (Go's ok).
int select_go(select_case* cases, int n, bool block, bool* received, const detail::source_location& site);

}  // namespace go::detail
