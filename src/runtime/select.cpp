// select (Go's runtime/select.go): the only design that is both atomic and fair.
//
// Pass 0 (ours; Go locks every channel first): a lock-free look at every case
//    (chan_looks_ready, chan.hpp: Go's full() and empty(), or a buffered channel's slot at
//    its end), then the cases that looked ready are tried one at a time, each drawn
//    uniformly at random among those left, under its own channel's lock alone (or none: a
//    buffered channel with no waiter takes its lock-free ring, chan.cpp). The first that is
//    ready when tried runs, exactly as a plain send or receive would. That is linearizable:
//    the case was ready at the moment its lock was held (or its slot claimed). A select with
//    one case ready (the usual select with a timeout or a cancel case) draws no random
//    number. Most selects find a ready case here and take one lock, not n. (Go's poll
//    order, a random permutation visited until a ready case, draws for every case:
//    docs/tuning.md, select_uncontended.)
//    When the thread's last such look found several cases ready (several_ready), a select
//    first draws one case among all n and tries it alone if it looks ready; only if not does
//    it look at every case. Still uniform: with r of n ready, each ready case is drawn first
//    with probability 1/n, and else (probability (n - r) / n) drawn among the r, 1/n +
//    (n - r) / (n r) = 1/r. A select whose cases are all ready touches one channel, not n,
//    whose lines another worker is writing (docs/tuning.md, cb_boundedN_select_both_plain).
//    The usual select with one case ready pays a thread-local load.
// Poll order, for the passes under the locks: a uniformly random permutation of the cases.
// Pass 1: no case ready in pass 0 proves nothing (one case may have become ready after we looked
//    at it, another stopped being ready before), so "none ready" is decided atomically:
//    lock every channel, sorted by address with duplicates locked once (no deadlock between
//    two selects over the same channels), and scan again in poll order.
//    Nothing ready then and a default: it runs. Otherwise:
// Pass 2: enqueue one waiter per case, all sharing one select_done word, and park; park unlocks
//    every channel once the goroutine is off its stack.
// The waker (a send, a receive or a close on any of the channels) dequeues one of our
//    waiters: wait_queue::pop_front flips select_done from 0 to its case first (select_won),
//    and only the waker that wins may complete its operation with us. A waker that loses
//    skips our waiter and carries on with its own value: nothing is consumed or dropped
//    (cancel safety).
// Pass 3: woken, we lock everything again, withdraw the losing waiters, and report the winner.
//
// Lazy withdrawal (ours; passes 1-3 for a blocking select of up to four channel cases,
// select_lazy). Go locks every channel twice per parking select: a thousand goroutines each
// selecting on one shared channel and one of their own (bench chan_popular) fight over the
// shared channel's lock and cache line (docs/tuning.md, chan_popular). So a select does not
// withdraw its losing waiters; they stay queued, and the next select on the same channel
// re-arms its waiter there with no lock:
// - The waiters are a parker's persistent ones (select_cache.hpp, with the invariants). Each
//   select is a new generation of the parker's word; a waiter wins only with a compare-
//   exchange of that word from its tag's generation, open, to its tag, so a waiter left by
//   an earlier select is skipped and dropped by whoever dequeues it, as a lost select's is.
// - A waiter that is still queued means its case is not ready: a counterpart, or a close,
//   would have dequeued it. So pass 1 locks only the other cases' channels; once none of
//   them is ready, the word opens and each queued waiter is re-armed with a compare-exchange
//   of its tag, which fails if a waker dequeued it meanwhile. Then the select cancels its
//   word (unless a re-armed case has already won) and starts again.
// - A re-armed waiter can be won before the select is off its stack: such a select parks
//   with park, not park_sole. The winner's waker writes all the select returns into the word
//   (the case, and set_closed's bit), so waking reads no waiter.
// - No lock is taken on the shared channel any more, and pass 3 is gone.
//
// No allocation for up to 16 cases (the arrays are on the stack); no polling ever.
#include <algorithm>
#include <memory>
#include <new>
#include <type_traits>

#include "runtime/chan.hpp"
#include "runtime/rand.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/select_cache.hpp"

