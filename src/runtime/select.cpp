// select (Go's runtime/select.go): the only design that is both atomic and fair.
//
// 1. Poll order: a uniformly random permutation of the cases (fairness among ready cases).
// 2. Pass 0 (ours; Go locks every channel first): visit the cases in poll order, each under
//    its own channel's lock alone, skipping without a lock a case that a lock-free look
//    (chan_full, chan_empty) shows not ready. The first case ready under its lock runs,
//    exactly as a plain send or receive would. That is linearizable: the case was ready at
//    the moment its lock was held, and random poll order keeps the choice among cases ready
//    throughout uniform. Most selects find a ready case here and take one lock, not n; a
//    buffered channel with no waiter takes none (its lock-free ring, chan.cpp).
// 3. No case ready in pass 0 proves nothing (one case may have become ready after we looked
//    at it, another stopped being ready before), so "none ready" is decided atomically:
//    lock every channel, sorted by address with duplicates locked once (no deadlock between
//    two selects over the same channels), and scan again in poll order.
//    Nothing ready then and a default: it runs. Otherwise:
// 4. Enqueue one waiter per case, all sharing one select_done word, and park; park unlocks
//    every channel once the goroutine is off its stack.
// 5. A waker (a send, a receive or a close on any of the channels) dequeues one of our
//    waiters; wait_queue::pop_front flips select_done from 0 to its case first (select_won),
//    and only the waker that wins may complete its operation with us. A waker that loses
//    skips our waiter and carries on with its own value: nothing is consumed or dropped
//    (cancel safety).
// 6. Woken, we lock everything again, withdraw the losing waiters, and report the winner.
//
// No allocation for up to 16 cases (the arrays are on the stack); no polling ever.
#include <algorithm>
#include <memory>
#include <new>
#include <type_traits>

#include "runtime/chan.hpp"
#include "runtime/scheduler.hpp"

