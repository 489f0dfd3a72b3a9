// Timers (runtime/timer.hpp has the invariants): the per-worker heaps, go::sleep, and the
// refcounted timer state behind go::timer, go::ticker, go::after, go::tick and go::after_func.
//
// Life of a timer state. Creating one gives the creator a handle reference; pushing its node
// onto a heap adds the heap's reference (a channel timer's node waits for its channel:
// timer.hpp). Three things take the node out of a heap, and each then owns the heap's
// reference: run_expired (it calls fire_timer, which delivers and drops the reference, or
// re-arms a ticker and gives it back to the heap), reset (remove_timer succeeded: the
// reference serves the new arming), and a sweep (which calls fire_timer too; fire_timer
// finds the timer stopped or unreachable and just drops the reference). The state is freed
// when the last reference goes.
//
// Racing a firing. run_expired takes the node out of the heap under the heap lock and calls
// fire_timer without it, so stop or reset can run between the two. Both take the timer's
// lock `mu`; stop clears `armed`, reset leaves `armed` set but puts the node back in a heap.
// fire_timer takes `mu` and delivers only if the timer is armed and in no heap, so a firing
// that lost the race with either does nothing. Stop and reset also drain a value delivered
// but not yet received. Together: no stale value after stop or reset returns (Go 1.23), and
// stop's result says whether it prevented a delivery.
//
// Garbage. Stop leaves the node in its heap (lazy deletion: O(1), as Go's deltimer), and a
// channel timer with no handle whose channel's only reference is its own can never be
// observed. Such nodes are dropped when they come due, or sooner by a sweep, which a heap
// runs once a quarter of it may be garbage (maybe_sweep after every stop and orphaning).
// Guarded by benchmarks timers_1m_start_stop (bench/peer_scenarios.cpp) and BM_TimerNewStop
// (bench/time_context_bench.cpp).
#include <chrono>
#include <thread>

#include "go/chan.hpp"
#include "go/runtime.hpp"
#include "go/time.hpp"
#include "runtime/chan.hpp"
#include "runtime/bubble.hpp"
#include "runtime/scheduler.hpp"

