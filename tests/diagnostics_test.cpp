// Diagnostics: goroutine dumps, deadlock detection, panics, leak checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <latch>
#include <regex>
#include <span>
#include <sstream>
#include <thread>
#include <vector>

#include "go/go.hpp"
#include "go/testing.hpp"
#include "runtime/scheduler.hpp"
#include "test_scale.hpp"

using namespace std::chrono_literals;

namespace {
__attribute__((noinline)) void block_on(go::chan<int> ch) { ch.recv(); }
constexpr int block_on_line = __LINE__ - 1;
__attribute__((noinline)) void call_block_on(go::chan<int> ch) {
  block_on(ch);
  asm volatile("");  // not a tail call: this frame stays on the stack
}

bool have_addr2line() { return std::system("addr2line --version >/dev/null 2>&1") == 0; }

// The dump, once it shows `what` (goroutines block in their own time: 5 s at most).
std::string dump_once_it_shows(const std::vector<std::string>& what) {
  std::string dump;
  for (int k = 0; k < 500; ++k) {
    std::ostringstream out;
    go::dump_goroutines(out);
    dump = out.str();
    if (std::all_of(what.begin(), what.end(), [&](const std::string& w) { return dump.find(w) != std::string::npos; }))
      break;
    go::sleep(10ms);
  }
  return dump;
}

// A report that starts with `what` and has it nowhere else (one report, not two).
class starts_once : public testing::MatcherInterface<const std::string&> {
 public:
  explicit starts_once(std::string what) : what_(std::move(what)) {}
  bool MatchAndExplain(const std::string& s, testing::MatchResultListener*) const override {
    return s.rfind(what_, 0) == 0 && s.find(what_, 1) == std::string::npos;
  }
  void DescribeTo(std::ostream* os) const override { *os << "starts with \"" << what_ << "\", once"; }

 private:
  std::string what_;
};
}  // namespace