namespace go::detail {

namespace {

thread_local std::uint64_t fastrand_state = 0;

__attribute__((noinline)) std::uint64_t fastrand() noexcept {
  std::uint64_t& s = fastrand_state;
  if (s == 0) s = reinterpret_cast<std::uintptr_t>(&s) * 0x9E3779B97F4A7C15ull | 1;
  s ^= s >> 12;
  s ^= s << 25;
  s ^= s >> 27;
  return s * 0x2545F4914F6CDD1Dull;
}

}  // namespace

void seed_fastrand(std::uint64_t seed) noexcept { fastrand_state = seed | 1; }

namespace {

struct lock_set {
  const select_case* cases;
  const std::uint16_t* order;  // lock order
  int n;
};

// lock_others locks every channel of ls but skip, in lock order.
void lock_others(const lock_set& ls, chan_core* skip) noexcept {
  chan_core* prev = nullptr;
  for (int i = 0; i < ls.n; ++i) {
    chan_core* c = ls.cases[ls.order[i]].c;
    if (c != prev && c != skip) chan_lock(c);
    prev = c;
  }
}

void lock_all(const lock_set& ls) noexcept { lock_others(ls, nullptr); }

// unlock_others unlocks every channel of ls but keep (which a hand-off unlocks itself).
void unlock_others(const lock_set& ls, chan_core* keep) noexcept {
  chan_core* prev = nullptr;
  for (int m = 0; m < ls.n; ++m) {
    chan_core* x = ls.cases[ls.order[m]].c;
    if (x != prev && x != keep) chan_unlock(x);
    prev = x;
  }
}

// unlock_all is park's unlock callback for a select.
void unlock_all(void* arg) noexcept { unlock_others(*static_cast<const lock_set*>(arg), nullptr); }

// Up to this many cases, a select keeps its arrays on its stack and parks with park_sole.
constexpr std::size_t small_select = 16;

// unlock_all_sole is park_sole's unlock for a select of at most small_select cases. Its
// waiters are found only under these locks, so the goroutine stays parked until the first
// unlock; after it, a waker may resume the goroutine and reuse the frame that holds `ls`,
// so the channels are copied off it first.
void unlock_all_sole(void* arg) noexcept {
  const lock_set& ls = *static_cast<const lock_set*>(arg);
  chan_core* chans[small_select];
  int n = 0;
  for (int i = 0; i < ls.n; ++i) {
    chan_core* c = ls.cases[ls.order[i]].c;
    if (n == 0 || chans[n - 1] != c) chans[n++] = c;
  }
  for (int i = 0; i < n; ++i) chan_unlock(chans[i]);
}

// small_array is room for n trivially destructible T, on the stack up to N, left
// uninitialized: a select with two cases must not pay for constructing sixteen waiters
// (bench pipeline_3stage_1m: a third of select_go's instructions did).
template <class T, std::size_t N>
struct small_array {
  static_assert(std::is_trivially_destructible_v<T>);
  alignas(T) unsigned char fixed[N * sizeof(T)];
  std::unique_ptr<unsigned char[]> heap;
  T* data;
  explicit small_array(std::size_t n) {
    if (n <= N) {
      data = reinterpret_cast<T*>(fixed);
    } else {
      static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
      heap.reset(new unsigned char[n * sizeof(T)]);
      data = reinterpret_cast<T*>(heap.get());
    }
  }
};

// complete_locked completes case sc if it is ready, exactly as a plain send or receive
// would, and says whether it did. sc's channel is locked, and so is every channel of `all`
// when it is given (pass 1). Having completed, it has unlocked them all (the others before
// a hand-off wakes anyone); otherwise it leaves them locked. A send on a closed channel
// unlocks them and throws.
__attribute__((always_inline)) inline bool complete_locked(const select_case& sc, bool* received, const lock_set* all) {
  chan_core* c = sc.c;
  auto unlock = [&] {
    if (all) unlock_others(*all, nullptr);
    else chan_unlock(c);
  };
  if (sc.is_send) {
    if (c->closed.load(std::memory_order_seq_cst)) {  // seq_cst: see chan_close_begin
      unlock();
      throw_send_on_closed();
    }
    if (waiter* w = c->recvq.pop_front()) {
      if (all) unlock_others(*all, c);
      send_to_waiter(c, w, sc.elem);  // unlocks c
      return true;
    }
    if (c->cap && ring_push_locked(c, sc.elem)) {
      unlock();
      return true;
    }
    return false;
  }
  if (waiter* w = c->sendq.pop_front()) {
    if (all) unlock_others(*all, c);
    recv_from_waiter(c, w, sc.elem);  // unlocks c
    *received = true;
    return true;
  }
  if (c->cap && ring_pop_locked(c, sc.elem)) {
    unlock();
    *received = true;
    return true;
  }
  if (c->closed.load(std::memory_order_seq_cst)) {
    unlock();
    return true;  // received stays false: closed
  }
  return false;
}

// try_case_alone completes case sc if it looks ready and is ready under its channel's lock
// alone, and says whether it did. A lock-free look first (Go's full() and empty(),
// chan.hpp), so a case that is not ready costs no lock.
bool try_case_alone(const select_case& sc, bool* received) {
  chan_core* c = sc.c;
  if (lock_free_ring(c)) {  // a buffered channel with no waiter takes no lock at all
    if (sc.is_send ? ring_try_push(c, sc.elem) : ring_try_pop(c, sc.elem)) {
      *received = !sc.is_send;
      return true;
    }
  }
  bool looks_ready = c->closed.load(std::memory_order_relaxed) != 0 || (sc.is_send ? !chan_full(c) : !chan_empty(c));
  if (!looks_ready) return false;
  chan_lock(c);
  if (complete_locked(sc, received, nullptr)) return true;
  chan_unlock(c);
  return false;
}

}  // namespace

int select_go(select_case* cases, int n, bool block, bool* received, detail::source_location site) {
  *received = false;
  constexpr std::size_t small = small_select;
  small_array<std::uint16_t, small> poll(static_cast<std::size_t>(n)), order(static_cast<std::size_t>(n));

  // Poll order: a random permutation of the non-nil cases (inside-out Fisher-Yates). Each
  // index takes 32 random bits, as Go's fastrandn: two per fastrand, none for the first.
  int active = 0;
  std::uint64_t bits = 0;
  bool half = false;  // bits holds a second 32-bit draw
  for (int i = 0; i < n; ++i) {
    if (!cases[i].c) continue;
    if (active == 0) {
      poll.data[0] = static_cast<std::uint16_t>(i);
      active = 1;
      continue;
    }
    if (!half) bits = fastrand();
    half = !half;
    std::uint32_t j = static_cast<std::uint32_t>(((bits >> 32) * static_cast<std::uint32_t>(active + 1)) >> 32);
    bits <<= 32;
    if (j != static_cast<std::uint32_t>(active)) poll.data[active] = poll.data[j];
    poll.data[j] = static_cast<std::uint16_t>(i);
    ++active;
  }
  if (active == 0) {
    if (!block) return -1;
    for (;;) park(wait_reason::select_no_cases, site);  // Go: select {} blocks forever
  }

  // Pass 0: one channel at a time, in poll order (see the file header).
  for (int k = 0; k < active; ++k) {
    int i = poll.data[k];
    if (try_case_alone(cases[i], received)) return i;
  }
  // Lock order: by channel address (insertion sort: selects are small).
  for (int i = 0; i < active; ++i) {
    std::uint16_t v = poll.data[i];
    int j = i;
    while (j > 0 && cases[order.data[j - 1]].c > cases[v].c) {
      order.data[j] = order.data[j - 1];
      --j;
    }
    order.data[j] = v;
  }
  lock_set locks{cases, order.data, active};
  lock_all(locks);

  // Pass 1: is any case ready now?
  for (int k = 0; k < active; ++k) {
    int i = poll.data[k];
    if (complete_locked(cases[i], received, &locks)) return i;
  }
  if (!block) {
    unlock_all(&locks);
    return -1;
  }

  // Pass 2: enqueue one waiter per case and park.
  small_array<waiter, small> ws(static_cast<std::size_t>(n));
  std::atomic<std::uint32_t> done{0};
  parker* self = current_parker();
  for (int k = 0; k < active; ++k) {
    int i = order.data[k];
    waiter& w = *::new (static_cast<void*>(&ws.data[i])) waiter;
    w.who = self;
    w.elem = cases[i].elem;
    w.select_done = &done;
    w.case_index = i;
    w.success = false;
    if (cases[i].is_send) cases[i].c->sendq.push_back(&w);
    else cases[i].c->recvq.push_back(&w);
  }
  // park_sole saves a locked instruction; past small_select cases, unlock_all reads the
  // lock order from this frame between its unlocks, so the plain park.
  if (active <= static_cast<int>(small)) park_sole(wait_reason::select, site, &unlock_all_sole, &locks);
  else park(wait_reason::select, site, &unlock_all, &locks);

  // Pass 3: withdraw the losers. The winner's waker wrote its case to `done` before the wake,
  // and dequeued the winner: its channel needs no lock unless a loser waits there too.
  // (Go's selectgo locks every channel again.)
  int i = static_cast<int>(done.load(std::memory_order_relaxed) - select_won(0));
  waiter* winner = &ws.data[i];
  chan_core* skip = cases[i].c;
  for (int k = 0; k < active; ++k) {
    if (order.data[k] != i && cases[order.data[k]].c == skip) skip = nullptr;
  }
  lock_others(locks, skip);
  for (int k = 0; k < active; ++k) {
    int j = order.data[k];
    waiter& w = ws.data[j];
    if (&w == winner) continue;
    if (cases[j].is_send) cases[j].c->sendq.remove(&w);
    else cases[j].c->recvq.remove(&w);
  }
  unlock_others(locks, skip);
  if (cases[i].is_send) {
    if (!winner->success) throw_send_on_closed();
  } else {
    *received = winner->success;
  }
  return i;
}

}  // namespace go::detail
