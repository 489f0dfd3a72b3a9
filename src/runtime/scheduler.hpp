// The scheduler's internal types, shared with the rest of the runtime. The design and the
// protocols are in scheduler/sched.hpp and the files of that folder (docs/runtime.md).
#pragma once

#include <pthread.h>
#include <time.h>

#include <atomic>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <iosfwd>

#include "go/detail/park.hpp"
#include "go/detail/source_location.hpp"
#include "go/runtime.hpp"
#include "platform/sanitizer.hpp"
#include "runtime/parker.hpp"
#include "runtime/lock.hpp"
#include "runtime/runq.hpp"
#include "runtime/stack.hpp"
#include "runtime/timer.hpp"

namespace go::detail {

// A task is what the run queues hold. They never look inside it: resuming it is the
// scheduler's business (a stack switch for a goroutine; a coroutine resume later).
struct task_block;  // scheduler/sched.hpp

struct task : parker {
  // While the task heads a batch of the global run queue: how many tasks the batch holds,
  // the tasks after this one (in a block, while batch_len > 1), and the next batch.
  // batch_len comes first to fill the parker's tail padding.
  std::uint32_t batch_len = 0;
  union {
    task* sched_next = nullptr;  // free lists and inboxes
    task_block* batch_rest;
  };
  task* batch_next = nullptr;
  using parker::parker;
};

struct worker;
struct bubble;           // bubble.hpp
struct suspended_block;  // profile.hpp
struct label_node;       // labels.hpp
struct waiter;           // waiter.hpp

// The C++ runtime's per-thread exception state (__cxa_eh_globals): caught-exception stack
// and uncaught count. Saved and restored per goroutine on every switch.
struct eh_state {
  void* caught = nullptr;
  unsigned uncaught = 0;
};

// wait_site_words is a goroutine's wait site as three relaxed atomic words: written as the
// goroutine parks, read by dumps and profiles on other threads, which may race with its
// next park. A read never sees a torn word; one that races with a park may pair the file of
// one wait with the line of the next.
struct wait_site_words {
  std::atomic<const char*> file{""}, function{""};
  std::atomic<std::uint64_t> line_column{0};

  void store(const detail::source_location& s) noexcept {
    file.store(s.file_name(), std::memory_order_relaxed);
    function.store(s.function_name(), std::memory_order_relaxed);
    line_column.store(std::uint64_t{s.line()} << 32 | s.column(), std::memory_order_relaxed);
  }
  detail::source_location load() const noexcept {
    std::uint64_t lc = line_column.load(std::memory_order_relaxed);
    return detail::source_location::make(file.load(std::memory_order_relaxed), function.load(std::memory_order_relaxed),
                                         static_cast<unsigned>(lc >> 32), static_cast<unsigned>(lc));
  }
};

// A goroutine (Go's g): 256 bytes outside sanitizer builds (the static_assert below). Not
// cache-line aligned: that takes more memory per record (docs/tuning.md, spawn_join). The size itself counts: a
// million goroutines that start and end miss in memory on every line they touch, and
// spawn_join's time grows with the record even by fields it never touches (docs/tuning.md).
// Spawning writes all four lines; running and exiting touch two (the first, with sp and stk,
// and the last, from eh); parking the last and reason's.
struct goroutine : task {
  goroutine() noexcept : task(parker_kind::goroutine) {}

  // A goroutine with a stack: its saved stack pointer while switched out. A stackless
  // goroutine (kind coroutine, runtime/task.cpp): the address of the coroutine to resume.
  void* sp = nullptr;
  stack stk;  // empty until the goroutine first runs (unless a size was asked for)
  std::uint64_t id = 0;

  const closure_ops* ops = nullptr;
  // Diagnostics: why it is blocked (atomic, accessed relaxed: written by the goroutine or its
  // worker, read by profiles and dumps while it runs).
  std::atomic<wait_reason> reason{wait_reason::none};
  // Whether a profile or dump holds its stack still to read it (unwind.hpp's stack_hold).
  std::atomic<std::uint8_t> stack_hold{0};
  // The alignment of a closure on the heap, whose address is then inline_closure's first
  // word; 0 while the closure is in inline_closure (closure_of).
  std::uint32_t closure_align = 0;
  // go::blocking's call site (a return address), while reason is wait_reason::syscall; here,
  // before inline_closure's alignment, it fills what would be padding.
  std::atomic<void*> syscall_pc{nullptr};
  union {
    alignas(16) unsigned char inline_closure[closure_inline_size];
    // A stackless goroutine has no closure. It waits at one co_await at a time, so the
    // waiter of a channel operation or wait_group wait, or a sleep's timer, lives here, not
    // in the awaiter: its coroutine frames stay smaller (task.cpp).
    struct {
      suspended_block* block_event;  // its profiled wait (profile.hpp)
      alignas(8) unsigned char wait[48];
    } co;
  };

