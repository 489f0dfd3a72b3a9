// GOMAXPROCS changing under the scheduler: whatever set_max_procs does meanwhile, a goroutine
// made runnable runs (scheduler/sched.hpp, "Where runnable goroutines wait, and who finds them").
// The races are narrow; a test hook (go::detail::set_delay) holds a thread at the point that
// opens one, so that a test meets its interleaving every run, or (at random) often.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <thread>

#include "go/go.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/scheduler/sched.hpp"

using namespace std::chrono_literals;

namespace {

// wait_for polls cond every millisecond until it holds or `limit` has passed; returns cond().
template <class Cond>
bool wait_for(Cond cond, std::chrono::milliseconds limit) {
  for (auto end = std::chrono::steady_clock::now() + limit; !cond() && std::chrono::steady_clock::now() < end;) {
    std::this_thread::sleep_for(1ms);
  }
  return cond();
}

// retire_worker_1 leaves GOMAXPROCS at 1 with worker 1 asleep in retire(): it lowers
// GOMAXPROCS from 2 while both workers run a goroutine, so that worker 1 finds itself beyond
// it when its goroutine ends (an idle worker would stay on the idle list instead).
void retire_worker_1() {
  std::atomic<int> running{0};
  std::atomic<bool> release{false};
  go::wait_group both;
  for (int i = 0; i < 2; ++i) {
    both.go([&] {
      running++;
      while (!release) {
      }
    });
  }
  wait_for([&] { return running == 2; }, 30s);
  go::set_max_procs(1);
  release = true;
  both.wait();
  std::this_thread::sleep_for(100ms);  // worker 1 reaches its futex
}

// hand_off_while_churning runs pairs of goroutines that hand a value back and forth while a
// thread sets GOMAXPROCS to 1 to 4 a few hundred times, ending with 4 and then 1; returns
// whether every pair finished after that.
bool hand_off_while_churning() {
  std::atomic<bool> stop{false};
  std::atomic<int> finished{0};
  constexpr int pairs = 8;
  for (int i = 0; i < pairs; ++i) {
    auto ping = go::make_chan<long>();
    auto pong = go::make_chan<long>();
    go::spawn([ping, pong] {
      for (long v : ping) pong << v + 1;
    });
    go::spawn([ping, pong, &stop, &finished] {
      long v = 0, hand_offs = 0;
      for (; !stop; ++hand_offs) {
        ping << v;
        v = *pong.recv();
      }
      ping.close();
      if (v == hand_offs) finished++;
    });
  }
  std::uint32_t x = 1;
  for (int i = 0; i < 300; ++i, x = x * 1664525 + 1013904223) {
    go::set_max_procs(1 + static_cast<int>(x >> 30));
    std::this_thread::sleep_for(200us);
  }
  go::set_max_procs(4);
  std::this_thread::sleep_for(200us);
  go::set_max_procs(1);
  stop = true;
  return wait_for([&] { return finished == pairs; }, 10s);
}

}  // namespace

// Regression (issue 29: Stress.SpawnAndJoin under GOCXX_DEBUG_MIGRATE left a goroutine
// runnable for good). A worker asleep in retire() is woken by a raise of GOMAXPROCS that
// covers it again; before it looks, a goroutine is woken and sent to its inbox (the target
// is within GOMAXPROCS, so the waker leaves it there), and GOMAXPROCS is lowered again. The
// worker stays retired, and must hand the goroutine over as it goes back to sleep. The hook
// holds the woken worker for half a second, so the raise, the wake and the lowering all fall
// before it looks.
TEST(Procs, GoroutineSentToAWorkerRetiredAgainBeforeItLookedRuns) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  setenv("GOCXX_DEBUG_MIGRATE", "1", 1);  // ready() sends a goroutine to the next worker's inbox
  setenv("GOMAXPROCS", "2", 1);
  EXPECT_EXIT(
      {
        retire_worker_1();
        go::detail::set_delay(go::detail::delay_point::retire_wake, std::chrono::nanoseconds(500ms).count());
        auto wake = go::make_chan<int>();
        std::atomic<go::detail::parker*> parked{nullptr};
        std::atomic<bool> ran{false};
        go::spawn([&] {  // on worker 0, the only one: the next worker is worker 1
          parked = go::detail::current_parker();
          wake.recv();
          ran = true;
        });
        wait_for(
            [&] {
              go::detail::parker* p = parked.load();
              return p && p->state.load() == go::detail::park_parked;
            },
            30s);
        go::set_max_procs(2);  // worker 1 wakes, held by the hook
        wake.send(1);          // the goroutine goes to worker 1's inbox
        go::set_max_procs(1);  // worker 1 is beyond GOMAXPROCS again before it looks
        std::exit(wait_for([&] { return ran.load(); }, 10s) ? 0 : 1);
      },
      testing::ExitedWithCode(0), "");
  unsetenv("GOCXX_DEBUG_MIGRATE");
  unsetenv("GOMAXPROCS");
}

