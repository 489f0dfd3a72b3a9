// The execution trace (go/trace.hpp): a known program's events, in order, in the JSON.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "go/go.hpp"
#include "go/trace.hpp"

using namespace std::chrono_literals;

namespace {

__attribute__((noinline)) void trace_receiver(go::chan<int> ch, std::atomic<std::uint64_t>* id) {
  id->store(go::this_goroutine::id());
  ch.recv();
  asm volatile("");
}
constexpr int receive_line = __LINE__ - 3;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

// The index of the first line at or after `from` that has every one of `parts`, or -1.
int find_line(const std::vector<std::string>& lines, std::vector<std::string> parts, int from = 0) {
  for (int i = std::max(from, 0); i < static_cast<int>(lines.size()); ++i) {
    bool all = true;
    for (const auto& p : parts) all = all && lines[i].find(p) != std::string::npos;
    if (all) return i;
  }
  return -1;
}

}  // namespace

TEST(Trace, KnownProgramHasItsEventsInOrder) {
  std::ostringstream out;
  std::uint64_t rid = 0;
  go::run([&] {
    auto ch = go::make_chan<int>();
    std::atomic<std::uint64_t> id{0};
    go::wait_group wg;
    go::trace::start(out);
    EXPECT_TRUE(go::trace::is_enabled());
    wg.go([&] { trace_receiver(ch, &id); });
    go::sleep(5ms);
    ch.send(1);
    wg.wait();
    go::trace::stop();
    rid = id.load();
  });
  EXPECT_FALSE(go::trace::is_enabled());
  std::string text = out.str();
  ASSERT_NE(rid, 0u);
  std::string g = std::to_string(rid);
  std::vector<std::string> lines = lines_of(text);
  int create = find_line(lines, {"\"create G" + g + "\""});
  int running = find_line(lines, {"\"name\":\"running\"", "\"pid\":2,\"tid\":" + g + ","}, create);
  int blocked = find_line(lines, {"\"name\":\"chan receive\"", "\"pid\":2,\"tid\":" + g + ","}, create);
  int unblock = find_line(lines, {"\"unblock G" + g + "\""}, blocked);
  int runs_again = find_line(lines, {"\"name\":\"running\"", "\"pid\":2,\"tid\":" + g + ","}, unblock);
  int on_worker = find_line(lines, {"\"name\":\"G" + g + "\"", "\"pid\":1,"});
  EXPECT_GE(create, 0) << text;
  EXPECT_GT(running, create) << text;
  EXPECT_GT(blocked, running) << text;
  EXPECT_GT(unblock, blocked) << text;
  EXPECT_GT(runs_again, unblock) << text;
  EXPECT_GE(on_worker, 0) << text;
  // The blocked slice names the blocking call.
  ASSERT_GE(blocked, 0);
  EXPECT_NE(lines[blocked].find("trace_test.cpp:" + std::to_string(receive_line)), std::string::npos) << lines[blocked];
  EXPECT_EQ(text.rfind("{\"displayTimeUnit\"", 0), 0u);
  EXPECT_EQ(text.substr(text.size() - 3), "]}\n");
}

TEST(Trace, OutputIsJsonThatPythonParses) {
  if (std::system("python3 -c 'import json' >/dev/null 2>&1") != 0) GTEST_SKIP() << "python3 is not installed";
  std::string path = testing::TempDir() + "gocxx_trace_" + std::to_string(getpid()) + ".json";
  {
    std::ofstream f(path);
    go::run([&] {
      go::trace::start(f);
      auto ch = go::make_chan<int>(4);
      go::wait_group wg;
      for (int i = 0; i < 4; ++i) {
        wg.go([&] {
          for (int k = 0; k < 100; ++k) ch.send(k);
        });
      }
      for (int k = 0; k < 400; ++k) ch.recv();
      wg.wait();
      go::trace::stop();
    });
  }
  std::string check =
      "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); "
      "ts=[e[\"ts\"] for e in d[\"traceEvents\"] if e[\"ph\"]!=\"M\"]; "
      "sys.exit(0 if ts==sorted(ts) and len(ts)>100 else 1)' " +
      path;
  EXPECT_EQ(std::system(check.c_str()), 0);
  std::remove(path.c_str());
}

TEST(Trace, StartTwiceThrowsAndStopWithoutStartDoesNothing) {
  go::trace::stop();
  std::ostringstream out;
  go::trace::start(out);
  EXPECT_THROW(go::trace::start(out), std::logic_error);
  go::trace::stop();
  go::trace::stop();
  EXPECT_FALSE(out.str().empty());
}