  void* spawn_pc = nullptr;  // in the function that called go::spawn
  std::uint64_t parent_id = 0;
  bubble* bub = nullptr;  // the synctest bubble it belongs to, if any (bubble.hpp)
  // Its profiler labels, with a reference of its own; written only by the goroutine (and by
  // its spawner before it starts), read by the SIGPROF handler on its thread (labels.hpp).
  std::atomic<label_node*> labels{nullptr};

  // The line that every run and exit touches, with sp and stk's.
  eh_state eh;
  int saved_errno = 0;
  std::uint32_t lock_depth = 0;  // lock_os_thread's nesting depth
  // The worker it last ran on; while lock_depth > 0 the one it is wired to (locked_to).
  worker* last_worker = nullptr;

  // Where and since when it is blocked, relaxed atomics as `reason`.
  wait_site_words wait_site;
  std::atomic<std::int64_t> wait_since{0};  // about when it parked (its worker's clock)
  [[no_unique_address]] platform::fiber_state fiber;
};
#if !defined(GOCXX_TSAN) && !defined(GOCXX_ASAN)
static_assert(sizeof(goroutine) == 256, "a goroutine record is four cache lines (see above)");
#endif

// The closure a stackful goroutine runs.
inline void* closure_of(goroutine* g) noexcept {
  return g->closure_align ? *reinterpret_cast<void**>(g->inline_closure) : g->inline_closure;
}

// lock_os_thread: the worker g is wired to, or null. A wired goroutine runs only on that
// worker, so it is the last one it ran on.
inline worker* locked_to(const goroutine* g) noexcept { return g->lock_depth ? g->last_worker : nullptr; }

// A worker thread's CPU-profile timer (cpuprof.cpp): a POSIX timer on the thread's own CPU
// clock that sends SIGPROF to that thread, armed while a CPU profile runs. `valid` is read by
// the SIGPROF handler on the thread; the rest is cpuprof.cpp's, under its timers lock.
struct thread_cpu_timer {
  std::atomic<bool> valid{false};  // armed: the thread is sampled by it, not by setitimer
  bool armed = false;
  bool registered = false;  // in cpuprof.cpp's list of worker threads
  int tid = 0;
  pthread_t thread{};
  timer_t id{};
  worker* prev = nullptr;  // that list
  worker* next = nullptr;
};

// What a goroutine asks its worker to do once it is off its stack.
enum class switch_action : std::uint8_t { none, park, yield, exit };

// The slot of a worker that holds none (a spare, or one whose slot sysmon took).
inline constexpr int no_slot = INT_MAX;

// A worker is an OS thread (Go's M) with the structures of a processor (Go's P): run queue,
// timer heap, pools. It runs goroutines only while it holds one of the GOMAXPROCS slots
// (scheduler/sched.hpp, the glossary).
struct worker {
  int id = 0;  // index in the array of all workers; never changes
  // The slot it holds, in [0, GOMAXPROCS) while it may run goroutines. Written by whoever
  // moves a slot (under sched.lock), read by the owner without it.
  std::atomic<int> slot{no_slot};
  std::atomic<goroutine*> current{nullptr};  // written by the owner; read by thieves and dumps
  void* g0_sp = nullptr;
  run_queue runq;
  timer_heap timers;

  switch_action action = switch_action::none;
  goroutine* switched_from = nullptr;  // the goroutine whose switch_out is not finished
  void (*park_unlock)(void*) = nullptr;
  void* park_arg = nullptr;
  bool park_sole = false;  // park_sole: store parked before the unlock (park.cpp)

  bool spinning = false;
  bool in_idle_list = false;
  worker* idle_next = nullptr;
  worker* spare_next = nullptr;  // on sched.spares, under sched.lock
  bool in_spares = false;
  alignas(64) std::atomic<std::uint32_t> wake_word{0};
  std::atomic<bool> in_netpoll{false};  // blocked in the poller: a signal must interrupt it

