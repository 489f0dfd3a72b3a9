// Run queues, ready(), and switching between goroutines (Go's runqput/runqget, ready,
// schedule's fast path, execute, mcall).
//
// Run queues (runq.hpp): per worker a 256-slot ring plus a `next` slot, and one global queue
// under sched.lock. ready() from a worker holding a slot puts a woken goroutine in `next`, so
// a hand-off (channel ping-pong) runs the partner at once on the same worker, cache-hot. A
// goroutine that runs from `next` inherits the time slice: after 64 consecutive such runs the
// worker checks a coarse clock, and once a pair has used time_slice_ns it goes behind the queue
// (BenchmarkPingPongHog); sysmon ends such a slice sooner when hand-offs are far apart (the
// preempt flag). Every 61st schedule looks at the global queue first, so it is not starved by
// busy local queues. A yielding goroutine goes behind every runnable goroutine: to the global
// queue if that is not empty, else the local tail.
//
// Switching. A goroutine leaves the CPU through switch_to_scheduler: it saves its C++ runtime
// state (exception globals, errno), records itself in w->switched_from with the action it
// wants (park, yield, exit), and switches either straight to the next goroutine of its
// worker's local queue or, when that is empty (or timers, the global queue, the inbox or a
// locked goroutine need attention), to the worker's scheduler stack. Whoever resumes next, a
// goroutine or g0, first calls finish_switch, which performs the action now that the old
// goroutine is off its stack: park's unlock and the running -> parked CAS (park.cpp),
// yield's requeue, exit's free. That is Go's mcall, with one switch per hand-off instead of
// two (goroutine -> g0 -> goroutine): it makes park/wake race-free and gives one place to
// save per-goroutine C++ state and to tell the sanitizers about the switch.
#include "runtime/scheduler/sched.hpp"
#include "runtime/select_cache.hpp"
#include "runtime/bubble.hpp"
#include "runtime/unwind.hpp"

#include <cstring>
#include <iterator>
#include <mutex>
#include <utility>

#include "platform/context.hpp"
#include "platform/sanitizer.hpp"
#include "runtime/trace.hpp"

