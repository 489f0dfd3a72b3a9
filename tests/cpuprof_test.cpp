// The CPU profile and profiler labels (go/pprof.hpp): labels set, merged, restored and
// inherited; the profile read back with `go tool pprof` (skipped without Go), which must
// find the spinning function under its goroutine's labels.
#include <gtest/gtest.h>

#include <dirent.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <algorithm>
#include <map>
#include <set>
#include <thread>
#include <sstream>
#include <stdexcept>
#include <string>

#include "go/go.hpp"
#include "go/pprof.hpp"
#include "go/task.hpp"
#include "go_tool.hpp"
#include "test_scale.hpp"

using namespace std::chrono_literals;

namespace {

// Burns CPU for `rounds` rounds of work (a few milliseconds each), yielding between them.
// Inlined, so that the samples land in the named function that calls it.
[[gnu::always_inline]] inline std::uint64_t burn(int rounds, std::uint64_t increment) {
  std::uint64_t x = 1;
  for (int r = 0; r < rounds; ++r) {
    for (int i = 0; i < 1'000'000; ++i) x = x * 6364136223846793005ULL + increment;
    asm volatile("" : "+r"(x));
    go::yield();
  }
  return x;
}

// Two functions whose code differs (identical ones may be folded into one), neither inlined.
__attribute__((noinline)) std::uint64_t cpuprof_spin_a(int rounds) {
  std::uint64_t x = burn(rounds, 1442695040888963407ULL);
  asm volatile("");
  return x;
}

__attribute__((noinline)) std::uint64_t cpuprof_spin_b(int rounds) {
  std::uint64_t x = burn(rounds, 1013904223ULL);
  asm volatile("");
  return x;
}

__attribute__((noinline)) std::uint64_t cpuprof_spin_stackless(int rounds) {
  std::uint64_t x = burn(rounds, 2891336453ULL);
  asm volatile("");
  return x;
}

// A stackless goroutine that labels itself and burns CPU on its worker's stack, yielding
// between rounds (go::yield does nothing in a stackless goroutine). Spawned, not awaited: a
// coroutine that another awaits may be inlined into it (clang).
go::task<void> cpuprof_stackless_spinner(int rounds, go::wait_group* wg) {
  go::pprof::set_goroutine_labels({{"worker", "stackless"}});
  for (int r = 0; r < rounds; ++r) {
    cpuprof_spin_stackless(1);
    co_await go::async_yield();
  }
  wg->done();
}

std::int64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Spins on the calling thread until it has used cpu_ns of CPU time; returns what it used.
__attribute__((noinline)) std::int64_t cpuprof_spin_thread(std::int64_t cpu_ns) {
  std::int64_t start = thread_cpu_ns(), used = 0;
  std::uint64_t x = 1;
  while ((used = thread_cpu_ns() - start) < cpu_ns) {
    for (int i = 0; i < 100'000; ++i) x = x * 6364136223846793005ULL + 7;
    asm volatile("" : "+r"(x));
  }
  return used;
}

// The ids of this process's worker threads (named gocxx-worker).
std::set<int> worker_tids() {
  std::set<int> tids;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream comm(std::string("/proc/self/task/") + e->d_name + "/comm");
      std::string name;
      if (std::getline(comm, name) && name == "gocxx-worker") tids.insert(std::atoi(e->d_name));
    }
    closedir(d);
  }
  return tids;
}

// The threads that a POSIX timer of this process sends SIGPROF to (/proc/self/timers:
// "signal: 27/...", then "notify: signal/tid.1234").
std::set<int> sigprof_timer_tids() {
  std::set<int> tids;
  std::ifstream in("/proc/self/timers");
  std::string line;
  bool sigprof = false;
  while (std::getline(in, line)) {
    if (line.rfind("signal: ", 0) == 0) sigprof = line.rfind("signal: " + std::to_string(SIGPROF) + "/", 0) == 0;
    std::size_t at = line.find("/tid.");
    if (sigprof && line.rfind("notify: ", 0) == 0 && at != std::string::npos) tids.insert(std::atoi(&line[at + 5]));
  }
  return tids;
}

