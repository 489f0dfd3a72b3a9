// The channel's internal layout, shared by chan.cpp and select.cpp.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstring>

#include "go/chan.hpp"
#include "go/detail/chan_core.hpp"
#include "runtime/lock.hpp"
#include "runtime/waiter.hpp"

namespace go::detail {

struct chan_core {
  // One cache line for everything an operation touches.
  std::atomic<std::uint32_t> lock{0};
  std::atomic<std::uint32_t> closed{0};    // written under lock; read by fast paths
  std::atomic<std::size_t> count{0};       // values in buf; written under lock
  std::size_t cap = 0;
  std::size_t sendx = 0, recvx = 0;        // under lock
  wait_queue recvq, sendq;                 // under lock
  const elem_ops* ops = nullptr;
  unsigned char* buf = nullptr;            // cap slots of ops->size bytes, right after this
  std::atomic<std::int32_t> refs{1};

  unsigned char* slot(std::size_t i) const noexcept { return buf + i * ops->size; }
};

inline void elem_move(const elem_ops* ops, void* dst, void* src) noexcept {
  if (ops->move) {
    if (ops->size) ops->move(dst, src);
    return;
  }
  // Trivially copyable: the common word-sized elements copy inline, not through a memcpy
  // call (bench chan_sync: 12 of its ~500 instructions per message were that call).
  switch (ops->size) {
    case 0: return;
    case 4: std::memcpy(dst, src, 4); return;
    case 8: std::memcpy(dst, src, 8); return;
    case 16: std::memcpy(dst, src, 16); return;
    default: std::memcpy(dst, src, ops->size);
  }
}

inline void elem_destroy(const elem_ops* ops, void* p) noexcept {
  if (ops->destroy && ops->size) ops->destroy(p);
}

inline void chan_lock(chan_core* c) noexcept { detail::lock(c->lock); }
inline void chan_unlock(chan_core* c) noexcept { detail::unlock(c->lock); }

// Buffer operations; c locked.
inline void buf_put(chan_core* c, void* elem) noexcept {
  elem_move(c->ops, c->slot(c->sendx), elem);
  if (++c->sendx == c->cap) c->sendx = 0;
  c->count.store(c->count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

inline void buf_take(chan_core* c, void* out) noexcept {
  void* s = c->slot(c->recvx);
  if (out) elem_move(c->ops, out, s);
  elem_destroy(c->ops, s);
  if (++c->recvx == c->cap) c->recvx = 0;
  c->count.store(c->count.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

// send_to_waiter hands elem to a parked receiver w (dequeued from c->recvq) and wakes it.
// c locked; unlocks c before the wake.
inline void send_to_waiter(chan_core* c, waiter* w, void* elem) noexcept {
  if (w->elem) elem_move(c->ops, w->elem, elem);
  w->success = true;
  parker* who = w->who;  // w lives on the receiver's stack: not touched after the wake
  chan_unlock(c);
  wake(who);
}

// recv_from_waiter completes a receive with a parked sender w (dequeued from c->sendq).
// Unbuffered: take the sender's value directly. Full buffer: take the head and put the
// sender's value at the tail, so FIFO order holds. c locked; unlocks c before the wake.
inline void recv_from_waiter(chan_core* c, waiter* w, void* out) noexcept {
  if (c->cap == 0) {
    if (out) elem_move(c->ops, out, w->elem);
  } else {
    void* s = c->slot(c->recvx);
    if (out) elem_move(c->ops, out, s);
    elem_destroy(c->ops, s);
    elem_move(c->ops, s, w->elem);
    if (++c->recvx == c->cap) c->recvx = 0;
    c->sendx = c->recvx;
  }
  w->success = true;
  parker* who = w->who;
  chan_unlock(c);
  wake(who);
}

// Lock-free readiness checks (Go's full() and empty()); see chan.cpp on why racing is fine.
inline bool chan_full(const chan_core* c) noexcept {
  if (c->cap == 0) return c->recvq.empty();
  return c->count.load(std::memory_order_relaxed) == c->cap;
}

inline bool chan_empty(const chan_core* c) noexcept {
  if (c->cap == 0) return c->sendq.empty();
  return c->count.load(std::memory_order_relaxed) == 0;
}

[[noreturn]] void throw_send_on_closed();

// Closing many channels with one fence (a context's cancel: bench ctx_cancel_10k).
// chan_close_begin marks c closed without its lock; c must be open, and the caller must
// exclude every other closer of c (a context holds its node's lock). Once all are begun,
// one std::atomic_thread_fence(std::memory_order_seq_cst), then chan_close_end for each
// wakes its waiters, taking its lock only if a waiter may be there.
//
// Why no waiter is missed: a waiter takes c's lock (a seq_cst read-modify-write, lock.hpp),
// reads `closed` (seq_cst) and only then queues itself. If it read 0, that read comes before
// the fence in the seq_cst order; so does its lock, which is then seen by chan_close_end's
// load of the lock word, or the later unlock after which it is in a queue. Any locker after
// that load reads `closed` after the fence, so sees 1 and queues nothing.
inline void chan_close_begin(chan_core* c) noexcept { c->closed.store(1, std::memory_order_release); }
void chan_close_end(chan_core* c) noexcept;

}  // namespace go::detail
