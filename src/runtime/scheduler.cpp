// The scheduler: goroutines multiplexed on worker threads with work stealing.
//
// Glossary. A goroutine (G, `goroutine`) is a task with its own stack. A worker (Go's M and P
// in one: `worker`) is an OS thread with a local run queue, a timer heap, and a scheduler
// stack ("g0": the thread's own stack) that runs this file's loop. GOMAXPROCS workers run
// goroutines; workers beyond it (after set_max_procs lowers it) hand their work to the global
// queue and sleep. There is no separate M and P because a goroutine never blocks its worker
// in a system call that we would have to hand its queue away from: every blocking operation
// of ours parks the goroutine. (A netpoller will add one thread that blocks in epoll, as Go's.)
//
// Switching. A goroutine never switches to another goroutine directly: it switches to its
// worker's g0 (switch_to_scheduler), and g0 finishes what the goroutine asked (park, yield,
// exit) once the goroutine is off its stack, then picks the next one. That is Go's mcall: it
// makes park/wake race-free (park.cpp) and gives one place to save per-goroutine C++ runtime
// state (exception globals, errno) and to tell the sanitizers about the switch.
//
// Run queues (runq.hpp): per worker a 256-slot ring plus a `next` slot, and one global queue
// under sched.lock. ready() from a worker puts a woken goroutine in `next`, so a hand-off
// (channel ping-pong) runs the partner at once on the same worker, cache-hot. A goroutine
// that runs from `next` inherits the time slice: after 64 consecutive such runs the worker
// checks a coarse clock, and once a pair has used 10 ms it goes behind the queue
// (BenchmarkPingPongHog). Every 61st schedule looks at the global queue first, so it is not
// starved by busy local queues. A yielding goroutine goes behind every runnable goroutine:
// to the global queue if that is not empty, else the local tail.
//
// Spinning and parking workers (Go's protocol, proc.go "Worker thread parking/unparking").
// A worker with nothing to run becomes "spinning" and steals (half a victim's ring; the
// victim's `next` slot in the last round) if fewer than half of the busy workers already
// spin. A victim that is running with its `next` slot full is in a hand-off: its goroutine
// is most likely about to block and run `next` there, and its ring holds the goroutines it
// readied just before, the chain's other members. From such a victim a thief takes nothing
// before its last round and a sleep (Go backs off so before taking `next` only): stealing a
// ping-pong partner or a fan-in's forwarders makes every later hand-off cross cores (bench
// chan_pingpong at GOMAXPROCS=2 takes a third of the time with the back-off, fanin_8 three
// quarters).
// Otherwise, or after finding nothing, it puts itself on the idle list and sleeps on
// its futex. When a goroutine becomes runnable, wakep() wakes an idle worker only if there
// is an idle worker and no spinning one; a spinning worker that finds work stops spinning
// and, if it was the last spinner, wakes a successor. No lost wake-up: a worker going idle
// first publishes itself (npidle++, nmspinning--) and then rechecks every run queue, while
// a producer first publishes the goroutine and then reads npidle and nmspinning; with
// sequentially consistent operations on both sides at least one sees the other.
//
// Where runnable goroutines wait, and who finds them. A goroutine that is runnable and not
// running is in one place: a worker's `next` slot or ring, a worker's inbox (debug
// migration), the global queue, or the hands of a worker about to run it. Whatever
// set_max_procs does meanwhile, a worker that is running or has been woken will find it.
// (Go's proc.go keeps this for runqput and procresize with the world stopped; here nprocs
// changes while every worker runs, and set_max_procs only stores it and pokes each worker.)
// - A worker's `next` slot and ring are written only by its own thread (ready, yield,
//   finish_switch, run_batch, a steal into its own ring), so only while it is awake: it runs
//   what they hold or, finding itself beyond GOMAXPROCS, retire() moves it to the global
//   queue before it sleeps. Other threads only take from them. This is why ready() on the
//   only worker (nprocs == 1: worker 0, never beyond GOMAXPROCS) wakes nobody.
// - The global queue is searched by every worker within GOMAXPROCS. Whoever puts a goroutine
//   there calls wakep, and the protocol above keeps one of them awake or waking. A worker
//   that was idle when GOMAXPROCS fell below it stays on the idle list (a poke only makes it
//   check for deadlock and its timer deadline; it may be the timer waiter), so wakep may wake
//   it to spin: it then finds itself beyond GOMAXPROCS and hands that duty on (retire:
//   reset_spinning) before it sleeps.
// - An inbox is the one queue that other threads write. The writer pushes, then reads nprocs:
//   if the target is beyond it, the writer moves the inbox to the global queue itself.
//   Otherwise the target was within GOMAXPROCS at that read, so it will look: it is running
//   or spinning, or idle (the writer takes it off the idle list and wakes it; one joining the
//   list rechecks its inbox after), or asleep in retire() and poked by the raise that covered
//   it. Unless a later set_max_procs puts it beyond first: that one stores nprocs, then pokes
//   every worker, and a worker in retire() clears its wake word, then reads nprocs, then,
//   still beyond, moves its inbox to the global queue before it sleeps on that word, at every
//   wake-up. Each side writes, then reads (sequentially consistent), so the poke makes the
//   target move the push. Moving the inbox only on the way into retire() would strand a
//   goroutine sent while a raise covered the worker for a moment (test
//   Procs.GoroutineSentToAWorkerRetiredAgainBeforeItLookedRuns).
// - The timer heaps of workers beyond GOMAXPROCS are run by the others (run_retired_timers,
//   and idle workers' run_all_timers).
//
// Timers (timer.hpp). Each worker's heap is checked on every schedule. One idle worker,
// the timer waiter, sleeps until the earliest deadline over all heaps; every other idle
// worker sleeps without a timeout. A timer added earlier than the waiter's deadline pokes
// the waiter (or, if there is none, an idle worker, which then becomes the waiter).
//
// Lock order: sched.lock, then a worker's timer heap lock or inbox lock. Channel locks are
// never held while taking sched.lock except through ready(), which takes it only for the
// global queue from a non-worker thread.
//
// Shutdown: there is none. The runtime is created on first use and never destroyed; when
// main returns, exit() ends the process with workers still parked or running, as Go's does.
#include "runtime/scheduler.hpp"
#include "runtime/netpoll.hpp"
#include "runtime/select_cache.hpp"
#include "runtime/bubble.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "platform/context.hpp"
#include "platform/futex.hpp"
#include "platform/sanitizer.hpp"

namespace go::detail {

int default_max_procs() noexcept;  // procs.cpp
extern std::atomic<int> runtime_extra_threads;  // traceback.cpp
void install_overflow_handler(worker* w) noexcept;  // stack.cpp
void uninstall_overflow_handler() noexcept;         // stack.cpp

namespace {

constexpr int max_workers = 1024;  // GOMAXPROCS at most
// Threads at most, whatever set_max_threads says: the size of the array of all workers.
constexpr int max_threads_limit = 1 << 16;
constexpr int free_g_cache = 64;
// How long a spinning worker keeps looking for work before it sleeps (behaviour at the
// time of writing; measured by bench spawn_join and chan_pingpong at GOMAXPROCS=2).
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
  std::atomic<int> max_threads{10000};  // set_max_threads (Go's debug.SetMaxThreads)
  std::atomic<int> nlocked{0};  // goroutines wired to their thread (lock_os_thread)
  std::atomic<worker*> slots[max_workers] = {};  // slot -> the worker holding it
  std::atomic<worker*> workers[max_threads_limit] = {};  // every worker ever started, by id

