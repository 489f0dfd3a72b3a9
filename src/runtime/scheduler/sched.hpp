// The scheduler's shared state and the parts of its design that every file relies on. The
// files of src/runtime/scheduler/ each open with their own part (Go's proc.go, by concern):
//   schedule.cpp     run queues, ready(), switching between goroutines, execute, yield
//   idle.cpp         spinning and idle workers, wakep, the timer waiter, the netpoller hook
//   worker.cpp       the worker loop: find_runnable, stealing, retiring, starting workers
//   handoff.cpp      slots moving between workers: go::blocking, lock_os_thread
//   sysmon.cpp       the monitor thread that takes slots from blocked or busy workers
//   deadlock.cpp     "all goroutines are asleep"
//   goroutines.cpp   goroutine records, their pools, spawn
//
// Glossary. A goroutine (G, `goroutine`) is a task with its own stack. A worker (`worker`) is
// an OS thread (Go's M) with the structures of a processor (Go's P): a local run queue, a
// timer heap, pools of records and stacks, and a scheduler stack ("g0": the thread's own
// stack) that runs the worker loop. A slot is one of the GOMAXPROCS processors' places: a
// worker runs goroutines only while it holds a slot (`worker::slot` < nprocs); the other
// workers sleep in retire(). A slot moves from a worker whose goroutine blocks its thread (a
// go::blocking call), computes for long, or waits for a thread-locked goroutine, to a spare
// worker (handoff.cpp): what the old holder's queue held goes to the global queue, and the
// old holder keeps running its goroutine, without a slot, until that goroutine switches.
// Go moves the P itself between Ms; here the queue moves and the slot changes hands, which
// keeps each queue's single-producer rule (only its worker's thread pushes) and the idle
// protocol (an idle worker sleeps holding its slot) as they are.
//
// Where runnable goroutines wait, and who finds them. A goroutine that is runnable and not
// running is in one place: a worker's `next` slot or ring, a worker's inbox (debug
// migration), the global queue, or the hands of a worker about to run it. Whatever
// set_max_procs or a slot's hand-off does meanwhile, a worker that is running or has been
// woken will find it. (Go's proc.go keeps this for runqput and procresize with the world
// stopped; here nprocs changes while every worker runs, and set_max_procs only stores it and
// pokes each worker.)
// - A worker's `next` slot and ring are written only by its own thread (ready, yield,
//   finish_switch, run_batch, a steal into its own ring). While it holds a slot it runs what
//   they hold; finding itself without one, retire() moves them to the global queue before it
//   sleeps. A worker whose slot was handed off while its goroutine runs may still push there
//   (it read its slot just before): thieves look at every worker, not only slot holders, and
//   sysmon moves what such a worker queued to the global queue. Other threads only take from
//   them. This is why ready() on the only slot holder (nprocs == 1) wakes nobody.
// - The global queue is searched by every worker holding a slot. Whoever puts a goroutine
//   there calls wakep, and the spinning protocol (idle.cpp) keeps one of them awake or
//   waking. A worker that was idle when GOMAXPROCS fell below its slot stays on the idle list
//   (a poke only makes it check for deadlock and its timer deadline; it may be the timer
//   waiter), so wakep may wake it to spin: it then finds itself beyond GOMAXPROCS and hands
//   that duty on (retire: reset_spinning) before it sleeps.
// - An inbox is the one queue that other threads write. The writer pushes, then reads the
//   target's slot and nprocs: if the target holds none, the writer moves the inbox to the
//   global queue itself. Otherwise the target held one at that read, so it will look: it is
//   running or spinning, or idle (the writer takes it off the idle list and wakes it; one
//   joining the list rechecks its inbox after), or asleep in retire() and poked by the raise
//   that covered it. Unless a later set_max_procs puts it beyond first: that one stores
//   nprocs, then pokes every worker, and a worker in retire() clears its wake word, then
//   reads nprocs, then, still beyond, moves its inbox to the global queue before it sleeps on
//   that word, at every wake-up. Each side writes, then reads (sequentially consistent), so
//   the poke makes the target move the push. Moving the inbox only on the way into retire()
//   would strand a goroutine sent while a raise covered the worker for a moment (test
//   Procs.GoroutineSentToAWorkerRetiredAgainBeforeItLookedRuns). A hand-off stores the old
//   holder's slot, then moves its inbox, so it also meets every writer.
// - The timer heaps of workers without a slot are run by the others (run_retired_timers,
//   and idle workers' run_all_timers).
//
// Lock order: sched.lock, then a worker's timer heap lock or inbox lock. Channel locks are
// never held while taking sched.lock except through ready(), which takes it only for the
// global queue from a worker without a slot or a plain thread. threads_mutex (starting a
// worker) is taken without sched.lock held.
//
// Shutdown: there is none. The runtime is created on first use and never destroyed; when
// main returns, exit() ends the process with workers still parked or running, as Go's does.
#pragma once

