// Synctest bubbles (include/go/synctest.hpp has the user's view; bubble.hpp the invariants).
//
// Design. A bubble is a worker of its own: a thread with a `worker` that is in no worker
// array, so the scheduler's machinery (execute, park, the switch protocol, timers) runs the
// bubble's goroutines unchanged, while no other worker can steal them and no other goroutine
// can land on it. What differs is decided in three places:
// - ready() sends a goroutine of a bubble to bubble_ready, which queues it in the bubble's
//   `runnable` list (from the bubble's own thread) or its inbox (from any other thread).
// - The loop below, not find_runnable, picks what runs next: the head of `runnable`, or with
//   a seed a random element of it. A goroutine never hands the CPU straight to another
//   (next_direct is off on a bubble's worker), so every choice goes through the loop.
// - Time: now_ns() reads the bubble's fake clock on its thread, and add_timer leaves the
//   bubble's heap to this loop, which advances the clock only when nothing is runnable.
// When nothing is runnable every goroutine of the bubble is blocked: the loop then wakes the
// goroutine in wait() if there is one, else jumps the clock to the earliest timer and fires
// it, else reports the deadlock. The bubble ends when `live` falls to 0.
//
// Determinism: one thread runs everything in the bubble, timers fire in heap order, and
// select's random choices (fastrand) come from a generator seeded per bubble. What the
// bubble does depends only on its seed, as long as nothing outside feeds it.
#include "runtime/bubble.hpp"

#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "go/runtime.hpp"
#include "go/synctest.hpp"
#include "runtime/rand.hpp"

namespace go::detail {

void seed_fastrand(std::uint64_t seed) noexcept;  // select.cpp

namespace {

constexpr std::int64_t bubble_epoch_ns = 946'684'800'000'000'000;  // 2000-01-01 UTC, as Go's

goroutine* take_runnable(bubble* b) noexcept {
  if (b->inbox_nonempty.load(std::memory_order_acquire)) {
    std::lock_guard lk(b->inbox_lock);
    for (goroutine* g : b->inbox) b->runnable.push_back(g);
    b->inbox.clear();
    b->inbox_nonempty.store(false, std::memory_order_relaxed);
  }
  if (b->runnable.empty()) return nullptr;
  std::size_t i = b->random ? cheaprand(b->rng) % b->runnable.size() : 0;
  goroutine* g = b->runnable[i];
  b->runnable.erase(b->runnable.begin() + static_cast<std::ptrdiff_t>(i));
  return g;
}

std::string deadlock_report(bubble* b) {
  std::ostringstream out;
  out << "deadlock: all goroutines in bubble are blocked\n";
  struct ctx {
    bubble* b;
    std::ostream* out;
  } c{b, &out};
  for_each_goroutine(
      [](goroutine* g, void* arg) {
        auto* c = static_cast<ctx*>(arg);
        if (listed(g->bub).load(std::memory_order_relaxed) != c->b ||
            g->state.load(std::memory_order_acquire) == park_dead)
          return;
        *c->out << "\n";
        print_goroutine(*c->out, g, false);
      },
      &c);
  return out.str();
}

// The bubble's thread. Returns the deadlock report, or an empty string.
std::string bubble_main(bubble* b, void (*body)(void*), void* arg, std::exception_ptr& spawn_error) {
  worker* w = &b->w;
  init_worker_thread(w);
  std::uint64_t x = b->rng;
  seed_fastrand(cheaprand(x));
  try {
    go::spawn([body, arg] { body(arg); });  // the root: spawned on this thread, so it is ours
  } catch (...) {
    spawn_error = std::current_exception();
  }
  std::string report;
  for (;;) {
    if (goroutine* g = take_runnable(b)) {
      w->clock = coarse_nanotime();  // what a park stamps as the wait's start (worker::clock)
      execute(w, g);
      continue;
    }
    if (b->live == 0) break;
    // Every goroutine of the bubble is blocked.
    if (goroutine* g = b->waiter) {
      b->waiter = nullptr;
      wake(g);
      continue;
    }
    w->timers.maybe_sweep();  // stopped timers are dropped in batches; until then they fire stale
    std::int64_t when = w->timers.next_when.load(std::memory_order_relaxed);
    if (when != INT64_MAX) {
      if (when > b->now) b->now = when;
      w->timers.run_expired(b->now);
      continue;
    }
    if (b->inbox_nonempty.load(std::memory_order_acquire)) continue;
    report = deadlock_report(b);
    break;
  }
  fini_worker_thread(w);
  return report;
}

// Lets a goroutine or a plain thread wait for the bubble's thread.
struct completion {
  runtime_lock mu{lock_rank::bubble};
  bool done = false;
  parker* waiting = nullptr;
};

}  // namespace

void bubble_ready(goroutine* g) noexcept {
  bubble* b = g->bub;
  if (current_worker() == &b->w) {
    b->runnable.push_back(g);
    return;
  }
  std::lock_guard lk(b->inbox_lock);
  b->inbox.push_back(g);
  b->inbox_nonempty.store(true, std::memory_order_release);
}

void run_bubble(const synctest::options& o, void (*body)(void*), void* arg) {
  ensure_started();
  if (worker* w = current_worker(); w && w->bub) {
    throw std::logic_error("go::synctest::run: called from inside a bubble");
  }
  auto* b = new bubble;
  b->w.id = -1;
  b->w.bub = b;
  b->now = bubble_epoch_ns;
  b->random = o.seed.has_value();
  b->rng = o.seed.value_or(0);

  std::exception_ptr spawn_error;
  std::string report;
  completion done;
  std::thread th([&] {
    report = bubble_main(b, body, arg, spawn_error);
    parker* p;
    {
      std::lock_guard lk(done.mu);
      done.done = true;
      p = done.waiting;
    }
    if (p) wake(p);
  });
  done.mu.lock();
  if (!done.done) {
    done.waiting = current_parker();
    park(
        wait_reason::synctest_run, detail::source_location::current(),
        [](void* m) { static_cast<runtime_lock*>(m)->unlock(); }, &done.mu);
  } else {
    done.mu.unlock();
  }
  th.join();

  if (!report.empty()) {
    // The bubble's goroutines stay blocked on its records for good: it is never freed.
    throw synctest::deadlock_error(report);
  }
  // Timers still armed (a ticker or after_func nobody stopped) keep pointing into the
  // bubble's heap, where a later stop() finds them: then the bubble is not freed either.
  b->w.timers.sweep();
  if (b->w.timers.size.load(std::memory_order_relaxed) == 0) delete b;
  if (spawn_error) std::rethrow_exception(spawn_error);
}

}  // namespace go::detail

namespace go::synctest {

void wait(const go::detail::source_location& site) {
  using namespace go::detail;
  goroutine* g = current_goroutine();
  bubble* b = g ? g->bub : nullptr;
  if (!b) throw std::logic_error("go::synctest::wait: not called from a goroutine of a bubble");
  if (b->waiter) throw std::logic_error("go::synctest::wait: another goroutine of the bubble is waiting");
  b->waiter = g;
  park(wait_reason::synctest_wait, site);
}

bool in_bubble() noexcept {
  go::detail::goroutine* g = go::detail::current_goroutine();
  return g && g->bub;
}

}  // namespace go::synctest