  alignas(64) runtime_lock lock;  // guards: global queue, idle list
  task* global_head = nullptr;
  task* global_tail = nullptr;
  std::atomic<std::int64_t> global_size{0};

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
};

std::atomic<sched_state*> the_sched{nullptr};
std::atomic<bool> runtime_started{false};  // the_sched is set and every worker exists
std::once_flag start_once;

// initial-exec: the library is position-independent (it may be linked into a shared
// library), which makes every access a general-dynamic one, relaxed in an executable to
// two dependent loads behind a stack adjustment; initial-exec makes it one load (a few
// percent of a hand-off: bench cb_bounded0_spsc, chan_pingpong). 8 bytes of static TLS.
__attribute__((tls_model("initial-exec"))) thread_local worker* tls_worker = nullptr;

sched_state& sched() noexcept { return *the_sched.load(std::memory_order_relaxed); }

// All goroutine records (Go's allgs), in slabs of record_slab: made 256 at a time and never
// freed, only pooled (as Go's g's). A record per malloc cost a lock here at every creation
// and deletion. Slabs are carved from mapped chunks of record_chunk_size: from malloc, a
// slab grew glibc's per-thread arena by an mprotect or two, each holding the process's mmap
// lock for writing, which stalls every other worker's page faults (bench spawn_join at
// GOMAXPROCS=2: 2,500 mprotects per million spawns, now 130 mmaps). Not in huge pages:
// faulting those in (with the kernel's compaction) made spawn_join's time at GOMAXPROCS=1
// vary threefold. A million goroutines alive at once leave 264 MB of records pooled
// afterwards, as in Go. Never destroyed.
constexpr int record_slab = 256;
constexpr std::size_t record_chunk_size = std::size_t{2} << 20;
std::mutex allgs_mutex;  // guards allg_slabs and the chunk being carved
std::vector<goroutine*>& allg_slabs = *new std::vector<goroutine*>;
unsigned char* record_chunk = nullptr;  // the rest of the current chunk
std::size_t record_chunk_left = 0;

// new_record_slab makes record_slab records; returns a list of them linked by sched_next.
goroutine* new_record_slab() {
  constexpr std::size_t bytes = sizeof(goroutine) * record_slab;
  static_assert(bytes <= record_chunk_size);
  goroutine* slab;
  {
    std::lock_guard lk(allgs_mutex);
    if (record_chunk_left < bytes) {
      void* chunk = mmap(nullptr, record_chunk_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (chunk == MAP_FAILED) throw std::bad_alloc();
      record_chunk = static_cast<unsigned char*>(chunk);
      record_chunk_left = record_chunk_size;
    }
    slab = reinterpret_cast<goroutine*>(record_chunk);
    record_chunk += bytes;
    record_chunk_left -= bytes;
  }
  goroutine* list = nullptr;
  for (int i = record_slab - 1; i >= 0; --i) {
    goroutine* g = ::new (static_cast<void*>(slab + i)) goroutine;
    g->state.store(park_dead, std::memory_order_relaxed);
    g->sched_next = list;
    list = g;
  }
  std::lock_guard lk(allgs_mutex);
  allg_slabs.push_back(slab);
  return list;
}

// The next schedule tick of w (only its owner writes it; sysmon reads it).
std::uint32_t tick(worker* w) noexcept {
  std::uint32_t t = w->sched_tick.load(std::memory_order_relaxed) + 1;
  w->sched_tick.store(t, std::memory_order_relaxed);
  return t;
}

// Whether w holds one of the GOMAXPROCS slots: it may run goroutines and fill its queue.
bool holds_slot(worker* w) noexcept {
  return w->slot.load(std::memory_order_relaxed) < sched().nprocs.load(std::memory_order_relaxed);
}

std::uint64_t next_random(std::uint64_t& s) noexcept {
  // xorshift64*
  s ^= s >> 12;
  s ^= s << 25;
  s ^= s >> 27;
  return s * 0x2545F4914F6CDD1Dull;
}

std::int64_t coarse_now() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void runq_put_tail(worker* w, task* t) noexcept;
void start_locked(worker* x, goroutine* g) noexcept;
void wait_locked(worker* w, goroutine* g) noexcept;
void give_up_slot(worker* w) noexcept;
worker* start_worker(int slot);
std::mutex threads_mutex;  // serializes starting workers: their ids and the thread limit

// --- global run queue ---
//
// A FIFO of batches: a full ring spills half of itself as one batch (runq_put_tail), other
// puts are batches of one. A worker takes a whole batch under the lock in O(1) and moves it
// to its ring after unlocking: taking tasks one by one walked cold goroutine records, a
// cache miss each, while holding sched.lock (bench spawn_join at GOMAXPROCS=2: 14% of the
// time, and most of its futex sleeps on the lock).

void global_put_batch_locked(task* first, task* last, int n) noexcept {
  last->sched_next = nullptr;
  first->batch_next = nullptr;
  first->batch_len = static_cast<std::uint32_t>(n);
  if (sched().global_tail) sched().global_tail->batch_next = first;
  else sched().global_head = first;
  sched().global_tail = first;
  sched().global_size.fetch_add(n, std::memory_order_seq_cst);
}

void global_put_locked(task* t) noexcept { global_put_batch_locked(t, t, 1); }

// Takes the first task of the first batch.
task* global_pop_locked() noexcept {
  task* t = sched().global_head;
  if (!t) return nullptr;
  task* rest = t->batch_len > 1 ? t->sched_next : nullptr;
  if (rest) {
    rest->batch_len = t->batch_len - 1;
    rest->batch_next = t->batch_next;
  } else {
    rest = t->batch_next;
  }
  sched().global_head = rest;
  if (sched().global_tail == t) sched().global_tail = rest;
  t->sched_next = nullptr;
  sched().global_size.fetch_sub(1, std::memory_order_relaxed);
  return t;
}

// Takes the first batch: a chain through sched_next of batch_len tasks, or null.
task* global_take_batch_locked() noexcept {
  task* b = sched().global_head;
  if (!b) return nullptr;
  sched().global_head = b->batch_next;
  if (sched().global_tail == b) sched().global_tail = nullptr;
  sched().global_size.fetch_sub(b->batch_len, std::memory_order_relaxed);
  return b;
}

// run_batch returns a taken batch's first task to run and moves the rest to w's ring (lock
// not held: a full ring spills to the global queue).
task* run_batch(worker* w, task* b) noexcept {
  task* t = b->sched_next;
  for (std::uint32_t i = 1; i < b->batch_len; ++i) {
    task* next = t->sched_next;
    runq_put_tail(w, t);
    t = next;
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
  task* batch[run_queue::capacity / 2 + 1];
  std::uint32_t n = w->runq.grab(batch, false);
  batch[n++] = t;
  for (std::uint32_t i = 0; i + 1 < n; ++i) batch[i]->sched_next = batch[i + 1];
  std::lock_guard lk(sched().lock);
  global_put_batch_locked(batch[0], batch[n - 1], static_cast<int>(n));
}

void runq_put(worker* w, task* t, bool next) noexcept {
  if (next) {
    task* old = w->runq.next.exchange(t, std::memory_order_seq_cst);
    if (!old) return;
    t = old;  // the previous `next` goes to the tail
  }
  runq_put_tail(w, t);
}

// --- idle workers ---

// Bits of a worker's wake_word: woken by wakep to spin (it was taken off the idle list and
// counted in nmspinning for it); poked to recompute its timer deadline; or taken off the
// idle list because work was sent to its inbox.
// counted in nmspinning for it); poked to recompute its timer deadline; taken off the idle
// list because work was sent to its inbox; or taken off it with its slot (exit_blocking).
enum : std::uint32_t { wake_spinning = 1, wake_poke = 2, wake_inbox = 4, wake_taken = 8 };

void idle_push_locked(worker* w) noexcept {
  w->idle_next = sched().idle;
  sched().idle = w;
  w->in_idle_list = true;
  sched().npidle.fetch_add(1, std::memory_order_seq_cst);
}

worker* idle_pop_locked() noexcept {
  worker* w = sched().idle;
  if (!w) return nullptr;
  sched().idle = w->idle_next;
  w->idle_next = nullptr;
  w->in_idle_list = false;
  sched().npidle.fetch_sub(1, std::memory_order_seq_cst);
  wake_sysmon();
  return w;
}

bool idle_remove_locked(worker* w) noexcept {
  if (!w->in_idle_list) return false;
  for (worker** p = &sched().idle; *p; p = &(*p)->idle_next) {
    if (*p == w) {
      *p = w->idle_next;
      break;
    }
  }
  w->idle_next = nullptr;
  w->in_idle_list = false;
  sched().npidle.fetch_sub(1, std::memory_order_seq_cst);
  wake_sysmon();
  return true;
}

// --- the netpoller (netpoll.hpp) ---
//
// At most one thread polls at a time (`polling`): a worker that finds nothing to run polls
// without blocking unless someone polls already; the timer waiter blocks in the poller
// instead of its futex while goroutines wait for I/O. A worker blocked there has in_netpoll
// set, and signal_worker interrupts the poll after setting its wake word: each side writes,
// then reads the other's word (sequentially consistent), so the sleeper either sees the bits
// before it polls or is interrupted.

std::atomic<const netpoller*> the_poller{nullptr};
std::atomic<bool> polling{false};

const netpoller* active_poller() noexcept {
  if (netpoll_waiters.load(std::memory_order_relaxed) <= 0) return nullptr;
  return the_poller.load(std::memory_order_acquire);
}

// poll_io runs the poller once if goroutines wait for I/O and nobody polls already; returns
// how many it woke (they are in w's run queue, or the global one).
int poll_io(std::int64_t delay_ns) noexcept {
  const netpoller* p = active_poller();
  if (!p || polling.load(std::memory_order_relaxed) || polling.exchange(true, std::memory_order_acquire)) return 0;
  int n = p->poll(delay_ns);
  polling.store(false, std::memory_order_release);
  return n;
}

void signal_worker(worker* w, std::uint32_t bits) noexcept {
  w->wake_word.fetch_or(bits, std::memory_order_seq_cst);
  platform::futex_wake(&w->wake_word, 1);
  if (w->in_netpoll.load(std::memory_order_seq_cst)) the_poller.load(std::memory_order_acquire)->interrupt();
}

// wakep wakes an idle worker to spin, if there is one and nobody spins already.
// The caller must have published the goroutine with a sequentially consistent operation
// (or a fence) before calling: that orders it before our reads of npidle and nmspinning,
// the other half of the handshake with a worker going idle (find_runnable).
void wakep() noexcept {
  if (sched().npidle.load(std::memory_order_seq_cst) == 0) return;
  if (sched().nmspinning.load(std::memory_order_seq_cst) != 0) return;
  int expected = 0;
  if (!sched().nmspinning.compare_exchange_strong(expected, 1, std::memory_order_seq_cst)) return;
  worker* w;
  {
    std::lock_guard lk(sched().lock);
    w = idle_pop_locked();
  }
  if (!w) {
    sched().nmspinning.fetch_sub(1, std::memory_order_seq_cst);
    return;
  }
  w->spinning = true;
  signal_worker(w, wake_spinning);
}

void reset_spinning(worker* w) noexcept {
  if (!w->spinning) return;
  w->spinning = false;
  if (sched().nmspinning.fetch_sub(1, std::memory_order_seq_cst) == 1) wakep();
}

// --- timers ---

std::int64_t earliest_timer() noexcept {
  std::int64_t t = INT64_MAX;
  int n = sched().nworkers.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) t = std::min(t, sched().workers[i].load(std::memory_order_acquire)->timers.next_when.load());
  return t;
}

void run_all_timers(std::int64_t now) noexcept {
  int n = sched().nworkers.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) {
    worker* v = sched().workers[i].load(std::memory_order_acquire);
    if (v->timers.next_when.load(std::memory_order_relaxed) <= now) v->timers.try_run_expired(now);
  }
}

// run_retired_timers runs the due timers left in the heaps of workers that set_max_procs
// retired: idle workers run every heap's timers, but while the remaining workers stay busy
// nobody else would (test Runtime.LoweringMaxProcsKeepsTimersRunning).
void run_retired_timers() noexcept {
  int n = sched().nworkers.load(std::memory_order_acquire);
  std::int64_t now = -1;
  for (int i = 0; i < n; ++i) {
    worker* v = sched().workers[i].load(std::memory_order_acquire);
    if (holds_slot(v)) continue;
    std::int64_t when = v->timers.next_when.load(std::memory_order_relaxed);
    if (when == INT64_MAX) continue;
    if (now < 0) now = nanotime();
    if (when <= now) v->timers.try_run_expired(now);
  }
}

void release_timer_role(worker* w) noexcept {
  worker* self = w;
  if (!sched().timer_waiter.compare_exchange_strong(self, nullptr)) return;
  sched().timer_wait_until.store(INT64_MAX, std::memory_order_seq_cst);
  if (earliest_timer() == INT64_MAX) return;
  // Timers are pending and we leave: hand the role to an idle worker.
  worker* other;
  {
    std::lock_guard lk(sched().lock);
    other = sched().idle;
  }
  if (other) signal_worker(other, wake_poke);
}

// --- goroutine pool ---
//
// Goroutine records are pooled per worker and in a shared pool (never freed: see
// allg_slabs); their stacks are pooled separately by stack.cpp and taken only when a
// goroutine first runs.

// Takes a batch of records from the shared pool: its first record (the rest follow through
// sched_next, batch_len in all), or null.
goroutine* take_shared_records() noexcept {
  std::lock_guard lk(sched().free_gs_lock);
  goroutine* b = sched().free_gs;
  if (!b) return nullptr;
  sched().free_gs = static_cast<goroutine*>(b->batch_next);
  sched().n_free_gs.fetch_sub(static_cast<int>(b->batch_len), std::memory_order_relaxed);
  return b;
}

// Puts a chain of n records linked by sched_next into the shared pool, as one batch.
void put_shared_records(goroutine* list, int n) noexcept {
  list->batch_len = static_cast<std::uint32_t>(n);
  std::lock_guard lk(sched().free_gs_lock);
  list->batch_next = sched().free_gs;
  sched().free_gs = list;
  sched().n_free_gs.fetch_add(n, std::memory_order_relaxed);
}

goroutine* alloc_goroutine(worker* w) {
  if (w) {
    if (!w->free_gs && sched().n_free_gs.load(std::memory_order_relaxed) > 0) {
      if (goroutine* b = take_shared_records()) {
        w->free_gs = b;
        w->n_free_gs = static_cast<int>(b->batch_len);
      }
    }
    if (!w->free_gs) {
      // A new slab, all for this worker's cache (free_goroutine spills the surplus), in
      // address order: a burst of spawns uses its records one after the other, as it did
      // malloc's, and the goroutines then run in that order.
      w->free_gs = new_record_slab();
      w->n_free_gs = record_slab;
    }
    goroutine* g = w->free_gs;
    w->free_gs = static_cast<goroutine*>(g->sched_next);
    --w->n_free_gs;
    g->sched_next = nullptr;
    return g;
  }
  // No worker: take a batch (or make a slab) and give back all but one.
  goroutine* list = take_shared_records();
  int n = list ? static_cast<int>(list->batch_len) : record_slab;
  if (!list) list = new_record_slab();
  if (n > 1) put_shared_records(static_cast<goroutine*>(list->sched_next), n - 1);
  list->sched_next = nullptr;
  return list;
}

void free_goroutine(worker* w, goroutine* g) noexcept {
  g->state.store(park_dead, std::memory_order_relaxed);
  g->sp = nullptr;
  g->reason = wait_reason::none;
  g->bub = nullptr;
  g->last_worker = nullptr;  // may be a synctest bubble's, freed with its bubble
  if (g->tsan_fiber) {
    platform::tsan_destroy_fiber(g->tsan_fiber);
    g->tsan_fiber = nullptr;
  }
  stack_release(w ? w->stacks : nullptr, g->stk);
  g->stk = {};
  if (!w) {
    g->sched_next = nullptr;
    put_shared_records(g, 1);
    return;
  }
  g->sched_next = w->free_gs;
  w->free_gs = g;
  if (++w->n_free_gs <= free_g_cache) return;
  // Move half to the shared pool.
  goroutine* batch = w->free_gs;
  goroutine* last = batch;
  for (int i = 1; i < free_g_cache / 2; ++i) last = static_cast<goroutine*>(last->sched_next);
  w->free_gs = static_cast<goroutine*>(last->sched_next);
  w->n_free_gs -= free_g_cache / 2;
  last->sched_next = nullptr;
  put_shared_records(batch, free_g_cache / 2);
}

std::uint64_t new_goroutine_id(worker* w) noexcept {
  if (!w) return sched().next_id.fetch_add(1, std::memory_order_relaxed);
  if (w->next_id == w->id_limit) {
    w->next_id = sched().next_id.fetch_add(16, std::memory_order_relaxed);
    w->id_limit = w->next_id + 16;
  }
  return w->next_id++;
}

void finish_switch(worker* w) noexcept;

std::size_t heap_closure_align(std::size_t align) noexcept { return std::max<std::size_t>(align, 16); }

void free_closure(goroutine* g) noexcept {
  if (g->closure != g->inline_closure) ::operator delete(g->closure, std::align_val_t(g->closure_align));
  g->closure = nullptr;
}

extern "C" void goroutine_main(void* arg) {
  auto* g = static_cast<goroutine*>(arg);
  platform::asan_finish_switch(nullptr);
  finish_switch(current_worker());
  select_cache* sel = ::new (static_cast<void*>(select_cache_of(g))) select_cache;
  // No handler: an exception that escapes is a panic, reported at the throw (panic.cpp).
  g->ops->invoke(g->closure);
  g->ops->destroy(g->closure);
  free_closure(g);
  sel->~select_cache();  // withdraws its waiters, drops its channels
  switch_to_scheduler(current_worker(), g, switch_action::exit);
  __builtin_unreachable();
}

// --- switching ---
//
// A goroutine leaves the CPU through switch_out: it saves its C++ runtime state (exception
// globals, errno), records itself in w->switched_from with the action it wants (park, yield,
// exit), and switches either straight to the next goroutine of its worker's local queue or,
// when that is empty (or timers, the global queue or the inbox need attention), to the
// worker's scheduler stack. Whoever resumes next, a goroutine or g0, first calls
// finish_switch, which performs the action now that the old goroutine is off its stack:
// park's unlock and the running -> parked CAS (park.cpp), yield's requeue, exit's free.
// One switch per hand-off instead of two (goroutine -> g0 -> goroutine).

void check_dead() noexcept;

// Makes g the worker's current goroutine: state, first-run stack and context, C++ state.
void prepare(worker* w, goroutine* g) noexcept {
  // Woken (or new): now running. A goroutine resuming from a yield stays as it was: running,
  // or notified by a wake that arrived meanwhile, which its next park must still see.
  // Only a run queue's owner changes a runnable state (a wake of a runnable goroutine is
  // fatal), so a load and a store do; no locked instruction.
  if (g->state.load(std::memory_order_acquire) == park_runnable) g->state.store(park_running, std::memory_order_relaxed);
  g->last_worker = w;
  w->current.store(g, std::memory_order_relaxed);
  if (!g->sp) {
    if (!g->stk.base) {
      g->stk = stack_take(w->stacks);
      if (!g->stk.base) fatal("out of memory for goroutine stacks", g);
    }
    if constexpr (platform::asan) platform::asan_unpoison(g->stk.base, g->stk.size);
    g->sp = platform::make_context(g->stk.top() - sizeof(select_cache), &goroutine_main, g);  // select_cache_of
    if constexpr (platform::tsan) g->tsan_fiber = platform::tsan_create_fiber();
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
      if (g->bub || sched().debug_migrate || !holds_slot(w)) {
        ready(g, false);  // without a slot: to the global queue, for a worker that has one
      } else if (sched().global_size.load(std::memory_order_relaxed) > 0) {
        global_put(g);
      } else {
        runq_put_tail(w, g);
      }
      return nullptr;
    case switch_action::exit:
      if (bubble* b = g->bub) {
        --b->live;
        sched().external_created.fetch_sub(1, std::memory_order_relaxed);
        free_goroutine(nullptr, g);  // a bubble's worker keeps no pools
        return nullptr;
      }
      w->exited.store(w->exited.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      if (g->lock_depth != 0) {
        // Returned while wired to this thread: the thread ends with it (worker_main).
        g->lock_depth = 0;
        g->locked_to = nullptr;
        w->lockedg = nullptr;
        w->exit_thread = true;
        sched().nlocked.fetch_sub(1, std::memory_order_relaxed);
      }
      free_goroutine(w, g);
      return nullptr;
    case switch_action::none:
      break;
  }
  return nullptr;
}

// A goroutine that resumed: finish the switch that brought it here.
void finish_switch(worker* w) noexcept {
  if (goroutine* again = finish_pending(w)) runq_put(w, again, true);
}

// pop_local takes the next goroutine from w's own queue, applying the time slice of the
// `next` slot. Null if the queue is empty.
// new_slice notes that a goroutine starts a time slice of its own (worker::slice_tick).
task* new_slice(worker* w, task* t) noexcept {
  w->slice_tick.store(w->slice_tick.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return t;
}

task* pop_local(worker* w) noexcept {
  for (;;) {
    bool from_next = false;
    task* t = w->runq.pop(&from_next);
    if (!t) return nullptr;
    if (!from_next) {
      w->next_streak = 0;
      return new_slice(w, t);
    }
    // `next` inherits the time slice; a pair handing off to each other gets 10 ms, or less
    // if sysmon saw the slice last 10 ms (hand-offs far apart, BenchmarkPingPongHog).
    if (w->preempt.load(std::memory_order_relaxed)) {
      w->preempt.store(false, std::memory_order_relaxed);
    } else {
      if (++w->next_streak % 64 != 0) return t;
      std::int64_t now = coarse_now();
      w->clock = now;
      if (w->next_streak == 64) w->slice_start = now;
      if (now - w->slice_start < 10'000'000) return t;
    }
    w->next_streak = 0;
    new_slice(w, nullptr);
    runq_put_tail(w, t);
    bool ignored;
    if (task* head = w->runq.pop(&ignored)) return head;
    // thieves took everything, t included: look again
  }
}

// The goroutine a switching goroutine may hand the CPU to directly, or null when the
// scheduler loop must run (it checks timers, the global queue, the inbox, and sleeps).
goroutine* next_direct(worker* w) noexcept {
  if (sched().debug_migrate || w->bub) return nullptr;
  if (w->timers.next_when.load(std::memory_order_relaxed) != INT64_MAX) return nullptr;
  if (w->inbox.load(std::memory_order_relaxed)) return nullptr;
  if (tick(w) % 61 == 0) return nullptr;
  if (!holds_slot(w) || w->lockedg || sched().nlocked.load(std::memory_order_relaxed) != 0) return nullptr;
  return static_cast<goroutine*>(pop_local(w));
}

}  // namespace

void execute(worker* w, goroutine* g) noexcept {
  if (g->locked_to && g->locked_to != w) {
    start_locked(w, g);  // it runs only on its own thread
    return;
  }
  for (;;) {
    prepare(w, g);
    // Debug migration: goroutines waiting in our inbox while we run g (maybe for a long
    // time) may be taken by a spinning worker; make sure one looks.
    if (w->inbox.load(std::memory_order_relaxed)) wakep();
    platform::tsan_switch_to(g->tsan_fiber);
    platform::asan_start_switch(&w->asan_fake_stack, g->stk.base, g->stk.size);
    platform::switch_context(&w->g0_sp, g->sp);
    platform::asan_finish_switch(w->asan_fake_stack);
    std::memset(static_cast<void*>(w->eh_globals), 0, sizeof(eh_state));
    w->current.store(nullptr, std::memory_order_relaxed);
    goroutine* again = finish_pending(w);
    if (!again) return;
    g = again;
  }
}

namespace {

task* take_inbox(worker* w) noexcept {
  if (!w->inbox.load(std::memory_order_relaxed)) return nullptr;  // a peek; the lock decides
  std::lock_guard lk(w->inbox_lock);
  task* t = w->inbox.load(std::memory_order_relaxed);
  if (t) w->inbox.store(t->sched_next, std::memory_order_relaxed);
  return t;
}

// Victims are all workers, not only those holding a slot: one whose slot sysmon took keeps
// running its goroutine, which may still ready goroutines into its ring.
task* steal_work(worker* w) noexcept {
  int n = sched().nworkers.load(std::memory_order_acquire);
  std::int64_t now = -1;
  for (int round = 0; round < 4; ++round) {
    bool last = round == 3;
    int start = static_cast<int>(next_random(w->rng) % static_cast<std::uint64_t>(n));
    for (int k = 0; k < n; ++k) {
      worker* v = sched().workers[(start + k) % n].load(std::memory_order_acquire);
      if (!v || v == w) continue;
      if (last && v->timers.next_when.load(std::memory_order_relaxed) != INT64_MAX) {
        if (now < 0) now = nanotime();
        if (v->timers.next_when.load(std::memory_order_relaxed) <= now && v->timers.try_run_expired(now)) {
          bool from_next;
          if (task* t = w->runq.pop(&from_next)) return t;
        }
      }
      if (v->runq.next.load(std::memory_order_relaxed) && v->current.load(std::memory_order_relaxed)) {
        // The owner is running the goroutine that readied its `next` (a hand-off), which
        // will most likely block soon and run it there, cache-hot: stealing it would split
        // the pair across workers for good. Go's stealer backs off (usleep(3)) before it
        // takes `next`. We back off before taking anything from such a worker: the ring
        // behind `next` holds the chain's other members, readied microseconds ago by the
        // goroutine that is running (a fan-in's receiver readies every forwarder it takes a
        // value from); a thief that takes them at once makes every hand-off of the chain
        // cross cores (bench fanin_8 at GOMAXPROCS=2: 372 -> 287 ns; pool_4x1m 0.76x; the
        // price: chan_popular, whose readied goroutines share nothing, 1.08-1.13x).
        // The sleep asks for 3 us, as Go's; the kernel's timer slack makes it 40-95 us here
        // (median 90), and that is what works: the thief leaves the victim's lines alone
        // while the chain runs. A precise 3 us spin instead made fanin_8 2x and pool_4x1m
        // 2.5x slower, a 20 us one fanin_8 1.4x (interleaved, medians of 5).
        if (!last) continue;
        timespec ts{0, 3000};
        nanosleep(&ts, nullptr);
      }
      if (last && v->inbox.load(std::memory_order_relaxed) && v->current.load(std::memory_order_relaxed)) {
        // Debug migration: the owner is busy (maybe with a goroutine that never yields);
        // take what was sent to it rather than strand it. The goroutine may then run on the
        // worker it came from: progress over the debug guarantee.
        if (task* t = take_inbox(v)) return t;
      }
      std::uint32_t tail = w->runq.tail.load(std::memory_order_relaxed);
      task* batch[run_queue::capacity / 2];
      std::uint32_t got = v->runq.grab(batch, last);
      if (got == 0) continue;
      task* t = batch[got - 1];
      for (std::uint32_t i = 0; i + 1 < got; ++i) w->runq.slots[(tail + i) % run_queue::capacity].store(batch[i], std::memory_order_relaxed);
      if (got > 1) w->runq.tail.store(tail + got - 1, std::memory_order_seq_cst);
      return t;
    }
  }
  return nullptr;
}

bool any_work_anywhere() noexcept {
  if (sched().global_size.load(std::memory_order_seq_cst) > 0) return true;
  int n = sched().nworkers.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) {
    worker* v = sched().workers[i].load(std::memory_order_acquire);
    if (v && !v->runq.empty()) return true;
    if (v && v->inbox.load(std::memory_order_seq_cst) && v->current.load(std::memory_order_relaxed)) return true;
  }
  return false;
}

// Test hooks (scheduler.hpp, set_delay): the delay at each point, in nanoseconds.
std::atomic<std::int64_t> delays[static_cast<int>(delay_point::retire_wake) + 1];

void delay_at(delay_point p) noexcept {
  std::int64_t ns = delays[static_cast<int>(p)].load(std::memory_order_relaxed);
  if (__builtin_expect(ns == 0, 1)) return;
  timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  nanosleep(&ts, nullptr);
}

// move_inbox moves everything in w's inbox to the global queue, in one batch; returns
// whether there was anything. It takes the inbox lock without peeking first: retire()'s
// argument (top of this file) orders the lock's acquisition after the writer's push.
bool move_inbox(worker* w) noexcept {
  task* first;
  {
    std::lock_guard lk(w->inbox_lock);
    first = w->inbox.load(std::memory_order_relaxed);
    if (!first) return false;
    w->inbox.store(nullptr, std::memory_order_relaxed);
  }
  task* last = first;
  int n = 1;
  for (; last->sched_next; last = last->sched_next) ++n;
  std::lock_guard lk(sched().lock);
  global_put_batch_locked(first, last, n);
  return true;
}

// retire puts w, which is beyond GOMAXPROCS, to sleep until set_max_procs covers it again.
// What its queues hold goes to the global queue on the way in, and its inbox again at every
// wake-up that leaves it beyond (see "Where runnable goroutines wait" at the top).
void retire(worker* w) noexcept {
  reset_spinning(w);
  bool moved = move_inbox(w);
  bool from_next;
  while (task* t = w->runq.pop(&from_next)) {
    global_put(t);
    moved = true;
  }
  if (moved) wakep();
  if (w->slot.load(std::memory_order_relaxed) == no_slot) {
    // A spare: handoff_slot may give it a slot.
    std::lock_guard lk(sched().lock);
    if (w->slot.load(std::memory_order_relaxed) == no_slot && !w->in_spares) {
      w->spare_next = sched().spares;
      sched().spares = w;
      w->in_spares = true;
    }
  }
  // Counted only now: check_dead does not look in the run queues of retired workers.
  sched().retired_sleeping.fetch_add(1);
  for (;;) {
    // An exchange, not a store: a store could take effect after the read of nprocs below
    // and wipe out the poke of a set_max_procs that came between them.
    w->wake_word.exchange(0, std::memory_order_seq_cst);
    if (w->slot.load(std::memory_order_seq_cst) < sched().nprocs.load(std::memory_order_seq_cst)) break;
    if (move_inbox(w)) wakep();
    check_dead();  // the last worker to fall asleep may be this one
    platform::futex_wait(&w->wake_word, 0);
    delay_at(delay_point::retire_wake);
  }
  sched().retired_sleeping.fetch_sub(1);
  wake_sysmon();
}

// sleep_idle blocks an idle worker (already on the idle list, not spinning) until it is
// woken to spin or its timer deadline passes. Returns with the worker off the idle list.
void sleep_idle(worker* w) noexcept {
  for (;;) {
    std::uint32_t bits = w->wake_word.exchange(0, std::memory_order_acquire);
    if (bits & (wake_spinning | wake_inbox | wake_taken)) break;  // taken off the idle list by the waker
    if (bits & wake_poke) check_dead();
    worker* none = nullptr;
    bool waiter = sched().timer_waiter.load() == w || sched().timer_waiter.compare_exchange_strong(none, w);
    std::int64_t deadline = INT64_MAX;
    std::int64_t wake_at = INT64_MAX;  // also wakes to trim the stack pool (stack_trim_due)
    if (waiter) {
      sched().timer_wait_until.store(earliest_timer(), std::memory_order_seq_cst);
      deadline = earliest_timer();  // recheck after publishing (add_timer reads it after pushing)
      sched().timer_wait_until.store(deadline, std::memory_order_seq_cst);
      wake_at = std::min(deadline, stack_trim_due());
    }
    std::int64_t now = wake_at == INT64_MAX ? 0 : nanotime();
    if (deadline > now) {
      if (wake_at <= now) {
        stack_trim([] { return any_work_anywhere(); });
        continue;
      }
      std::int64_t timeout = wake_at == INT64_MAX ? -1 : wake_at - now;
      if (waiter && active_poller()) {
        // Block in the poller instead (see "the netpoller" above).
        if (polling.exchange(true, std::memory_order_acquire)) {
          sched_yield();  // a worker polls without blocking, for a moment
          continue;
        }
        w->in_netpoll.store(true, std::memory_order_seq_cst);
        int woken = 0;
        if (w->wake_word.load(std::memory_order_seq_cst) == 0) woken = the_poller.load()->poll(timeout);
        w->in_netpoll.store(false, std::memory_order_relaxed);
        polling.store(false, std::memory_order_release);
        if (woken > 0) {
          bool removed;
          {
            std::lock_guard lk(sched().lock);
            removed = idle_remove_locked(w);
          }
          if (removed) break;  // run what it woke; else wakep took us: its signal is coming
        }
        continue;
      }
      platform::futex_wait(&w->wake_word, 0, std::chrono::nanoseconds(timeout));
      if (w->wake_word.load(std::memory_order_acquire) != 0) continue;
      if (deadline == INT64_MAX || nanotime() < deadline) continue;  // spurious, or time to trim
    }
    // A timer is due: leave the idle list and go run it.
    bool removed;
    {
      std::lock_guard lk(sched().lock);
      removed = idle_remove_locked(w);
    }
    if (removed) break;
    // wakep popped us concurrently: its signal is on the way.
  }
  release_timer_role(w);
}

int process_threads() noexcept {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  int n = -1;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "Threads:", 8) == 0) n = std::atoi(line + 8);
  }
  std::fclose(f);
  return n;
}