#include <time.h>

#include <atomic>
#include <climits>
#include <cstdint>
#include <mutex>
#include <new>

#include "runtime/scheduler.hpp"

namespace go::detail {

constexpr int max_workers = 1024;  // GOMAXPROCS at most
// Threads at most, whatever set_max_threads says: the size of the array of all workers.
constexpr int max_threads_limit = 1 << 16;
constexpr int free_g_cache = 64;
// How long a spinning worker keeps looking for work before it sleeps (tuned by bench
// spawn_join and chan_pingpong at GOMAXPROCS=2).
constexpr std::int64_t spin_window_ns = 50'000;
// Fields in cache lines by who writes them: every ready() and spawn reads the first line,
// which changes only with set_max_procs and set_default_stack_size; a line shared with the
// idle counters or the record pool bounced between workers on every read (bench spawn_join
// and skynet at GOMAXPROCS=2).
struct sched_state {
  alignas(64) std::atomic<int> nprocs{1};
  std::atomic<int> nworkers{0};
  std::atomic<std::size_t> default_stack{stack_default_reservation()};
  bool debug_migrate = false;
  std::atomic<int> max_threads{10000};                   // set_max_threads (Go's debug.SetMaxThreads)
  std::atomic<int> nlocked{0};                           // goroutines wired to their thread (lock_os_thread)
  std::atomic<worker*> slots[max_workers] = {};          // slot -> the worker holding it
  std::atomic<worker*> workers[max_threads_limit] = {};  // every worker ever started, by id

  alignas(64) runtime_lock lock{lock_rank::sched};  // guards: global queue, idle list, free_blocks
  task* global_head = nullptr;
  task* global_tail = nullptr;
  task_block* free_blocks = nullptr;
  std::atomic<std::int64_t> global_size{0};
  // Takes from the global queue since the start, written under lock: sysmon tells a queue
  // that others serve from one that nobody takes from (sysmon.cpp).
  std::atomic<std::uint64_t> global_taken{0};

  worker* idle = nullptr;
  std::atomic<int> npidle{0};
  std::atomic<int> nmspinning{0};

  alignas(64) std::atomic<worker*> timer_waiter{nullptr};
  std::atomic<std::int64_t> timer_wait_until{INT64_MAX};

  alignas(64) std::atomic<std::uint64_t> next_id{1};
  std::atomic<std::int64_t> external_created{0};

  // The shared pool of free goroutine records: a stack of batches (a batch is a chain
  // through sched_next; its first record's batch_next and batch_len link and count it), so
  // that moving a batch to or from a worker's cache touches no record under the lock.
  alignas(64) runtime_lock free_gs_lock;
  goroutine* free_gs = nullptr;
  std::atomic<int> n_free_gs{0};  // written under free_gs_lock; peeked without it

  alignas(64) std::mutex resize_mutex;  // serializes set_max_procs