std::string temp_file(const std::string& name) {
  return testing::TempDir() + "gocxx_cpuprof_" + std::to_string(getpid()) + "_" + name + ".pb.gz";
}

}  // namespace

TEST(PprofLabels, WithLabelsMergesAndRestores) {
  go::run([] {
    EXPECT_TRUE(go::pprof::goroutine_labels().empty());
    go::pprof::with_labels({{"worker", "a"}, {"phase", "1"}}, [] {
      EXPECT_EQ(go::pprof::goroutine_labels(), (go::pprof::label_set{{"worker", "a"}, {"phase", "1"}}));
      go::pprof::with_labels({{"phase", "2"}}, [] {
        EXPECT_EQ(go::pprof::goroutine_labels(), (go::pprof::label_set{{"worker", "a"}, {"phase", "2"}}));
      });
      EXPECT_EQ(go::pprof::goroutine_labels(), (go::pprof::label_set{{"worker", "a"}, {"phase", "1"}}));
    });
    EXPECT_TRUE(go::pprof::goroutine_labels().empty());
  });
}

TEST(PprofLabels, RestoredWhenTheFunctionThrows) {
  go::run([] {
    go::pprof::set_goroutine_labels({{"k", "before"}});
    EXPECT_THROW(go::pprof::with_labels({{"k", "inside"}}, [] { throw std::runtime_error("x"); }), std::runtime_error);
    EXPECT_EQ(go::pprof::goroutine_labels(), (go::pprof::label_set{{"k", "before"}}));
    go::pprof::set_goroutine_labels({});
    EXPECT_TRUE(go::pprof::goroutine_labels().empty());
  });
}

TEST(PprofLabels, WithLabelsReturnsWhatTheFunctionReturns) {
  go::run([] { EXPECT_EQ(go::pprof::with_labels({{"k", "v"}}, [] { return 42; }), 42); });
}

TEST(PprofLabels, InheritedByGoroutinesSpawnedWhileSet) {
  go::run([] {
    auto seen = go::make_chan<go::pprof::label_set>(3);
    go::pprof::with_labels({{"worker", "a"}}, [&] {
      go::spawn([=] {
        seen.send(go::pprof::goroutine_labels());
        go::spawn([=] { seen.send(go::pprof::goroutine_labels()); });  // and by theirs
      });
    });
    go::spawn([=] { seen.send(go::pprof::goroutine_labels()); });  // after: none
    std::map<std::string, int> by_worker;
    for (int i = 0; i < 3; ++i) {
      go::pprof::label_set l = *seen.recv();
      ++by_worker[l.count("worker") ? l["worker"] : ""];
    }
    EXPECT_EQ(by_worker["a"], 2);
    EXPECT_EQ(by_worker[""], 1);
  });
}

TEST(PprofLabels, ChildKeepsItsCopyWhenTheParentChangesLabels) {
  go::run([] {
    auto go_on = go::make_chan<void>();
    auto seen = go::make_chan<go::pprof::label_set>();
    go::pprof::set_goroutine_labels({{"k", "1"}});
    go::spawn([=] {
      go_on.recv();
      seen.send(go::pprof::goroutine_labels());
    });
    go::pprof::set_goroutine_labels({{"k", "2"}});
    go_on.send();
    EXPECT_EQ(seen.recv(), (go::pprof::label_set{{"k", "1"}}));
    go::pprof::set_goroutine_labels({});
  });
}

TEST(PprofLabels, NothingOnAPlainThread) {
  go::pprof::set_goroutine_labels({{"k", "v"}});
  EXPECT_TRUE(go::pprof::goroutine_labels().empty());
}

TEST(PprofCpu, StartTwiceIsAnError) {
  std::ostringstream first, second;
  go::pprof::start_cpu_profile(first);
  try {
    go::pprof::start_cpu_profile(second);
    ADD_FAILURE() << "a second start succeeded";
  } catch (const std::logic_error& e) {
    EXPECT_STREQ(e.what(), "cpu profiling already in use");
  }
  go::pprof::stop_cpu_profile();
  EXPECT_EQ(second.str(), "");
  ASSERT_GE(first.str().size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(first.str()[0]), 0x1f);  // gzip's magic
  std::size_t written = first.str().size();
  go::pprof::stop_cpu_profile();  // without a start: nothing
  EXPECT_EQ(first.str().size(), written);
  go::pprof::start_cpu_profile(second);  // and it can start again
  go::pprof::stop_cpu_profile();
  EXPECT_NE(second.str(), "");
}

