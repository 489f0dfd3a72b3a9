// Deadlock detection (Go's checkdead): "all goroutines are asleep - deadlock!".
#include "runtime/scheduler/sched.hpp"
#include "runtime/netpoll.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "platform/futex.hpp"

namespace go::detail {

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
  if (sched().npidle.load() + sched().retired_sleeping.load() + sched().locked_sleeping.load() + sched().ndead.load() !=
      workers) {
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
