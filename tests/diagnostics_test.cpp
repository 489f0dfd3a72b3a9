// Diagnostics: goroutine dumps, deadlock detection, panics, leak checks.
#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <sstream>
#include <thread>

#include "go/go.hpp"
#include "go/testing.hpp"
#include "test_scale.hpp"

using namespace std::chrono_literals;

namespace {
void block_on(go::chan<int> ch) { ch.recv(); }
}  // namespace

TEST(Diagnostics, DumpShowsStateWaitReasonSiteAndCreator) {
  go::run([] {
    auto ch = go::make_chan<int>();
    auto done = go::make_chan<void>();
    go::spawn(block_on, ch);
    go::spawn([done] { done.recv(); });
    go::spawn([done] { go::select(go::recv_case(done), go::recv_case(go::after(10s))); });
    go::spawn([] { go::sleep(5s); });  // still asleep at the dump, even under the sanitizers
    go::sleep(20ms);
    std::ostringstream out;
    go::dump_goroutines(out);
    std::string dump = out.str();
    EXPECT_NE(dump.find("[running]"), std::string::npos) << dump;  // the caller
    EXPECT_NE(dump.find("[chan receive]"), std::string::npos) << dump;
    EXPECT_NE(dump.find("[sleep]"), std::string::npos) << dump;
    EXPECT_NE(dump.find("blocked at"), std::string::npos) << dump;
    EXPECT_NE(dump.find("diagnostics_test.cpp"), std::string::npos) << dump;  // where blocked
    // Created by this test's body (a lambda of it), in this goroutine.
    EXPECT_TRUE(std::regex_search(dump, std::regex("created by .*DumpShowsState.* in goroutine " +
                                                   std::to_string(go::this_goroutine::id()))))
        << dump;
    ch << 1;
    done.close();
  });
}

TEST(Diagnostics, DumpListsEveryLiveGoroutineAndNoFinishedOne) {
  // Records come in slabs of 256 and are reused: the dump must walk every slab and skip the
  // records of finished goroutines. (Counted against the dump before: goroutines that
  // earlier tests in this process abandoned may be in it too.)
  auto receivers = [] {
    std::ostringstream out;
    go::dump_goroutines(out);
    std::string dump = out.str();
    int n = 0;
    for (std::size_t at = dump.find("[chan receive]"); at != std::string::npos; at = dump.find("[chan receive]", at + 1)) ++n;
    return n;
  };
  go::run([&] {
    constexpr int n = 700, finished = 300;
    go::wait_group wg;
    for (int i = 0; i < finished; ++i) wg.go([] {});
    wg.wait();
    int before = receivers();
    auto release = go::make_chan<void>();
    go::wait_group parked;
    for (int i = 0; i < n; ++i) parked.go([release] { release.recv(); });
    int seen = 0;  // they block in their own time: wait for them (5 s at most)
    for (int k = 0; k < 500 && (seen = receivers()) < before + n; ++k) go::sleep(10ms);
    EXPECT_EQ(seen, before + n);
    release.close();
    parked.wait();
    EXPECT_EQ(receivers(), before);
  });
}

TEST(Diagnostics, DeadlockIsReportedWithTheDump) {
  if (gocxx_test::sanitized) GTEST_SKIP() << "sanitizer runtimes add threads: detection is off";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(go::run([] {
                auto ch = go::make_chan<int>();
                go::spawn([ch] { ch.recv(); });
                ch.recv();  // nobody will ever send
              }),
              testing::ExitedWithCode(2),
              "fatal error: all goroutines are asleep - deadlock!\n\ngoroutine [0-9]+ \\[chan receive\\]");
}

TEST(Diagnostics, NoDeadlockWhileAThreadCouldStillSend) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        auto ch = go::make_chan<int>();
        std::thread t([ch] {
          std::this_thread::sleep_for(300ms);  // every goroutine is blocked meanwhile
          ch << 7;
        });
        int v = go::run([ch] { return *ch.recv(); });
        t.join();
        std::exit(v == 7 ? 0 : 1);
      },
      testing::ExitedWithCode(0), "");
}

// A plain thread that wakes a goroutine and exits at once: the deadlock check must not
// see "no work" from before the wake and "no thread that could wake anyone" from after
// the exit (it aborted about one go::run in 100 here, the woken goroutine still runnable).
TEST(Diagnostics, NoDeadlockWhenAThreadWakesAGoroutineAndExits) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        int got = 0;
        const int runs = static_cast<int>(gocxx_test::scaled(2000));
        for (int i = 0; i < runs; ++i) {
          auto ch = go::make_chan<int>();
          std::thread t;
          got += go::run([&] {
            t = std::thread([ch] { ch << 1; });
            return *ch.recv();
          });
          t.join();
        }
        std::exit(got == runs ? 0 : 1);
      },
      testing::ExitedWithCode(0), "");
}

TEST(Diagnostics, NoDeadlockWhileATimerIsPending) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        go::run([] {
          auto ch = go::make_chan<int>();
          go::spawn([ch] {
            go::sleep(200ms);
            ch << 1;
          });
          ch.recv();
          go::select(go::recv_case(go::after(100ms)));  // only a timer can wake main
        });
        std::exit(0);
      },
      testing::ExitedWithCode(0), "");
}

TEST(Diagnostics, PanicPrintsTheGoroutineItsCreatorAndTheDump) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(go::run([] {
                 go::spawn([] { throw std::runtime_error("kaboom"); });
                 go::sleep(10s);
               }),
               "panic: kaboom\n\ngoroutine [0-9]+ \\[running\\]:\ncreated by .*PanicPrints.* in goroutine [0-9]+");
}

TEST(Diagnostics, SigquitDumpsAndExits) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(go::run([] {
                go::enable_sigquit_dump();
                go::spawn([] { go::sleep(10s); });
                go::sleep(10ms);
                raise(SIGQUIT);
                go::sleep(10s);
              }),
              testing::ExitedWithCode(2), "SIGQUIT: quit\n\n.*goroutine [0-9]+ \\[sleep\\]");
}

TEST(Diagnostics, LeakCheckFindsALeakedGoroutine) {
  auto never = go::make_chan<int>();
  int baseline = go::num_goroutine();
  go::spawn([never] { never.recv(); });
  EXPECT_EQ(go::testing::leaked_goroutines(baseline, 50ms), 1);
  EXPECT_NE(go::testing::goroutine_dump().find("[chan receive]"), std::string::npos);
  never.close();
  EXPECT_EQ(go::testing::leaked_goroutines(baseline), 0);
}

TEST(Diagnostics, LeakCheckPassesWhenGoroutinesFinish) {
  go::testing::leak_check check;
  go::wait_group wg;
  for (int i = 0; i < 10; ++i) wg.go([] { go::sleep(1ms); });
  wg.wait();
}
