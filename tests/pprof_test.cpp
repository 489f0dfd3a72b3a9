// Profiles (go/pprof.hpp): each is written in pprof's format and read back with
// `go tool pprof`, which must find this file's functions at the lines where they block.
// Without Go on the machine those tests report themselves skipped; the text form (debug 1)
// is checked without it.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "go/go.hpp"
#include "go/pprof.hpp"
#include "go/task.hpp"
#include "go_tool.hpp"
#include "runtime/unwind.hpp"

using namespace std::chrono_literals;
using gocxx_test::have_go;
using gocxx_test::pprof;

namespace {

__attribute__((noinline)) void pprof_blocked_receiver(go::chan<int> ch) {
  ch.recv();
  asm volatile("");
}
constexpr int receiver_line = __LINE__ - 3;

__attribute__((noinline)) void pprof_blocked_sender(go::chan<int> ch) {
  ch.send(1);
  asm volatile("");
}
constexpr int sender_line = __LINE__ - 3;

__attribute__((noinline)) void pprof_mutex_holder(go::mutex& m, go::chan<void> locked) {
  m.lock();
  locked.send();
  go::sleep(20ms);
  m.unlock();
  asm volatile("");
}
constexpr int unlock_line = __LINE__ - 3;

__attribute__((noinline)) void pprof_mutex_waiter(go::mutex& m) {
  m.lock();
  asm volatile("");
  m.unlock();
}
constexpr int lock_line = __LINE__ - 4;

// Spawned, not awaited: a coroutine that another awaits may be inlined into it (clang).
go::task<void> pprof_stackless_receiver(go::chan<int> ch, go::chan<void> done) {
  co_await go::async_recv(ch);
  co_await go::async_send(done);
}

__attribute__((noinline)) void pprof_sleeper() {
  go::sleep(30ms);
  asm volatile("");
}

std::string temp_file(const std::string& name) {
  std::string path = testing::TempDir() + "gocxx_pprof_" + std::to_string(getpid()) + "_" + name + ".pb.gz";
  return path;
}

void write_profile(const std::string& name, const std::string& path, int debug = 0) {
  std::ofstream f(path, std::ios::binary);
  go::pprof::lookup(name)->write_to(f, debug);
}

std::string at_line(int line) { return "pprof_test.cpp:" + std::to_string(line); }

// The goroutines in a goroutine profile's text form (debug 1) whose stacks have `function`.
int goroutines_in(const std::string& text, const std::string& function) {
  int n = 0;
  std::istringstream in(text);
  int count = 0;
  bool counted = false;
  for (std::string line; std::getline(in, line);) {
    if (line.find(" @") != std::string::npos && !line.empty() && line[0] != '#') {
      count = std::atoi(line.c_str());
      counted = false;
    } else if (!counted && line.find(function) != std::string::npos) {
      n += count;
      counted = true;
    }
  }
  return n;
}

// The goroutines in a goroutine dump (debug 2) that have `function` among their frames (not
// only in the "blocked at" line, which the dump writes without walking the stack).
int goroutines_dumped_in(const std::string& dump, const std::string& function) {
  int n = 0;
  bool counted = false;
  std::istringstream in(dump);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("goroutine ", 0) == 0) {
      counted = false;
    } else if (!counted && line[0] != '\t' && line.rfind("created by ", 0) != 0 &&
               line.find(function) != std::string::npos) {
      ++n;
      counted = true;
    }
  }
  return n;
}

void wait_for_goroutines(int n) {
  for (int i = 0; i < 500 && go::num_goroutine() < n; ++i) go::sleep(1ms);
  go::sleep(20ms);  // and for them to park
}