namespace go::detail {

namespace {

__attribute__((tls_model("initial-exec"))) thread_local std::uint64_t fastrand_state = 0;  // as tls_worker

}  // namespace

// The thread's draw (rand.hpp). Out of line: the goroutine that calls it may run on another
// thread after its next park, so no caller may keep the address of a thread_local across one.
__attribute__((noinline)) std::uint64_t fastrand() noexcept {
  std::uint64_t& s = fastrand_state;
  if (s == 0) s = reinterpret_cast<std::uintptr_t>(&s) * 0x9E3779B97F4A7C15ull;  // first use on this thread
  return cheaprand(s);
}

namespace {

// Whether this thread's last pass 0 that looked at every case found more than one ready:
// then the next select draws a case first (file header, pass 0). Written only when it
// changes, out of line: the goroutine may move to another thread between its read and its
// write, and its address must not be kept across.
__attribute__((tls_model("initial-exec"))) thread_local bool several_ready = false;

__attribute__((noinline)) void several_ready_set(bool v) noexcept { several_ready = v; }

// draw returns a uniformly random index below n.
int draw(int n) noexcept { return cheaprandn(fastrand(), n); }

// shuffle puts a[0, n) in a uniformly random order (Fisher-Yates): the poll order of the
// passes under the locks. Each swap takes 32 random bits (cheaprandn): two per fastrand.
template <class T>
void shuffle(T* a, int n) noexcept {
  std::uint64_t bits = 0;
  bool half = false;  // bits holds a second 32-bit draw
  for (int k = 1; k < n; ++k) {
    if (!half) bits = fastrand();
    half = !half;
    int j = cheaprandn(bits, k + 1);
    bits <<= 32;
    std::swap(a[k], a[j]);
  }
}

}  // namespace

void seed_fastrand(std::uint64_t seed) noexcept { fastrand_state = seed | 1; }

namespace {

// The channels a select locks, each once, sorted by address: the lock order.
// lock_order sorts the channels a[0, n) by address and drops repeats; returns the count
// left: the lock order. Up to four (every lazy select) by a sorting network, with no branch
// on the addresses, whose order no branch predictor can learn; more by insertion sort.
int lock_order(chan_core** a, int n) noexcept {
  auto cswap = [a](int i, int j) {
    chan_core* x = a[i];
    chan_core* y = a[j];
    a[i] = y < x ? y : x;
    a[j] = y < x ? x : y;
  };
  switch (n) {
    case 2: cswap(0, 1); break;
    case 3:
      cswap(0, 1);
      cswap(1, 2);
      cswap(0, 1);
      break;
    case 4:
      cswap(0, 1);
      cswap(2, 3);
      cswap(0, 2);
      cswap(1, 3);
      cswap(1, 2);
      break;
    default:
      for (int i = 1; i < n; ++i) {
        for (int j = i; j > 0 && a[j] < a[j - 1]; --j) std::swap(a[j], a[j - 1]);
      }
  }
  int m = n > 0 ? 1 : 0;
  for (int i = 1; i < n; ++i) {
    if (a[i] != a[m - 1]) a[m++] = a[i];
  }
  return m;
}

// lock_others locks every channel of ls but skip, in lock order.
void lock_others(const lock_set& ls, chan_core* skip) noexcept {
  for (int i = 0; i < ls.n; ++i) {
    if (ls.chans[i] != skip) chan_lock(ls.chans[i]);
  }
}

void lock_all(const lock_set& ls) noexcept { lock_others(ls, nullptr); }

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
  int n = ls.n;
  std::copy_n(ls.chans, n, chans);
  for (int i = 0; i < n; ++i) chan_unlock(chans[i]);
}

// small_array is room for n trivially destructible T, on the stack up to N, left
// uninitialized: a select with two cases must not pay for constructing sixteen waiters
// (bench pipeline_3stage_1m: a third of select_go's instructions did).
template <class T, std::size_t N>
struct small_array {
  static_assert(std::is_trivially_destructible_v<T>);
  // NOLINTNEXTLINE(bugprone-sizeof-expression): room for n Ts, and T is a pointer in the lock order
  alignas(T) unsigned char fixed[N * sizeof(T)];
  std::unique_ptr<unsigned char[]> heap;
  T* data;
  explicit small_array(std::size_t n) {
    if (n <= N) {
      data = reinterpret_cast<T*>(fixed);
    } else {
      static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
      // NOLINTNEXTLINE(bugprone-sizeof-expression): room for n Ts, and T is a pointer in the lock order
      heap.reset(new unsigned char[n * sizeof(T)]);
      data = reinterpret_cast<T*>(heap.get());
    }
  }
};

// try_case completes case sc, which looked ready, if it is ready: lock-free on a buffered
// channel with no waiter, otherwise under its channel's lock alone. Says whether it did.
bool try_case(const select_case& sc, bool* received) {
  chan_core* c = sc.c;
  if (lock_free_ring(c)) {  // a buffered channel with no waiter takes no lock at all
    if (sc.is_send ? ring_try_push(c, sc.elem) : ring_try_pop(c, sc.elem)) {
      *received = !sc.is_send;
      return true;
    }
  }
  chan_lock(c);
  if (complete_case_locked(sc, received, {})) return true;
  chan_unlock(c);
  return false;
}

// --- Lazy withdrawal (see the file header) ---

// What a lazy select's word becomes when case i wins (below the generation), so that the
// select learns all it returns from the word: the case, whether it sends, and (lazy_closed,
// set_closed in waiter.hpp) whether a close woke it.
constexpr std::uint32_t lazy_sends = 0x20;
constexpr std::uint32_t lazy_won(int i, bool is_send) noexcept { return select_won(i) | (is_send ? lazy_sends : 0); }
constexpr std::uint32_t lazy_cancelled = 1;
static_assert(select_won(static_cast<int>(small_select) - 1) < lazy_sends);

// withdraw dequeues slot m's waiter if it is queued. No lock held; its channel stays
// referenced.
void withdraw(select_cache& sc, int m) noexcept {
  waiter& w = sc.w(m);
  if (w.tag.load(std::memory_order_acquire) == 0) return;
  chan_lock(w.chan);
  if (w.tag.load(std::memory_order_relaxed) != 0) {  // a waker may have taken it since
    sc.queue(m).remove(&w);
    w.tag.store(0, std::memory_order_relaxed);
  }
  chan_unlock(w.chan);
}

// next_generation starts a select's generation. At the wrap, every waiter is withdrawn
// first, so that no queued tag can match the word again.
std::uint32_t next_generation(select_cache& sc) noexcept {
  constexpr std::uint32_t gen_limit = std::uint32_t{1} << 24;
  if (++sc.gen == gen_limit) {
    for (int m = 0; m < sc.n; ++m) withdraw(sc, m);
    sc.gen = 1;
  }
  return sc.gen;
}

// assign_slots gives the k-th channel case (act[k], in case order) slot slot_of[k]: the slot
// that last waited on its channel in its direction if any (its waiter may still be queued
// there), otherwise a new slot, or an old one (withdrawn, its channel released). No lock
// held. New slots are handed out in case order, so a select that repeats finds each case's
// slot at the case's position, on the first probe, in a loop whose branches repeat.
void assign_slots(select_cache& sc, parker* self, const select_case* cases, const std::uint16_t* act, int active,
                  int* slot_of) noexcept {
  unsigned taken = 0;
  bool pending = false;
  for (int k = 0; k < active; ++k) {
    const select_case& cs = cases[act[k]];
    auto fits = [&](int m) {
      return !(taken >> m & 1) && sc.w(m).chan == cs.c && (sc.is_send >> m & 1) == unsigned{cs.is_send};
    };
    int m = k < sc.n && fits(k) ? k : -1;
    for (int x = 0; m < 0 && x < sc.n; ++x) {
      if (fits(x)) m = x;
    }
    slot_of[k] = m;
    if (m >= 0) taken |= 1u << m;
    else pending = true;
  }
  for (int k = 0; pending && k < active; ++k) {
    if (slot_of[k] >= 0) continue;
    const select_case& cs = cases[act[k]];
    int m;
    if (sc.n < select_cache::slots_max) {
      m = sc.n++;
      waiter& w = *::new (static_cast<void*>(&sc.w(m))) waiter;
      w.who = self;
      w.lazy = true;
    } else {
      do {  // round robin over the slots this select has not taken
        m = sc.victim;
        sc.victim = static_cast<std::uint8_t>((m + 1) % select_cache::slots_max);
      } while (taken >> m & 1);
      withdraw(sc, m);
      chan_release(sc.w(m).chan);  // may destroy it: no lock is held
    }
    taken |= 1u << m;
    chan_retain(cs.c);
    sc.w(m).chan = cs.c;
    sc.is_send = static_cast<std::uint8_t>((sc.is_send & ~(1u << m)) | unsigned{cs.is_send} << m);
    slot_of[k] = m;
  }
}

// select_lazy is select_go's blocking path for up to select_cache::slots_max channel cases,
// once pass 0 found none ready. act: the `active` channel cases, in case order.
__attribute__((noinline)) int select_lazy(parker* self, select_case* cases, const std::uint16_t* act, int active,
                                          bool* received, const detail::source_location& site) {
  select_cache& sc = select_cache_of(self);
  for (;;) {
    std::uint32_t open = next_generation(sc) << 8;
    int slot_of[select_cache::slots_max];
    assign_slots(sc, self, cases, act, active, slot_of);

    // The cases whose waiter is still queued are re-armed in place; the others (`locked`)
    // are decided under their channels' locks, in address order.
    chan_core* order[select_cache::slots_max];
    bool in_place[select_cache::slots_max];
    int n_locked = 0;
    for (int k = 0; k < active; ++k) {
      in_place[k] = sc.w(slot_of[k]).tag.load(std::memory_order_acquire) != 0;
      if (!in_place[k]) order[n_locked++] = cases[act[k]].c;
    }
    std::uint8_t poll[select_cache::slots_max];  // pass 1's order of act
    for (int k = 0; k < active; ++k) poll[k] = static_cast<std::uint8_t>(k);
    shuffle(poll, active);
    lock_set locks{order, lock_order(order, n_locked)};
    lock_all(locks);
    for (int x = 0; x < active; ++x) {
      int k = poll[x];
      if (!in_place[k] && complete_case_locked(cases[act[k]], received, locks)) return act[k];
    }

    // None is ready. Open the word, then re-arm the queued waiters: each was queued until its
    // compare-exchange, so its case was not ready up to then (a counterpart or a close would
    // have dequeued it), and a waker finds it armed after.
    self->sel_word.store(open, std::memory_order_release);
    bool lost = false;
    for (int k = 0; k < active && !lost; ++k) {
      if (!in_place[k]) continue;
      int i = act[k];
      waiter& w = sc.w(slot_of[k]);
      w.elem = cases[i].elem;
      std::uint32_t t = w.tag.load(std::memory_order_relaxed);
      lost =
          t == 0 || !w.tag.compare_exchange_strong(t, open | lazy_won(i, cases[i].is_send), std::memory_order_acq_rel);
    }
    if (lost) {
      // A waker dequeued a waiter since assign_slots: its case may be ready, and its channel
      // is not locked. Cancel and start again, unless a re-armed case has already won.
      std::uint32_t expected = open;
      if (self->sel_word.compare_exchange_strong(expected, open | lazy_cancelled, std::memory_order_acq_rel)) {
        unlock_all(&locks);
        continue;
      }
    } else {
      for (int k = 0; k < active; ++k) {
        if (in_place[k]) continue;
        int i = act[k];
        waiter& w = sc.w(slot_of[k]);
        w.elem = cases[i].elem;
        w.tag.store(open | lazy_won(i, cases[i].is_send), std::memory_order_relaxed);
        if (cases[i].is_send) cases[i].c->sendq.push_back(&w);
        else cases[i].c->recvq.push_back(&w);
      }
    }
    // A re-armed waiter may be won (and the goroutine woken) before it is off its stack,
    // so only a select with none parks with park_sole.
    if (n_locked == active) park_sole(wait_reason::select, site, &unlock_all_sole, &locks);
    else park(wait_reason::select, site, &unlock_all, &locks);

    // The winner's waker dequeued it; the losers stay queued for the next select.
    std::uint32_t won = self->sel_word.load(std::memory_order_acquire);
    bool success = !(won & lazy_closed);
    if (won & lazy_sends) {
      if (!success) throw_send_on_closed();
    } else {
      *received = success;
    }
    return static_cast<int>((won & (lazy_sends - 1)) - select_won(0));
  }
}

}  // namespace