  // Bumped by the owner at every schedule; sysmon reads it to find a goroutine that has held
  // its slot for long (sysmon.cpp).
  std::atomic<std::uint32_t> sched_tick{0};
  // Bumped by the owner when a goroutine starts a time slice of its own (not one run from the
  // `next` slot, which inherits it); sysmon sets `preempt` when it has not moved for a slice,
  // and the owner then ends the slice at its next hand-off (Go's preempt flag).
  std::atomic<std::uint32_t> slice_tick{0};
  std::atomic<bool> preempt{false};
  // go::blocking: set while this worker's goroutine is in a blocking call (its thread is then
  // not the scheduler's), and a count of such calls, for sysmon.
  std::atomic<bool> in_syscall{false};
  std::atomic<std::uint32_t> syscall_tick{0};
  goroutine* lockedg = nullptr;              // lock_os_thread: the goroutine wired to this thread
  std::atomic<bool> locked_runnable{false};  // and a worker has handed it over to run
  bool locked_waiting = false;               // asleep in wait_locked, counted in locked_sleeping (sched.lock)
  bool exit_thread = false;                  // that goroutine returned while locked: the thread ends
  std::uint32_t next_streak = 0;             // consecutive runs from the next slot
  std::int64_t slice_start = 0;              // coarse clock when the current time slice began
  // The coarse clock at this worker's last pass through its scheduler loop (at least every
  // 61st switch) or time-slice check: a park stamps it as the wait's start, approximate as
  // Go's waitsince, without a clock read per park (docs/tuning.md, chan_sync).
  std::int64_t clock = 0;
  std::uint64_t rng = 0;

  stack_cache* stacks = nullptr;
  task_block* spare_block = nullptr;  // for this worker's next spill to the global queue
  goroutine* free_gs = nullptr;
  int n_free_gs = 0;
  std::uint64_t next_id = 0, id_limit = 0;
  std::atomic<std::int64_t> created{0}, exited{0};  // num_goroutine: owner writes, anyone reads
  std::atomic<std::uint64_t> parks{0}, steals{0};   // go::runtime_metrics: owner writes, anyone reads

  eh_state* eh_globals = nullptr;  // this thread's __cxa_eh_globals
  int* errno_at = nullptr;         // this thread's errno (saved and restored at a switch without a call)
  void* tsan_fiber = nullptr;
  void* asan_fake_stack = nullptr;
  const void* g0_stack_bottom = nullptr;
  std::size_t g0_stack_size = 0;

  runtime_lock inbox_lock{lock_rank::inbox};  // debug migration: goroutines sent here by other workers
  std::atomic<task*> inbox{nullptr};          // written under inbox_lock

  bubble* bub = nullptr;  // set on a synctest bubble's worker, which runs only its goroutines

