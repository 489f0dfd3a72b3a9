// Channels (Go's runtime/chan.go, for C++ values).
//
// A channel is a chan_core (one cache line: lock, capacity, wait queues); a buffered one
// also has its ring block in the lines before it (the ring's shape, then head and tail, a
// cache line each) and `cap` slots, each an 8-byte stamp and an element (zeroed; after the
// chan_core in the same block when the whole fits the small-object pool, else an
// allocation of their own: chan_layout below; a channel of capacity 1 has its one slot
// after its chan_core and no stamps, see below). Elements move by the elem_ops of
// their type (memcpy for trivially copyable types, the move constructor otherwise); an
// empty element type has size 0 and nothing is ever stored or copied.
//
// The ring (buffered channels; crossbeam-channel's array flavor, with Go's waiters):
// - A position is lap + index (lap a multiple of one_lap). The tail is the next position
//   to send to, the head the next to receive from; each also carries flag bits: SLOW (both
//   ends: take the lock) and MARK (tail only: closed). A slot's stamp says whose turn it
//   is: equal to lap L, it is free for a send at position L + index; equal to L + 1, it
//   holds that send's value for a receive at the same position, which sets it to
//   L + one_lap, free for the next lap (ring_shape's free_stamp, full_stamp and
//   taken_stamp). So zeroed slots are all free for lap 0, and a large buffer's pages are
//   touched only as it fills.
// - Without the lock (ring_push_from, ring_pop_from in go/detail/chan_ring.hpp), a send claims
//   the tail by a compare-exchange when the stamp says free, moves its value in and
//   publishes the stamp (release); a receive claims the head when the stamp says full,
//   moves the value out and frees the stamp. One atomic read-modify-write per operation,
//   where Go's lock costs two, and a sender and a receiver touch different lines except for
//   the slot they share. A claim starts from its end's hint, a copy of the end in the same
//   line, never from the end itself, which the last claim's compare-exchange wrote (see
//   ring_ends). go::chan<T> inlines the attempt for a trivially copyable T.
// - The lock makes the ring its holder's alone: chan_lock sets SLOW on both ends, which
//   fails every lock-free claim from then on, and chan_unlock clears it when no waiter is
//   queued and the ring is neither empty nor full. An operation that claimed before may
//   still be moving its value; the locked ring operations wait for its stamp (wait_stamp:
//   a few instructions, on another thread).
// - So a waiter is queued only under the lock, with both ends SLOW, and they stay SLOW
//   while it waits: every send and receive then takes the lock and serves the queues, as
//   in Go. Going SLOW costs two read-modify-writes when a goroutine is about to park.
// - A channel of capacity 1 never takes the lock-free path (lock_free_ring, chan.hpp): its
//   one slot is always empty or full, where a lock-free attempt of one side would fail
//   anyway. It runs under its lock as Go's does, with a flag for its slot (slot_full).
//
// Invariants (c->lock held):
// - At least one of recvq and sendq is empty, except when one select waits to both send and
//   receive on an unbuffered channel (Go's exception, same reason).
// - Buffered (capacity 2 or more): both ends carry SLOW. If sendq is non-empty the ring is
//   full; if recvq is non-empty it is empty (a waiter is queued only then, and nothing is
//   claimed since). Capacity 1: the same with slot_full.
// - closed goes 0 -> 1 once, under the lock (or by chan_close_begin, chan.hpp, unbuffered
//   channels only), and a ring's tail gets MARK with it; nobody queues any more from then on.
//   sendq is empty from the end of that hold of the lock (or of chan_close_end's); recvq
//   empties in batches (wake_all_closed), and only the closer takes waiters from it.
//
// Design, and what makes it fast:
// - Direct hand-off. A send that finds a parked receiver moves the value straight into the
//   receiver's slot (on the receiver's stack) and wakes it; a receive that finds a parked
//   sender takes its value (unbuffered) or takes the ring's head and moves the sender's
//   value into that slot as the new tail (full ring, FIFO kept). No value crosses the
//   buffer twice.
// - The woken goroutine goes to the waker's `next` run-queue slot (park.cpp, scheduler/schedule.cpp),
//   so ping-pong runs both sides on one worker, cache-hot, with no idle worker involved.
// - Blocking costs no allocation: the waiter (Go's sudog) lives on the blocked stack.
// - Contention on a ring: a send or receive that keeps losing the race for a slot yields
//   once (the other side of the channel often shares its worker), then queues on the lock
//   for a while (ring_contended_hold), rather than have two workers pull the ends' lines.
// - The lock is in the same cache line as the queues. A channel of capacity 0 or 1 takes
//   the spin lock (lock.hpp), whose unlock is a plain store; a ring takes the sleeping lock
//   (see chan_lock in chan.hpp for why).
// - Non-blocking fast paths decide "would block" without the lock. Go's argument holds: the
//   closed flag and the readiness check are each single-word reads; if the channel is open
//   and not ready at the moment of the first read... and stays... we behave as if we
//   observed it at that moment, which is linearizable because a channel never goes from
//   closed back to open. For receive, the closed read comes after the emptiness read, and
//   emptiness is rechecked after seeing closed, so buffered values are never missed.
//
// Memory model: a value passes from sender to receiver either through a stamp (release by
// the sender, acquire by the receiver; and a receive frees the slot for the sender a lap
// later the same way) or under c->lock, and a hand-off to a parked waiter ends in wake(),
// whose run-queue publish is a release the woken side acquires. So a send happens before
// its receive completes, the k-th receive before the (k+C)-th send completes, and close
// (under the lock) before a receive that reports closed (under the lock, or the acquire
// load of `closed`). ThreadSanitizer sees each edge as an atomic operation.
#include "runtime/chan.hpp"