// For tests (select_test.cpp): the caller's next lazy select starts generation gen + 1.
void select_generation_set_for_test(std::uint32_t gen) noexcept { select_cache_of(current_parker()).gen = gen; }

select_cache::~select_cache() {
  for (int m = 0; m < n; ++m) {
    withdraw(*this, m);
    chan_release(w(m).chan);
  }
}

namespace {
int select_eager(select_case* cases, int n, const std::uint16_t* poll, int active, bool block, bool* received,
                 const detail::source_location& site);
}  // namespace

int select_go(select_case* cases, int n, bool block, bool* received, const detail::source_location& site) {
  *received = false;
  constexpr std::size_t small = small_select;
  small_array<std::uint16_t, small> poll(static_cast<std::size_t>(n));

  // Pass 0 (see the file header): a lock-free look at every case, then the cases that looked
  // ready are tried one at a time, each drawn at random among those left.
  bool several = several_ready;
  int ready = 0;
  if (several && n > 1) {
    int i = draw(n);
    if (cases[i].c && chan_looks_ready(cases[i].c, cases[i].is_send))
      poll.data[ready++] = static_cast<std::uint16_t>(i);
  }
  int active = -1;  // the look at every case is yet to come
  for (;;) {
    while (ready > 0) {
      int k = ready == 1 ? 0 : draw(ready);
      int i = poll.data[k];
      if (try_case(cases[i], received)) return i;
      poll.data[k] = poll.data[--ready];
    }
    if (active >= 0) break;
    active = 0;
    for (int i = 0; i < n; ++i) {
      if (!cases[i].c) continue;
      ++active;
      if (chan_looks_ready(cases[i].c, cases[i].is_send)) poll.data[ready++] = static_cast<std::uint16_t>(i);
    }
    if (several != (ready > 1)) several_ready_set(ready > 1);
  }
  if (active == 0) {
    if (!block) return -1;
    for (;;) park(wait_reason::select_no_cases, site);  // Go: select {} blocks forever
  }

  active = 0;
  for (int i = 0; i < n; ++i) {
    if (cases[i].c) poll.data[active++] = static_cast<std::uint16_t>(i);
  }
  if (block && active <= select_cache::slots_max && n <= static_cast<int>(small_select)) {
    return select_lazy(current_parker(), cases, poll.data, active, received, site);
  }
  shuffle(poll.data, active);
  return select_eager(cases, n, poll.data, active, block, received, site);
}