// check_dead is Go's checkdead: called by a worker about to sleep. It reports a deadlock only
// when it is certain: go::run's thread is waiting for main, every worker is idle, no timer is
// pending, nothing is runnable, and no thread exists besides the workers, go::run's thread and
// the runtime's own: then nothing can ever wake a goroutine. Any other thread could still call
// into the runtime (send on a channel, close it), so its mere existence disables the check.
//
// The thread count is read last, and everything else is read again after it: a plain thread
// may make a goroutine runnable (and wake a worker, taking it off the idle list) after the
// first look and exit before the count. Its work and its wakep then happened before its exit,
// which the count saw, so the second look sees them.
bool nothing_can_run(int workers) noexcept {
  if (sched().main_waiting.load() <= 0) return false;
  if (netpoll_waiters.load() > 0) return false;  // a peer may still write
  if (sched().npidle.load() + sched().retired_sleeping.load() + sched().locked_sleeping.load() +
          sched().ndead.load() != workers) {
    return false;  // a worker runs a goroutine, maybe in a blocking call
  }
  if (earliest_timer() != INT64_MAX || any_work_anywhere()) return false;
  for (int i = 0; i < workers; ++i) {
    if (worker_at(i)->inbox.load()) return false;
  }
  return true;
}

void check_dead() noexcept {
  int workers = sched().nworkers.load();
  if (!nothing_can_run(workers)) return;
  int expected = workers - sched().ndead.load() + sched().main_waiting.load() +
                 runtime_extra_threads.load();  // + go::run's threads
  if (process_threads() != expected) return;
  if (!nothing_can_run(workers)) return;
  fatal_with_dump("all goroutines are asleep - deadlock!");
}