namespace go::detail {

// --- 4-ary heap ordered by `when` ---

void timer_heap::sift_up(std::size_t i) noexcept {
  slot s = heap[i];
  while (i > 0) {
    std::size_t parent = (i - 1) / 4;
    if (heap[parent].when <= s.when) break;
    place(i, heap[parent]);
    i = parent;
  }
  place(i, s);
}

void timer_heap::sift_down(std::size_t i) noexcept {
  slot s = heap[i];
  std::size_t n = heap.size();
  for (;;) {
    std::size_t first = 4 * i + 1;
    if (first >= n) break;
    std::size_t best = first;
    std::size_t end = std::min(first + 4, n);
    for (std::size_t c = first + 1; c < end; ++c) {
      if (heap[c].when < heap[best].when) best = c;
    }
    if (heap[best].when >= s.when) break;
    place(i, heap[best]);
    i = best;
  }
  place(i, s);
}

void timer_heap::push(timer* t) {
  t->heap.store(this, std::memory_order_release);
  if (t->untracked && (sleepers.empty() || t->when >= sleepers.back().when)) {
    sleepers.push_back({t->when, reinterpret_cast<std::uintptr_t>(t) | 1u});
    publish();
    return;
  }
  heap.push_back({t->when, reinterpret_cast<std::uintptr_t>(t) | (t->untracked ? 1u : 0u)});
  sift_up(heap.size() - 1);
  publish();
}

void timer_heap::erase(timer* t) noexcept { erase_at(static_cast<std::size_t>(t->index)); }

void timer_heap::erase_at(std::size_t i) noexcept {
  timer* t = heap[i].t();
  std::size_t last = heap.size() - 1;
  if (i != last) place(i, heap[last]);
  heap.pop_back();
  if (i < heap.size()) {
    std::uintptr_t moved = heap[i].bits;
    sift_down(i);
    if (heap[i].bits == moved) sift_up(i);
  }
  t->index = -1;
  t->heap.store(nullptr, std::memory_order_release);
  publish();
}

int timer_heap::run_expired(std::int64_t now) noexcept {
  int fired = 0;
  for (;;) {
    // Take a batch of due timers under one hold of the lock (a burst of sleepers waking
    // together: bench sleep_100k), then fire them without it. A taken timer stays valid
    // until its callback runs: a sleeper cannot return before its wake, and a timer state's
    // heap reference now belongs to its callback.
    timer* batch[32];
    int n = 0;
    {
      std::lock_guard lk(lock);
      while (n < 32 && earliest() <= now) {
        if (!heap.empty() && (sleepers.empty() || heap[0].when <= sleepers.front().when)) {
          batch[n++] = heap[0].t();
          erase_at(0);
        } else {
          timer* t = sleepers.front().t();
          sleepers.pop_front();
          t->heap.store(nullptr, std::memory_order_release);
          batch[n++] = t;
          publish();
        }
      }
    }
    // A callback may free its timer: each is touched only before its own callback.
    for (int i = 0; i < n; ++i) batch[i]->fire(batch[i]);
    fired += n;
    if (n < 32) return fired;
  }
}

bool timer_heap::try_run_expired(std::int64_t now) noexcept {
  if (!lock.try_lock()) return false;
  lock.unlock();
  return run_expired(now) > 0;
}

namespace {

std::atomic<std::int64_t> live_states{0};

void release(timer_state* s) noexcept {
  if (s->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  delete s;  // and with it the state's reference to the channel
  live_states.fetch_sub(1, std::memory_order_relaxed);
}

// channel_shared: someone besides the timer holds its channel.
bool channel_shared(const timer_state* s) noexcept {
  chan_core* c = s->c.load(std::memory_order_acquire);
  return c && c->refs.load(std::memory_order_acquire) > 1;
}

// unreachable: a channel timer nobody can receive from (no handle, and no reference to its
// channel but the timer's own). Nothing can make it reachable again: new references are
// only ever copied from existing ones.
bool unreachable(const timer_state* s) noexcept {
  return s->kind == timer_kind::chan && s->handles.load(std::memory_order_acquire) == 0 && !channel_shared(s);
}

// drain discards a value delivered to the timer's channel and not yet received. mu held.
bool drain(timer_state* s) noexcept {
  if (!s->delivered) return false;  // nothing was sent since the last drain
  s->delivered = false;
  steady_clock::time_point v;
  return chan_try_recv(s->c.load(std::memory_order_relaxed), &v) == try_status::ok;
}

// disarm stops the timer lazily, leaving its node where it is. mu held. Returns the heap to
// offer a sweep to, if the node is in one.
timer_heap* disarm(timer_state* s) noexcept {
  s->armed.store(false, std::memory_order_relaxed);
  timer_heap* h = s->node.heap.load(std::memory_order_acquire);
  if (h) h->garbage_hint.fetch_add(1, std::memory_order_relaxed);
  return h;
}

std::int64_t next_tick(std::int64_t when, std::int64_t period, std::int64_t now) noexcept {
  if (when > INT64_MAX - period) return INT64_MAX;
  std::int64_t next = when + period;
  if (next <= now) {
    std::int64_t behind = (now - next) / period + 1;  // ticks already missed: skip them
    next = behind > (INT64_MAX - next) / period ? INT64_MAX : next + behind * period;
  }
  return next;
}

// deliver_due sends the due time on the channel of an armed chan timer whose node is in no
// heap (it exists: timer.hpp), then moves a ticker to its next tick or disarms a one-shot.
// Room for one value: a one-shot never finds it full; a ticker whose receiver is behind
// drops this tick, as Go's does. mu held. Returns whether the timer is still armed.
bool deliver_due(timer_state* s) noexcept {
  steady_clock::time_point due{std::chrono::nanoseconds(s->node.when)};
  if (chan_try_send(s->c.load(std::memory_order_relaxed), &due)) s->delivered = true;
  if (s->period > 0) {
    s->node.when = next_tick(s->node.when, s->period, now_ns());
    return true;
  }
  s->armed.store(false, std::memory_order_relaxed);
  return false;
}

// fire_timer is every timer state's node.fire. The caller took the node out of its heap and
// hands over the heap's reference.
void fire_timer(timer* t) noexcept {
  auto* s = static_cast<timer_state*>(t->arg);
  s->mu.lock();
  if (!s->armed.load(std::memory_order_relaxed) || t->heap.load(std::memory_order_acquire) != nullptr) {
    s->mu.unlock();  // stopped, or reset to a new time: this firing is stale
    release(s);
    return;
  }
  switch (s->kind) {
    case timer_kind::chan: {
      if (unreachable(s)) {
        s->armed.store(false, std::memory_order_relaxed);
        break;
      }
      if (deliver_due(s)) {
        add_timer(t);  // a ticker: the reference goes back to the heap
        s->mu.unlock();
        return;
      }
      break;
    }
    case timer_kind::func:
      s->armed.store(false, std::memory_order_relaxed);
      s->mu.unlock();
      // The goroutine inherits the reference: the state (and f) outlive the call.
      go::spawn([s] {
        s->func->run();
        release(s);
      });
      return;
    case timer_kind::callback:
      s->armed.store(false, std::memory_order_relaxed);
      s->callback(s->callback_arg);
      break;
  }
  s->mu.unlock();
  release(s);
}

timer_state* new_state(timer_kind kind) {
  auto* s = new timer_state;
  s->kind = kind;
  s->node.fire = &fire_timer;
  s->node.arg = s;
  live_states.fetch_add(1, std::memory_order_relaxed);
  return s;
}

// arm starts a new state's timer; the heap gets its reference.
void arm(timer_state* s, std::int64_t when) noexcept {
  s->refs.fetch_add(1, std::memory_order_relaxed);
  timer_heap* h;
  {
    std::lock_guard lk(s->mu);
    s->node.when = when;
    s->armed.store(true, std::memory_order_relaxed);
    add_timer(&s->node);
    h = s->node.heap.load(std::memory_order_relaxed);
  }
  if (h) h->maybe_sweep();
}

void fire_wake(timer* t) { wake(static_cast<parker*>(t->arg)); }

}  // namespace

void timer_heap::sweep() noexcept {
  timer_state* dead = nullptr;
  {
    std::lock_guard lk(lock);
    std::size_t kept = 0;
    for (std::size_t i = 0; i < heap.size(); ++i) {
      timer* t = heap[i].t();
      auto* s = t->fire == &fire_timer ? static_cast<timer_state*>(t->arg) : nullptr;
      // `armed` is read without mu: a reset that re-arms at the same time waits for this
      // lock in remove_timer, finds the node gone, and pushes it again; fire_timer below
      // then sees the node heaped and only drops the reference.
      if (s && (!s->armed.load(std::memory_order_relaxed) || unreachable(s))) {
        t->index = -1;
        t->heap.store(nullptr, std::memory_order_release);
        s->sweep_next = dead;
        dead = s;
      } else {
        heap[kept] = heap[i];
        if (heap[kept].tracked()) t->index = static_cast<std::int32_t>(kept);
        ++kept;
      }
    }
    heap.resize(kept);
    for (std::size_t i = kept / 4 + 1; i-- > 0;) {
      if (i < kept) sift_down(i);
    }
    garbage_hint.store(0, std::memory_order_relaxed);
    publish();
  }
  // Each swept node's heap reference is ours; fire_timer finds it stale or unreachable and
  // drops it.
  while (dead) {
    timer_state* next = dead->sweep_next;
    fire_timer(&dead->node);
    dead = next;
  }
}

std::int64_t now_ns() noexcept {
  worker* w = current_worker();
  return w && w->bub ? w->bub->now : nanotime();  // a bubble's fake clock (bubble.hpp)
}

namespace {

// block_until parks the calling goroutine until `when` (in the future), or sleeps the thread.
void block_until(std::int64_t when, const detail::source_location& site) {
  goroutine* g = current_goroutine();
  if (!g) {
    if (when == INT64_MAX) {
      for (;;) std::this_thread::sleep_for(std::chrono::hours(24 * 365));
    }
    std::this_thread::sleep_until(steady_clock::time_point(std::chrono::nanoseconds(when)));
    return;
  }
  timer t;             // on the stack: it outlives its firing, which is what wakes us
  t.untracked = true;  // leaves its heap only by firing
  t.when = when;
  t.fire = &fire_wake;
  t.arg = static_cast<parker*>(g);
  add_timer(&t);
  park(wait_reason::sleep, site);
}

}  // namespace

void sleep_until_ns(std::int64_t when, const detail::source_location& site) {
  if (when > now_ns()) block_until(when, site);
}

// One clock read per sleep (bench sleep_100k).
void sleep_for_ns(std::int64_t ns, const detail::source_location& site) { block_until(deadline_after(ns), site); }

// The node stays out of the heaps until timer_chan (timer.hpp), so no lock is needed here:
// nobody else sees s yet.
timer_state* timer_new_chan(std::int64_t when, std::int64_t period) {
  timer_state* s = new_state(timer_kind::chan);
  s->period = period;
  s->node.when = when;
  s->armed.store(true, std::memory_order_relaxed);
  return s;
}

const elem_ops timer_chan_ops = elem_ops_for<steady_clock::time_point>::ops;

recv_chan<steady_clock::time_point> timer_chan(timer_state* s) {
  if (s->kind != timer_kind::chan) return {};
  if (!s->c.load(std::memory_order_acquire)) {
    auto ch = make_chan<steady_clock::time_point>(1);  // allocated outside the lock
    ch.core()->ops = &timer_chan_ops;                  // the same operations, marked as a timer's (timer.hpp)
    std::lock_guard lk(s->mu);
    if (!s->c.load(std::memory_order_relaxed)) {
      s->ch = std::move(ch);
      s->c.store(s->ch.core(), std::memory_order_release);
      // Start what the timer would have done meanwhile: deliver if it is due, and heap it
      // if it is still armed (a later one-shot, or a ticker).
      if (s->armed.load(std::memory_order_relaxed) && (s->node.when > now_ns() || deliver_due(s))) {
        s->refs.fetch_add(1, std::memory_order_relaxed);  // the heap's
        add_timer(&s->node);
      }
    }
  }
  return s->ch;  // set once, before c was published
}

timer_state* timer_new_func(std::int64_t when, std::unique_ptr<boxed_func> f) {
  timer_state* s = new_state(timer_kind::func);
  s->func = std::move(f);
  arm(s, when);
  return s;
}

timer_state* timer_new_callback(std::int64_t when, void (*cb)(void*) noexcept, void* arg) {
  timer_state* s = new_state(timer_kind::callback);
  s->callback = cb;
  s->callback_arg = arg;
  arm(s, when);
  return s;
}

recv_chan<steady_clock::time_point> after_until(std::int64_t when) {
  timer_state* s = timer_new_chan(when, 0);
  recv_chan<steady_clock::time_point> c = timer_chan(s);
  timer_release_handle(s);  // the timer stays while c is referenced
  return c;
}

recv_chan<steady_clock::time_point> tick_every(std::int64_t period) {
  timer_state* s = timer_new_chan(deadline_after(period), period);
  recv_chan<steady_clock::time_point> c = timer_chan(s);
  timer_release_handle(s);
  return c;
}

void timer_retain_handle(timer_state* s) noexcept {
  s->handles.fetch_add(1, std::memory_order_relaxed);
  s->refs.fetch_add(1, std::memory_order_relaxed);
}

void timer_release_handle(timer_state* s) noexcept {
  if (s->handles.fetch_sub(1, std::memory_order_acq_rel) == 1 && s->kind == timer_kind::chan) {
    // The last handle: if nobody holds the channel either, stop the timer now; else it is
    // an orphan, which its next firing or a sweep collects once the channel goes too.
    timer_heap* h = nullptr;
    {
      std::lock_guard lk(s->mu);
      if (s->armed.load(std::memory_order_relaxed)) {
        if (!channel_shared(s)) {
          h = disarm(s);
        } else if ((h = s->node.heap.load(std::memory_order_acquire))) {
          h->garbage_hint.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
    if (h) h->maybe_sweep();
  }
  release(s);
}

bool timer_stop(timer_state* s) {
  bool pending = false;
  timer_heap* h = nullptr;
  {
    std::lock_guard lk(s->mu);
    if (s->armed.load(std::memory_order_relaxed)) {
      h = disarm(s);  // no heap: a firing in flight (it will see !armed), or no channel yet
      pending = true;
    }
    if (drain(s)) pending = true;
  }
  if (h) h->maybe_sweep();
  return pending;
}

bool timer_reset(timer_state* s, std::int64_t when, std::int64_t period) {
  bool pending;
  timer_heap* h;
  {
    std::lock_guard lk(s->mu);
    pending = s->armed.load(std::memory_order_relaxed);
    // In a heap (armed, or stopped lazily): take it out and keep the heap's reference for
    // the new setting. In no heap: idle, or a firing in flight that will find it re-heaped.
    bool have_ref = remove_timer(&s->node);
    if (drain(s)) pending = true;
    s->period = period;
    s->node.when = when;
    s->armed.store(true, std::memory_order_relaxed);
    if (s->kind == timer_kind::chan && !s->c.load(std::memory_order_relaxed)) return pending;  // heaped by timer_chan
    if (!have_ref) s->refs.fetch_add(1, std::memory_order_relaxed);
    add_timer(&s->node);
    h = s->node.heap.load(std::memory_order_relaxed);
  }
  if (h) h->maybe_sweep();
  return pending;
}

std::int64_t live_timer_states() noexcept { return live_states.load(std::memory_order_relaxed); }

}  // namespace go::detail
