// A buffered channel's ring without its lock: the lock-free send and receive that
// go::chan<T> inlines for a trivially copyable T, and that runtime/chan.cpp uses for every
// other T. The ring's design, its invariants and the lock's part in it are in the file
// header of src/runtime/chan.cpp; this header holds only what the inline path reads.
//
// Why inline: a send or receive on a ring with room is one compare-exchange and a few
// loads; behind a call and the elem_ops dispatch on the element's size, the calls' register
// saves and the dispatch cost more than the operation itself (docs/tuning.md,
// chan_spsc_128).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "go/detail/chan_core.hpp"

namespace go::detail {

// The shape of a buffered channel's ring, fixed at make (ring_block::shape).
struct ring_shape {
  unsigned char* slots = nullptr;  // cap slots of `stride` bytes: stamp, then element
  std::size_t cap = 0;
  // A position (an end without its flags) is lap | index; one_lap is the lap's unit. An
  // end adds two flag bits between them: MARK (tail only: closed) and SLOW above it.
  std::uint64_t index_mask = 0, slow = 0, pos_mask = 0;
  std::uint32_t stride = 0, elem_offset = 0;

  std::uint64_t mark() const noexcept { return slow >> 1; }
  std::uint64_t one_lap() const noexcept { return slow << 1; }
  std::uint64_t lap(std::uint64_t pos) const noexcept { return pos & ~index_mask; }
  std::uint64_t pos(std::uint64_t end) const noexcept { return end & pos_mask; }
  // A stamp is a plain word at the slot's start, used through atomic_ref: the slots are
  // a zeroed allocation, and zero means "free for lap 0".
  std::uint64_t* stamp_word(std::uint64_t pos) const noexcept {
    return reinterpret_cast<std::uint64_t*>(slots + (pos & index_mask) * stride);
  }
  std::atomic_ref<std::uint64_t> stamp(std::uint64_t pos) const noexcept {
    return std::atomic_ref<std::uint64_t>(*stamp_word(pos));
  }
  void* elem(std::uint64_t pos) const noexcept { return slots + (pos & index_mask) * stride + elem_offset; }
  // The stamps (runtime/chan.cpp has the protocol), for a position of lap L (lap(pos)):
  // L while the slot is free for that position's send, L + 1 while it holds that send's
  // value for the receive at the same position, and L + one_lap once the receive took it:
  // free for the next lap's send. Every path that claims or waits for a slot compares its
  // stamp with these. (Static, one_lap passed in: the claims read it before their acquire
  // load of the stamp, after which it would be read again.)
  static std::uint64_t free_stamp(std::uint64_t lap) noexcept { return lap; }
  static std::uint64_t full_stamp(std::uint64_t lap) noexcept { return lap + 1; }
  static std::uint64_t taken_stamp(std::uint64_t lap, std::uint64_t one_lap) noexcept { return lap + one_lap; }
  // The stamp of a slot that still holds the last lap's value: full, for a send at lap L.
  static std::uint64_t last_lap_full_stamp(std::uint64_t lap, std::uint64_t one_lap) noexcept {
    return lap + 1 - one_lap;
  }
  // next is the position after pos.
  std::uint64_t next(std::uint64_t pos) const noexcept {
    return (pos & index_mask) + 1 < cap ? pos + 1 : (pos & ~(one_lap() - 1)) + one_lap();
  }
};

// A buffered channel's two ends, each on its own cache line with its hint.
//
// A hint is its end as the end's last writer left it, flags included, stored after the end
// with a plain store. A lock-free claim reads the hint, not the end, and its compare-exchange
// on the end checks the guess: a stale hint costs a failed compare-exchange, which returns
// the end. Why: a load of the word that the last claim's locked compare-exchange wrote waits
// for that instruction to retire, and claims run back to back (docs/tuning.md,
// chan_spsc_128).
// Every writer of an end writes its hint too, so the hint is stale only for the moment
// between the two stores, or when two claimers' hint stores land out of order.
struct ring_ends {
  alignas(64) std::atomic<std::uint64_t> head{0};  // next position to receive from
  std::atomic<std::uint64_t> head_hint{0};
  alignas(64) std::atomic<std::uint64_t> tail{0};  // next position to send to
  std::atomic<std::uint64_t> tail_hint{0};
};

// A buffered channel's ring block: its shape, and its two ends. It fills the cache lines
// just before the channel's chan_core, in the same allocation (runtime/chan.cpp,
// chan_make); an unbuffered channel has none.
struct ring_block {
  alignas(64) ring_shape shape;
  std::uint32_t contended = 0;  // unlocks left before SLOW may clear (under the lock; chan.cpp)
  ring_ends ends;
};

// chan_head is where every chan_core begins (runtime/chan.hpp derives chan_core from it,
// its only base, with no virtual functions: so at offset 0): the first line, which every
// operation touches.
struct chan_head {
  std::atomic<std::uint32_t> lock{0};
  std::atomic<std::uint32_t> closed{0};  // written under lock; read by fast paths
  std::size_t cap = 0;
};

inline const chan_head& head_of(const chan_core* c) noexcept { return *reinterpret_cast<const chan_head*>(c); }

// block_of is c's ring block (c buffered).
inline ring_block& block_of(const chan_core* c) noexcept {
  return *(reinterpret_cast<ring_block*>(reinterpret_cast<std::uintptr_t>(c)) - 1);
}
inline const ring_shape& ring_of(const chan_core* c) noexcept { return block_of(c).shape; }
inline ring_ends& ends(const chan_core* c) noexcept { return block_of(c).ends; }

// lock_free_ring says whether c's sends and receives try the ring without the lock first.
// Not for one slot: it is always empty or full, where the attempt could only fail
// (docs/tuning.md, cb_bounded1_spsc); such a channel runs under its lock (chan_core::slot_full).
// Read from the first line, which every operation touches: an unbuffered channel's
// operations touch no other (bench chan_popular: a thousand channels).
inline bool lock_free_ring(const chan_core* c) noexcept { return c && head_of(c).cap > 1; }

// ring_op_noexcept: ring_push_or (ring_pop_or) with these callbacks throws nothing.
template <class Move, class Fail>
inline constexpr bool ring_op_noexcept = std::is_nothrow_invocable_v<Fail&, bool> &&
                                         std::is_nothrow_invocable_v<Move&, void*, std::uint64_t*, std::uint64_t>;

// ring_push_from and ring_pop_from make one lock-free attempt on c's ring (c buffered), at
// position `at` of its tail (head), and leave the end's hint at the end they claimed: the
// one claim of the ring's protocol, which every lock-free path uses. Once a slot is claimed,
// put(elem_slot, stamp_word, stamp) moves the value in and publishes the stamp (release),
// take(...) moves it out and frees the stamp; what they return is returned. When the
// attempt fails they return fail(raced). raced: another sender (or receiver) won the slot,
// or `at` was stale, and a lock-free retry may succeed; otherwise the ring is full (empty),
// closed or SLOW, or the operation ahead is still moving its value: take the lock.
//
// ring_push_or and ring_pop_or attempt at the end's hint (ring_ends): the inline path and
// the first attempt of every caller; the retries after a lost race (runtime/chan.cpp,
// ring_push_contended) attempt at the end itself.
//
// Every exit is a tail call or a return, so that the out-of-line callers in chan.cpp save
// no registers (docs/tuning.md, chan_spsc_128). Always inlined, as are ring_send_inline and
// ring_recv_inline: g++ leaves them out of line in a coroutine's body, where an awaiter's
// fast path then costs a chain of calls (docs/tuning.md, stackless_worker_pool_4x1m).
template <class Put, class Fail>
[[gnu::always_inline]] inline auto ring_push_from(chan_core* c, std::uint64_t at, Put put,
                                                  Fail fail) noexcept(ring_op_noexcept<Put, Fail>) {
  const ring_shape& r = ring_of(c);
  ring_ends& e = ends(c);
  std::uint64_t t = at;
  const std::uint64_t one_lap = r.one_lap();
  if (t & ~r.pos_mask) return fail(false);
  std::uint64_t index = t & r.index_mask;
  unsigned char* slot = r.slots + index * r.stride;
  auto* word = reinterpret_cast<std::uint64_t*>(slot);
  const std::uint64_t lap = t - index;
  std::uint64_t s = std::atomic_ref<std::uint64_t>(*word).load(std::memory_order_acquire);
  if (s != ring_shape::free_stamp(lap))
    return fail(s != ring_shape::last_lap_full_stamp(lap, one_lap));                // else: `at` is stale
  std::uint64_t next = index + 1 < r.cap ? t + 1 : (t & ~(one_lap - 1)) + one_lap;  // r.next(t)
  slot += r.elem_offset;
  if (!e.tail.compare_exchange_strong(t, next, std::memory_order_seq_cst, std::memory_order_relaxed))
    return fail(!(t & ~r.pos_mask));  // t: the tail; flagged: lock
  e.tail_hint.store(next, std::memory_order_relaxed);
  return put(slot, word, ring_shape::full_stamp(lap));
}

template <class Take, class Fail>
[[gnu::always_inline]] inline auto ring_pop_from(chan_core* c, std::uint64_t at, Take take,
                                                 Fail fail) noexcept(ring_op_noexcept<Take, Fail>) {
  const ring_shape& r = ring_of(c);
  ring_ends& e = ends(c);
  std::uint64_t h = at;
  const std::uint64_t one_lap = r.one_lap();
  if (h & r.slow) return fail(false);
  std::uint64_t index = h & r.index_mask;
  unsigned char* slot = r.slots + index * r.stride;
  auto* word = reinterpret_cast<std::uint64_t*>(slot);
  const std::uint64_t lap = h - index;
  std::uint64_t s = std::atomic_ref<std::uint64_t>(*word).load(std::memory_order_acquire);
  if (s != ring_shape::full_stamp(lap)) return fail(s != ring_shape::free_stamp(lap));  // else: `at` is stale
  std::uint64_t next = index + 1 < r.cap ? h + 1 : (h & ~(one_lap - 1)) + one_lap;      // r.next(h)
  slot += r.elem_offset;
  if (!e.head.compare_exchange_strong(h, next, std::memory_order_seq_cst, std::memory_order_relaxed))
    return fail(!(h & r.slow));
  e.head_hint.store(next, std::memory_order_relaxed);
  return take(slot, word, ring_shape::taken_stamp(lap, one_lap));
}

template <class Put, class Fail>
[[gnu::always_inline]] inline auto ring_push_or(chan_core* c, Put put,
                                                Fail fail) noexcept(ring_op_noexcept<Put, Fail>) {
  return ring_push_from(c, ends(c).tail_hint.load(std::memory_order_relaxed), put, fail);
}

template <class Take, class Fail>
[[gnu::always_inline]] inline auto ring_pop_or(chan_core* c, Take take,
                                               Fail fail) noexcept(ring_op_noexcept<Take, Fail>) {
  return ring_pop_from(c, ends(c).head_hint.load(std::memory_order_relaxed), take, fail);
}

// --- The inline path of go::chan<T> ---

// ring_inline<T>: T's sends and receives try the ring inline, before any call. T must move
// by copying its bytes, as its elem_ops do (elem_ops_for: trivially copyable).
template <class T>
inline constexpr bool ring_inline = std::is_trivially_copyable_v<T> && sizeof(T) <= 64;

// ring_send_inline sends v into c's ring if c is buffered, has room and no waiter, and
// says whether it did; false: the caller calls chan_send (or chan_try_send).
template <class T>
[[gnu::always_inline]] inline bool ring_send_inline(chan_core* c, const T& v) noexcept {
  if (!lock_free_ring(c)) return false;
  return ring_push_or(
      c,
      [&v](void* slot, std::uint64_t* word, std::uint64_t stamp) noexcept {
        if constexpr (!elem_ops_for<T>::empty) std::memcpy(slot, &v, sizeof(T));
        else (void)v;
        std::atomic_ref<std::uint64_t>(*word).store(stamp, std::memory_order_release);
        return true;
      },
      [](bool) noexcept { return false; });
}

// ring_recv_inline receives from c's ring into out (raw storage for a T) if c is buffered,
// holds a value and has no waiter, and says whether it did; false: the caller calls
// chan_recv (or chan_try_recv).
template <class T>
[[gnu::always_inline]] inline bool ring_recv_inline(chan_core* c, void* out) noexcept {
  if (!lock_free_ring(c)) return false;
  return ring_pop_or(
      c,
      [out](void* slot, std::uint64_t* word, std::uint64_t stamp) noexcept {
        if constexpr (!elem_ops_for<T>::empty) std::memcpy(out, slot, sizeof(T));
        else (void)out;
        std::atomic_ref<std::uint64_t>(*word).store(stamp, std::memory_order_release);
        return true;
      },
      [](bool) noexcept { return false; });
}

}  // namespace go::detail
