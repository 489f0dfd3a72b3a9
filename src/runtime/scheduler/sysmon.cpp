//
// sysmon: one thread watches the workers holding slots (Go's sysmon and retake, proc.go). A slot
// goes to a spare worker when its holder has been
// - inside one go::blocking call since sysmon's previous look (at least 20 us), unless
//   nothing waits for the slot and other workers are idle or spinning (then after 10 ms);
// - running one goroutine for 10 ms (Go's forcePreemptNS) while something waits for the slot
//   that no other worker serves: a timer in its heap, goroutines in the global queue that
//   nobody has taken from for 10 ms, or goroutines in its own queue that nobody has stolen
//   for 10 ms while nobody took from the global queue either (the other workers take from
//   the global queue before they steal: while they drain it they have not come to this
//   queue yet). C++ code cannot be preempted safely, so that goroutine keeps its thread but
//   not its slot: this is our form of Go's preemption. A goroutine that spawns for long while
//   the others run what it spawns keeps its slot (bench spawn_join at GOMAXPROCS=2), as in
//   Go, which preempts a running goroutine but takes the P only of one in a system call.
// It sleeps 20 us between looks, doubling up to 10 ms after 1 ms without a hand-off, and
// sleeps until woken while every worker sleeps (no wake-ups in an idle program). It also
// polls the network when nobody did for 10 ms, runs the due timers of workers without a
// slot, and moves what a worker without a slot queued to the global queue (a goroutine it
// readied at GOMAXPROCS=1, where ready() wakes nobody).
#include "runtime/scheduler/sched.hpp"
#include <pthread.h>
#include <time.h>

#include <algorithm>

#include "platform/futex.hpp"

namespace go::detail {

namespace {

constexpr std::int64_t sysmon_min_delay_ns = 20'000;
constexpr std::int64_t sysmon_max_delay_ns = 10'000'000;
constexpr std::int64_t force_handoff_ns = 10'000'000;

std::atomic<std::uint32_t> sysmon_sleeping{0};  // futex word: 1 while sysmon sleeps for good

// What sysmon saw of a run queue at its looks: the count of takes from it, the last look
// that saw the count change, and the last that saw it change or the queue empty. Judged over
// force_handoff_ns, not between two looks (sysmon_min_delay_ns apart at first), so a worker
// that takes from the queue every few milliseconds counts as serving it.
struct queue_view {
  std::uint64_t taken = 0;
  std::int64_t taken_at = 0, served_at = 0;

  void look(bool empty, std::uint64_t now_taken, std::int64_t now) noexcept {
    if (now_taken != taken) {
      taken = now_taken;
      taken_at = now;
    }
    if (empty || taken_at == now) served_at = now;
  }
  // Whether it has held goroutines that nobody took for force_handoff_ns.
  bool stuck(std::int64_t now) const noexcept { return now - served_at >= force_handoff_ns; }
  bool taken_lately(std::int64_t now) const noexcept { return now - taken_at < force_handoff_ns; }
};

// What sysmon saw of the holder of a slot at its last look.
struct slot_view {
  worker* holder = nullptr;
  std::uint32_t sched_tick = 0, syscall_tick = 0, slice_tick = 0;
  std::int64_t since = 0, syscall_since = 0, slice_since = 0;
  queue_view runq;  // its ring's head counts the takes (thieves', and its spills)
};

queue_view global_view;

bool retake(slot_view* views, std::int64_t now) noexcept {
  bool took = false;
  global_view.look(sched().global_size.load() == 0, sched().global_taken.load(std::memory_order_relaxed), now);
  int n = sched().nprocs.load(std::memory_order_relaxed);
  for (int s = 0; s < n; ++s) {
    worker* v = sched().slots[s].load(std::memory_order_acquire);
    if (!v || v->slot.load(std::memory_order_relaxed) != s) continue;
    slot_view& e = views[s];
    std::uint32_t t = v->sched_tick.load(std::memory_order_relaxed);
    std::uint32_t st = v->syscall_tick.load(std::memory_order_relaxed);
    std::uint32_t sl = v->slice_tick.load(std::memory_order_relaxed);
    bool new_holder = e.holder != v;
    std::uint32_t head = v->runq.head.load(std::memory_order_relaxed);
    if (new_holder) e.runq = {head, now, now};
    e.runq.look(v->runq.empty(), head, now);
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
      e.slice_since = now;                                // not a hand-off: sysmon keeps backing off
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
      bool waited_for = global_view.stuck(now) || (e.runq.stuck(now) && !global_view.taken_lately(now)) ||
                        v->inbox.load(std::memory_order_relaxed) ||
                        v->timers.next_when.load(std::memory_order_relaxed) != INT64_MAX;
      if (!waited_for) continue;
    }
    if (handoff_slot(v, s)) {
      sched().slots_retaken.fetch_add(1, std::memory_order_relaxed);
      took = true;
      e.holder = nullptr;
      global_view.served_at = now;  // by the slot's new holder: one hand-off is enough for it
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
  pthread_setname_np(pthread_self(), "gocxx-sysmon");
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
    // Timers left on the heaps of workers without a slot: the slot holders run them at their
    // 61st schedules, but one goroutine running for long holds that off.
    run_retired_timers();
    idle_looks = retake(views, now) ? 0 : idle_looks + 1;
  }
  return nullptr;
}

}  // namespace

bool any_worker_busy() noexcept {
  int asleep =
      sched().npidle.load() + sched().retired_sleeping.load() + sched().locked_sleeping.load() + sched().ndead.load();
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

}  // namespace go::detail
