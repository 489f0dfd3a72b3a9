// Channels (Go's runtime/chan.go, for C++ values).
//
// A channel is one allocation: the chan_core header (lock, counters, the two wait queues)
// followed by a ring of `cap` element slots. Elements move by the elem_ops of their type
// (memcpy for trivially copyable types, the move constructor otherwise); an empty element
// type has size 0 and nothing is ever stored or copied.
//
// Invariants (c->lock held):
// - At least one of recvq and sendq is empty, except when one select waits to both send and
//   receive on an unbuffered channel (Go's exception, same reason).
// - Buffered: if sendq is non-empty the buffer is full; if recvq is non-empty it is empty.
// - closed goes 0 -> 1 once, under the lock (or by chan_close_begin, chan.hpp); nobody
//   queues any more from then on. sendq is empty from the end of that hold of the lock (or
//   of chan_close_end's); recvq empties in batches (wake_all_closed), and only the closer
//   takes waiters from it.
//
// Design, and what makes it fast:
// - Direct hand-off. A send that finds a parked receiver moves the value straight into the
//   receiver's slot (on the receiver's stack) and wakes it; a receive that finds a parked
//   sender takes its value (unbuffered) or takes the buffer head and moves the sender's value
//   to the tail (full buffer, FIFO kept). No value crosses the buffer twice.
// - The woken goroutine goes to the waker's `next` run-queue slot (park.cpp, scheduler.cpp),
//   so ping-pong runs both sides on one worker, cache-hot, with no idle worker involved.
// - Blocking costs no allocation: the waiter (Go's sudog) lives on the blocked stack.
// - The lock is the runtime's futex lock (lock.hpp), in the same cache line as the counters.
// - Non-blocking fast paths decide "would block" without the lock. Go's argument holds: the
//   closed flag and the readiness check are each single-word reads; if the channel is open
//   and not ready at the moment of the first read... and stays... we behave as if we
//   observed it at that moment, which is linearizable because a channel never goes from
//   closed back to open. For receive, the closed read comes after the emptiness read, and
//   emptiness is rechecked after seeing closed, so buffered values are never missed.
//
// Memory model: every completed operation takes c->lock, and a hand-off to a parked waiter
// ends in wake(), whose run-queue publish is a release the woken side acquires; so a send
// happens before its receive completes, the k-th receive before the (k+C)-th send
// completes, and close before a receive that reports closed. ThreadSanitizer sees each edge
// as an atomic operation.
#include "runtime/chan.hpp"

#include <cstdlib>
#include <new>

#include "runtime/scheduler.hpp"

