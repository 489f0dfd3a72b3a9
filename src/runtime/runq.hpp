// A worker's local run queue (Go's p.runq and p.runnext, proc.go): a 256-slot ring that only
// its owner pushes to and that anyone may steal from, plus the `next` slot.
//
// Invariants
// - Only the owning worker writes `tail` and the slots at or after it; consumers (the owner
//   and thieves) take from `head` by CAS. tail - head <= 256.
// - A slot read races with the owner refilling it after wrap-around; the head CAS then fails,
//   so a stale read is never used. Slots are atomics so that race is not undefined behaviour.
// - `next` holds the goroutine that the running one made ready: it runs next on this worker
//   (it is what makes hand-offs fast). Thieves may take it too, so a busy owner never
//   strands it (tokio#4941).
#pragma once

#include <atomic>
#include <cstdint>

namespace go::detail {

struct task;

struct run_queue {
  static constexpr std::uint32_t capacity = 256;

  alignas(64) std::atomic<std::uint32_t> head{0};
  alignas(64) std::atomic<std::uint32_t> tail{0};
  std::atomic<task*> next{nullptr};
  std::atomic<task*> slots[capacity] = {};

  bool empty() const noexcept {
    // seq_cst: part of the spinning/parking handshake (scheduler/idle.cpp).
    return head.load() == tail.load() && next.load() == nullptr;
  }

  // push_tail appends t; returns false if the ring is full (the caller spills to global).
  bool push_tail(task* t) noexcept {
    std::uint32_t h = head.load(std::memory_order_acquire);
    std::uint32_t tl = tail.load(std::memory_order_relaxed);
    if (tl - h >= capacity) return false;
    slots[tl % capacity].store(t, std::memory_order_relaxed);
    tail.store(tl + 1, std::memory_order_release);  // wakep() fences before reading npidle
    return true;
  }

  // pop takes from the next slot first, then the head. Owner only.
  task* pop(bool* from_next) noexcept {
    task* n = next.load(std::memory_order_relaxed);
    if (n && next.compare_exchange_strong(n, nullptr, std::memory_order_acquire)) {
      *from_next = true;
      return n;
    }
    *from_next = false;
    return pop_head();
  }

  // prefetch_head asks the CPU to load the record of the task at the head, which is
  // likely the next to run and cold by then (owner only; a stale slot is harmless).
  void prefetch_head() const noexcept {
    std::uint32_t h = head.load(std::memory_order_relaxed);
    if (h == tail.load(std::memory_order_relaxed)) return;
    const char* t = reinterpret_cast<const char*>(slots[h % capacity].load(std::memory_order_relaxed));
    for (int line = 0; line < 4; ++line) __builtin_prefetch(t + 64 * line);
  }
  task* pop_head() noexcept {
    std::uint32_t h = head.load(std::memory_order_acquire);
    for (;;) {
      std::uint32_t tl = tail.load(std::memory_order_acquire);
      if (h == tl) return nullptr;
      task* t = slots[h % capacity].load(std::memory_order_relaxed);
      if (head.compare_exchange_weak(h, h + 1, std::memory_order_acq_rel)) return t;
    }
  }

  // take moves up to max tasks from the head of the ring into out[]; with half, no more
  // than half of what it holds (rounded up). Any thread.
  std::uint32_t take(task** out, std::uint32_t max, bool half = false) noexcept {
    for (;;) {
      std::uint32_t h = head.load(std::memory_order_acquire);
      std::uint32_t tl = tail.load(std::memory_order_acquire);
      std::uint32_t n = tl - h;
      if (n > capacity) continue;  // read head and tail inconsistently; retry
      if (half) n -= n / 2;
      if (n > max) n = max;
      if (n == 0) return 0;
      for (std::uint32_t i = 0; i < n; ++i) out[i] = slots[(h + i) % capacity].load(std::memory_order_relaxed);
      if (head.compare_exchange_strong(h, h + n, std::memory_order_acq_rel)) return n;
    }
  }
  // take_next moves the next slot's task into out[0]; returns 1, or 0 if it is empty. Any
  // thread.
  std::uint32_t take_next(task** out) noexcept {
    task* nx = next.load(std::memory_order_acquire);
    while (nx && !next.compare_exchange_weak(nx, nullptr, std::memory_order_acq_rel)) {
    }
    if (!nx) return 0;
    out[0] = nx;
    return 1;
  }
  std::uint32_t size() const noexcept {
    return tail.load(std::memory_order_relaxed) - head.load(std::memory_order_relaxed);
  }
  // grab moves up to half of this queue into out[] (at least one if any; out holds
  // capacity / 2). With with_next, the next slot is taken when the ring is empty. Any thread.
  std::uint32_t grab(task** out, bool with_next) noexcept {
    if (std::uint32_t n = take(out, capacity / 2, true)) return n;
    return with_next ? take_next(out) : 0;
  }
};

}  // namespace go::detail