#include <sched.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>

#include "go/runtime.hpp"
#include "platform/huge_pages.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/small_alloc.hpp"

namespace go::detail {

void throw_send_on_closed() { throw chan_error("send on closed channel"); }

namespace {

void unlock_chan(void* c) noexcept { chan_unlock(static_cast<chan_core*>(c)); }

[[noreturn]] void block_forever(wait_reason r, const detail::source_location& site) {
  for (;;) park(r, site);  // nothing will ever wake it
}

}  // namespace

namespace {

// A ring's slots: a zeroed allocation (a zero stamp is "free for lap 0"). From huge_slots
// up in huge pages (platform/huge_pages.hpp): a million-slot buffer of 16-byte slots then
// takes 8 page faults instead of 4,096, and a page fault costs as much as hundreds of
// messages (docs/tuning.md, cb_boundedN_*). Smaller rings come from
// calloc (or aligned new for over-aligned elements). Either way pages are committed only
// as the buffer fills, a huge page at a time: a ring of 1-2 MiB may commit 2 MiB.
constexpr std::size_t huge_slots = std::size_t{1} << 20;

unsigned char* slots_alloc(std::size_t bytes, std::size_t align) noexcept {
  if (bytes >= huge_slots) return static_cast<unsigned char*>(platform::map_huge(bytes));
  if (align <= alignof(std::max_align_t)) return static_cast<unsigned char*>(std::calloc(bytes, 1));
  auto* p = static_cast<unsigned char*>(::operator new(bytes, std::align_val_t(align), std::nothrow));
  if (p) std::memset(p, 0, bytes);
  return p;
}

void slots_free(unsigned char* p, std::size_t bytes, std::size_t align) noexcept {
  if (bytes >= huge_slots) platform::unmap_huge(p, bytes);
  else if (align <= alignof(std::max_align_t)) std::free(p);
  else ::operator delete(p, std::align_val_t(align));
}

// chan_layout is where a channel's parts lie. Its block holds, for an unbuffered channel, its
// chan_core; for a buffered one the ring block (its shape, then a cache line per end), the
// chan_core, and then the slots (each an 8-byte stamp and the element, aligned for both)
// when the whole fits the small-object pool or the capacity is 1. Otherwise the slots are an
// allocation of their own (slots_alloc). A block that fits the pool comes from it.
struct chan_layout {
  std::size_t align;        // of the block
  std::size_t block_bytes;  // with the slots when they are inline
  std::size_t header;       // ring block and chan_core, rounded up to align (buffered only)
  std::size_t stride;       // of a slot
  std::size_t elem_offset;  // of the element in its slot
  std::size_t slot_align;
  int index_bits;  // capacity <= 2^index_bits
  bool inline_slots;
  bool pooled;
};

chan_layout layout_of(const elem_ops* ops, std::size_t capacity) {
  chan_layout l{};
  if (capacity == 0) {
    l.align = std::max<std::size_t>(alignof(chan_core), ops->align);
    l.block_bytes = sizeof(chan_core);
  } else {
    l.slot_align = std::max<std::size_t>(8, ops->align);
    l.elem_offset = ops->size ? std::max<std::size_t>(8, ops->align) : 8;
    l.stride = (l.elem_offset + ops->size + l.slot_align - 1) / l.slot_align * l.slot_align;
    l.align = std::max<std::size_t>(64, ops->align);
    l.header = (sizeof(ring_block) + sizeof(chan_core) + l.align - 1) / l.align * l.align;
    while ((std::size_t{1} << l.index_bits) < capacity) ++l.index_bits;
    if (l.index_bits > 48 || l.stride > UINT32_MAX || capacity > (SIZE_MAX - l.header) / l.stride)
      throw std::bad_alloc();
    l.inline_slots = capacity == 1 || l.header + capacity * l.stride <= small_max;
    l.block_bytes = l.header + (l.inline_slots ? capacity * l.stride : 0);
  }
  l.pooled = l.align <= small_align && l.block_bytes <= small_max;
  return l;
}

void* block_alloc(const chan_layout& l) {
  return l.pooled ? small_alloc(l.block_bytes) : ::operator new(l.block_bytes, std::align_val_t(l.align));
}

void block_free(void* p, const chan_layout& l) noexcept {
  if (l.pooled) small_free(p, l.block_bytes);
  else ::operator delete(p, std::align_val_t(l.align));
}

}  // namespace

chan_core* chan_make(const elem_ops* ops, std::size_t capacity) {
  chan_layout l = layout_of(ops, capacity);
  void* mem = block_alloc(l);
  if (capacity == 0) {
    auto* c = ::new (mem) chan_core;
    c->ops = ops;
    return c;
  }
  unsigned char* slots = static_cast<unsigned char*>(mem) + l.header;
  if (l.inline_slots) {
    std::memset(slots, 0, capacity * l.stride);  // a zero stamp is "free for lap 0"
  } else {
    slots = slots_alloc(capacity * l.stride, l.slot_align);
    if (!slots) {
      block_free(mem, l);
      throw std::bad_alloc();
    }
  }
  auto* block = ::new (mem) ring_block;
  auto* c = ::new (static_cast<void*>(block + 1)) chan_core;
  c->cap = capacity;
  c->ops = ops;
  block->shape.slots = slots;
  block->shape.cap = capacity;
  block->shape.stride = static_cast<std::uint32_t>(l.stride);
  block->shape.elem_offset = static_cast<std::uint32_t>(l.elem_offset);
  block->shape.index_mask = (std::uint64_t{1} << l.index_bits) - 1;
  block->shape.slow = std::uint64_t{2} << l.index_bits;
  block->shape.pos_mask = ~(std::uint64_t{3} << l.index_bits);
  return c;
}

void chan_retain(chan_core* c) noexcept { c->refs.fetch_add(1, std::memory_order_relaxed); }

void chan_release(chan_core* c) noexcept {
  if (c->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  chan_layout l = layout_of(c->ops, c->cap);
  if (c->cap == 0) {
    c->~chan_core();
    block_free(c, l);
    return;
  }
  // Nobody can reach the channel any more: destroy the values still buffered.
  if (c->cap == 1) {
    if (c->slot_full.load(std::memory_order_relaxed)) elem_destroy(c->ops, ring_of(c).elem(0));
  } else {
    std::uint64_t h = ring_of(c).pos(ends(c).head.load(std::memory_order_relaxed));
    std::uint64_t t = ring_of(c).pos(ends(c).tail.load(std::memory_order_relaxed));
    for (; h != t; h = ring_of(c).next(h)) elem_destroy(c->ops, ring_of(c).elem(h));
    if (!l.inline_slots) slots_free(ring_of(c).slots, c->cap * l.stride, l.slot_align);
  }
  ring_block* block = &block_of(c);
  c->~chan_core();
  block->~ring_block();
  block_free(block, l);
}

namespace {

// set_end stores v, which a lock holder computed, into an end and its hint (c locked: only
// lock holders write an end that carries SLOW or MARK). Release: a lock-free claim that
// reads the end, through its compare-exchange, sees what the holder did before.
void set_end(std::atomic<std::uint64_t>& end, std::atomic<std::uint64_t>& hint, std::uint64_t v) noexcept {
  end.store(v, std::memory_order_release);
  hint.store(v, std::memory_order_relaxed);
}

}  // namespace

void buf_swap_head(chan_core* c, void* out, void* elem) noexcept {
  const elem_ops* ops = c->ops;
  if (c->cap == 1) {
    void* p = ring_of(c).elem(0);
    if (out) elem_move(ops, out, p);
    elem_destroy(ops, p);
    elem_move(ops, p, elem);
    return;
  }
  ring_ends& e = ends(c);
  const ring_shape r = ring_of(c);
  std::uint64_t h = e.head.load(std::memory_order_relaxed), hp = r.pos(h);
  std::uint64_t t = e.tail.load(std::memory_order_relaxed), tp = r.pos(t);  // hp + one_lap
  std::atomic_ref<std::uint64_t> stamp = r.stamp(hp);
  wait_stamp(stamp, ring_shape::full_stamp(r.lap(hp)));
  void* p = r.elem(hp);
  if (out) elem_move(ops, out, p);
  elem_destroy(ops, p);
  elem_move(ops, p, elem);
  stamp.store(ring_shape::full_stamp(r.lap(tp)), std::memory_order_release);  // the tail's value now
  set_end(e.head, e.head_hint, r.next(hp) | (h & ~hp));
  set_end(e.tail, e.tail_hint, r.next(tp) | (t & ~tp));
}

void ring_lock(chan_core* c) noexcept {
  detail::lock(c->lock);
  ring_ends& e = ends(c);
  const std::uint64_t slow = ring_of(c).slow;
  if (!(e.head.load(std::memory_order_relaxed) & slow)) {  // the ends go SLOW together
    e.head_hint.store(e.head.fetch_or(slow, std::memory_order_seq_cst) | slow, std::memory_order_relaxed);
    e.tail_hint.store(e.tail.fetch_or(slow, std::memory_order_seq_cst) | slow, std::memory_order_relaxed);
  }
}

void ring_unlock(chan_core* c) noexcept {
  if (block_of(c).contended) {
    --block_of(c).contended;
  } else if (c->recvq.empty() && c->sendq.empty()) {
    // Only lock holders write an end that carries SLOW: plain stores clear it.
    ring_ends& e = ends(c);
    const ring_shape r = ring_of(c);
    std::uint64_t h = e.head.load(std::memory_order_relaxed), t = e.tail.load(std::memory_order_relaxed);
    std::uint64_t hp = r.pos(h), tp = r.pos(t);
    if ((h & r.slow) && tp != hp && tp != hp + r.one_lap()) {
      set_end(e.head, e.head_hint, h & ~r.slow);
      set_end(e.tail, e.tail_hint, t & ~r.slow);
    }
  }
  detail::unlock(c->lock);
}

bool ring_move_in(const elem_ops* ops, void* slot, void* elem, std::uint64_t* stamp, std::uint64_t s) noexcept {
  elem_move(ops, slot, elem);
  std::atomic_ref<std::uint64_t>(*stamp).store(s, std::memory_order_release);
  return true;
}

bool ring_move_out(const elem_ops* ops, void* slot, void* out, std::uint64_t* stamp, std::uint64_t s) noexcept {
  if (out) elem_move(ops, out, slot);
  elem_destroy(ops, slot);
  std::atomic_ref<std::uint64_t>(*stamp).store(s, std::memory_order_release);
  return true;
}

// The lock-free send and receive with retries: another sender (receiver) claimed the slot
// first, or the one ahead of us is still moving its value. Each lost race backs off, so that
// the senders of two workers do not pull the tail's line back and forth at every attempt
// (crossbeam's Backoff), and gives up after a few.
constexpr int ring_retries = 4;

// After the retries give up, a blocking send or receive first yields (go::yield) and tries
// once more: the goroutines that share its worker run in the meantime, and there is usually
// one that does not contend, the receiver of the values being sent (or the reverse). Then
// the ring stays SLOW for this many unlocks: its operations queue on the channel's lock,
// whose waiters sleep, instead of all spinning on the ends. Two workers sending into one
// ring otherwise spend their time moving its lines between them (docs/tuning.md,
// cb_boundedN_mpsc).
constexpr std::uint32_t ring_contended_hold = 64;

namespace {

// with_backoff repeats attempt() while it says gave_up (a lost race or a stale position),
// backing off a little more each time, at most ring_retries times.
template <class Attempt>
ring_retry with_backoff(Attempt attempt) noexcept {
  for (int backoff = 0; backoff < ring_retries; ++backoff) {
    ring_retry r = attempt();
    if (r != ring_retry::gave_up) return r;
    for (int i = 0; i < 1 << backoff; ++i) platform::cpu_relax();
  }
  return ring_retry::gave_up;
}

ring_retry give_up_if_raced(bool raced) noexcept { return raced ? ring_retry::gave_up : ring_retry::not_ready; }

}  // namespace

ring_retry ring_push_contended(chan_core* c, void* elem) noexcept {
  return with_backoff([c, elem]() noexcept {
    return ring_push_from(
        c, ends(c).tail.load(std::memory_order_relaxed),
        [c, elem](void* slot, std::uint64_t* word, std::uint64_t s) noexcept {
          ring_move_in(c->ops, slot, elem, word, s);
          return ring_retry::done;
        },
        give_up_if_raced);
  });
}

ring_retry ring_pop_contended(chan_core* c, void* out) noexcept {
  return with_backoff([c, out]() noexcept {
    return ring_pop_from(
        c, ends(c).head.load(std::memory_order_relaxed),
        [c, out](void* slot, std::uint64_t* word, std::uint64_t s) noexcept {
          ring_move_out(c->ops, slot, out, word, s);
          return ring_retry::done;
        },
        give_up_if_raced);
  });
}

bool ring_push_locked_n(chan_core* c, void* elem) noexcept {
  ring_ends& e = ends(c);
  const ring_shape r = ring_of(c);
  std::uint64_t t = e.tail.load(std::memory_order_relaxed), tp = r.pos(t);
  if (tp == r.pos(e.head.load(std::memory_order_relaxed)) + r.one_lap()) return false;  // full
  std::atomic_ref<std::uint64_t> stamp = r.stamp(tp);
  wait_stamp(stamp, ring_shape::free_stamp(r.lap(tp)));
  elem_move(c->ops, r.elem(tp), elem);
  stamp.store(ring_shape::full_stamp(r.lap(tp)), std::memory_order_release);
  set_end(e.tail, e.tail_hint, r.next(tp) | (t & ~tp));
  return true;
}

bool ring_pop_locked_n(chan_core* c, void* out) noexcept {
  const elem_ops* ops = c->ops;
  ring_ends& e = ends(c);
  const ring_shape r = ring_of(c);
  std::uint64_t h = e.head.load(std::memory_order_relaxed), hp = r.pos(h);
  if (hp == r.pos(e.tail.load(std::memory_order_relaxed))) return false;  // empty
  std::atomic_ref<std::uint64_t> stamp = r.stamp(hp);
  wait_stamp(stamp, ring_shape::full_stamp(r.lap(hp)));
  void* p = r.elem(hp);
  if (out) elem_move(ops, out, p);
  elem_destroy(ops, p);
  stamp.store(ring_shape::taken_stamp(r.lap(hp), r.one_lap()), std::memory_order_release);
  set_end(e.head, e.head_hint, r.next(hp) | (h & ~hp));
  return true;
}

void wait_stamp_slow(std::atomic_ref<std::uint64_t> stamp, std::uint64_t want) noexcept {
  // The claimer is between its claim and its stamp: on another thread, running (a goroutine
  // does not park there). Spin briefly, then let the OS run it if it was preempted.
  for (int i = 0; stamp.load(std::memory_order_acquire) != want; ++i) {
    if (i < 128) platform::cpu_relax();
    else sched_yield();
  }
}

namespace {

// park_in queues a blocking send (q = c->sendq, elem: the value) or receive (c->recvq, elem:
// where to receive) on c, locked, and parks until a partner or a close completes it; true if
// the operation happened, false if woken by the close. Out of line, so that the paths that
// complete at once keep a small frame (bench chan_spsc_1: the full send and recv saved six
// registers per call).
__attribute__((noinline)) bool park_in(chan_core* c, wait_queue& q, void* elem, wait_reason why,
                                       const detail::source_location& site) {
  waiter self;
  self.who = current_parker();
  self.elem = elem;
  q.push_back(&self);
  park_sole(why, site, &unlock_chan, c);
  return self.success;
}

void send_park(chan_core* c, void* elem, const detail::source_location& site) {
  if (!park_in(c, c->sendq, elem, wait_reason::chan_send, site)) throw_send_on_closed();
}

bool recv_park(chan_core* c, void* out, const detail::source_location& site) {
  return park_in(c, c->recvq, out, wait_reason::chan_receive, site);
}

// Go's chansend for a blocking send on a buffered channel whose lock-free attempt failed
// (send_ring). raced: it lost a race for a slot (ring_push_or); retry lock-free first.
bool send_slow(chan_core* c, void* elem, const detail::source_location& site, bool raced) {
  ring_retry retry = raced ? ring_push_contended(c, elem) : ring_retry::not_ready;
  if (retry == ring_retry::done) return true;
  if (retry == ring_retry::gave_up) {
    go::yield();  // see ring_contended_hold
    if (ring_push_contended(c, elem) == ring_retry::done) return true;
  }
  chan_lock(c);
  if (retry == ring_retry::gave_up) block_of(c).contended = ring_contended_hold;
  if (!send_now(c, elem)) send_park(c, elem, site);
  return true;
}

// Go's chanrecv for a blocking receive on a buffered channel whose lock-free attempt failed
// (recv_ring): true, received; false, closed and drained. (A bool, so that chan_recv is a
// tail call.)
bool recv_slow(chan_core* c, void* out, const detail::source_location& site, bool raced) {
  ring_retry retry = raced ? ring_pop_contended(c, out) : ring_retry::not_ready;
  if (retry == ring_retry::done) return true;
  if (retry == ring_retry::gave_up) {
    go::yield();  // see ring_contended_hold
    if (ring_pop_contended(c, out) == ring_retry::done) return true;
  }
  chan_lock(c);
  if (retry == ring_retry::gave_up) block_of(c).contended = ring_contended_hold;
  if (try_status s = recv_now(c, out); s != try_status::would_block) return s == try_status::ok;
  return recv_park(c, out, site);
}

}  // namespace

// The blocking entry points try the lock-free ring of a buffered channel first, in a frame
// of their own that saves no registers, which send_slow and recv_slow do (docs/tuning.md,
// chan_spsc_128).
namespace {

__attribute__((noinline)) void send_ring(chan_core* c, void* elem, const detail::source_location& site) {
  ring_push_or(c, ring_put(c, elem), [&](bool raced) { return send_slow(c, elem, site, raced); });
}

__attribute__((noinline)) bool recv_ring(chan_core* c, void* out, const detail::source_location& site) {
  return ring_pop_or(c, ring_take(c, out), [&](bool raced) { return recv_slow(c, out, site, raced); });
}

// Unbuffered and one-slot channels have no ring to retry: lock, complete at once, or park
// (bench chan_spsc_1, cb_bounded1_*).
// Out of line, as send_ring and recv_ring, so that chan_send and chan_recv are a test and a
// tail call: with either path inlined they saved four registers on every call
// (docs/tuning.md, chan_spsc_128).
__attribute__((noinline)) void send_locked(chan_core* c, void* elem, const detail::source_location& site) {
  if (!c) block_forever(wait_reason::chan_send_nil, site);
  chan_lock(c);
  if (!send_now(c, elem)) send_park(c, elem, site);
}

__attribute__((noinline)) bool recv_locked(chan_core* c, void* out, const detail::source_location& site) {
  if (!c) block_forever(wait_reason::chan_receive_nil, site);
  chan_lock(c);
  if (try_status s = recv_now(c, out); s != try_status::would_block) return s == try_status::ok;
  return recv_park(c, out, site);
}

}  // namespace

void chan_send(chan_core* c, void* elem, const detail::source_location& site) {
  if (lock_free_ring(c)) return send_ring(c, elem, site);
  return send_locked(c, elem, site);
}

bool chan_recv(chan_core* c, void* out, const detail::source_location& site) {
  if (lock_free_ring(c)) return recv_ring(c, out, site);
  return recv_locked(c, out, site);
}

// Go's chansend and chanrecv with block false, after the lock-free attempt on a ring.
bool chan_try_send(chan_core* c, void* elem) {
  if (lock_free_ring(c) && ring_try_push(c, elem)) return true;
  // Open and full means "would block", seen without the lock (see the file header).
  if (!c || (c->closed.load(std::memory_order_relaxed) == 0 && chan_full(c))) return false;
  chan_lock(c);
  if (send_now(c, elem)) return true;
  chan_unlock(c);
  return false;
}

try_status chan_try_recv(chan_core* c, void* out) {
  if (lock_free_ring(c) && ring_try_pop(c, out)) return try_status::ok;
  if (!c) return try_status::would_block;
  if (chan_empty(c)) {
    // The emptiness read must come before the closed read (Go's chanrecv reads both with
    // ordered atomic loads): an unbuffered or one-slot channel's emptiness is a relaxed
    // load, which a weakly ordered CPU (AArch64) may perform after the acquire load below.
    // chan_close's release fence pairs with this one.
    std::atomic_thread_fence(std::memory_order_acquire);
    if (c->closed.load(std::memory_order_acquire) == 0) return try_status::would_block;
    // Closed: values sent before the close may still be buffered; recheck.
    if (chan_empty(c)) return try_status::closed;
  }
  chan_lock(c);
  if (try_status s = recv_now(c, out); s != try_status::would_block) return s;
  chan_unlock(c);
  return try_status::would_block;
}

namespace {

// wake_all_closed wakes every waiter of c, which is closed, as woken by the close. c locked;
// unlocks c.
//
// Receivers are woken in batches: up to `batch` taken under the lock, woken after it. A
// waiter lives on its goroutine's stack, a page of its own, so collecting a million of them
// into a list and walking it again to wake them missed the cache and the TLB twice per
// waiter (docs/tuning.md, wake_1m). Between batches the lock is free, but
// nobody else takes a receiver from a closed channel (sends check `closed` first), so
// they wait their turn. Blocked senders, which some receives take from before looking at
// `closed`, all leave the queue in the first hold of the lock, as before.
void wake_all_closed(chan_core* c) noexcept {
  waiter* senders = nullptr;
  while (waiter* w = c->sendq.pop_front()) {
    set_closed(w);
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
      set_closed(w);
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
  c->closed.store(1, std::memory_order_seq_cst);  // seq_cst: for done_waiter.cpp's flag
  // The waiters leave the queues (relaxed stores) only after `closed` is visible: a
  // non-blocking receive that sees a queue emptied by this close then sees it closed (the
  // acquire fence in recv). A seq_cst store orders nothing after it on a weakly ordered CPU.
  std::atomic_thread_fence(std::memory_order_release);
  if (c->cap > 1) {  // fails every lock-free send from now on (the tail carries SLOW: a store will do)
    ring_ends& e = ends(c);
    set_end(e.tail, e.tail_hint, e.tail.load(std::memory_order_relaxed) | ring_of(c).mark());
  }
  wake_all_closed(c);
}

void chan_close_end(chan_core* c) noexcept {
  // After the caller's fence, a waiter that saw c open is visible: it holds the lock, or
  // it unlocked (a release this acquire reads from) after queueing itself.
  if (c->lock.load(std::memory_order_acquire) == 0 && c->recvq.empty() && c->sendq.empty()) return;
  chan_lock(c);
  wake_all_closed(c);
}

// A timer's channel reports len and cap 0, as Go 1.23's (timer_chan_ops, timer.hpp).
std::size_t chan_len(const chan_core* c) noexcept {
  if (!c || c->cap == 0 || c->ops == &timer_chan_ops) return 0;
  if (c->cap == 1) return c->slot_full.load(std::memory_order_relaxed);
  const ring_ends& e = ends(c);
  for (;;) {  // a head and tail of one moment: the tail did not move while we read the head
    std::uint64_t t = e.tail.load(std::memory_order_seq_cst);
    std::uint64_t h = e.head.load(std::memory_order_seq_cst);
    if (e.tail.load(std::memory_order_seq_cst) != t) continue;
    std::uint64_t hp = ring_of(c).pos(h), tp = ring_of(c).pos(t);
    std::uint64_t hi = hp & ring_of(c).index_mask, ti = tp & ring_of(c).index_mask;
    if (hi < ti) return ti - hi;
    if (hi > ti) return c->cap - hi + ti;
    return tp == hp ? 0 : c->cap;
  }
}
std::size_t chan_cap(const chan_core* c) noexcept { return c && c->ops != &timer_chan_ops ? c->cap : 0; }

}  // namespace go::detail