task* find_runnable(worker* w) noexcept {
  for (;;) {
    if (!holds_slot(w)) {
      retire(w);
      continue;
    }
    if (w->timers.next_when.load(std::memory_order_relaxed) != INT64_MAX) {
      std::int64_t now = nanotime();
      w->clock = now;  // the same clock's epoch, read here anyway (worker::clock)
      if (w->timers.next_when.load(std::memory_order_relaxed) <= now) w->timers.run_expired(now);
    } else {
      w->clock = coarse_now();
    }
    std::uint32_t t61 = tick(w);
    if (task* t = take_inbox(w)) return new_slice(w, t);
    if (t61 % 61 == 0) {
      run_retired_timers();
      if (sched().global_size.load(std::memory_order_relaxed) > 0) {
        std::lock_guard lk(sched().lock);
        if (task* t = global_pop_locked()) return new_slice(w, t);
      }
    }
    if (task* t = pop_local(w)) return t;
    if (task* t = global_get(w)) return new_slice(w, t);
    if (poll_io(0) > 0) continue;  // what it woke is in our queue (or the global one)
    // Steal, unless enough workers are spinning already.
    int busy = sched().nprocs.load(std::memory_order_relaxed) - sched().npidle.load(std::memory_order_relaxed);
    if (w->spinning || 2 * sched().nmspinning.load(std::memory_order_relaxed) < busy) {
      if (!w->spinning) {
        w->spinning = true;
        sched().nmspinning.fetch_add(1, std::memory_order_seq_cst);
      }
      // A short bounded spin before sleeping: work often appears within microseconds
      // (a producer's next item), and a futex sleep and wake cost both sides a syscall.
      std::int64_t spin_until = nanotime() + spin_window_ns;
      do {
        if (task* t = steal_work(w)) return new_slice(w, t);
        if (sched().global_size.load(std::memory_order_relaxed) > 0) break;
        if (w->inbox.load(std::memory_order_relaxed)) break;
      } while (nanotime() < spin_until);
      if (sched().global_size.load(std::memory_order_relaxed) > 0 || w->inbox.load(std::memory_order_relaxed)) continue;
    }
    // Nothing: go idle (see the protocol at the top of this file). Stop spinning first:
    // once on the idle list, wakep may take this worker and set `spinning` for it.
    if (w->spinning) {
      w->spinning = false;
      sched().nmspinning.fetch_sub(1, std::memory_order_seq_cst);
    }
    task* batch;
    {
      std::lock_guard lk(sched().lock);
      batch = global_take_batch_locked();
      if (!batch) idle_push_locked(w);
    }
    if (batch) return new_slice(w, run_batch(w, batch));
    bool inbox_nonempty;
    {
      std::lock_guard lk(w->inbox_lock);
      inbox_nonempty = w->inbox.load(std::memory_order_relaxed) != nullptr;
    }
    if (inbox_nonempty || any_work_anywhere()) {
      bool removed;
      {
        std::lock_guard lk(sched().lock);
        removed = idle_remove_locked(w);
      }
      if (removed) {
        w->spinning = true;
        sched().nmspinning.fetch_add(1, std::memory_order_seq_cst);
        continue;
      }
    }
    check_dead();
    // Idle: give surplus pooled stacks back to the kernel (Go's scavenger), off the
    // critical path of the goroutines that freed them.
    stack_trim([] { return any_work_anywhere(); });
    sleep_idle(w);
    if (!w->spinning) run_all_timers(nanotime());
  }
}