// Parks 50 goroutines in pprof_blocked_receiver and writes the goroutine profile at `debug`
// until count finds them all in it, each writing paying at most one barrier.
void expect_one_barrier_for_parked_stacks(int debug, int (*count)(const std::string&, const std::string&)) {
  go::run([&] {
    auto ch = go::make_chan<int>();
    int base = go::num_goroutine();
    for (int i = 0; i < 50; ++i) go::spawn(pprof_blocked_receiver, ch);
    wait_for_goroutines(base + 50);
    std::string text;
    for (int i = 0; i < 100 && count(text, "pprof_blocked_receiver") < 50; ++i) {  // until all park
      if (i) go::sleep(10ms);
      std::uint64_t before = go::detail::stack_read_barriers();
      std::ostringstream out;
      go::pprof::lookup("goroutine")->write_to(out, debug);
      EXPECT_LE(go::detail::stack_read_barriers() - before, 1u);
      text = out.str();
    }
    EXPECT_EQ(count(text, "pprof_blocked_receiver"), 50) << text;
    for (int i = 0; i < 50; ++i) ch.send(i);
  });
}

}  // namespace

TEST(Pprof, LookupKnowsGosProfileNames) {
  EXPECT_TRUE(go::pprof::lookup("goroutine"));
  EXPECT_TRUE(go::pprof::lookup("block"));
  EXPECT_TRUE(go::pprof::lookup("mutex"));
  EXPECT_FALSE(go::pprof::lookup("nonesuch"));
  ASSERT_EQ(go::pprof::profiles().size(), 3u);
  EXPECT_EQ(go::pprof::profiles()[1].name(), "goroutine");
}

TEST(Pprof, GoroutineProfileTextGroupsStacksWithTheirState) {
  go::run([] {
    auto ch = go::make_chan<int>();
    int base = go::num_goroutine();
    for (int i = 0; i < 3; ++i) go::spawn(pprof_blocked_receiver, ch);
    wait_for_goroutines(base + 3);
    std::ostringstream out;
    go::pprof::lookup("goroutine")->write_to(out, 1);
    std::string text = out.str();
    EXPECT_NE(text.find("goroutine profile: total"), std::string::npos) << text;
    EXPECT_NE(text.find("\n3 @"), std::string::npos) << text;
    EXPECT_NE(text.find("{\"state\":\"chan receive\"}"), std::string::npos) << text;
    EXPECT_NE(text.find("pprof_blocked_receiver"), std::string::npos) << text;
    for (int i = 0; i < 3; ++i) ch.send(i);
  });
}

// Echoes what comes in on `in` to `out` until `in` is closed.
__attribute__((noinline)) void pprof_echo(go::chan<int> in, go::chan<int> out) {
  while (auto v = in.recv()) out.send(*v);
  asm volatile("");
}

// Goroutines that park and resume all the time while profiles are taken: a parked stack is
// read while its goroutine cannot resume (unwind.cpp), which ThreadSanitizer checks; the
// goroutine that stays parked is found by every walk.
TEST(Pprof, GoroutineProfileWhileGoroutinesParkAndResume) {
  go::run([] {
    auto forever = go::make_chan<int>();
    go::spawn(pprof_blocked_receiver, forever);
    std::atomic<bool> stop{false};
    go::wait_group wg;
    for (int pair = 0; pair < 2; ++pair) {
      auto there = go::make_chan<int>(), back = go::make_chan<int>();
      wg.go([=] { pprof_echo(there, back); });
      wg.go([=, &stop] {
        for (int i = 0; !stop.load(); ++i) {
          there.send(i);
          back.recv();
        }
        there.close();
      });
    }
    auto profile = [] {
      std::ostringstream out;
      go::pprof::lookup("goroutine")->write_to(out, 1);
      return out.str();
    };
    // Once the receiver has parked (a loaded machine may take a while to run it), every
    // profile finds it.
    for (int k = 0; k < 500 && profile().find("pprof_blocked_receiver") == std::string::npos; ++k) go::sleep(10ms);
    for (int i = 0; i < 20; ++i) {
      std::string text = profile();
      EXPECT_NE(text.find("pprof_blocked_receiver"), std::string::npos) << text;
    }
    stop.store(true);
    wg.wait();
    forever.send(1);
  });
}

// A profile holds every parked stack it reads with one barrier, however many goroutines are
// parked (unwind.hpp), and still walks each.
TEST(Pprof, GoroutineProfilePaysOneBarrierForAllParkedStacks) {
  expect_one_barrier_for_parked_stacks(1, goroutines_in);
}

// So does the goroutine dump (debug 2, go::dump_goroutines).
TEST(Pprof, GoroutineDumpPaysOneBarrierForAllParkedStacks) {
  expect_one_barrier_for_parked_stacks(2, goroutines_dumped_in);
}

