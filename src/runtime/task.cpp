// Stackless goroutines (go/task.hpp): C++20 coroutines run as goroutines. Their frames come
// from the small-object pool (small_alloc.hpp).
//
// A stackless goroutine is a goroutine record (scheduler.hpp) of kind coroutine: no stack,
// no closure; its `sp` holds the coroutine to resume. Everything that holds goroutines (run
// queues, `next`, stealing, the global queue, inboxes, timers' wakes, wait queues, bubbles,
// dumps, deadlock detection, num_goroutine) holds it as it holds a stackful one. Only two
// things differ:
// - Running it. execute() (schedule.cpp) calls resume_coroutine on the worker's scheduler
//   stack instead of switching stacks. A stackful goroutine that switches out hands a
//   stackless one to the scheduler stack rather than to its own (next_direct), where
//   execute runs it next (next_local_direct).
// - Leaving the CPU. A stackful goroutine calls switch_to_scheduler, which records in its
//   worker the action (park, yield, exit) that the scheduler performs once the goroutine is
//   off its stack (finish_pending). A stackless one suspends: its awaiter's await_suspend
//   records the same action in the same fields (suspend below) and returns true; the
//   coroutine is then suspended, resume() returns to execute(), and execute calls
//   finish_pending as after a stack switch. So park's contract holds unchanged: unlock(arg)
//   runs once the goroutine can no longer run (its frame is suspended), and a waker that
//   finds its waiter under that lock wakes a goroutine that is parked, or running and about
//   to find itself notified (park.cpp's state table).
//
// Invariants
// - A stackless goroutine runs only inside resume_coroutine, on the thread of the worker
//   whose `current` it is. While it runs, its suspended callers' frames and its waiters are
//   its own; while it waits, they are reachable only through the wait queue that holds its
//   waiter (under that queue's lock) or the timer heap that holds its timer.
// - Every suspension of a goroutine's coroutines that returns control to resume_coroutine
//   goes through suspend(): resume_coroutine finds w->switched_from set, or the process ends
//   ("stackless goroutine suspended outside a go:: awaitable": nobody would resume it). A
//   co_await of a task transfers to it directly and returns to its awaiter at the end: no
//   suspension that the scheduler sees.
// - The waiter of a channel operation or wait_group wait, and a sleep's timer, are in the
//   goroutine's record (goroutine::co.wait), not in a frame: a goroutine waits at one
//   co_await at a time, and whatever woke it has dequeued the waiter (or fired the timer)
//   before the wake, so the place is free again when the coroutine resumes. await_resume
//   reads the outcome there before the next co_await. A select's waiters stay in its
//   awaiter (one per case).
// - The goroutine's own task is destroyed by resume_coroutine after it suspends at its final
//   point (coroutine_exit records it), never inside its own await_suspend, so no code of a
//   frame runs after the frame is freed.
// - A blocking call on the goroutine's thread that is not an awaitable (park.cpp's park) is
//   fatal: there is no stack to switch away from.
//
#include <algorithm>
#include <coroutine>
#include <cstdlib>
#include <cstring>
#include <new>

#include "go/task.hpp"
#include "runtime/chan.hpp"
#include "runtime/profile.hpp"
#include "runtime/rand.hpp"
#include "runtime/trace.hpp"
#include "runtime/scheduler/sched.hpp"
#include "runtime/timer.hpp"
#include "runtime/waiter.hpp"

