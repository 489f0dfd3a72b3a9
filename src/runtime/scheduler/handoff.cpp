// Slots moving between workers (Go's handoffp, entersyscall/exitsyscall, LockOSThread).
//
// A slot moves only under sched.lock, from a worker to one without a slot: to a spare (or a
// new worker) when its holder is blocked, busy, or waits for its locked goroutine
// (handoff_slot, wait_locked); from an idle worker to one returning from a blocking call
// (exit_blocking); from a worker to the thread of a locked goroutine it found runnable
// (start_locked). Its new holder runs what the old one queued: the old holder's ring and
// inbox are moved to the global queue, and a worker that lost its slot sends what it readies
// there (ready) and gives up its thread to the spares at its next schedule (retire).
//
// lock_os_thread. A locked goroutine runs only on its worker's thread. When it parks or
// yields, its worker lends its slot to a spare and waits (wait_locked); a worker that finds
// it runnable hands it over with its own slot if the waiting worker has none (start_locked)
// and gives up its thread. A locked goroutine that returns ends its thread (worker_main).
#include "runtime/scheduler/sched.hpp"
#include <iterator>
#include <mutex>

#include "platform/futex.hpp"
#include "runtime/trace.hpp"

namespace go::detail {

// drain_to_global moves what w queues (its ring, then its next slot) to the global queue, a
// block at a time; returns whether there was anything. Any thread: w's own (a worker that
// lost its slot), or sysmon's when it retakes w's slot.
bool drain_to_global(worker* w) noexcept {
  bool moved = false;
  for (;;) {
    task_block* b = new_block();
    std::uint32_t n = w->runq.take(b->tasks, std::size(b->tasks));
    if (n == 0) n = w->runq.take_next(b->tasks);
    if (n > 0) delay_at(delay_point::pass_drain);  // the batch is in no queue until it is put
    std::lock_guard lk(sched().lock);
    if (n == 0) {
      free_block_locked(b);
      return moved;
    }
    global_put_block_locked(b, n);
    moved = true;
  }
}

// Under sched.lock: takes slot s from w and gives it to a spare, which the caller signals
// after unlocking; null when none is free and the caller must start a worker for s.
worker* pass_slot_locked(worker* w, int s) noexcept {
  w->slot.store(no_slot, std::memory_order_seq_cst);
  worker* spare = sched().spares;
  if (!spare) return nullptr;
  sched().spares = spare->spare_next;
  spare->spare_next = nullptr;
  spare->in_spares = false;
  spare->slot.store(s, std::memory_order_seq_cst);
  sched().slots[s].store(spare, std::memory_order_release);
  return spare;
}

void finish_pass(worker* w, int s, worker* spare) noexcept {
  if (spare) signal_worker(spare, wake_poke);
  else start_worker(s);
  bool moved = drain_to_global(w);
  if (move_inbox(w)) moved = true;
  if (moved) wakep();
}

void give_up_slot(worker* w) noexcept {
  int s = w->slot.load(std::memory_order_relaxed);
  if (s != no_slot) handoff_slot(w, s);
}

// wait_locked: w's goroutine g is wired to w and has parked or yielded. w lends its slot to a
// spare and sleeps until a worker that finds g runnable hands it over (start_locked).
void wait_locked(worker* w, goroutine* g) noexcept {
  (void)g;
  int give = no_slot;
  worker* spare = nullptr;
  {
    std::lock_guard lk(sched().lock);
    if (!w->locked_runnable.load(std::memory_order_relaxed)) {
      give = w->slot.load(std::memory_order_relaxed);
      if (give != no_slot) spare = pass_slot_locked(w, give);
    }
  }
  if (give != no_slot) finish_pass(w, give, spare);
  {
    // Counted asleep only once what its queue held (g itself, if it yielded) is in the
    // global queue: until then the spare may find nothing and see every worker asleep
    // (check_dead). Under the lock, and counted awake again by start_locked under it: a
    // worker that hands g over and then sleeps must not see everyone asleep either.
    std::lock_guard lk(sched().lock);
    if (!w->locked_runnable.load(std::memory_order_relaxed)) {
      w->locked_waiting = true;
      sched().locked_sleeping.fetch_add(1);
    }
  }
  for (;;) {
    w->wake_word.exchange(0, std::memory_order_seq_cst);
    if (w->locked_runnable.load(std::memory_order_acquire) && holds_slot(w)) break;
    check_dead();
    platform::futex_wait(&w->wake_word, 0);
  }
  wake_sysmon();
  w->locked_runnable.store(false, std::memory_order_relaxed);
}

// x found g runnable, but g is wired to another worker's thread: that thread runs it, with
// x's slot if it has none (x then gives up its thread at its next schedule).
void start_locked(worker* x, goroutine* g) noexcept {
  worker* owner = locked_to(g);
  {
    std::lock_guard lk(sched().lock);
    if (owner->slot.load(std::memory_order_relaxed) == no_slot) {
      int s = x->slot.load(std::memory_order_relaxed);
      x->slot.store(no_slot, std::memory_order_seq_cst);
      owner->slot.store(s, std::memory_order_seq_cst);
      if (s != no_slot) sched().slots[s].store(owner, std::memory_order_release);
    }
    owner->locked_runnable.store(true, std::memory_order_release);
    if (owner->locked_waiting) {
      owner->locked_waiting = false;
      sched().locked_sleeping.fetch_sub(1);
    }
  }
  signal_worker(owner, wake_poke);
}

bool handoff_slot(worker* w, int s) noexcept {
  worker* spare;
  {
    std::lock_guard lk(sched().lock);
    if (w->slot.load(std::memory_order_relaxed) != s) return false;
    spare = pass_slot_locked(w, s);
  }
  finish_pass(w, s, spare);
  trace_event(trace_kind::slot_handoff, nullptr,
              static_cast<std::uint64_t>(w->id) << 32 | static_cast<std::uint32_t>(s));
  return true;
}

// go::blocking (runtime.hpp) is Go's entersyscall/exitsyscall. Entering costs plain stores:
// the goroutine's worker says it is in a call and stops being the thread's worker, so that
// whatever f does runs as from a plain thread. Sysmon may then give the worker's slot to a
// spare. Leaving, the worker takes itself back; if its slot is gone it takes an idle
// worker's, else the goroutine waits in the global queue and this thread becomes a spare.
void* enter_blocking() noexcept {
  worker* w = tls_worker;
  if (!w || w->bub) return nullptr;
  goroutine* g = w->current.load(std::memory_order_relaxed);
  if (!g || g->kind == parker_kind::coroutine) return nullptr;  // no stack to finish the call on elsewhere
  g->syscall_pc.store(__builtin_return_address(0), std::memory_order_relaxed);
  g->wait_since.store(w->clock, std::memory_order_relaxed);
  g->reason.store(wait_reason::syscall, std::memory_order_relaxed);
  w->syscall_tick.store(w->syscall_tick.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  w->in_syscall.store(true, std::memory_order_release);
  tls_worker = nullptr;
  return w;
}

void exit_blocking(void* token) noexcept {
  auto* w = static_cast<worker*>(token);
  if (!w) return;
  tls_worker = w;
  goroutine* g = w->current.load(std::memory_order_relaxed);
  g->reason.store(wait_reason::none, std::memory_order_relaxed);
  // No fence between the store and the load: sysmon may read in_syscall as true, and take
  // the slot, after we read that we still hold it. We then run on without a slot until the
  // goroutine next switches, as one whose slot sysmon took for being busy does; what we
  // ready meanwhile goes to the global queue (ready) or is moved there (sysmon, thieves).
  w->in_syscall.store(false, std::memory_order_release);
  if (holds_slot(w)) return;
  worker* idle = nullptr;
  {
    // Only a worker without a slot takes an idle worker's. One beyond GOMAXPROCS keeps its
    // slot's number, and slots[] its entry, until GOMAXPROCS covers it again (retire):
    // taking another slot would leave that entry pointing at a worker that no longer holds
    // it, and set_max_procs would start nobody for it.
    std::lock_guard lk(sched().lock);
    idle = sched().idle;
    if (idle && w->slot.load(std::memory_order_relaxed) == no_slot &&
        idle->slot.load(std::memory_order_relaxed) < sched().nprocs.load(std::memory_order_relaxed)) {
      idle_pop_locked();
      int s = idle->slot.load(std::memory_order_relaxed);
      idle->slot.store(no_slot, std::memory_order_seq_cst);
      w->slot.store(s, std::memory_order_seq_cst);
      sched().slots[s].store(w, std::memory_order_release);
    } else {
      idle = nullptr;
    }
  }
  if (idle) {
    signal_worker(idle, wake_taken);  // it becomes a spare
    return;
  }
  switch_to_scheduler(w, g, switch_action::yield);  // to the global queue; we retire
}

}  // namespace go::detail

namespace go {

using namespace detail;

void lock_os_thread() noexcept {
  worker* w = current_worker();
  goroutine* g = w ? w->current.load(std::memory_order_relaxed) : nullptr;
  if (!g || w->bub || g->kind == parker_kind::coroutine) return;  // it never leaves this thread mid-run
  // g->last_worker is w, so from here locked_to(g) is w.
  if (g->lock_depth++ != 0) return;
  w->lockedg = g;
  sched().nlocked.fetch_add(1, std::memory_order_relaxed);
}

void unlock_os_thread() noexcept {
  worker* w = current_worker();
  goroutine* g = w ? w->current.load(std::memory_order_relaxed) : nullptr;
  if (!g || g->lock_depth == 0) return;
  if (--g->lock_depth != 0) return;
  w->lockedg = nullptr;
  sched().nlocked.fetch_sub(1, std::memory_order_relaxed);
}

int set_max_threads(int n) {
  ensure_started();
  int old = sched().max_threads.load();
  if (n >= 1) sched().max_threads.store(std::min(n, max_threads_limit));
  return old;
}

}  // namespace go
