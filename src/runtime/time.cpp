// Timer heaps (runtime/timer.hpp has the invariants), go::sleep and go::after.
#include <chrono>
#include <thread>

#include "go/chan.hpp"
#include "go/time.hpp"
#include "runtime/scheduler.hpp"

namespace go::detail {

// --- 4-ary heap ordered by `when` ---

void timer_heap::sift_up(std::size_t i) noexcept {
  timer* t = heap[i];
  while (i > 0) {
    std::size_t parent = (i - 1) / 4;
    if (heap[parent]->when <= t->when) break;
    heap[i] = heap[parent];
    heap[i]->index = static_cast<std::int32_t>(i);
    i = parent;
  }
  heap[i] = t;
  t->index = static_cast<std::int32_t>(i);
}

void timer_heap::sift_down(std::size_t i) noexcept {
  timer* t = heap[i];
  std::size_t n = heap.size();
  for (;;) {
    std::size_t first = 4 * i + 1;
    if (first >= n) break;
    std::size_t best = first;
    for (std::size_t c = first + 1; c < std::min(first + 4, n); ++c) {
      if (heap[c]->when < heap[best]->when) best = c;
    }
    if (heap[best]->when >= t->when) break;
    heap[i] = heap[best];
    heap[i]->index = static_cast<std::int32_t>(i);
    i = best;
  }
  heap[i] = t;
  t->index = static_cast<std::int32_t>(i);
}

void timer_heap::push(timer* t) {
  t->heap.store(this, std::memory_order_release);
  heap.push_back(t);
  sift_up(heap.size() - 1);
  publish();
}

void timer_heap::erase(timer* t) noexcept {
  std::size_t i = static_cast<std::size_t>(t->index);
  std::size_t last = heap.size() - 1;
  if (i != last) {
    heap[i] = heap[last];
    heap[i]->index = static_cast<std::int32_t>(i);
  }
  heap.pop_back();
  if (i < heap.size()) {
    timer* moved = heap[i];
    sift_down(i);
    if (heap[i] == moved) sift_up(i);
  }
  t->index = -1;
  t->heap.store(nullptr, std::memory_order_release);
  publish();
}

int timer_heap::run_expired(std::int64_t now) noexcept {
  int fired = 0;
  for (;;) {
    timer* t;
    {
      std::lock_guard lk(lock);
      if (heap.empty() || heap[0]->when > now) return fired;
      t = heap[0];
      erase(t);
    }
    // The callback may free t (a sleeper's timer lives on its stack): t is not touched after.
    t->fire(t);
    ++fired;
  }
}

bool timer_heap::try_run_expired(std::int64_t now) noexcept {
  if (!lock.try_lock()) return false;
  lock.unlock();
  return run_expired(now) > 0;
}

namespace {

std::int64_t to_nanotime(steady_clock::time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

void fire_wake(timer* t) { wake(static_cast<parker*>(t->arg)); }

// go::after's timer: owns a reference to the channel until it fires.
struct after_timer : timer {
  chan_core* c;
};

void fire_after(timer* t) {
  auto* a = static_cast<after_timer*>(t);
  auto now = steady_clock::now();
  chan_try_send(a->c, &now);  // room for one value: never blocks, never fails
  chan_release(a->c);
  delete a;
}

}  // namespace

void sleep_until(steady_clock::time_point when) {
  goroutine* g = current_goroutine();
  if (!g) {
    std::this_thread::sleep_until(when);
    return;
  }
  timer t;
  t.when = to_nanotime(when);
  if (t.when <= nanotime()) return;
  t.fire = &fire_wake;
  t.arg = static_cast<parker*>(g);
  add_timer(&t);
  park(wait_reason::sleep, detail::source_location::current());
}

recv_chan<steady_clock::time_point> after_until(steady_clock::time_point when) {
  auto ch = make_chan<steady_clock::time_point>(1);
  auto* t = new after_timer;
  t->c = ch.core();
  chan_retain(t->c);
  t->when = to_nanotime(when);
  t->fire = &fire_after;
  add_timer(t);
  return ch;
}

}  // namespace go::detail