TEST(PprofCpu, SpinningFunctionShowsUpUnderItsLabels) {
  if (!gocxx_test::have_go()) GTEST_SKIP() << "go is not installed";
  std::string path = temp_file("labels");
  {
    std::ofstream f(path, std::ios::binary);
    go::pprof::start_cpu_profile(f);
    go::run([] {
      go::wait_group wg;
      wg.go([] { go::pprof::with_labels({{"worker", "a"}}, [] { cpuprof_spin_a(300); }); });
      wg.go([] { go::pprof::with_labels({{"worker", "b"}}, [] { cpuprof_spin_b(300); }); });
      wg.wait();
    });
    go::pprof::stop_cpu_profile();
  }
  std::string raw = gocxx_test::pprof("-raw", path);
  EXPECT_NE(raw.find("PeriodType: cpu nanoseconds"), std::string::npos) << raw;
  EXPECT_NE(raw.find("samples/count cpu/nanoseconds"), std::string::npos) << raw;
  std::string a = gocxx_test::pprof("-top -tagfocus=worker=a", path);
  EXPECT_NE(a.find("cpuprof_spin_a"), std::string::npos) << a;
  EXPECT_EQ(a.find("cpuprof_spin_b"), std::string::npos) << a;
  std::string b = gocxx_test::pprof("-top -tagfocus=worker=b", path);
  EXPECT_NE(b.find("cpuprof_spin_b"), std::string::npos) << b;
  EXPECT_EQ(b.find("cpuprof_spin_a"), std::string::npos) << b;
  std::remove(path.c_str());
}

// A stackless goroutine runs on its worker's scheduler stack, not a stack of its own; its
// samples carry its labels all the same.
TEST(PprofCpu, StacklessGoroutineSamplesCarryItsLabels) {
  if (!gocxx_test::have_go()) GTEST_SKIP() << "go is not installed";
  std::string path = temp_file("stackless_labels");
  {
    std::ofstream f(path, std::ios::binary);
    go::pprof::start_cpu_profile(f);
    go::run([] {
      go::wait_group wg;
      wg.go([] { go::pprof::with_labels({{"worker", "stackful"}}, [] { cpuprof_spin_a(200); }); });
      wg.add(1);
      go::spawn(cpuprof_stackless_spinner(200, &wg));
      wg.wait();
    });
    go::pprof::stop_cpu_profile();
  }
  std::string stackless = gocxx_test::pprof("-top -tagfocus=worker=stackless", path);
  EXPECT_NE(stackless.find("cpuprof_spin_stackless"), std::string::npos) << stackless;
  EXPECT_EQ(stackless.find("cpuprof_spin_a"), std::string::npos) << stackless;
  std::string stackful = gocxx_test::pprof("-top -tagfocus=worker=stackful", path);
  EXPECT_NE(stackful.find("cpuprof_spin_a"), std::string::npos) << stackful;
  EXPECT_EQ(stackful.find("cpuprof_spin_stackless"), std::string::npos) << stackful;
  std::remove(path.c_str());
}