TEST(Pprof, GoroutineProfileReadsBackWithGoToolPprof) {
  if (!have_go()) GTEST_SKIP() << "go is not installed";
  std::string path = temp_file("goroutine");
  go::run([&] {
    auto ch = go::make_chan<int>();
    int base = go::num_goroutine();
    for (int i = 0; i < 4; ++i) go::spawn(pprof_blocked_receiver, ch);
    for (int i = 0; i < 2; ++i) go::spawn(pprof_blocked_sender, go::chan<int>());
    wait_for_goroutines(base + 6);
    write_profile("goroutine", path);
    for (int i = 0; i < 4; ++i) ch.send(i);
  });
  std::string traces = pprof("-traces -lines", path);
  EXPECT_NE(traces.find("pprof_blocked_receiver"), std::string::npos) << traces;
  EXPECT_NE(traces.find(at_line(receiver_line)), std::string::npos) << traces;
  EXPECT_NE(traces.find("pprof_blocked_sender"), std::string::npos) << traces;
  EXPECT_NE(traces.find(at_line(sender_line)), std::string::npos) << traces;
  EXPECT_NE(traces.find("chan receive"), std::string::npos) << traces;
  EXPECT_NE(traces.find("chan send (nil chan)"), std::string::npos) << traces;
  std::string top = pprof("-top", path);
  EXPECT_NE(top.find("pprof_blocked_receiver"), std::string::npos) << top;
  std::remove(path.c_str());
}

// Each goroutine's labels are its sample's labels, beside its state, for both kinds of
// goroutine: the text form prints them as Go does, `go tool pprof -tags` lists them and
// -tagfocus picks the goroutines by them.
TEST(Pprof, GoroutineProfileCarriesLabels) {
  std::string path = temp_file("goroutine_labels");
  go::run([&] {
    auto ch = go::make_chan<int>();
    auto done = go::make_chan<void>();
    int base = go::num_goroutine();
    go::pprof::with_labels({{"worker", "stackful"}}, [&] {
      for (int i = 0; i < 2; ++i) go::spawn(pprof_blocked_receiver, ch);
    });
    go::pprof::with_labels({{"worker", "stackless"}}, [&] { go::spawn(pprof_stackless_receiver(ch, done)); });
    wait_for_goroutines(base + 3);
    std::ostringstream out;
    go::pprof::lookup("goroutine")->write_to(out, 1);
    std::string text = out.str();
    EXPECT_NE(text.find("\n2 @"), std::string::npos) << text;
    EXPECT_NE(text.find("# labels: {\"state\":\"chan receive\", \"worker\":\"stackful\"}"), std::string::npos) << text;
    EXPECT_NE(text.find("# labels: {\"state\":\"chan receive\", \"worker\":\"stackless\"}"), std::string::npos) << text;
    write_profile("goroutine", path);
    for (int i = 0; i < 3; ++i) ch.send(i);
    done.recv();
  });
  if (!have_go()) GTEST_SKIP() << "go is not installed";
  std::string tags = pprof("-tags", path);
  EXPECT_NE(tags.find("worker"), std::string::npos) << tags;
  EXPECT_NE(tags.find("stackful"), std::string::npos) << tags;
  EXPECT_NE(tags.find("stackless"), std::string::npos) << tags;
  std::string stackful = pprof("-traces -tagfocus=worker=stackful", path);
  EXPECT_NE(stackful.find("pprof_blocked_receiver"), std::string::npos) << stackful;
  EXPECT_EQ(stackful.find("(stackless)"), std::string::npos) << stackful;
  std::string stackless = pprof("-traces -tagfocus=worker=stackless", path);
  EXPECT_NE(stackless.find("(stackless)"), std::string::npos) << stackless;
  EXPECT_EQ(stackless.find("pprof_blocked_receiver"), std::string::npos) << stackless;
  std::remove(path.c_str());
}