namespace go::detail {

static_assert(sizeof(waiter) <= sizeof(waiter_space) && alignof(waiter) <= alignof(waiter_space));
static_assert(sizeof(waiter) <= sizeof(goroutine::co.wait) && alignof(waiter) <= 8);
static_assert(sizeof(timer) <= sizeof(goroutine::co.wait) && alignof(timer) <= 8);

// --- Running and suspending ---

namespace {

std::coroutine_handle<> handle_at(void* address) noexcept { return std::coroutine_handle<>::from_address(address); }

// The stackless goroutine running on this thread (the caller of an await_suspend).
goroutine* running_coroutine(worker*& w) noexcept {
  w = current_worker();
  goroutine* g = w ? w->current.load(std::memory_order_relaxed) : nullptr;
  if (!g || g->kind != parker_kind::coroutine) fatal("co_await of a go:: awaitable outside a stackless goroutine");
  return g;
}

// suspend records that g, suspended at `handle`, leaves the CPU with `action` (the fields
// switch_to_scheduler sets for a stackful goroutine), and saves its C++ runtime state.
void suspend(worker* w, goroutine* g, void* handle, switch_action action) noexcept {
  trace_event(trace_kind::go_stop, g, static_cast<std::uint64_t>(action));
  g->sp = handle;
  w->action = action;
  w->switched_from = g;
  g->saved_errno = *w->errno_at;
  std::memcpy(&g->eh, w->eh_globals, sizeof(eh_state));
}

}  // namespace

bool park_coroutine(void* handle, wait_reason reason, const source_location& site, void (*unlock)(void*), void* arg,
                    bool sole) noexcept {
  worker* w;
  goroutine* g = running_coroutine(w);
  std::uint32_t s = park_notified;
  if (!sole && g->state.load(std::memory_order_relaxed) == park_notified &&
      g->state.compare_exchange_strong(s, park_running, std::memory_order_acquire)) {
    if (unlock) unlock(arg);
    if (!debug_migrating()) return false;
    suspend(w, g, handle, switch_action::yield);  // the debug mode moves g at every park
    return true;
  }
  prepare_park(w, g, reason, site, unlock, arg, sole);
  g->co.block_event = block_suspend(reason);
  suspend(w, g, handle, switch_action::park);
  return true;
}

namespace {

void unlock_chan(void* c) noexcept { chan_unlock(static_cast<chan_core*>(c)); }

const waiter_space* as_space(const waiter* w) noexcept { return reinterpret_cast<const waiter_space*>(w); }

void fire_wake_coroutine(timer* t) { wake(static_cast<parker*>(t->arg)); }

}  // namespace

void resume_coroutine(worker* w, goroutine* g) noexcept {
  g->reason.store(wait_reason::none, std::memory_order_relaxed);
  if (suspended_block* e = std::exchange(g->co.block_event, nullptr)) block_resumed(e);
  handle_at(g->sp).resume();
  if (!w->switched_from) fatal("stackless goroutine suspended outside a go:: awaitable", g);
  if (w->action == switch_action::exit) {
    handle_at(g->sp).destroy();  // at its final suspend point: its frame's code is done
    g->sp = nullptr;
  }
}

void coroutine_exit(void* handle) noexcept {
  worker* w;
  goroutine* g = running_coroutine(w);
  trace_event(trace_kind::go_stop, g, static_cast<std::uint64_t>(switch_action::exit));
  g->sp = handle;
  w->action = switch_action::exit;
  w->switched_from = g;
}

void yield_suspend(void* handle) noexcept {
  worker* w;
  goroutine* g = running_coroutine(w);
  suspend(w, g, handle, switch_action::yield);
}

waiter* coroutine_waiter() noexcept {
  worker* w;
  goroutine* g = running_coroutine(w);
  auto* self = ::new (static_cast<void*>(g->co.wait)) waiter;
  self->who = g;
  return self;
}

// --- The awaitables' suspending halves (go/task.hpp): chan.cpp's send and recv, with the
// waiter in the goroutine's record and the park a suspension. ---

const waiter_space* chan_send_suspend(chan_core* c, void* elem, void* handle, const source_location& site) {
  if (!c) {
    waiter* w = coroutine_waiter();  // never woken: forever
    return park_coroutine(handle, wait_reason::chan_send_nil, site, nullptr, nullptr, false) ? as_space(w) : nullptr;
  }
  if (lock_free_ring(c) && ring_try_push(c, elem)) return nullptr;
  chan_lock(c);
  if (send_now(c, elem)) return nullptr;  // throws "send on closed channel", c unlocked
  waiter* w = coroutine_waiter();
  w->elem = elem;
  c->sendq.push_back(w);
  return park_coroutine(handle, wait_reason::chan_send, site, &unlock_chan, c, true) ? as_space(w) : nullptr;
}

std::uintptr_t chan_recv_suspend(chan_core* c, void* out, void* handle, const source_location& site) {
  if (!c) {
    waiter* w = coroutine_waiter();  // never woken: forever
    park_coroutine(handle, wait_reason::chan_receive_nil, site, nullptr, nullptr, false);
    return reinterpret_cast<std::uintptr_t>(w);
  }
  if (lock_free_ring(c) && ring_try_pop(c, out)) return recv_received;
  chan_lock(c);
  switch (recv_now(c, out)) {
    case try_status::ok: return recv_received;
    case try_status::closed: return recv_closed;
    case try_status::would_block: break;
  }
  waiter* w = coroutine_waiter();
  w->elem = out;
  c->recvq.push_back(w);
  park_coroutine(handle, wait_reason::chan_receive, site, &unlock_chan, c, true);
  return reinterpret_cast<std::uintptr_t>(w);
}

bool waiter_succeeded(const waiter_space* space) noexcept {
  return std::launder(reinterpret_cast<const waiter*>(space->raw))->success;
}

// --- Select (go/task.hpp's async_select): Go's selectgo, with the waiters in the awaiter. ---
//
// 1. Poll order: a uniformly random permutation of the cases.
// 2. Each case alone in that order, as a non-blocking send or receive (its own lock only):
//    the first that completes runs. Linearizable as any single operation.
// 3. "None ready" is decided atomically: every channel locked, in address order with
//    duplicates locked once (select.cpp's lock order, so no deadlock with a stackful select),
//    and the cases scanned again in poll order. Nothing ready: the default runs, or
// 4. one waiter per case, all sharing st->done, is queued and the goroutine parks with
//    park_sole: every waker finds a waiter only under its channel's lock, and the first to
//    flip st->done (wait_queue::pop_front) owns the select. unlock_select copies the lock
//    list off the frame before the first release, after which the frame may be running.
// 5. Woken: every channel locked again, the losing waiters withdrawn, the winner reported.

namespace {

__attribute__((tls_model("initial-exec"))) thread_local std::uint64_t select_rand = 0;  // rand.hpp

void unlock_select(void* arg) noexcept {
  auto* st = static_cast<select_state*>(arg);
  chan_core* copy[async_select_max_cases];
  int n = st->nlocks;
  std::copy_n(st->locks, n, copy);
  unlock_others(lock_set{copy, n}, nullptr);
}

waiter* case_waiter(select_state* st, int j) noexcept {
  return std::launder(reinterpret_cast<waiter*>(st->waiters[j].raw));
}

}  // namespace

int select_suspend(select_case* cases, int n, bool block, bool* received, select_state* st, void* handle,
                   const source_location& site) {
  worker* w;
  goroutine* g = running_coroutine(w);
  for (int i = 0; i < n; ++i) {  // 1: Fisher-Yates
    int j = cheaprandn(cheaprand(select_rand), i + 1);
    st->order[i] = st->order[j];
    st->order[j] = static_cast<std::uint8_t>(i);
  }
  for (int i = 0; i < n; ++i) {  // 2
    select_case& c = cases[st->order[i]];
    if (!c.c) continue;
    if (c.is_send) {
      if (chan_try_send(c.c, c.elem)) return st->order[i];
    } else if (try_status s = chan_try_recv(c.c, c.elem); s != try_status::would_block) {
      *received = s == try_status::ok;
      return st->order[i];
    }
  }
  int m = 0;  // 3
  for (int i = 0; i < n; ++i) {
    if (cases[i].c) st->locks[m++] = cases[i].c;
  }
  std::sort(st->locks, st->locks + m);
  st->nlocks = static_cast<int>(std::unique(st->locks, st->locks + m) - st->locks);
  if (st->nlocks == 0) {
    if (!block) return -2;
    park_coroutine(handle, n == 0 ? wait_reason::select_no_cases : wait_reason::select, site, nullptr, nullptr,
                   false);  // forever
    return -1;
  }
  for (int i = 0; i < st->nlocks; ++i) chan_lock(st->locks[i]);
  for (int i = 0; i < n; ++i) {
    select_case& c = cases[st->order[i]];
    if (c.c && complete_case_locked(c, received, lock_set{st->locks, st->nlocks})) return st->order[i];
  }
  if (!block) {
    unlock_others(lock_set{st->locks, st->nlocks}, nullptr);
    return -2;
  }
  st->done.store(0, std::memory_order_relaxed);  // 4
  for (int j = 0; j < n; ++j) {
    if (!cases[j].c) continue;
    auto* wt = ::new (static_cast<void*>(st->waiters[j].raw)) waiter;
    wt->who = g;
    wt->elem = cases[j].elem;
    wt->select_done = &st->done;
    wt->case_index = static_cast<std::uint16_t>(j);
    (cases[j].is_send ? cases[j].c->sendq : cases[j].c->recvq).push_back(wt);
  }
  park_coroutine(handle, wait_reason::select, site, &unlock_select, st, true);
  return -1;
}

int select_resume(select_case* cases, int n, bool* received, select_state* st) {
  std::uint32_t won = st->done.load(std::memory_order_acquire);
  int j = static_cast<int>(won) - 2;                             // select_won
  for (int i = 0; i < st->nlocks; ++i) chan_lock(st->locks[i]);  // 5
  for (int k = 0; k < n; ++k) {
    if (k == j || !cases[k].c) continue;
    (cases[k].is_send ? cases[k].c->sendq : cases[k].c->recvq).remove(case_waiter(st, k));
  }
  unlock_others(lock_set{st->locks, st->nlocks}, nullptr);
  bool success = case_waiter(st, j)->success;
  if (cases[j].is_send) {
    if (!success) throw_send_on_closed();
  } else {
    *received = success;
  }
  return j;
}

bool sleep_suspend(std::int64_t when, void* handle, const source_location& site) noexcept {
  worker* w;
  goroutine* g = running_coroutine(w);
  if (when != INT64_MAX) {
    // In the record: it outlives its firing, since the goroutine waits for the wake.
    auto* t = ::new (static_cast<void*>(g->co.wait)) timer;
    t->untracked = true;  // leaves its heap only by firing
    t->when = when;
    t->fire = &fire_wake_coroutine;
    t->arg = static_cast<parker*>(g);
    add_timer(t);
  }
  return park_coroutine(handle, wait_reason::sleep, site, nullptr, nullptr, false);
}

}  // namespace go::detail
