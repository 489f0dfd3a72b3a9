// The ring under each shard of go::pool (Go's poolDequeue, sync/poolqueue.go): a bounded,
// lock-free queue of non-null pointers with one producer and many consumers. The shard's
// owner (its worker) pushes and pops at the head; anyone pops at the tail.
//
// Invariants
// - head_tail packs head (high 32 bits) and tail (low 32 bits), indices modulo 2^32; the
//   ring holds slots[tail .. head) (mod size). tail == head: empty; head - tail == size: full.
// - Only the owner moves head: push_head adds one (a release, which publishes the slot it
//   wrote), pop_head takes one back with a compare-exchange. Anyone moves tail, with a
//   compare-exchange. pop_head and pop_tail of the last element race on the one word, so
//   exactly one of them takes it; an element belongs to whoever moved an index past it.
// - A slot is null when free. pop_tail reads its slot after its compare-exchange and then
//   nulls it with a release store; until it has, push_head finds the slot non-null and
//   reports the ring full. So a slot is never written while a pop_tail reads it, and the
//   owner may write and clear slots without atomic read-modify-writes.
// - One goroutine at a time acts as the owner (go::pool: the goroutine running on the
//   shard's worker, which does not switch inside get or put).
#pragma once

#include <atomic>
#include <cstdint>

namespace go::detail {

class pool_ring {
 public:
  static constexpr std::uint32_t size = 32;  // a power of two

  // push_head adds x (not null) at the head; false if the ring is full. Owner only.
  bool push_head(void* x) noexcept {
    std::uint64_t ht = head_tail_.load(std::memory_order_acquire);
    std::uint32_t head = head_of(ht), tail = tail_of(ht);
    if (tail + size == head) return false;
    std::atomic<void*>& slot = slots_[head & (size - 1)];
    // Freed by its pop_tail yet? The acquire pairs with pop_tail's release: its read of the
    // old value happened before this write.
    if (slot.load(std::memory_order_acquire) != nullptr) return false;
    slot.store(x, std::memory_order_relaxed);
    head_tail_.fetch_add(std::uint64_t{1} << 32, std::memory_order_release);  // hands the slot over
    return true;
  }

  // pop_head removes and returns the element at the head; null if empty. Owner only.
  void* pop_head() noexcept {
    std::uint64_t ht = head_tail_.load(std::memory_order_relaxed);
    for (;;) {
      std::uint32_t head = head_of(ht), tail = tail_of(ht);
      if (tail == head) return nullptr;
      --head;
      if (head_tail_.compare_exchange_weak(ht, pack(head, tail), std::memory_order_acquire,
                                           std::memory_order_relaxed)) {
        std::atomic<void*>& slot = slots_[head & (size - 1)];
        void* x = slot.load(std::memory_order_relaxed);  // the owner wrote it
        slot.store(nullptr, std::memory_order_relaxed);  // no pop_tail can reach it now
        return x;
      }
    }
  }

  // pop_tail removes and returns the element at the tail; null if empty. Anyone.
  void* pop_tail() noexcept {
    std::uint64_t ht = head_tail_.load(std::memory_order_acquire);
    for (;;) {
      std::uint32_t head = head_of(ht), tail = tail_of(ht);
      if (tail == head) return nullptr;
      // The acquire pairs with push_head's release add: the slot's value is visible.
      if (head_tail_.compare_exchange_weak(ht, pack(head, tail + 1), std::memory_order_acquire,
                                           std::memory_order_acquire)) {
        std::atomic<void*>& slot = slots_[tail & (size - 1)];
        void* x = slot.load(std::memory_order_relaxed);
        slot.store(nullptr, std::memory_order_release);  // tells push_head the slot is free
        return x;
      }
    }
  }

 private:
  static std::uint32_t head_of(std::uint64_t ht) noexcept { return static_cast<std::uint32_t>(ht >> 32); }
  static std::uint32_t tail_of(std::uint64_t ht) noexcept { return static_cast<std::uint32_t>(ht); }
  static std::uint64_t pack(std::uint32_t head, std::uint32_t tail) noexcept {
    return std::uint64_t{head} << 32 | tail;
  }

  std::atomic<std::uint64_t> head_tail_{0};
  std::atomic<void*> slots_[size] = {};
};

}  // namespace go::detail