// Goroutines that replace their labels, and exit with them, while profiles read them from
// another thread (labels.hpp): run it under ThreadSanitizer and AddressSanitizer too.
TEST(Pprof, GoroutineProfileWhileGoroutinesRelabelAndExit) {
  go::run([] {
    std::atomic<bool> stop{false};
    go::wait_group wg;
    for (int w = 0; w < 3; ++w) {
      wg.go([w, &stop] {
        for (int i = 0; !stop.load(); ++i) {
          go::pprof::set_goroutine_labels({{"worker", std::to_string(w)}, {"round", std::to_string(i)}});
          go::wait_group inner;
          inner.go([] { go::yield(); });  // exits with a copy of the labels
          inner.wait();
          go::yield();
        }
      });
    }
    for (int i = 0; i < 20; ++i) {
      std::ostringstream out;
      go::pprof::lookup("goroutine")->write_to(out, 1);
      EXPECT_NE(out.str().find("goroutine profile: total"), std::string::npos);
    }
    stop.store(true);
    wg.wait();
  });
}

TEST(Pprof, BlockProfileHasChannelWaitsAndNotSleeps) {
  if (!have_go()) GTEST_SKIP() << "go is not installed";
  std::string path = temp_file("block");
  go::set_block_profile_rate(1);
  go::run([&] {
    auto ch = go::make_chan<int>();
    go::wait_group wg;
    wg.go([&] { pprof_blocked_receiver(ch); });
    wg.go(pprof_sleeper);
    go::sleep(10ms);
    ch.send(1);
    wg.wait();
  });
  go::set_block_profile_rate(0);
  write_profile("block", path);
  std::string traces = pprof("-traces -lines", path);
  EXPECT_NE(traces.find("pprof_blocked_receiver"), std::string::npos) << traces;
  EXPECT_NE(traces.find(at_line(receiver_line)), std::string::npos) << traces;
  EXPECT_EQ(traces.find("pprof_sleeper"), std::string::npos) << traces;
  std::string top = pprof("-top -sample_index=delay", path);
  EXPECT_NE(top.find("pprof_blocked_receiver"), std::string::npos) << top;
  std::remove(path.c_str());
}

// A stackless goroutine's wait is charged to the coroutine that awaited, as a stackful one's
// is to the function that blocked.
TEST(Pprof, BlockProfileHasStacklessWaits) {
  if (!have_go()) GTEST_SKIP() << "go is not installed";
  std::string path = temp_file("block_stackless");
  go::set_block_profile_rate(1);
  go::run([&] {
    auto ch = go::make_chan<int>();
    auto done = go::make_chan<void>();
    go::spawn(pprof_stackless_receiver(ch, done));
    go::sleep(10ms);
    ch.send(1);
    done.recv();
  });
  go::set_block_profile_rate(0);
  write_profile("block", path);
  std::string traces = pprof("-traces", path);
  EXPECT_NE(traces.find("pprof_stackless_receiver"), std::string::npos) << traces;
  std::remove(path.c_str());
}

TEST(Pprof, BlockProfileIsEmptyWhileOff) {
  int before = go::pprof::lookup("block")->count();
  go::run([] {
    auto ch = go::make_chan<int>();
    go::spawn([&] { ch.send(1); });
    ch.recv();
  });
  EXPECT_EQ(go::pprof::lookup("block")->count(), before);
}

TEST(Pprof, MutexProfileChargesTheUnlocker) {
  if (!have_go()) GTEST_SKIP() << "go is not installed";
  std::string path = temp_file("mutex");
  EXPECT_EQ(go::set_mutex_profile_fraction(1), 0);
  go::run([&] {
    go::mutex m;
    auto locked = go::make_chan<void>();
    go::wait_group wg;
    wg.go([&] { pprof_mutex_holder(m, locked); });
    locked.recv();
    wg.go([&] { pprof_mutex_waiter(m); });
    wg.wait();
  });
  EXPECT_EQ(go::set_mutex_profile_fraction(0), 1);
  write_profile("mutex", path);
  std::string traces = pprof("-traces -lines", path);
  EXPECT_NE(traces.find("pprof_mutex_holder"), std::string::npos) << traces;
  EXPECT_NE(traces.find(at_line(unlock_line)), std::string::npos) << traces;
  EXPECT_EQ(traces.find("pprof_mutex_waiter"), std::string::npos) << traces;
  std::remove(path.c_str());
  // The waiter's side is the block profile's, when that is on; here it was off.
  (void)lock_line;
}