// --- moving slots between workers ---
//
// A slot moves only under sched.lock, from a worker to one without a slot: to a spare (or a
// new worker) when its holder is blocked, busy, or waits for its locked goroutine
// (handoff_slot); from an idle worker to one returning from a blocking call (exit_blocking);
// from a worker to the thread of a locked goroutine it found runnable (start_locked). Its
// new holder runs what the old one queued: the old holder's ring is moved to the global
// queue, and a worker that lost its slot sends what it readies there (ready) and gives up
// its thread to the spares at its next schedule (retire).

// Moves everything in w's ring and `next` slot to the global queue, taking as a thief does
// (w's thread may be pushing meanwhile). Returns whether anything moved.
bool drain_to_global(worker* w) noexcept {
  bool moved = false;
  task* batch[run_queue::capacity / 2];
  for (;;) {
    std::uint32_t n = w->runq.grab(batch, true);
    if (n == 0) return moved;
    for (std::uint32_t i = 0; i + 1 < n; ++i) batch[i]->sched_next = batch[i + 1];
    std::lock_guard lk(sched().lock);
    global_put_batch_locked(batch[0], batch[n - 1], static_cast<int>(n));
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
    // Counted asleep under the lock, and counted awake again by start_locked under it: a
    // worker that hands g over and then sleeps must not see everyone asleep (check_dead).
    std::lock_guard lk(sched().lock);
    if (!w->locked_runnable.load(std::memory_order_relaxed)) {
      give = w->slot.load(std::memory_order_relaxed);
      if (give != no_slot) spare = pass_slot_locked(w, give);
      w->locked_waiting = true;
      sched().locked_sleeping.fetch_add(1);
    }
  }
  if (give != no_slot) finish_pass(w, give, spare);
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
  worker* owner = g->locked_to;
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

// --- sysmon ---
//
// One thread watches the workers holding slots (Go's sysmon and retake, proc.go). A slot
// goes to a spare worker when its holder has been
// - inside one go::blocking call since sysmon's previous look (at least 20 us), unless
//   nothing waits for the slot and other workers are idle or spinning (then after 10 ms);
// - running one goroutine for 10 ms (Go's forcePreemptNS) while something waits for the slot:
//   a goroutine in its queue, a timer in its heap, or goroutines in the global queue. C++
//   code cannot be preempted safely, so that goroutine keeps its thread but not its slot:
//   this is our form of Go's preemption.
// It sleeps 20 us between looks, doubling up to 10 ms after 1 ms without a hand-off, and
// sleeps until woken while every worker sleeps (no wake-ups in an idle program). It also
// polls the network when nobody did for 10 ms, and moves what a worker without a slot
// queued to the global queue (a goroutine it readied at GOMAXPROCS=1, where ready() wakes
// nobody).

constexpr std::int64_t sysmon_min_delay_ns = 20'000;
constexpr std::int64_t sysmon_max_delay_ns = 10'000'000;
constexpr std::int64_t force_handoff_ns = 10'000'000;

std::atomic<std::uint32_t> sysmon_sleeping{0};  // futex word: 1 while sysmon sleeps for good
std::atomic<std::int64_t> last_poll{0};

// What sysmon saw of the holder of a slot at its last look.
struct slot_view {
  worker* holder = nullptr;
  std::uint32_t sched_tick = 0, syscall_tick = 0, slice_tick = 0;
  std::int64_t since = 0, syscall_since = 0, slice_since = 0;
};

bool retake(slot_view* views, std::int64_t now) noexcept {
  bool took = false;
  int n = sched().nprocs.load(std::memory_order_relaxed);
  for (int s = 0; s < n; ++s) {
    worker* v = sched().slots[s].load(std::memory_order_acquire);
    if (!v || v->slot.load(std::memory_order_relaxed) != s) continue;
    slot_view& e = views[s];
    std::uint32_t t = v->sched_tick.load(std::memory_order_relaxed);
    std::uint32_t st = v->syscall_tick.load(std::memory_order_relaxed);
    std::uint32_t sl = v->slice_tick.load(std::memory_order_relaxed);
    bool new_holder = e.holder != v;
    if (new_holder || e.sched_tick != t) {
      e.holder = v;
      e.sched_tick = t;
      e.since = now;
    }
    if (new_holder || e.slice_tick != sl) {
      e.slice_tick = sl;
      e.slice_since = now;
    } else if (now - e.slice_since >= force_handoff_ns && v->current.load(std::memory_order_relaxed) &&
               !v->preempt.load(std::memory_order_relaxed)) {
      v->preempt.store(true, std::memory_order_relaxed);  // a chain of hand-offs: end its slice
      e.slice_since = now;
      took = true;
    }
    if (v->in_syscall.load(std::memory_order_acquire)) {
      if (e.syscall_tick != st) {  // a new call since the last look
        e.syscall_tick = st;
        e.syscall_since = now;
        continue;
      }
      bool waited_for = !v->runq.empty() || v->inbox.load(std::memory_order_relaxed) ||
                        sched().npidle.load() + sched().nmspinning.load() == 0;
      if (!waited_for && now - e.syscall_since < force_handoff_ns) continue;
    } else {
      e.syscall_tick = st;
      if (!v->current.load(std::memory_order_relaxed) || now - e.since < force_handoff_ns) continue;
      bool waited_for = !v->runq.empty() || v->inbox.load(std::memory_order_relaxed) ||
                        v->timers.next_when.load(std::memory_order_relaxed) != INT64_MAX ||
                        (sched().global_size.load() > 0 && sched().npidle.load() == 0);
      if (!waited_for) continue;
    }
    if (handoff_slot(v, s)) {
      took = true;
      e.holder = nullptr;
    }
  }
  // Workers without a slot that still run a goroutine: what they queued goes where a worker
  // with a slot finds it.
  int nw = sched().nworkers.load(std::memory_order_acquire);
  for (int i = 0; i < nw; ++i) {
    worker* v = sched().workers[i].load(std::memory_order_acquire);
    if (holds_slot(v) || !v->current.load(std::memory_order_relaxed) || v->runq.empty()) continue;
    if (drain_to_global(v)) wakep();
  }
  return took;
}

void* sysmon_main(void*) {
  auto* views = new slot_view[max_workers];
  std::int64_t delay = sysmon_min_delay_ns;
  int idle_looks = 0;
  for (;;) {
    if (idle_looks == 0) delay = sysmon_min_delay_ns;
    else if (idle_looks > 50) delay = std::min(delay * 2, sysmon_max_delay_ns);
    timespec ts{0, static_cast<long>(delay)};
    nanosleep(&ts, nullptr);
    if (!any_worker_busy()) {
      // Every worker sleeps: so does sysmon, until one wakes (wake_sysmon). Each side writes
      // its word, then reads the other's.
      sysmon_sleeping.store(1, std::memory_order_seq_cst);
      if (!any_worker_busy()) platform::futex_wait(&sysmon_sleeping, 1);
      sysmon_sleeping.store(0, std::memory_order_relaxed);
      idle_looks = 0;
      continue;
    }
    std::int64_t now = nanotime();
    if (now - last_poll.load(std::memory_order_relaxed) > force_handoff_ns) sysmon_poll_io();
    idle_looks = retake(views, now) ? 0 : idle_looks + 1;
  }
  return nullptr;
}

void* worker_main(void* arg) {
  auto* w = static_cast<worker*>(arg);
  init_worker_thread(w);
  for (;;) {
    if (goroutine* g = w->lockedg) {
      // Its goroutine is wired to this thread and parked or queued: nothing else runs here.
      wait_locked(w, g);
      execute(w, g);
    } else {
      task* t = find_runnable(w);
      reset_spinning(w);
      execute(w, static_cast<goroutine*>(t));
    }
    if (w->exit_thread) break;
  }
  // A goroutine returned while wired to this thread: the thread ends with it (Go's rule).
  give_up_slot(w);
  sched().ndead.fetch_add(1);
  fini_worker_thread(w);
  return nullptr;
}

worker* start_worker(int slot) {
  std::lock_guard start_lk(threads_mutex);
  int id = sched().nworkers.load(std::memory_order_relaxed);
  int limit = sched().max_threads.load(std::memory_order_relaxed);
  if (id - sched().ndead.load() >= limit || id >= max_threads_limit) {
    std::fprintf(stderr, "runtime: program exceeds %d-thread limit\n", std::min(limit, max_threads_limit));
    fatal("thread exhaustion");
  }
  auto* w = new worker;
  w->id = id;
  w->slot.store(slot, std::memory_order_relaxed);
  w->rng = 0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(id + 1);
  w->stacks = stack_cache_new();
  sched().workers[id].store(w, std::memory_order_release);
  sched().nworkers.store(id + 1, std::memory_order_release);
  if (slot != no_slot) sched().slots[slot].store(w, std::memory_order_release);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 1 << 20);
  pthread_t th;
  int rc = pthread_create(&th, &attr, &worker_main, w);  // inherits the caller's signal mask
  pthread_attr_destroy(&attr);
  if (rc != 0) fatal("gocxx: cannot start a worker thread");
  return w;
}