namespace go::detail {

// --- global run queue ---
//
// A FIFO of batches: a full ring spills half of itself as one batch (runq_put_tail), other
// puts are batches of one. A batch of more than one keeps its tasks in a task_block, so a
// worker takes a whole batch under the lock in O(1) and moves it to its ring after unlocking
// by copying an array: a chain through the tasks' records made that move a cache miss per
// task, one after the other (docs/tuning.md, skynet and spawn_join). Blocks are reused:
// each worker keeps the last one it emptied for its next spill, the rest go to a free list.

task_block* new_block() noexcept {
  {
    std::lock_guard lk(sched().lock);
    if (task_block* b = sched().free_blocks) {
      sched().free_blocks = b->next_free;
      return b;
    }
  }
  return new task_block;  // NOLINT(bugprone-unhandled-exception-at-new): out of memory ends the process, as in Go
}

void free_block_locked(task_block* b) noexcept {
  b->next_free = sched().free_blocks;
  sched().free_blocks = b;
}

namespace {

void global_append_locked(task* head, std::uint32_t n) noexcept {
  head->batch_next = nullptr;
  head->batch_len = n;
  if (sched().global_tail) sched().global_tail->batch_next = head;
  else sched().global_head = head;
  sched().global_tail = head;
  sched().global_size.fetch_add(n, std::memory_order_seq_cst);
}

}  // namespace

void global_put_block_locked(task_block* b, std::uint32_t n) noexcept {
  task* head = b->tasks[0];
  if (n > 1) {
    b->first = 1;
    head->batch_rest = b;
  } else {
    head->sched_next = nullptr;
    free_block_locked(b);
  }
  global_append_locked(head, n);
}

void global_put_locked(task* t) noexcept {
  t->sched_next = nullptr;
  global_append_locked(t, 1);
}

// Takes the first task of the first batch.
task* global_pop_locked() noexcept {
  task* t = sched().global_head;
  if (!t) return nullptr;
  task* rest = t->batch_next;
  if (t->batch_len > 1) {
    task_block* b = t->batch_rest;
    rest = b->tasks[b->first++];
    rest->batch_len = t->batch_len - 1;
    rest->batch_next = t->batch_next;
    if (rest->batch_len > 1) {
      rest->batch_rest = b;
    } else {
      rest->sched_next = nullptr;
      free_block_locked(b);
    }
  }
  sched().global_head = rest;
  if (sched().global_tail == t) sched().global_tail = rest;
  t->sched_next = nullptr;
  sched().global_size.fetch_sub(1, std::memory_order_relaxed);
  sched().global_taken.store(sched().global_taken.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return t;
}

// Takes the first batch (its head, with batch_len and batch_rest), or null.
task* global_take_batch_locked() noexcept {
  task* b = sched().global_head;
  if (!b) return nullptr;
  sched().global_head = b->batch_next;
  if (sched().global_tail == b) sched().global_tail = nullptr;
  sched().global_size.fetch_sub(b->batch_len, std::memory_order_relaxed);
  sched().global_taken.store(sched().global_taken.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return b;
}

// run_batch returns a taken batch's first task to run and moves the rest to w's ring (lock
// not held: a full ring spills to the global queue). w is the calling thread's worker.
task* run_batch(worker* w, task* b) noexcept {
  if (b->batch_len > 1) {
    task_block* blk = b->batch_rest;
    for (std::uint32_t i = blk->first, end = blk->first + b->batch_len - 1; i < end; ++i) {
      runq_put_tail(w, blk->tasks[i]);
    }
    if (!w->spare_block) {
      w->spare_block = blk;
    } else {
      std::lock_guard lk(sched().lock);
      free_block_locked(blk);
    }
  }
  b->sched_next = nullptr;
  return b;
}

// global_get takes a batch and returns its first task to run, the rest moved to w's ring.
task* global_get(worker* w) noexcept {
  if (sched().global_size.load(std::memory_order_relaxed) == 0) return nullptr;
  task* b;
  {
    std::lock_guard lk(sched().lock);
    b = global_take_batch_locked();
  }
  return b ? run_batch(w, b) : nullptr;
}

void global_put(task* t) noexcept {
  std::lock_guard lk(sched().lock);
  global_put_locked(t);
}

// Pushes t on w's ring, spilling half the ring (and t) to the global queue when full.
void runq_put_tail(worker* w, task* t) noexcept {
  if (w->runq.push_tail(t)) return;
  task_block* b = std::exchange(w->spare_block, nullptr);
  if (!b) b = new_block();
  std::uint32_t n = w->runq.grab(b->tasks, false);
  b->tasks[n++] = t;
  std::lock_guard lk(sched().lock);
  global_put_block_locked(b, n);
}

void runq_put(worker* w, task* t, bool next) noexcept {
  if (next) {
    task* old = w->runq.next.exchange(t, std::memory_order_seq_cst);
    if (!old) return;
    t = old;  // the previous `next` goes to the tail
  }
  runq_put_tail(w, t);
}

namespace {
void finish_switch(worker* w) noexcept;
}  // namespace

extern "C" void goroutine_main(void* arg) {
  auto* g = static_cast<goroutine*>(arg);
  platform::asan_finish_switch(nullptr);
  finish_switch(current_worker());
  select_cache* sel = ::new (static_cast<void*>(select_cache_of(g))) select_cache;
  // No handler: an exception that escapes is a panic, reported at the throw (panic.cpp).
  void* closure = closure_of(g);
  g->ops->invoke(closure);
  g->ops->destroy(closure);
  free_closure(g);
  sel->~select_cache();  // withdraws its waiters, drops its channels
  switch_to_scheduler(current_worker(), g, switch_action::exit);
  __builtin_unreachable();
}

namespace {

// Makes g the worker's current goroutine: state, first-run stack and context, C++ state.
void prepare(worker* w, goroutine* g) noexcept {
  // Woken (or new): now running. A goroutine resuming from a yield stays as it was: running,
  // or notified by a wake that arrived meanwhile, which its next park must still see.
  // Only a run queue's owner changes a runnable state (a wake of a runnable goroutine is
  // fatal), so a load and a store do; no locked instruction.
  if (g->state.load(std::memory_order_acquire) == park_runnable)
    g->state.store(park_running, std::memory_order_relaxed);
  before_resume(g);  // not while a profile or dump reads its stack (unwind.cpp)
  g->last_worker = w;
  w->current.store(g, std::memory_order_relaxed);
  trace_event(trace_kind::go_start, g);
  if (!g->sp && g->kind != parker_kind::coroutine) {
    if (!g->stk.base) {
      g->stk = stack_take(w->stacks);
      if (!g->stk.base) fatal("out of memory for goroutine stacks", g);
    }
    if constexpr (platform::asan) platform::asan_unpoison(g->stk.base, g->stk.size);
    g->sp = platform::make_context(g->stk.top() - sizeof(select_cache), &goroutine_main, g);  // select_cache_of
    platform::tsan_create(g->fiber);
  }
  std::memcpy(w->eh_globals, &g->eh, sizeof(eh_state));
  *w->errno_at = g->saved_errno;
}

// Performs what the goroutine that just switched out asked for (see above). Returns that
// goroutine if it must run again at once (a park that lost its race with a wake), else null.
goroutine* finish_pending(worker* w) noexcept {
  goroutine* g = w->switched_from;
  if (!g) return nullptr;
  w->switched_from = nullptr;
  switch (w->action) {
    case switch_action::park: {
      if (w->park_sole) {
        // Every waker finds g under this lock (park_sole, park.hpp), so none has seen g
        // running: a store publishes parked, and the unlock's release orders it before them.
        // Release: the goroutine dump reads the wait site and stack of a parked g.
        g->state.store(park_parked, std::memory_order_release);
        w->park_unlock(w->park_arg);
        return nullptr;
      }
      if (w->park_unlock) w->park_unlock(w->park_arg);
      std::uint32_t expected = park_running;
      if (g->state.compare_exchange_strong(expected, park_parked, std::memory_order_acq_rel)) return nullptr;
      // Woken before it was off its stack: it runs again (debug migration: elsewhere).
      g->state.store(park_runnable, std::memory_order_relaxed);
      if (sched().debug_migrate) {
        ready(g, false);
        return nullptr;
      }
      return g;
    }
    case switch_action::yield:
      if (w->bub || sched().debug_migrate || !holds_slot(w)) {
        ready(g, false);  // without a slot: to the global queue, for a worker that has one
      } else if (sched().global_size.load(std::memory_order_relaxed) > 0) {
        global_put(g);
      } else {
        runq_put_tail(w, g);
      }
      return nullptr;
    case switch_action::exit:
      // A bubble's goroutines run only on its worker (bubble.hpp), so w->bub is g->bub: the
      // worker's field is in cache, the record's line with bub often is not (spawn_join).
      if (bubble* b = w->bub) {
        --b->live;
        sched().external_created.fetch_sub(1, std::memory_order_relaxed);
        free_goroutine(nullptr, g);  // a bubble's worker keeps no pools
        return nullptr;
      }
      w->exited.store(w->exited.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      if (g->lock_depth != 0) {
        // Returned while wired to this thread: the thread ends with it (worker_main).
        g->lock_depth = 0;
        w->lockedg = nullptr;
        w->exit_thread = true;
        sched().nlocked.fetch_sub(1, std::memory_order_relaxed);
      }
      free_goroutine(w, g);
      return nullptr;
    case switch_action::none: break;
  }
  return nullptr;
}

// A goroutine that resumed: finish the switch that brought it here.
void finish_switch(worker* w) noexcept {
  if (goroutine* again = finish_pending(w)) runq_put(w, again, true);
}

}  // namespace

// new_slice notes that a goroutine starts a time slice of its own (worker::slice_tick).
task* new_slice(worker* w, task* t) noexcept {
  w->slice_tick.store(w->slice_tick.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return t;
}

namespace {

// The time slice that goroutines running from `next` share (Go's forcePreemptNS).
constexpr std::int64_t time_slice_ns = 10'000'000;

// end_next_slice decides, every 64th run from `next` or when sysmon asked (preempt),
// whether t, taken from `next`, still runs in the inherited time slice: a pair handing off
// to each other gets time_slice_ns, or less if sysmon saw the slice outlast it (hand-offs
// far apart, BenchmarkPingPongHog). Once it is used up t goes behind the queue and the head
// runs.
[[gnu::noinline]] task* end_next_slice(worker* w, task* t) noexcept {
  if (w->preempt.load(std::memory_order_relaxed)) {
    w->preempt.store(false, std::memory_order_relaxed);
  } else {
    std::int64_t now = coarse_nanotime();
    w->clock = now;
    if (w->next_streak == 64) w->slice_start = now;
    if (now - w->slice_start < time_slice_ns) return t;
  }
  w->next_streak = 0;
  new_slice(w, nullptr);
  runq_put_tail(w, t);
  bool ignored;
  if (task* head = w->runq.pop(&ignored)) return head;
  return pop_local(w);  // thieves took everything, t included: look again
}

// take_local takes the next goroutine from w's own queue; one from `next` inherits the time
// slice (end_next_slice). Null if the queue is empty. Inlined into the switch path
// (chan_pingpong).
[[gnu::always_inline]] inline task* take_local(worker* w) noexcept {
  bool from_next = false;
  task* t = w->runq.pop(&from_next);
  if (!t) return nullptr;
  w->runq.prefetch_head();
  if (!from_next) {
    w->next_streak = 0;
    return new_slice(w, t);
  }
  if (!w->preempt.load(std::memory_order_relaxed) && ++w->next_streak % 64 != 0) return t;
  return end_next_slice(w, t);
}

}  // namespace

task* pop_local(worker* w) noexcept { return take_local(w); }

namespace {

// The goroutine of either kind that may run next without a pass through find_runnable, or
// null when the scheduler loop must run (it checks timers, the global queue, the inbox, and
// sleeps).
[[gnu::always_inline]] inline task* next_local_direct(worker* w) noexcept {
  if (sched().debug_migrate || w->bub || w->exit_thread) return nullptr;
  if (w->timers.next_when.load(std::memory_order_relaxed) != INT64_MAX) return nullptr;
  if (w->inbox.load(std::memory_order_relaxed)) return nullptr;
  if (!holds_slot(w) || w->lockedg || sched().nlocked.load(std::memory_order_relaxed) != 0) return nullptr;
  if (!take_tick(w)) return nullptr;
  return take_local(w);
}

// The goroutine a switching goroutine may hand the CPU to directly: next_local_direct's,
// unless it is stackless.
goroutine* next_direct(worker* w) noexcept {
  task* t = next_local_direct(w);
  if (t && t->kind == parker_kind::coroutine) {
    // A stackless goroutine runs on the scheduler stack: back to the front for g0.
    runq_put(w, t, true);
    return nullptr;
  }
  return static_cast<goroutine*>(t);
}

}  // namespace

void execute(worker* w, goroutine* g) noexcept {
  if (worker* owner = locked_to(g); owner && owner != w) {
    start_locked(w, g);  // it runs only on its own thread
    return;
  }
  for (;;) {
    prepare(w, g);
    // Debug migration: goroutines waiting in our inbox while we run g (maybe for a long
    // time) may be taken by a spinning worker; make sure one looks.
    if (w->inbox.load(std::memory_order_relaxed)) wakep();
    if (g->kind == parker_kind::coroutine) {
      resume_coroutine(w, g);  // on this stack, until it suspends (task.cpp)
    } else {
      platform::tsan_switch_to(g->fiber);
      platform::asan_start_switch(&w->asan_fake_stack, g->stk.base, g->stk.size);
      platform::switch_context(&w->g0_sp, g->sp);
      platform::asan_finish_switch(w->asan_fake_stack);
    }
    std::memset(static_cast<void*>(w->eh_globals), 0, sizeof(eh_state));
    w->current.store(nullptr, std::memory_order_relaxed);
    goroutine* again = finish_pending(w);
    // On the scheduler stack either kind can run next: the next local goroutine runs here,
    // as next_direct hands a switching goroutine's CPU to one.
    if (!again) again = static_cast<goroutine*>(next_local_direct(w));
    if (!again) return;
    g = again;
  }
}

task* take_inbox(worker* w) noexcept {
  if (!w->inbox.load(std::memory_order_relaxed)) return nullptr;  // a peek; the lock decides
  std::lock_guard lk(w->inbox_lock);
  task* t = w->inbox.load(std::memory_order_relaxed);
  if (t) w->inbox.store(t->sched_next, std::memory_order_relaxed);
  return t;
}

// move_inbox moves everything in w's inbox to the global queue, in batches of a block's
// size; returns whether there was anything. It takes the inbox lock without peeking first: retire()'s
// argument (top of this file) orders the lock's acquisition after the writer's push.
bool move_inbox(worker* w) noexcept {
  task* first;
  {
    std::lock_guard lk(w->inbox_lock);
    first = w->inbox.load(std::memory_order_relaxed);
    if (!first) return false;
    w->inbox.store(nullptr, std::memory_order_relaxed);
  }
  for (task* t = first; t;) {
    task_block* b = new_block();
    std::uint32_t n = 0;
    for (; t && n < std::size(b->tasks); t = t->sched_next) b->tasks[n++] = t;
    std::lock_guard lk(sched().lock);
    global_put_block_locked(b, n);
  }
  return true;
}

namespace {

// ready_elsewhere is ready() under debug migration: t goes to the inbox of the worker after
// the one it last ran on.
[[gnu::noinline]] void ready_elsewhere(task* t) noexcept {
  auto* g = static_cast<goroutine*>(t);
  int n = sched().nprocs.load(std::memory_order_relaxed);
  int from = g->last_worker ? g->last_worker->slot.load(std::memory_order_relaxed) : 0;
  if (from >= n) from = 0;
  worker* target = sched().slots[(from + 1) % n].load(std::memory_order_acquire);
  {
    std::lock_guard lk(target->inbox_lock);
    t->sched_next = nullptr;
    task* head = target->inbox.load(std::memory_order_relaxed);
    if (!head) {
      target->inbox.store(t, std::memory_order_relaxed);
    } else {
      while (head->sched_next) head = head->sched_next;
      head->sched_next = t;
    }
  }
  bool was_idle;
  {
    std::lock_guard lk(sched().lock);
    was_idle = idle_remove_locked(target);
  }
  if (was_idle) signal_worker(target, wake_inbox);
  else wakep();  // a busy target may never get to it: let a spinner steal it
  if (target->slot.load(std::memory_order_seq_cst) >= sched().nprocs.load(std::memory_order_seq_cst)) {
    // set_max_procs retired the target meanwhile, and its retire() may have emptied the
    // inbox before our push and gone to sleep: the writer's half of the inbox protocol
    // ("Where runnable goroutines wait" at the top).
    if (move_inbox(target)) wakep();
  }
}

}  // namespace

void ready(task* t, bool next) noexcept {
  if (static_cast<goroutine*>(t)->bub) {
    bubble_ready(static_cast<goroutine*>(t));
    return;
  }
  if (sched().debug_migrate && sched().nprocs.load(std::memory_order_relaxed) > 1) {
    ready_elsewhere(t);
    return;
  }
  worker* w = current_worker();
  int nprocs = sched().nprocs.load(std::memory_order_relaxed);
  if (w && !w->bub && w->slot.load(std::memory_order_relaxed) < nprocs) {
    if (nprocs == 1) {
      // We are the only worker that runs goroutines and we will get to t: nobody to wake,
      // so no barrier. (Unless sysmon takes our slot meanwhile: then it also moves what our
      // queue holds while we keep running; see sysmon.) An empty `next` is ours to fill with a store (a thief only ever
      // empties it). bench chan_sync, chan_pingpong at GOMAXPROCS=1.
      if (!next) {
        runq_put_tail(w, t);
      } else if (!w->runq.next.load(std::memory_order_relaxed)) {
        w->runq.next.store(t, std::memory_order_release);
      } else {
        runq_put(w, t, true);
      }
      return;
    }
    // The next slot is published by an exchange (a full barrier); the ring's tail by a
    // release store, which needs the fence before wakep reads npidle.
    if (!next) {
      runq_put_tail(w, t);
      std::atomic_thread_fence(std::memory_order_seq_cst);
    } else {
      runq_put(w, t, true);
    }
  } else if (w && !w->bub) {
    // Without a slot (sysmon took it while a goroutine ran long, or w is beyond
    // GOMAXPROCS): what it readies goes to the global queue in blocks, not one by one (a
    // spawner that lost its slot readies thousands, and a worker with a slot would take
    // each under the lock). It gathers in w's ring, moved when it holds a block's worth or
    // the global queue has run dry; sysmon moves what is left (sysmon.cpp's retake).
    runq_put_tail(w, t);
    if (w->runq.size() < run_queue::capacity / 2 && sched().global_size.load(std::memory_order_relaxed) > 0) return;
    drain_to_global(w);  // unlocking is an exchange: a full barrier
  } else {
    global_put(t);  // unlocking is an exchange: a full barrier
  }
  wakep();
}

void switch_to_scheduler(worker* w, goroutine* g, switch_action action) noexcept {
  // An unguarded stack (beyond the map-count budget) is checked at every park: if the
  // stack pointer is below its base, the goroutine has overflowed into its neighbour.
  char* sp_now = static_cast<char*>(__builtin_frame_address(0));
  if (!g->stk.guarded && sp_now < g->stk.base + 256) {
    std::fprintf(stderr, "goroutine %llu: stack overflow (stack size %zu)\n", static_cast<unsigned long long>(g->id),
                 std::size_t{g->stk.size});
    std::abort();
  }
  trace_event(trace_kind::go_stop, g, static_cast<std::uint64_t>(action));
  w->action = action;
  w->switched_from = g;
  g->saved_errno = *w->errno_at;
  std::memcpy(&g->eh, w->eh_globals, sizeof(eh_state));
  void** fake_stack = action == switch_action::exit ? nullptr : platform::asan_fake_stack_of(g->fiber);
  if (goroutine* next = next_direct(w)) {
    prepare(w, next);
    platform::tsan_switch_to(next->fiber);
    platform::asan_start_switch(fake_stack, next->stk.base, next->stk.size);
    platform::switch_context(&g->sp, next->sp);
  } else {
    platform::tsan_switch_to(w->tsan_fiber);
    platform::asan_start_switch(fake_stack, w->g0_stack_bottom, w->g0_stack_size);
    platform::switch_context(&g->sp, w->g0_sp);
  }
  // Resumed, maybe on another worker: finish the switch that brought us back.
  platform::asan_finish_switch(platform::asan_fake_stack(g->fiber));
  finish_switch(current_worker());
}

}  // namespace go::detail

namespace go {

using namespace detail;

void yield() noexcept {
  worker* w = current_worker();
  goroutine* g = w ? w->current.load(std::memory_order_relaxed) : nullptr;
  if (!g) {
    sched_yield();
    return;
  }
  if (g->kind == parker_kind::coroutine) return;  // it yields with co_await go::async_yield()
  // Nothing else runnable here (and nothing the scheduler loop must look at: timers, the
  // global queue, the inbox, its every-61st tick): going behind nobody is staying, so
  // skip the two switches (yield_pingpong at GOMAXPROCS=2 with a goroutine per worker).
  if (w->runq.empty() && sched().global_size.load(std::memory_order_relaxed) == 0 &&
      w->timers.next_when.load(std::memory_order_relaxed) == INT64_MAX && !w->inbox.load(std::memory_order_relaxed) &&
      !w->bub && !sched().debug_migrate && take_tick(w)) {
    return;
  }
  switch_to_scheduler(w, g, switch_action::yield);
}

}  // namespace go