  // go::run callers waiting for a main goroutine that has not finished (wait_main adds,
  // the main goroutine subtracts as it finishes; may dip below 0 briefly).
  std::atomic<int> main_waiting{0};
  std::atomic<int> retired_sleeping{0};  // workers beyond GOMAXPROCS, asleep in retire()
  std::atomic<int> locked_sleeping{0};   // workers waiting for their locked goroutine
  std::atomic<int> ndead{0};             // workers whose thread ended (lock_os_thread)
  worker* spares = nullptr;              // workers without a slot asleep in retire(), under lock
  // Slots that sysmon handed off (metrics::slots_retaken).
  std::atomic<std::uint64_t> slots_retaken{0};
};

extern std::atomic<sched_state*> the_sched;

// initial-exec: the library is position-independent (it may be linked into a shared
// library), which makes every access a general-dynamic one, relaxed in an executable to
// two dependent loads behind a stack adjustment; initial-exec makes it one load (bench
// cb_bounded0_spsc, chan_pingpong). 8 bytes of static TLS.
extern __attribute__((tls_model("initial-exec"))) thread_local worker* tls_worker;

inline sched_state& sched() noexcept { return *the_sched.load(std::memory_order_relaxed); }

// The next schedule tick of w (only its owner writes it; sysmon reads it).
inline std::uint32_t tick(worker* w) noexcept {
  std::uint32_t t = w->sched_tick.load(std::memory_order_relaxed) + 1;
  w->sched_tick.store(t, std::memory_order_relaxed);
  return t;
}

// take_tick takes w's next schedule tick unless it is a 61st: that one is find_runnable's,
// which then looks at the global queue and the timers of workers without a slot first. A
// schedule that bypasses find_runnable (next_direct, yield's fast path) must leave it there:
// taking it and then falling back to find_runnable would move find_runnable's tick past the
// 61st, and a worker whose every 61st tick fell outside it would never look.
inline bool take_tick(worker* w) noexcept {
  std::uint32_t t = w->sched_tick.load(std::memory_order_relaxed) + 1;
  if (t % 61 == 0) return false;
  w->sched_tick.store(t, std::memory_order_relaxed);
  return true;
}

// Whether w holds one of the GOMAXPROCS slots: it may run goroutines and fill its queue.
inline bool holds_slot(worker* w) noexcept {
  return w->slot.load(std::memory_order_relaxed) < sched().nprocs.load(std::memory_order_relaxed);
}

// Bits of a worker's wake_word: woken by wakep to spin (it was taken off the idle list and
// counted in nmspinning for it); poked to recompute its timer deadline (or to look at its
// slot); taken off the idle list because work was sent to its inbox; or taken off it with
// its slot (exit_blocking).
enum : std::uint32_t { wake_spinning = 1, wake_poke = 2, wake_inbox = 4, wake_taken = 8 };

// The tasks of a global run queue batch (task::batch_rest): tasks[0] heads it, and those
// from `first` on are still queued after the head. A worker takes a batch by copying the
// array into its ring, without touching the tasks' records, which are cold by then.
struct task_block {
  std::uint32_t first = 1;
  task_block* next_free = nullptr;
  task* tasks[run_queue::capacity / 2 + 1];
};

// schedule.cpp
task_block* new_block() noexcept;  // from sched's free list (under its lock) or the heap
void free_block_locked(task_block* b) noexcept;
// global_put_block_locked queues b->tasks[0..n) as one batch (n >= 1; b freed if n == 1).
void global_put_block_locked(task_block* b, std::uint32_t n) noexcept;
void global_put_locked(task* t) noexcept;
task* global_pop_locked() noexcept;
task* global_take_batch_locked() noexcept;
task* run_batch(worker* w, task* b) noexcept;
task* global_get(worker* w) noexcept;
void global_put(task* t) noexcept;
void runq_put_tail(worker* w, task* t) noexcept;
void runq_put(worker* w, task* t, bool next) noexcept;
task* new_slice(worker* w, task* t) noexcept;
task* pop_local(worker* w) noexcept;
task* take_inbox(worker* w) noexcept;
bool move_inbox(worker* w) noexcept;

// idle.cpp
void idle_push_locked(worker* w) noexcept;
worker* idle_pop_locked() noexcept;
bool idle_remove_locked(worker* w) noexcept;
void signal_worker(worker* w, std::uint32_t bits) noexcept;
void wakep_slow() noexcept;
void reset_spinning(worker* w) noexcept;
int poll_io(std::int64_t delay_ns) noexcept;
std::int64_t earliest_timer() noexcept;
void run_all_timers(std::int64_t now) noexcept;
void run_retired_timers() noexcept;
void sleep_idle(worker* w) noexcept;
extern std::atomic<std::int64_t> last_poll;

// wakep wakes an idle worker to spin, if there is one and nobody spins already.
// The caller must have published the goroutine with a sequentially consistent operation
// (or a fence) before calling: that orders it before our reads of npidle and nmspinning,
// the other half of the handshake with a worker going idle (find_runnable).
inline void wakep() noexcept {
  if (sched().npidle.load(std::memory_order_seq_cst) == 0) return;
  if (sched().nmspinning.load(std::memory_order_seq_cst) != 0) return;
  wakep_slow();
}

// worker.cpp
bool any_work_anywhere() noexcept;
worker* start_worker(int slot);
void delay_at(delay_point p) noexcept;

// handoff.cpp
bool drain_to_global(worker* w) noexcept;
void give_up_slot(worker* w) noexcept;
void wait_locked(worker* w, goroutine* g) noexcept;
void start_locked(worker* x, goroutine* g) noexcept;

// deadlock.cpp
void check_dead() noexcept;

// task.cpp: runs the stackless goroutine g on w's scheduler stack until it suspends, which
// leaves w->switched_from and w->action set as a switch_to_scheduler would.
void resume_coroutine(worker* w, goroutine* g) noexcept;

// goroutines.cpp
void free_goroutine(worker* w, goroutine* g) noexcept;
// free_closure frees g's closure if it is on the heap (at every goroutine's exit).
inline void free_closure(goroutine* g) noexcept {
  if (g->closure_align) ::operator delete(closure_of(g), std::align_val_t(g->closure_align));
  g->closure_align = 0;
}
void return_records(worker* w) noexcept;

// Elsewhere in the runtime.
int default_max_procs() noexcept;                   // procs.cpp
extern std::atomic<int> runtime_extra_threads;      // traceback.cpp
void install_overflow_handler(worker* w) noexcept;  // stack.cpp
void uninstall_overflow_handler() noexcept;         // stack.cpp
void start_schedtrace() noexcept;                   // metrics.cpp: GODEBUG=schedtrace

}  // namespace go::detail
