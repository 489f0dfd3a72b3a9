// The channel's internal layout, shared by chan.cpp and select.cpp.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstring>

#include "go/chan.hpp"
#include "go/detail/chan_core.hpp"
#include "go/detail/chan_ring.hpp"
#include "platform/futex.hpp"
#include "runtime/lock.hpp"
#include "runtime/waiter.hpp"

namespace go::detail {

// One cache line: lock, closed and cap (chan_head, which go::chan<T>'s inline path reads),
// then what the locked paths use. A buffered channel's ring block (its shape and ends, see
// "The ring" in chan.cpp) fills the lines before it (go/detail/chan_ring.hpp, block_of).
struct alignas(64) chan_core : chan_head {
  wait_queue recvq, sendq;  // under lock
  const elem_ops* ops = nullptr;
  std::atomic<std::int32_t> refs{1};
  std::atomic<std::uint32_t> slot_full{0};  // capacity 1 only: slot 0 holds a value (under lock)
};
static_assert(sizeof(chan_core) == 64, "chan_core: one cache line");
// head_of's cast: chan_head is chan_core's only base and chan_core has no vtable, so the
// base is at offset 0.
static_assert(std::is_base_of_v<chan_head, chan_core> && !std::is_polymorphic_v<chan_core>);

// copy_small copies a trivially copyable element of a common size inline; false: other size.
inline bool copy_small(std::size_t size, void* dst, const void* src) noexcept {
  switch (size) {
    case 0: return true;
    case 1: std::memcpy(dst, src, 1); return true;  // chan<bool>, Go's favourite signal
    case 2: std::memcpy(dst, src, 2); return true;
    case 4: std::memcpy(dst, src, 4); return true;
    case 8: std::memcpy(dst, src, 8); return true;
    case 16: std::memcpy(dst, src, 16); return true;
    default: return false;
  }
}

inline void elem_move(const elem_ops* ops, void* dst, void* src) noexcept {
  if (ops->move) {
    if (ops->size) ops->move(dst, src);
    return;
  }
  // Trivially copyable: the common word-sized elements copy inline, not through a memcpy
  // call (docs/tuning.md, chan_sync).
  if (!copy_small(ops->size, dst, src)) std::memcpy(dst, src, ops->size);
}

inline void elem_destroy(const elem_ops* ops, void* p) noexcept {
  if (ops->destroy && ops->size) ops->destroy(p);
}

// --- The ring without the lock (no waiter queued: neither end carries SLOW) ---

// The lock-free retries after a lost race. gave_up: still losing after a few rounds of
// backoff; the caller takes the lock and holds the ring SLOW a while (ring_block::contended).
enum class ring_retry : std::uint8_t { done, not_ready, gave_up };
ring_retry ring_push_contended(chan_core* c, void* elem) noexcept;
ring_retry ring_pop_contended(chan_core* c, void* out) noexcept;
bool ring_move_in(const elem_ops* ops, void* slot, void* elem, std::uint64_t* stamp, std::uint64_t s) noexcept;
bool ring_move_out(const elem_ops* ops, void* slot, void* out, std::uint64_t* stamp, std::uint64_t s) noexcept;

// The out-of-line put and take of chan.cpp's lock-free ring operations, for any element
// type: the common word-sized trivially copyable ones inline, the rest (a non-trivial move
// or destroy, or a receive that drops the value) a tail call to ring_move_in/out.
inline auto ring_put(chan_core* c, void* elem) noexcept {
  return [c, elem](void* slot, std::uint64_t* word, std::uint64_t s) noexcept {
    const elem_ops* ops = c->ops;
    if (ops->move || !copy_small(ops->size, slot, elem)) return ring_move_in(ops, slot, elem, word, s);
    std::atomic_ref<std::uint64_t>(*word).store(s, std::memory_order_release);
    return true;
  };
}

inline auto ring_take(chan_core* c, void* out) noexcept {
  return [c, out](void* slot, std::uint64_t* word, std::uint64_t s) noexcept {
    const elem_ops* ops = c->ops;
    if (ops->move || ops->destroy || !out || !copy_small(ops->size, out, slot))
      return ring_move_out(ops, slot, out, word, s);
    std::atomic_ref<std::uint64_t>(*word).store(s, std::memory_order_release);
    return true;
  };
}

// ring_try_push sends elem into c's ring (c buffered) and says whether it did; false when
// the ring is full, c is closed or waiters are queued: the caller then takes the lock.
inline bool ring_try_push(chan_core* c, void* elem) noexcept {
  return ring_push_or(c, ring_put(c, elem),
                      [&](bool raced) noexcept { return raced && ring_push_contended(c, elem) == ring_retry::done; });
}

// ring_try_pop receives from c's ring (c buffered) into out (null: drop the value) and
// says whether it did; false when the ring is empty or waiters are queued.
inline bool ring_try_pop(chan_core* c, void* out) noexcept {
  return ring_pop_or(c, ring_take(c, out),
                     [&](bool raced) noexcept { return raced && ring_pop_contended(c, out) == ring_retry::done; });
}

// Lock-free readiness checks (Go's full() and empty()); see chan.cpp on why racing is fine.
// Each reads the end that moves toward "not ready" first, so a true answer held at that
// moment.
inline bool chan_full(const chan_core* c) noexcept {
  if (c->cap == 0) return c->recvq.empty();
  if (c->cap == 1) return c->slot_full.load(std::memory_order_relaxed) != 0;
  const ring_shape r = ring_of(c);
  std::uint64_t t = r.pos(ends(c).tail.load(std::memory_order_seq_cst));
  std::uint64_t h = r.pos(ends(c).head.load(std::memory_order_seq_cst));
  return t == h + r.one_lap();
}

inline bool chan_empty(const chan_core* c) noexcept {
  if (c->cap == 0) return c->sendq.empty();
  if (c->cap == 1) return c->slot_full.load(std::memory_order_relaxed) == 0;
  const ring_shape r = ring_of(c);
  std::uint64_t h = r.pos(ends(c).head.load(std::memory_order_seq_cst));
  std::uint64_t t = r.pos(ends(c).tail.load(std::memory_order_seq_cst));
  return t == h;
}

// chan_looks_ready is select's lock-free look at a case (pass 0, select.cpp): false if a
// send (is_send) or receive on c was not ready when looked at. A buffered channel with no
// waiter is looked at through its end's hint and the slot there, the lines its lock-free
// operation would touch, never the other end's line, which another worker may be writing.
inline bool chan_looks_ready(const chan_core* c, bool is_send) noexcept {
  if (c->closed.load(std::memory_order_relaxed) != 0) return true;
  if (lock_free_ring(c)) {
    const ring_shape& r = ring_of(c);
    ring_ends& e = ends(c);
    std::uint64_t end = (is_send ? e.tail_hint : e.head_hint).load(std::memory_order_relaxed);
    if (!(end & ~r.pos_mask)) {  // neither SLOW nor MARK: the slot tells
      std::uint64_t lap = r.lap(end);
      std::uint64_t s = r.stamp(end).load(std::memory_order_acquire);
      if (s == (is_send ? ring_shape::free_stamp(lap) : ring_shape::full_stamp(lap))) return true;
      if (s == (is_send ? ring_shape::last_lap_full_stamp(lap, r.one_lap()) : ring_shape::free_stamp(lap)))
        return false;  // full (empty)
      return true;     // a stale hint or a value on the move: let the attempt decide
    }
  }
  return is_send ? !chan_full(c) : !chan_empty(c);
}

// --- The lock ---
// Holding a buffered channel's lock makes its ring the holder's alone: chan_lock sets SLOW
// on both ends (a read-modify-write each, only if not set yet), which fails every lock-free
// claim from then on, and chan_unlock clears it unless a waiter is queued or the ring is
// empty or full. A sender or receiver that claimed a slot before may still be moving its
// element: the locked ring operations wait for its stamp (a few instructions; wait_stamp).

//
// Which lock: a channel of capacity 0 or 1 takes the spin lock (lock.hpp), whose unlock is
// a plain store: its critical sections are short hand-offs. A ring takes the sleeping lock:
// after contention it is held on purpose (ring_block::contended), and its waiters must sleep
// rather than pull its lines (docs/tuning.md, select_uncontended and cb_boundedN_mpsc).
void ring_lock(chan_core* c) noexcept;

inline void chan_lock(chan_core* c) noexcept {
  lock_rank_acquire(lock_rank::chan, c);
  if (c->cap > 1) ring_lock(c);  // out of line, as chan_unlock's ring_unlock
  else spin_lock(c->lock);
}

// chan_unlock clears SLOW (ring_unlock) only when no waiter is queued, the ring is
// neither empty nor full (at either edge one side's next lock-free operation would fail
// anyway, and the ring would go SLOW again at its park, two more read-modify-writes), and
// it is not held locked after contention (ring_block::contended).
void ring_unlock(chan_core* c) noexcept;

inline void chan_unlock(chan_core* c) noexcept {
  lock_rank_release(lock_rank::chan, c);
  if (c->cap > 1) ring_unlock(c);  // out of line, so that an unbuffered unlock saves nothing
  else spin_unlock(c->lock);
}

// --- The ring under the lock (c locked: its ends move only here) ---

void wait_stamp_slow(std::atomic_ref<std::uint64_t> stamp, std::uint64_t want) noexcept;

inline void wait_stamp(std::atomic_ref<std::uint64_t> stamp, std::uint64_t want) noexcept {
  if (stamp.load(std::memory_order_acquire) != want) wait_stamp_slow(stamp, want);
}

// A channel of capacity 1 never goes lock-free (lock_free_ring), so it keeps no positions
// or stamps: slot_full says whether its one slot holds a value, which takes fewer
// instructions than a ring under the lock (docs/tuning.md, cb_bounded1_spsc).

inline bool ring_empty_locked(const chan_core* c) noexcept {
  if (c->cap == 1) return c->slot_full.load(std::memory_order_relaxed) == 0;
  const ring_shape r = ring_of(c);
  return r.pos(ends(c).head.load(std::memory_order_relaxed)) == r.pos(ends(c).tail.load(std::memory_order_relaxed));
}

// The ring of more than one slot under the lock, out of line: inlined, its registers made
// every caller save six at entry, one-slot channels included (bench select_uncontended).
bool ring_push_locked_n(chan_core* c, void* elem) noexcept;
bool ring_pop_locked_n(chan_core* c, void* out) noexcept;

inline bool ring_push_locked(chan_core* c, void* elem) noexcept {
  if (c->cap != 1) return ring_push_locked_n(c, elem);
  if (c->slot_full.load(std::memory_order_relaxed)) return false;
  elem_move(c->ops, ring_of(c).elem(0), elem);
  c->slot_full.store(1, std::memory_order_relaxed);
  return true;
}

inline bool ring_pop_locked(chan_core* c, void* out) noexcept {
  if (c->cap != 1) return ring_pop_locked_n(c, out);
  if (!c->slot_full.load(std::memory_order_relaxed)) return false;
  const elem_ops* ops = c->ops;
  void* p = ring_of(c).elem(0);
  if (out) elem_move(ops, out, p);
  elem_destroy(ops, p);
  c->slot_full.store(0, std::memory_order_relaxed);
  return true;
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

// buf_swap_head takes the head of c's full buffer into out and puts elem in its place as
// the new tail (c buffered and locked). Out of line: unbuffered hand-offs stay small.
void buf_swap_head(chan_core* c, void* out, void* elem) noexcept;

// recv_from_waiter completes a receive with a parked sender w (dequeued from c->sendq).
// Unbuffered: take the sender's value directly. Full buffer: take the head and put the
// sender's value in its slot, as the tail, so FIFO order holds. c locked; unlocks c before
// the wake.
inline void recv_from_waiter(chan_core* c, waiter* w, void* out) noexcept {
  if (c->cap == 0) {
    if (out) elem_move(c->ops, out, w->elem);
  } else {
    buf_swap_head(c, out, w->elem);
  }
  w->success = true;
  parker* who = w->who;
  chan_unlock(c);
  wake(who);
}

[[noreturn]] void throw_send_on_closed();

// lock_set is a set of locked channels in lock order (address order, each once): a
// select's. The empty set stands for "only the channel at hand".
struct lock_set {
  chan_core* const* chans = nullptr;
  int n = 0;
};

// unlock_others unlocks every channel of ls but keep (which a hand-off unlocks itself).
inline void unlock_others(const lock_set& ls, chan_core* keep) noexcept {
  for (int i = 0; i < ls.n; ++i) {
    if (ls.chans[i] != keep) chan_unlock(ls.chans[i]);
  }
}

// The two ways a send or receive that completes releases its locks: all of them, or all
// but c's before a hand-off to a waiter (which unlocks c and then wakes the waiter, so
// that the woken goroutine never finds a lock of ours still held).
inline void unlock_held(chan_core* c, const lock_set& held) noexcept {
  if (held.n) unlock_others(held, nullptr);
  else chan_unlock(c);
}
inline void unlock_held_but(chan_core* c, const lock_set& held) noexcept {
  if (held.n) unlock_others(held, c);
}

// send_now completes a send on c (locked, with the channels of `held` if any: a select's)
// that need not wait, to a parked receiver or into the buffer: true, all unlocked. On a
// closed channel it unlocks all and throws. Otherwise false, all still locked. (Go's
// chansend after the lock; a select's send case the same.)
[[gnu::always_inline]] inline bool send_now(chan_core* c, void* elem, const lock_set& held = {}) {
  if (c->closed.load(std::memory_order_seq_cst)) {  // seq_cst: see chan_close_begin
    unlock_held(c, held);
    throw_send_on_closed();
  }
  if (waiter* w = c->recvq.pop_front()) {
    unlock_held_but(c, held);
    send_to_waiter(c, w, elem);
    return true;
  }
  if (c->cap && ring_push_locked(c, elem)) {
    unlock_held(c, held);
    return true;
  }
  return false;
}

// recv_now completes a receive on c (locked, with the channels of `held` if any) that need
// not wait: ok (a value from a parked sender or the buffer) or closed (closed and drained),
// all unlocked; otherwise would_block, all still locked. (Go's chanrecv after the lock.)
[[gnu::always_inline]] inline try_status recv_now(chan_core* c, void* out, const lock_set& held = {}) noexcept {
  if (c->closed.load(std::memory_order_seq_cst) && (c->cap == 0 || ring_empty_locked(c))) {
    unlock_held(c, held);
    return try_status::closed;
  }
  if (waiter* w = c->sendq.pop_front()) {
    unlock_held_but(c, held);
    recv_from_waiter(c, w, out);
    return try_status::ok;
  }
  if (c->cap && ring_pop_locked(c, out)) {
    unlock_held(c, held);
    return try_status::ok;
  }
  return try_status::would_block;
}

// complete_case_locked completes select case sc if it is ready, through send_now or
// recv_now, and says whether it did (*received: a receive got a value, Go's ok). sc's
// channel is locked, with the channels of `held` if any; the locks are released as those
// release them.
[[gnu::always_inline]] inline bool complete_case_locked(const select_case& sc, bool* received, const lock_set& held) {
  if (sc.is_send) return send_now(sc.c, sc.elem, held);
  try_status s = recv_now(sc.c, sc.elem, held);
  if (s == try_status::would_block) return false;
  *received = s == try_status::ok;
  return true;
}

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