  thread_cpu_timer cpu_timer;  // the CPU profile's timer on this thread (cpuprof.cpp)
};

// prepare_park records, for goroutine g about to park on its worker w, why, where and since
// when it waits (dumps, profiles, metrics), and the unlock(arg) that the scheduler runs once
// g can no longer run (park.hpp; park_sole if `sole`). The one copy for both kinds of
// goroutine: park.cpp's park_with and task.cpp's park_coroutine.
inline void prepare_park(worker* w, goroutine* g, wait_reason reason, const detail::source_location& site,
                         void (*unlock)(void*), void* arg, bool sole) noexcept {
  g->reason.store(reason, std::memory_order_relaxed);
  g->wait_site.store(site);
  g->wait_since.store(w->clock, std::memory_order_relaxed);
  w->park_unlock = unlock;
  w->park_arg = arg;
  w->park_sole = sole;
  w->parks.store(w->parks.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

// park_coroutine (task.cpp) is park() for the stackless goroutine running on this thread,
// suspended at the coroutine `handle`: an awaiter's await_suspend returns its result. True:
// parked (the scheduler runs unlock(arg) once the coroutine is suspended, and resumes it once
// woken). False: a wake came first and it goes on at once; a park_sole (`sole`) cannot have
// been woken yet, since its wakers find it only under the lock that unlock releases.
bool park_coroutine(void* handle, wait_reason reason, const detail::source_location& site, void (*unlock)(void*),
                    void* arg, bool sole) noexcept;

// coroutine_waiter is a fresh waiter for the stackless goroutine running on this thread, in
// its record (task.cpp), with `who` set: it stays valid until the goroutine's next co_await
// that waits with it.
waiter* coroutine_waiter() noexcept;

// Never inlined, so a goroutine that migrated reads its new worker, never a cached one.
worker* current_worker() noexcept;
goroutine* current_goroutine() noexcept;

// ready makes t runnable. From a worker it goes to that worker's run queue (next slot if
// `next`); from elsewhere to the global queue. Then an idle worker is woken if needed.
void ready(task* t, bool next) noexcept;

// Switch from the running goroutine g, on its worker w (current_worker()), to the
// scheduler, which performs `action`.
void switch_to_scheduler(worker* w, goroutine* g, switch_action action) noexcept;

// For a thread that runs goroutines outside the worker array (a synctest bubble's):
// init_worker_thread binds w to the calling thread; execute runs g on it until g switches
// out (the scheduler loop's step); fini_worker_thread unbinds it.
void init_worker_thread(worker* w) noexcept;
void execute(worker* w, goroutine* g) noexcept;
void fini_worker_thread(worker* w) noexcept;

std::int64_t nanotime() noexcept;  // steady_clock, in nanoseconds

// nanotime at the clock tick's resolution, cheaper: CLOCK_MONOTONIC_COARSE, the same epoch.
inline std::int64_t coarse_nanotime() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

bool debug_migrating() noexcept;  // GOCXX_DEBUG_MIGRATE: goroutines move at every park

// Every goroutine record that exists (live or pooled), for dumps. Calls f(g) under a lock;
// f must not block or spawn.
void for_each_goroutine(void (*f)(goroutine* g, void* arg), void* arg);

// traceback.cpp: one goroutine in Go's format, and the whole dump.
void print_goroutine(std::ostream& out, goroutine* g, bool running_here);
void dump_all(std::ostream& out);
// panic.cpp: writes the fatal message and the dump to stderr and exits with status 2 (Go's throw).
[[noreturn]] void fatal_with_dump(const char* msg) noexcept;

// The runtime's global state, created on first use and never destroyed (goroutines may
// still run while static destructors do). ensure_started creates it unless it exists; every
// spawn calls it, hence the inlined check.
extern std::atomic<bool> runtime_started;  // the_sched is set and every worker exists
void start_runtime_once() noexcept;
inline void ensure_started() noexcept {
  // `started`, not the_sched: the_sched is published before the workers exist (they need
  // it), and a caller must not see a runtime without workers (worker_count() == 0).
  if (__builtin_expect(runtime_started.load(std::memory_order_acquire), 1)) return;
  start_runtime_once();
}
int worker_count() noexcept;
worker* worker_at(int i) noexcept;

// Timers: a heap per worker. add_timer puts t on the current worker's heap (or a random
// one's from a plain thread) and makes sure some worker will wake for it.
void add_timer(timer* t) noexcept;
bool remove_timer(timer* t) noexcept;  // true if it was pending

// panic.cpp: "fatal error: msg", then the goroutine g (if any), and exit with status 2.
[[noreturn]] void fatal(const char* msg, goroutine* g = nullptr) noexcept;

// sysmon.cpp: the monitor thread, started with the runtime; wake_sysmon makes it look again
// when something starts running while it sleeps.
void start_sysmon() noexcept;
void wake_sysmon() noexcept;
// handoff_slot moves w's slot to a spare worker (started if none is free), with what w's run
// queue and inbox hold; w keeps running its goroutine without a slot. Returns false if w did
// not hold slot s any more.
bool handoff_slot(worker* w, int s) noexcept;
// The workers that may run goroutines now: the ones sleeping idle count less.
bool any_worker_busy() noexcept;
void sysmon_poll_io() noexcept;  // polls the network if nobody did for 10 ms

// Test hooks: a test widens a race window by making the runtime sleep at a named point
// (tests/procs_test.cpp). Each point is on a cold path, where it costs a relaxed load and a
// branch that is never taken outside such a test.
enum class delay_point : std::uint8_t {
  retire_wake,         // retire(): a worker beyond GOMAXPROCS woke, before it looks at nprocs again
  pass_drain,          // drain_to_global(): goroutines taken from a queue, not yet in the global one
  timer_wait_publish,  // sleep_idle(): the timer waiter published its deadline, before it looks again
  timer_wait_recheck,  // sleep_idle(): the timer waiter looked again, before it settles its deadline
};
void set_delay(delay_point p, std::int64_t ns) noexcept;  // 0: no delay

}  // namespace go::detail