void start_runtime() {
  auto* s = new sched_state;
  if (const char* e = std::getenv("GOCXX_DEBUG_MIGRATE")) s->debug_migrate = e[0] && e[0] != '0';
  if (const char* e = std::getenv("GOCXX_STACK_SIZE")) {
    long v = std::atol(e);
    if (v >= 16 * 1024) s->default_stack.store(static_cast<std::size_t>(v));
  }
  the_sched.store(s, std::memory_order_release);
  int n = std::clamp(default_max_procs(), 1, max_workers);
  sched().nprocs.store(n);
  std::lock_guard lk(sched().resize_mutex);
  for (int i = 0; i < n; ++i) start_worker(i);
  start_sysmon();
  runtime_started.store(true, std::memory_order_release);
}

}  // namespace

// --- internal interface ---

std::atomic<int> netpoll_waiters{0};

bool handoff_slot(worker* w, int s) noexcept {
  worker* spare;
  {
    std::lock_guard lk(sched().lock);
    if (w->slot.load(std::memory_order_relaxed) != s) return false;
    spare = pass_slot_locked(w, s);
  }
  finish_pass(w, s, spare);
  return true;
}

bool any_worker_busy() noexcept {
  int asleep = sched().npidle.load() + sched().retired_sleeping.load() + sched().locked_sleeping.load() +
               sched().ndead.load();
  return sched().nworkers.load() > asleep;
}