// Every worker thread, one started during the profile too, has a CPU timer of its own while
// the profile runs (cpuprof.cpp), and none after it.
TEST(PprofCpu, EveryWorkerThreadHasATimerOfItsOwn) {
  if (access("/proc/self/timers", R_OK) != 0) GTEST_SKIP() << "no /proc/self/timers";
  go::run([] {});  // the runtime's workers run
  std::ostringstream out;
  go::pprof::start_cpu_profile(out);
  int procs = go::max_procs();
  go::set_max_procs(procs + 1);  // starts a worker thread if that slot never had one
  // A thread is named before it registers, and unregistered before it ends: look until the
  // two sets agree.
  std::set<int> workers, timed;
  bool covered = false;
  for (int i = 0; i < 1000 && !covered; ++i) {
    if (i) std::this_thread::sleep_for(10ms);
    workers = worker_tids();
    timed = sigprof_timer_tids();
    covered = !workers.empty() && std::includes(timed.begin(), timed.end(), workers.begin(), workers.end());
  }
  go::pprof::stop_cpu_profile();
  go::set_max_procs(procs);
  EXPECT_TRUE(covered) << workers.size() << " worker threads, " << timed.size() << " with a timer";
  EXPECT_TRUE(sigprof_timer_tids().empty());
}

// A goroutine that burns CPU while the other threads idle is sampled by its thread's own
// timer: its samples are there, under its labels and in its function, and they are no more
// than its thread's CPU time allows (a sample per 10 ms of it, and the first, which comes
// after a random part of one period).
TEST(PprofCpu, BusyGoroutineIsSampledByItsThreadsCpuTime) {
  if (!gocxx_test::have_go()) GTEST_SKIP() << "go is not installed";
  std::string path = temp_file("busy");
  std::int64_t used = 0;
  {
    std::ofstream f(path, std::ios::binary);
    go::pprof::start_cpu_profile(f);
    go::run([&] {
      go::wait_group wg;
      wg.go([&] {
        go::lock_os_thread();  // one thread, whose CPU clock measures the spin
        go::pprof::with_labels({{"worker", "busy"}}, [&] { used = cpuprof_spin_thread(300'000'000); });
        go::unlock_os_thread();
      });
      wg.wait();
    });
    go::pprof::stop_cpu_profile();
  }
  std::string top = gocxx_test::pprof("-top -sample_index=samples -tagfocus=worker=busy", path);
  // The function's line: flat flat% sum% cum cum% name.
  std::int64_t samples = -1;
  std::istringstream lines(top);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("cpuprof_spin_thread") == std::string::npos) continue;
    std::istringstream fields(line);
    std::string flat, flat_share, sum;
    fields >> flat >> flat_share >> sum >> samples;
  }
  EXPECT_GE(samples, 1) << top;
  EXPECT_LE(samples, used / 10'000'000 + 2) << top;
  std::remove(path.c_str());
}

// The profiler's own thread is the runtime's: a deadlock is still seen while it runs.
TEST(PprofCpu, DeadlockIsReportedWhileProfiling) {
  if (!gocxx_test::deadlock_detected) GTEST_SKIP() << "other threads in the process: detection is off";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        std::ostringstream out;
        go::pprof::start_cpu_profile(out);
        go::run([] { go::make_chan<int>().recv(); });
      },
      testing::ExitedWithCode(2), "fatal error: all goroutines are asleep - deadlock!");
}

// Goroutines that switch threads, change their labels and spawn others under a running
// profile: every sample is taken on whichever thread, with whichever labels (run it with
// GOCXX_DEBUG_MIGRATE=1 and under ThreadSanitizer too).
TEST(PprofCpu, ProfilingWhileGoroutinesMigrateAndRelabel) {
  std::ostringstream out;
  go::pprof::start_cpu_profile(out);
  go::run([] {
    go::wait_group wg;
    auto ping = go::make_chan<int>();
    for (int w = 0; w < 4; ++w) {
      wg.go([=] {
        for (int i = 0; i < 200; ++i) {
          go::pprof::set_goroutine_labels({{"worker", std::to_string(w)}, {"round", std::to_string(i % 3)}});
          go::pprof::with_labels({{"inner", "x"}}, [&] {
            std::uint64_t x = 1;
            for (int k = 0; k < 20000; ++k) x = x * 6364136223846793005ULL + 1;
            asm volatile("" ::"r"(x));
            if (w % 2 == 0) ping.send(i);
            else ping.recv();
            go::wait_group inner;
            inner.go([] { go::yield(); });
            inner.wait();
          });
        }
      });
    }
    wg.wait();
  });
  go::pprof::stop_cpu_profile();
  ASSERT_GE(out.str().size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(out.str()[0]), 0x1f);
}