TEST(Diagnostics, DumpShowsStateWaitReasonSiteAndCreator) {
  go::run([] {
    auto ch = go::make_chan<int>();
    auto done = go::make_chan<void>();
    go::spawn(block_on, ch);
    go::spawn([done] { done.recv(); });
    go::spawn([done] { go::select(go::recv_case(done), go::recv_case(go::after(10s))); });
    go::spawn([] { go::sleep(5s); });  // still asleep at the dump, even under the sanitizers
    std::string dump = dump_once_it_shows({"[chan receive]", "[sleep]", "[select]"});
    EXPECT_NE(dump.find("[running]"), std::string::npos) << dump;  // the caller
    EXPECT_NE(dump.find("[chan receive]"), std::string::npos) << dump;
    EXPECT_NE(dump.find("[sleep]"), std::string::npos) << dump;
    EXPECT_NE(dump.find("blocked at"), std::string::npos) << dump;
    EXPECT_NE(dump.find("diagnostics_test.cpp"), std::string::npos) << dump;  // where blocked
    // Created by this test's body (a lambda of it), in this goroutine.
    EXPECT_TRUE(std::regex_search(
        dump, std::regex("created by .*DumpShowsState.* in goroutine " + std::to_string(go::this_goroutine::id()))))
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
    for (std::size_t at = dump.find("[chan receive]"); at != std::string::npos;
         at = dump.find("[chan receive]", at + 1))
      ++n;
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

// Goroutines that start and exit while dumps read every record from another thread: a
// record is reused with a new identity under the dump's feet (run it under ThreadSanitizer).
TEST(Diagnostics, DumpWhileGoroutinesStartAndExit) {
  go::run([] {
    std::atomic<bool> stop{false};
    go::wait_group wg;
    for (int w = 0; w < 3; ++w) {
      wg.go([&stop] {
        while (!stop.load()) {
          go::wait_group inner;
          inner.go([] { go::yield(); });
          inner.go([] {});
          inner.wait();
        }
      });
    }
    for (int i = 0; i < 20; ++i) {
      std::ostringstream out;
      go::dump_goroutines(out);
      EXPECT_NE(out.str().find("goroutine "), std::string::npos);
    }
    stop.store(true);
    wg.wait();
  });
}

TEST(Diagnostics, DeadlockIsReportedWithTheDump) {
  if (!gocxx_test::deadlock_detected) GTEST_SKIP() << "other threads in the process: detection is off";
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

TEST(Diagnostics, PanicPrintsTheGoroutineAndItsCreator) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      go::run([] {
        go::spawn([] { throw std::runtime_error("kaboom"); });
        go::sleep(10s);
      }),
      testing::ExitedWithCode(2),
      "panic: kaboom\n\ngoroutine [0-9]+ \\[running\\]:\n(.*\n)*created by .*PanicPrints.* in goroutine [0-9]+");
}

// What the program printed before a panic reaches a pipe or file (abort() would drop
// stdout's buffer), before the report; the exit status is Go's 2.
TEST(Diagnostics, PanicFlushesWhatWasPrintedAndExitsWithStatus2) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  std::string path = testing::TempDir() + "gocxx_panic_stdout.txt";
  std::remove(path.c_str());
  EXPECT_EXIT(
      {
        if (!std::freopen(path.c_str(), "w", stdout)) std::exit(1);  // a file: fully buffered
        std::printf("printed before\n");
        std::cout << "streamed before\n";
        go::run([] {
          go::spawn([] { throw std::runtime_error("a problem"); });
          go::sleep(10s);
        });
      },
      testing::ExitedWithCode(2), "^panic: a problem\n\ngoroutine [0-9]+ \\[running\\]:\n");
  std::ifstream f(path);
  std::stringstream text;
  text << f.rdbuf();
  EXPECT_EQ(text.str(), "printed before\nstreamed before\n");
  std::remove(path.c_str());
}

// GOTRACEBACK=crash: the report, then abort() for a core dump, as Go's.
TEST(Diagnostics, PanicUnderGotracebackCrashAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  setenv("GOTRACEBACK", "crash", 1);
  EXPECT_EXIT(go::run([] { throw std::runtime_error("crash me"); }), testing::KilledBySignal(SIGABRT),
              "panic: crash me\n");
  unsetenv("GOTRACEBACK");
}

namespace {
struct opaque_value {
  int x;
};
template <class T>
void panic_with(T v) {
  go::run([v] { throw v; });
}
}  // namespace

// Go prints a panic's value: the string, the number, the error's message; a type it cannot
// print is named.
TEST(Diagnostics, PanicPrintsTheValueAsGoDoes) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto panics = testing::ExitedWithCode(2);
  EXPECT_EXIT(panic_with("a problem"), panics, "^panic: a problem\n");
  EXPECT_EXIT(panic_with(std::string("a string")), panics, "^panic: a string\n");
  EXPECT_EXIT(panic_with(42), panics, "^panic: 42\n");
  EXPECT_EXIT(panic_with(-7L), panics, "^panic: -7\n");
  EXPECT_EXIT(panic_with(true), panics, "^panic: true\n");
  EXPECT_EXIT(panic_with(1.5), panics, "^panic: \\+1\\.500000e\\+000\n");
  EXPECT_EXIT(panic_with(std::make_error_code(std::errc::timed_out)), panics,
              "^panic: " + std::make_error_code(std::errc::timed_out).message() + "\n");
  EXPECT_EXIT(panic_with(go::make_error("boom")), panics, "^panic: boom\n");
  EXPECT_EXIT(panic_with(go::error(std::make_exception_ptr(17))), panics, "^panic: 17\n");
  EXPECT_EXIT(panic_with(go::error()), panics, "^panic: panic called with nil argument\n");
  EXPECT_EXIT(panic_with(opaque_value{1}), panics, "^panic: \\(\\(anonymous namespace\\)::opaque_value\\)\n");
}

namespace {
// The throw's line is what the test checks.
// clang-format off
[[noreturn]] __attribute__((noinline)) void throw_now() {
  throw std::runtime_error("from here");
}
constexpr int throw_now_line = __LINE__ - 2;
__attribute__((noinline)) void call_throw_now() {
  throw_now();
}
// clang-format on
}  // namespace