namespace {

// select_eager is select_go after pass 0 when it cannot leave waiters queued: a select that
// does not block, or has more than select_cache::slots_max channel cases, or more than
// small_select cases in all. Passes 1 to 3 of the file header, as Go's selectgo. A function of its own, so that
// its waiter array does not widen select_go's frame.
__attribute__((noinline)) int select_eager(select_case* cases, int n, const std::uint16_t* poll, int active, bool block,
                                           bool* received, const detail::source_location& site) {
  constexpr std::size_t small = small_select;
  small_array<chan_core*, small> order(static_cast<std::size_t>(n));
  for (int k = 0; k < active; ++k) order.data[k] = cases[poll[k]].c;
  lock_set locks{order.data, lock_order(order.data, active)};
  lock_all(locks);

  // Pass 1: is any case ready now?
  for (int k = 0; k < active; ++k) {
    int i = poll[k];
    if (complete_case_locked(cases[i], received, locks)) return i;
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
    int i = poll[k];
    waiter& w = *::new (static_cast<void*>(&ws.data[i])) waiter;
    w.who = self;
    w.elem = cases[i].elem;
    w.select_done = &done;
    w.case_index = static_cast<std::uint16_t>(i);
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
    if (poll[k] != i && cases[poll[k]].c == skip) skip = nullptr;
  }
  lock_others(locks, skip);
  for (int k = 0; k < active; ++k) {
    int j = poll[k];
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

}  // namespace

}  // namespace go::detail
