// Spinning and idle workers, and the timer waiter (Go's protocol, proc.go "Worker thread
// parking/unparking", and its timers' wake-ups).
//
// A worker with nothing to run becomes "spinning" and steals (half a victim's ring; the
// victim's `next` slot in the last round) if fewer than half of the busy workers already
// spin. A victim that is running with its `next` slot full is in a hand-off: its goroutine
// is most likely about to block and run `next` there, and its ring holds the goroutines it
// readied just before, the chain's other members. From such a victim a thief takes nothing
// before its last round and a sleep (Go backs off so before taking `next` only): stealing a
// ping-pong partner or a fan-in's forwarders makes every later hand-off cross cores (bench
// chan_pingpong and fanin_8 at GOMAXPROCS=2).
// Otherwise, or after finding nothing, it puts itself on the idle list, keeping its slot, and
// sleeps on its futex. When a goroutine becomes runnable, wakep() wakes an idle worker only
// if there is an idle worker and no spinning one; a spinning worker that finds work stops
// spinning and, if it was the last spinner, wakes a successor. No lost wake-up: a worker
// going idle first publishes itself (npidle++, nmspinning--) and then rechecks every run
// queue, while a producer first publishes the goroutine and then reads npidle and
// nmspinning; with sequentially consistent operations on both sides at least one sees the
// other.
//
// Timers (timer.hpp). Each worker's heap is checked on every schedule. One idle worker,
// the timer waiter, sleeps until the earliest deadline over all heaps; every other idle
// worker sleeps without a timeout. A timer added earlier than the waiter's deadline pokes
// the waiter (or, if there is none, an idle worker, which then becomes the waiter). No lost
// timer: the waiter publishes its deadline (timer_wait_until), then reads every heap's
// earliest again, while add_timer first pushes and then reads the published deadline; with
// sequentially consistent operations on both sides, the waiter's second look sees the timer
// or add_timer sees the deadline. The waiter sleeps until the earlier of its two looks, never
// past what it published: the published one may be earlier than the second look's (the
// earliest timer fired or moved in between), and a timer that add_timer found not earlier
// than it poked nobody (test TimerWaiter.TimerAddedWhileTheWaiterLooksAgainFires).
//
// The netpoller (netpoll.hpp). At most one thread polls at a time (`polling`): a worker that
// finds nothing to run polls without blocking unless someone polls already; the timer waiter
// blocks in the poller instead of its futex while goroutines wait for I/O. A worker blocked
// there has in_netpoll set, and signal_worker interrupts the poll after setting its wake
// word: each side writes, then reads the other's word (sequentially consistent), so the
// sleeper either sees the bits before it polls or is interrupted.
#include "runtime/scheduler/sched.hpp"
#include "runtime/netpoll.hpp"
#include "runtime/stack.hpp"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <mutex>

#include "platform/futex.hpp"
#include "runtime/trace.hpp"

namespace go::detail {

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
  last_poll.store(nanotime(), std::memory_order_relaxed);
  int n = p->poll(delay_ns);
  polling.store(false, std::memory_order_release);
  return n;
}

void signal_worker(worker* w, std::uint32_t bits) noexcept {
  w->wake_word.fetch_or(bits, std::memory_order_seq_cst);
  platform::futex_wake(&w->wake_word, 1);
  if (w->in_netpoll.load(std::memory_order_seq_cst)) the_poller.load(std::memory_order_acquire)->interrupt();
}

// The rest of wakep (sched.hpp): claim the one spinning role and wake an idle worker for it.
void wakep_slow() noexcept {
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
  for (int i = 0; i < n; ++i)
    t = std::min(t, sched().workers[i].load(std::memory_order_acquire)->timers.next_when.load());
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

// sleep_idle blocks an idle worker (already on the idle list, not spinning) until it is
// woken to spin or its timer deadline passes. Returns with the worker off the idle list.
void sleep_idle(worker* w) noexcept {
  trace_event(trace_kind::worker_idle, nullptr);
  for (;;) {
    std::uint32_t bits = w->wake_word.exchange(0, std::memory_order_acquire);
    if (bits & (wake_spinning | wake_inbox | wake_taken)) break;  // taken off the idle list by the waker
    if (bits & wake_poke) check_dead();
    worker* none = nullptr;
    bool waiter = sched().timer_waiter.load() == w || sched().timer_waiter.compare_exchange_strong(none, w);
    std::int64_t deadline = INT64_MAX;
    std::int64_t wake_at = INT64_MAX;  // also wakes to trim the stack pool (stack_trim_due)
    if (waiter) {
      // Publish, then look again (add_timer pushes, then reads what we published). Sleep
      // until the earlier of the two: a timer added meanwhile that was not earlier than
      // the published deadline poked nobody, and the second look may have missed it.
      deadline = earliest_timer();
      sched().timer_wait_until.store(deadline, std::memory_order_seq_cst);
      delay_at(delay_point::timer_wait_publish);
      std::int64_t again = earliest_timer();
      delay_at(delay_point::timer_wait_recheck);
      if (again < deadline) {
        deadline = again;
        sched().timer_wait_until.store(deadline, std::memory_order_seq_cst);
      }
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
        last_poll.store(nanotime(), std::memory_order_relaxed);
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
  trace_event(trace_kind::worker_wake, nullptr);
}

std::atomic<int> netpoll_waiters{0};
std::atomic<std::int64_t> last_poll{0};

void netpoll_first_waiter() noexcept {
  ensure_started();  // a plain thread may be the first to wait: someone must poll for it
  worker* w = sched().timer_waiter.load(std::memory_order_seq_cst);
  if (!w) {
    std::lock_guard lk(sched().lock);
    w = sched().idle;
  }
  if (w) signal_worker(w, wake_poke);
}

void netpoll_register(const netpoller* p) noexcept { the_poller.store(p, std::memory_order_release); }

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

}  // namespace go::detail