// The panic's traceback starts at the throw: the function that threw and its line, then its
// caller.
TEST(Diagnostics, PanicTracebackStartsAtTheThrow) {
  if (std::system("addr2line --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "no addr2line";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(go::run([] { call_throw_now(); }), testing::ExitedWithCode(2),
              "^panic: from here\n\ngoroutine [0-9]+ \\[running\\]:\n"
              "[^\n]*throw_now\\(\\)\n\t[^\n]*diagnostics_test\\.cpp:" +
                  std::to_string(throw_now_line) + "\n[^\n]*call_throw_now\\(\\)\n");
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

// A goroutine dump's frames are the user's functions, each with its file:line, innermost
// first; the runtime's own frames are left out.
TEST(Diagnostics, DumpFramesAreTheUsersFunctionsWithFileAndLine) {
  if (!have_addr2line()) GTEST_SKIP() << "no addr2line";
  go::run([] {
    auto ch = go::make_chan<int>();
    go::spawn(call_block_on, ch);
    std::string dump = dump_once_it_shows({"[chan receive]"});
    EXPECT_TRUE(std::regex_search(
        dump, std::regex("\n[^\n]*block_on\\(go::chan<int>\\)\n\t[^\n]*diagnostics_test\\.cpp:" +
                         std::to_string(block_on_line) +
                         "\n[^\n]*call_block_on\\(go::chan<int>\\)\n\t[^\n]*diagnostics_test\\.cpp:[0-9]+\n")))
        << dump;
    EXPECT_EQ(dump.find("park"), std::string::npos) << dump;  // the runtime's frames
    EXPECT_EQ(dump.find("\t?"), std::string::npos) << dump;   // nothing unknown
    ch << 1;
  });
}

// Without addr2line a frame is its function plus offset, and the object with the offset.
TEST(Diagnostics, DumpFramesWithoutAddr2lineAreFunctionAndOffset) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const char* path = std::getenv("PATH");
  std::string saved = path ? path : "";
  setenv("PATH", "/nonexistent", 1);
  EXPECT_EXIT(go::run([] {
                auto ch = go::make_chan<int>();
                go::spawn(call_block_on, ch);
                std::string dump = dump_once_it_shows({"[chan receive]"});
                bool ok = std::regex_search(
                    dump, std::regex("\n[^\n]*block_on\\(go::chan<int>\\)\\+0x[0-9a-f]+\n\t/[^\n]* \\+0x[0-9a-f]+\n"));
                if (!ok) std::fputs(dump.c_str(), stderr);
                std::exit(ok ? 0 : 1);
              }),
              testing::ExitedWithCode(0), "");
  setenv("PATH", saved.c_str(), 1);
}

// Every blocking call shows the line that made it, not a line inside gocxx.
TEST(Diagnostics, DumpShowsTheCallersLineForEveryBlockingCall) {
  if (!have_addr2line()) GTEST_SKIP() << "no addr2line";
  go::run([] {
    auto never = go::make_chan<int>();
    auto sem = std::make_shared<go::semaphore>(1);
    ASSERT_TRUE(sem->try_acquire());
    go::errgroup group;
    group.go([never] { never.recv(); });
    std::vector<int> lines;
    // Each goroutine blocks on the line recorded with it (so the layout is the test's).
    // clang-format off
    lines.push_back(__LINE__); go::spawn([never] { go::select(go::recv_case(never), go::recv_case(never)); });
    lines.push_back(__LINE__); go::spawn([never] { go::select_recv(std::span<const go::chan<int>>(&never, 1)); });
    lines.push_back(__LINE__); go::spawn([] { go::sleep(1h); });
    lines.push_back(__LINE__); go::spawn([] { go::sleep_until(go::now() + 1h); });
    lines.push_back(__LINE__); go::spawn([sem] { sem->acquire(); sem->release(); });
    lines.push_back(__LINE__); go::spawn([group]() mutable { (void)group.wait(); });
    lines.push_back(__LINE__); go::spawn([never] { for (int v : never) (void)v; });
    // clang-format on
    std::vector<std::string> sites;
    for (int line : lines) sites.push_back("diagnostics_test.cpp:" + std::to_string(line) + " in");
    std::string dump = dump_once_it_shows(sites);
    for (const std::string& site : sites) EXPECT_NE(dump.find(site), std::string::npos) << site << "\n" << dump;
    EXPECT_EQ(dump.find("select.hpp"), std::string::npos) << dump;
    EXPECT_EQ(dump.find("time.cpp"), std::string::npos) << dump;
    never.close();
    sem->release();
  });
}

// Fatal errors on several threads at once: one is reported, whole, and the exit status is 2.
TEST(Diagnostics, FatalErrorsAtOnceReportOneWhole) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        constexpr int n = 8;
        std::latch start(n);
        std::vector<std::thread> threads;
        for (int i = 0; i < n; ++i) {
          threads.emplace_back([&start, i] {
            start.arrive_and_wait();
            go::detail::fatal(i % 2 ? "out of memory for goroutine stacks" : "another fatal error");
          });
        }
        for (auto& t : threads) t.join();
      },
      testing::ExitedWithCode(2), "^fatal error: (out of memory for goroutine stacks|another fatal error)\n$");
}

// Panics in several goroutines at once: one report.
TEST(Diagnostics, PanicsAtOnceReportOne) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(go::run([] {
                auto start = go::make_chan<void>();
                for (int i = 0; i < 8; ++i) {
                  go::spawn([start] {
                    start.recv();
                    throw std::runtime_error("at once");
                  });
                }
                go::sleep(10ms);
                start.close();
                go::sleep(10s);
              }),
              testing::ExitedWithCode(2), testing::MakeMatcher(new starts_once("panic: at once\n")));
}