void wake_sysmon() noexcept {
  if (sysmon_sleeping.load(std::memory_order_seq_cst) == 0) return;
  sysmon_sleeping.store(0, std::memory_order_seq_cst);
  platform::futex_wake(&sysmon_sleeping, 1);
}

void start_sysmon() noexcept {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 << 10);
  pthread_t th;
  if (pthread_create(&th, &attr, &sysmon_main, nullptr) != 0) fatal("gocxx: cannot start the monitor thread");
  pthread_attr_destroy(&attr);
  runtime_extra_threads.fetch_add(1);
}

void sysmon_poll_io() noexcept {
  if (poll_io(0) > 0) wakep();
}

void netpoll_register(const netpoller* p) noexcept { the_poller.store(p, std::memory_order_release); }

// go::blocking (runtime.hpp) is Go's entersyscall/exitsyscall. Entering costs plain stores:
// the goroutine's worker says it is in a call and stops being the thread's worker, so that
// whatever f does runs as from a plain thread. Sysmon may then give the worker's slot to a
// spare. Leaving, the worker takes itself back; if its slot is gone it takes an idle
// worker's, else the goroutine waits in the global queue and this thread becomes a spare.
void* enter_blocking() noexcept {
  worker* w = tls_worker;
  if (!w || w->bub) return nullptr;
  goroutine* g = w->current.load(std::memory_order_relaxed);
  if (!g) return nullptr;
  g->syscall_pc = __builtin_return_address(0);
  g->wait_since = w->clock;
  g->reason = wait_reason::syscall;
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
  g->reason = wait_reason::none;
  // Sequentially consistent store and load: sysmon reads in_syscall, then takes the slot;
  // if it read true after all, we may run on without a slot for a while, as a goroutine
  // whose slot it took for being busy does.
  w->in_syscall.store(false, std::memory_order_seq_cst);
  if (w->slot.load(std::memory_order_seq_cst) < sched().nprocs.load(std::memory_order_relaxed)) return;
  worker* idle = nullptr;
  {
    std::lock_guard lk(sched().lock);
    idle = sched().idle;
    if (idle && idle->slot.load(std::memory_order_relaxed) < sched().nprocs.load(std::memory_order_relaxed)) {
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

void init_worker_thread(worker* w) noexcept {
  tls_worker = w;
  w->eh_globals = reinterpret_cast<eh_state*>(abi::__cxa_get_globals());
  w->errno_at = &errno;
  w->tsan_fiber = platform::tsan_current_fiber();
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* addr;
    std::size_t size;
    pthread_attr_getstack(&attr, &addr, &size);
    w->g0_stack_bottom = addr;
    w->g0_stack_size = size;
    pthread_attr_destroy(&attr);
  }
  install_overflow_handler(w);
}

void fini_worker_thread(worker* w) noexcept {
  if (tls_worker != w) return;
  uninstall_overflow_handler();
  tls_worker = nullptr;
}

__attribute__((noinline)) worker* current_worker() noexcept { return tls_worker; }

__attribute__((noinline)) goroutine* current_goroutine() noexcept {
  worker* w = tls_worker;
  return w ? w->current.load(std::memory_order_relaxed) : nullptr;
}

void ensure_started() noexcept {
  // `started`, not the_sched: the_sched is published before the workers exist (they need
  // it), and a caller must not see a runtime without workers (worker_count() == 0).
  if (__builtin_expect(runtime_started.load(std::memory_order_acquire), 1)) return;
  std::call_once(start_once, start_runtime);
}

int worker_count() noexcept { return sched().nworkers.load(std::memory_order_acquire); }
worker* worker_at(int i) noexcept { return sched().workers[i].load(std::memory_order_acquire); }

std::int64_t coarse_nanotime() noexcept { return coarse_now(); }
bool debug_migrating() noexcept { return sched().debug_migrate; }

void set_delay(delay_point p, std::int64_t ns) noexcept {
  delays[static_cast<int>(p)].store(ns, std::memory_order_relaxed);
}

void for_each_goroutine(void (*f)(goroutine* g, void* arg), void* arg) {
  std::lock_guard lk(allgs_mutex);
  for (goroutine* slab : allg_slabs) {
    for (int i = 0; i < record_slab; ++i) f(slab + i, arg);
  }
}

std::int64_t nanotime() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void ready(task* t, bool next) noexcept {
  if (static_cast<goroutine*>(t)->bub) {
    bubble_ready(static_cast<goroutine*>(t));
    return;
  }
  worker* w = current_worker();
  if (sched().debug_migrate && sched().nprocs.load(std::memory_order_relaxed) > 1) {
    // Send it to a worker other than the one it last ran on.
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
    return;
  }
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
    std::fprintf(stderr, "goroutine %llu: stack overflow (stack size %zu)\n",
                 static_cast<unsigned long long>(g->id), g->stk.size);
    std::abort();
  }
  w->action = action;
  w->switched_from = g;
  g->saved_errno = *w->errno_at;
  std::memcpy(&g->eh, w->eh_globals, sizeof(eh_state));
  void** fake_stack = action == switch_action::exit ? nullptr : &g->asan_fake_stack;
  if (goroutine* next = next_direct(w)) {
    prepare(w, next);
    platform::tsan_switch_to(next->tsan_fiber);
    platform::asan_start_switch(fake_stack, next->stk.base, next->stk.size);
    platform::switch_context(&g->sp, next->sp);
  } else {
    platform::tsan_switch_to(w->tsan_fiber);
    platform::asan_start_switch(fake_stack, w->g0_stack_bottom, w->g0_stack_size);
    platform::switch_context(&g->sp, w->g0_sp);
  }
  // Resumed, maybe on another worker: finish the switch that brought us back.
  platform::asan_finish_switch(g->asan_fake_stack);
  finish_switch(current_worker());
}

void add_timer(timer* t) noexcept {
  ensure_started();
  worker* w = current_worker();
  if (!w) {
    static std::atomic<unsigned> rr{0};
    unsigned i = rr.fetch_add(1, std::memory_order_relaxed) %
                 static_cast<unsigned>(sched().nprocs.load(std::memory_order_relaxed));
    w = sched().slots[i].load(std::memory_order_acquire);
  }
  {
    std::lock_guard lk(w->timers.lock);
    w->timers.push(t);
  }
  if (w->bub) return;  // a bubble's thread runs its timers on its fake clock
  if (t->when >= sched().timer_wait_until.load(std::memory_order_seq_cst)) return;
  // Earlier than the timer waiter will wake: poke it, or an idle worker to become it.
  worker* tw = sched().timer_waiter.load(std::memory_order_seq_cst);
  if (!tw) {
    std::lock_guard lk(sched().lock);
    tw = sched().idle;
  }
  if (tw && tw != current_worker()) signal_worker(tw, wake_poke);
}

bool remove_timer(timer* t) noexcept {
  for (;;) {
    timer_heap* h = t->heap.load(std::memory_order_acquire);
    if (!h) return false;
    std::lock_guard lk(h->lock);
    if (t->heap.load(std::memory_order_relaxed) != h) continue;
    h->erase(t);
    return true;
  }
}

bool in_goroutine() noexcept { return current_goroutine() != nullptr; }

__attribute__((noinline)) void* new_goroutine(std::size_t stack_size, std::size_t size, std::size_t align,
                                              const closure_ops* ops, void** storage) {
  ensure_started();
  worker* w = current_worker();
  bubble* bub = w ? w->bub : nullptr;
  if (bub) w = nullptr;  // a bubble's worker keeps no pools: use the shared ones
  stack stk;
  if (stack_size != 0 && stack_round(stack_size) != stack_round(default_stack_size())) {
    stk = stack_map(stack_size);  // a stack of its own size, mapped now
  } else {
    stack_reserve(w ? w->stacks : nullptr);  // throws if no stack could be mapped
  }
  goroutine* g;
  try {
    g = alloc_goroutine(w);
    g->closure = g->inline_closure;
    if (size > closure_inline_size || align > 16) {
      try {
        g->closure = ::operator new(size, std::align_val_t(heap_closure_align(align)));
        g->closure_align = static_cast<std::uint32_t>(heap_closure_align(align));
      } catch (...) {
        free_goroutine(w, g);
        throw;
      }
    }
  } catch (...) {
    stack_release(nullptr, stk);
    throw;
  }
  g->stk = stk;
  g->ops = ops;
  g->id = new_goroutine_id(w);
  g->spawn_pc = __builtin_return_address(0);
  goroutine* parent = current_goroutine();
  g->parent_id = parent ? parent->id : 0;
  g->bub = bub;
  g->eh = {};
  g->saved_errno = 0;
  g->state.store(park_runnable, std::memory_order_relaxed);
  *storage = g->closure;
  return g;
}

void abandon_goroutine(void* p) noexcept {
  auto* g = static_cast<goroutine*>(p);
  free_closure(g);
  free_goroutine(g->bub ? nullptr : current_worker(), g);
}

void start_goroutine(void* p) noexcept {
  auto* g = static_cast<goroutine*>(p);
  worker* w = current_worker();
  if (g->bub) ++g->bub->live;  // spawned on the bubble's thread
  if (w && !g->bub) w->created.store(w->created.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  else sched().external_created.fetch_add(1, std::memory_order_relaxed);
  ready(g, true);
}

void wait_main(std::atomic<std::uint32_t>* done) noexcept {
  sched().main_waiting.fetch_add(1);
  // A worker may have gone idle (and skipped the deadlock check) before we counted
  // ourselves: poke one so the check runs with us counted.
  {
    worker* idle;
    {
      std::lock_guard lk(sched().lock);
      idle = sched().idle;
    }
    if (idle) signal_worker(idle, wake_poke);
  }
  while (done->load(std::memory_order_acquire) == 0) platform::futex_wait(done, 0);
}

void mark_main_done(std::atomic<std::uint32_t>* done) noexcept {
  // main is finishing: from now on all goroutines blocked is not a deadlock (Go exits).
  sched().main_waiting.fetch_sub(1);
  done->store(1, std::memory_order_release);
  platform::futex_wake(done, 1);
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
  // Nothing else runnable here (and nothing the scheduler loop must look at: timers, the
  // global queue, the inbox, its every-61st tick): going behind nobody is staying, so
  // skip the two switches (yield_pingpong at GOMAXPROCS=2 with a goroutine per worker).
  if (w->runq.empty() && sched().global_size.load(std::memory_order_relaxed) == 0 &&
      w->timers.next_when.load(std::memory_order_relaxed) == INT64_MAX &&
      !w->inbox.load(std::memory_order_relaxed) && !w->bub && !sched().debug_migrate &&
      tick(w) % 61 != 0) {
    return;
  }
  switch_to_scheduler(w, g, switch_action::yield);
}

int num_goroutine() noexcept {
  if (!the_sched.load(std::memory_order_acquire)) return 0;
  std::int64_t n = sched().external_created.load(std::memory_order_relaxed);
  int workers = worker_count();
  for (int i = 0; i < workers; ++i) {
    worker* w = worker_at(i);
    n += w->created.load(std::memory_order_relaxed);
    n -= w->exited.load(std::memory_order_relaxed);
  }
  return static_cast<int>(n);
}

int max_procs() noexcept {
  ensure_started();
  return sched().nprocs.load(std::memory_order_relaxed);
}

int set_max_procs(int n) {
  ensure_started();
  std::lock_guard lk(sched().resize_mutex);
  int old = sched().nprocs.load();
  if (n < 1) return old;
  n = std::min(n, max_workers);
  for (int i = old; i < n; ++i) {
    if (!sched().slots[i].load(std::memory_order_acquire)) start_worker(i);
  }
  sched().nprocs.store(n, std::memory_order_seq_cst);
  for (int i = 0; i < sched().nworkers.load(); ++i) signal_worker(worker_at(i), wake_poke);
  return old;
}

std::size_t default_stack_size() noexcept {
  ensure_started();
  return sched().default_stack.load(std::memory_order_relaxed);
}

void set_default_stack_size(std::size_t bytes) {
  ensure_started();
  if (bytes < 16 * 1024) throw std::invalid_argument("go::set_default_stack_size: at least 16 KiB");
  sched().default_stack.store(bytes);
}

void lock_os_thread() noexcept {
  worker* w = current_worker();
  goroutine* g = w ? w->current.load(std::memory_order_relaxed) : nullptr;
  if (!g || w->bub) return;
  if (g->lock_depth++ != 0) return;
  g->locked_to = w;
  w->lockedg = g;
  sched().nlocked.fetch_add(1, std::memory_order_relaxed);
}

void unlock_os_thread() noexcept {
  worker* w = current_worker();
  goroutine* g = w ? w->current.load(std::memory_order_relaxed) : nullptr;
  if (!g || g->lock_depth == 0) return;
  if (--g->lock_depth != 0) return;
  g->locked_to = nullptr;
  w->lockedg = nullptr;
  sched().nlocked.fetch_sub(1, std::memory_order_relaxed);
}

int set_max_threads(int n) {
  ensure_started();
  int old = sched().max_threads.load();
  if (n >= 1) sched().max_threads.store(std::min(n, max_threads_limit));
  return old;
}

std::uint64_t this_goroutine::id() noexcept {
  goroutine* g = current_goroutine();
  return g ? g->id : 0;
}

}  // namespace go