namespace go::detail {

void throw_send_on_closed() { throw chan_error("send on closed channel"); }

namespace {

void unlock_chan(void* c) noexcept { chan_unlock(static_cast<chan_core*>(c)); }

[[noreturn]] void block_forever(wait_reason r, detail::source_location site) {
  for (;;) park(r, site);  // nothing will ever wake it
}

}  // namespace

chan_core* chan_make(const elem_ops* ops, std::size_t capacity) {
  std::size_t align = std::max<std::size_t>(alignof(chan_core), ops->align);
  std::size_t header = (sizeof(chan_core) + align - 1) / align * align;
  if (ops->size && capacity > (SIZE_MAX - header) / ops->size) throw std::bad_alloc();
  std::size_t bytes = header + ops->size * capacity;
  void* mem = ::operator new(bytes, std::align_val_t(align));
  auto* c = ::new (mem) chan_core;
  c->cap = capacity;
  c->ops = ops;
  c->buf = static_cast<unsigned char*>(mem) + header;
  return c;
}

void chan_retain(chan_core* c) noexcept { c->refs.fetch_add(1, std::memory_order_relaxed); }

void chan_release(chan_core* c) noexcept {
  if (c->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  // Nobody can reach the channel any more: destroy the values still buffered.
  while (c->count.load(std::memory_order_relaxed) > 0) buf_take(c, nullptr);
  std::size_t align = std::max<std::size_t>(alignof(chan_core), c->ops->align);
  c->~chan_core();
  ::operator delete(static_cast<void*>(c), std::align_val_t(align));
}

namespace {

// Go's chansend. Returns false only when !block and the send would block.
bool send(chan_core* c, void* elem, bool block, detail::source_location site) {
  if (!c) {
    if (!block) return false;
    block_forever(wait_reason::chan_send_nil, site);
  }
  // Fast path: open and full means "would block" (see the file header).
  if (!block && c->closed.load(std::memory_order_relaxed) == 0 && chan_full(c)) return false;

  chan_lock(c);
  if (c->closed.load(std::memory_order_seq_cst)) {  // seq_cst: see chan_close_begin
    chan_unlock(c);
    throw_send_on_closed();
  }
  if (waiter* w = c->recvq.pop_front()) {
    send_to_waiter(c, w, elem);
    return true;
  }
  if (c->count.load(std::memory_order_relaxed) < c->cap) {
    buf_put(c, elem);
    chan_unlock(c);
    return true;
  }
  if (!block) {
    chan_unlock(c);
    return false;
  }
  waiter self;
  self.who = current_parker();
  self.elem = elem;
  self.c = c;
  c->sendq.push_back(&self);
  park(wait_reason::chan_send, site, &unlock_chan, c);
  if (!self.success) throw_send_on_closed();  // woken by close
  return true;
}

// Go's chanrecv. out may be null (drop the value).
try_status recv(chan_core* c, void* out, bool block, detail::source_location site) {
  if (!c) {
    if (!block) return try_status::would_block;
    block_forever(wait_reason::chan_receive_nil, site);
  }
  if (!block && chan_empty(c)) {
    if (c->closed.load(std::memory_order_acquire) == 0) return try_status::would_block;
    // Closed: values sent before the close may still be buffered; recheck.
    if (chan_empty(c)) return try_status::closed;
  }

  chan_lock(c);
  if (c->closed.load(std::memory_order_seq_cst) && c->count.load(std::memory_order_relaxed) == 0) {
    chan_unlock(c);
    return try_status::closed;
  }
  if (waiter* w = c->sendq.pop_front()) {
    recv_from_waiter(c, w, out);
    return try_status::ok;
  }
  if (c->count.load(std::memory_order_relaxed) > 0) {
    buf_take(c, out);
    chan_unlock(c);
    return try_status::ok;
  }
  if (!block) {
    chan_unlock(c);
    return try_status::would_block;
  }
  waiter self;
  self.who = current_parker();
  self.elem = out;
  self.c = c;
  c->recvq.push_back(&self);
  park(wait_reason::chan_receive, site, &unlock_chan, c);
  return self.success ? try_status::ok : try_status::closed;
}

}  // namespace

void chan_send(chan_core* c, void* elem, detail::source_location site) { send(c, elem, true, site); }

bool chan_recv(chan_core* c, void* out, detail::source_location site) {
  return recv(c, out, true, site) == try_status::ok;
}

bool chan_try_send(chan_core* c, void* elem) { return send(c, elem, false, detail::source_location::current()); }

try_status chan_try_recv(chan_core* c, void* out) { return recv(c, out, false, detail::source_location::current()); }

namespace {

// wake_all_closed wakes every waiter of c, which is closed, as woken by the close. c locked;
// unlocks c.
//
// Receivers are woken in batches: up to `batch` taken under the lock, woken after it. A
// waiter lives on its goroutine's stack, a page of its own, so collecting a million of them
// into a list and walking it again to wake them missed the cache and the TLB twice per
// waiter (bench wake_1m: 570 ns per waiter in close). Between batches the lock is free, but
// nobody else takes a receiver from a closed channel (sends check `closed` first), so
// they wait their turn. Blocked senders, which some receives take from before looking at
// `closed`, all leave the queue in the first hold of the lock, as before.
void wake_all_closed(chan_core* c) noexcept {
  waiter* senders = nullptr;
  while (waiter* w = c->sendq.pop_front()) {
    w->success = false;
    w->next = senders;
    senders = w;
  }
  constexpr int batch = 128;
  parker* who[batch];
  for (;;) {
    int n = 0;
    while (n < batch) {
      waiter* w = c->recvq.pop_front();
      if (!w) break;
      w->success = false;
      who[n++] = w->who;  // w is not touched after the wake: its frame may be gone
    }
    chan_unlock(c);
    while (senders) {
      waiter* next = senders->next;
      wake(senders->who);
      senders = next;
    }
    for (int i = 0; i < n; ++i) wake(who[i]);
    if (n < batch) return;
    chan_lock(c);
  }
}

}  // namespace

void chan_close(chan_core* c) {
  if (!c) throw chan_error("close of nil channel");
  chan_lock(c);
  if (c->closed.load(std::memory_order_relaxed)) {
    chan_unlock(c);
    throw chan_error("close of closed channel");
  }
  c->closed.store(1, std::memory_order_release);
  wake_all_closed(c);
}

void chan_close_end(chan_core* c) noexcept {
  // After the caller's fence, a waiter that saw c open is visible: it holds the lock, or
  // it unlocked (a release this acquire reads from) after queueing itself.
  if (c->lock.load(std::memory_order_acquire) == 0 && c->recvq.empty() && c->sendq.empty()) return;
  chan_lock(c);
  wake_all_closed(c);
}

std::size_t chan_len(const chan_core* c) noexcept { return c ? c->count.load(std::memory_order_relaxed) : 0; }
std::size_t chan_cap(const chan_core* c) noexcept { return c ? c->cap : 0; }

}  // namespace go::detail