// A goroutine that returns from go::blocking on a worker beyond GOMAXPROCS (lowered while it
// was inside) goes back to the queue, and its worker keeps its slot's number until GOMAXPROCS
// covers it again. Taking an idle worker's slot instead left slots[] pointing at it for the
// old slot as well, so raising GOMAXPROCS started nobody for that slot (a stress round hung
// with GOMAXPROCS 3 served by one worker).
// end_a_blocking_call_beyond_gomaxprocs makes a goroutine on slot 1 (of 2) enter go::blocking,
// lowers GOMAXPROCS to 1 while it is inside, raises it to 2 once the call has ended, and
// returns the exit status: 0 when both slots have a worker that holds them again.
int end_a_blocking_call_beyond_gomaxprocs() {
  std::atomic<bool> in_call{false};
  std::atomic<bool> lowered{false};
  std::atomic<bool> done{false};
  for (int attempt = 0; attempt < 200 && !in_call; ++attempt) {
    go::spawn([&] {
      if (go::detail::current_worker()->slot.load() != 1 || in_call.exchange(true)) return;
      go::blocking([&] {
        while (!lowered) std::this_thread::sleep_for(1ms);
        std::this_thread::sleep_for(50ms);  // slot 0's worker goes idle meanwhile
      });
      done = true;
    });
    std::this_thread::sleep_for(5ms);
  }
  if (!in_call) return 3;  // no goroutine ran on slot 1
  go::set_max_procs(1);
  lowered = true;
  if (!wait_for([&] { return done.load(); }, 30s)) return 4;
  go::set_max_procs(2);
  auto served = [](int s) {
    go::detail::worker* w = go::detail::sched().slots[s].load();
    return w && w->slot.load() == s;
  };
  return wait_for([&] { return served(0) && served(1); }, 10s) ? 0 : 1;
}

TEST(Procs, ABlockingCallEndingBeyondGomaxprocsLeavesNoSlotUnserved) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  setenv("GOMAXPROCS", "2", 1);
  EXPECT_EXIT(std::exit(end_a_blocking_call_beyond_gomaxprocs()), testing::ExitedWithCode(0), "");
  unsetenv("GOMAXPROCS");
}

// The same race and its kin, met at random (often, not every run): every hand-off of
// hand_off_while_churning is a park and a wake that (with GOCXX_DEBUG_MIGRATE) sends the woken
// goroutine to another worker's inbox, while workers retire and come back all the time, each
// held a moment by the hook when it wakes in retire().
TEST(Procs, ChurningMaxProcsUnderForcedMigrationLosesNoGoroutine) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  setenv("GOCXX_DEBUG_MIGRATE", "1", 1);
  setenv("GOMAXPROCS", "4", 1);
  EXPECT_EXIT(
      {
        go::detail::set_delay(go::detail::delay_point::retire_wake, std::chrono::nanoseconds(1ms).count());
        std::exit(hand_off_while_churning() ? 0 : 1);
      },
      testing::ExitedWithCode(0), "");
  unsetenv("GOCXX_DEBUG_MIGRATE");
  unsetenv("GOMAXPROCS");
}
