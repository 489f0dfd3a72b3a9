// GoogleTest helpers for code that uses goroutines (Go's goleak). Header-only; include it in
// test code that links GoogleTest.
//
//   TEST(MyTest, DoesNotLeak) {
//     go::testing::leak_check check;   // fails the test if goroutines outlive it
//     ...
//   }
//
//   // or for every test of a binary, in main() or a global environment:
//   ::testing::UnitTest::GetInstance()->listeners().Append(new go::testing::leak_listener);
//
//   // a test body under 100 random schedules (go/synctest.hpp), failing with the seed:
//   go::testing::for_each_seed(100, [] { ... EXPECT_...; });
//
// A goroutine "leaks" when the number of goroutines at the end of the scope (or test) is
// higher than at its start. Goroutines that are about to exit get a grace period (default
// 1 s) to finish; after it, the check fails the test and lists the goroutines as the
// goroutine dump does.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>

#include "go/runtime.hpp"
#include "go/synctest.hpp"
#include "go/time.hpp"

namespace go::testing {

// leaked_goroutines waits up to `grace` for the goroutine count to fall to `baseline`;
// returns how many are left above it (0: no leak).
inline int leaked_goroutines(int baseline, std::chrono::milliseconds grace = std::chrono::seconds(1)) {
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (go::num_goroutine() > baseline && std::chrono::steady_clock::now() < deadline) {
    go::sleep(std::chrono::milliseconds(1));
  }
  return go::num_goroutine() > baseline ? go::num_goroutine() - baseline : 0;
}

inline std::string goroutine_dump() {
  std::ostringstream out;
  go::dump_goroutines(out);
  return out.str();
}

// leak_check fails the current test if its scope ends with more goroutines than it began.
class leak_check {
 public:
  explicit leak_check(std::chrono::milliseconds grace = std::chrono::seconds(1))
      : baseline_(go::num_goroutine()), grace_(grace) {}
  leak_check(const leak_check&) = delete;
  leak_check& operator=(const leak_check&) = delete;
  ~leak_check() {
    if (int n = leaked_goroutines(baseline_, grace_)) {
      ADD_FAILURE() << n << " goroutine(s) leaked:\n" << goroutine_dump();
    }
  }

 private:
  int baseline_;
  std::chrono::milliseconds grace_;
};

// leak_listener checks every test of the binary the way leak_check does.
class leak_listener : public ::testing::EmptyTestEventListener {
 public:
  void OnTestStart(const ::testing::TestInfo&) override { baseline_ = go::num_goroutine(); }
  void OnTestEnd(const ::testing::TestInfo& info) override {
    if (int n = leaked_goroutines(baseline_)) {
      std::fprintf(stderr, "%s.%s leaked %d goroutine(s):\n%s", info.test_suite_name(), info.name(), n,
                   goroutine_dump().c_str());
      // A listener cannot fail the test that just ended; fail the next assertion point.
      leaked_ = true;
    }
  }
  void OnTestProgramEnd(const ::testing::UnitTest&) override {
    if (leaked_) std::fprintf(stderr, "goroutine leaks were found (see above)\n");
  }
  bool leaked() const noexcept { return leaked_; }

 private:
  int baseline_ = 0;
  bool leaked_ = false;
};

namespace detail {
inline int failed_parts() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  if (!info) return 0;
  int n = 0;
  for (int i = 0; i < info->result()->total_part_count(); ++i) n += info->result()->GetTestPartResult(i).failed();
  return n;
}
}  // namespace detail

// for_each_seed runs body() in a synctest bubble (go/synctest.hpp) under `count` random
// schedules, seeds first, first + 1, ..., and stops at the first run that fails a GoogleTest
// assertion or throws: the test then fails, naming the seed. With the environment variable
// GOCXX_SYNCTEST_SEED set, it runs that seed alone (to reproduce a failure, e.g. in a
// debugger). body runs once per seed: it must set up its own state.
template <class F>
void for_each_seed(int count, F&& body, std::uint64_t first = 1) {
  if (const char* e = std::getenv("GOCXX_SYNCTEST_SEED"); e && *e) {
    first = std::strtoull(e, nullptr, 10);
    count = 1;
  }
  for (int i = 0; i < count; ++i) {
    std::uint64_t seed = first + static_cast<std::uint64_t>(i);
    int failed_before = detail::failed_parts();
    std::string error;
    try {
      go::synctest::run({.seed = seed}, body);
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "unknown exception";
    }
    if (!error.empty() || detail::failed_parts() != failed_before) {
      ADD_FAILURE() << error << (error.empty() ? "" : "\n") << "failed under synctest seed " << seed
                    << " (rerun it alone with GOCXX_SYNCTEST_SEED=" << seed << ")";
      return;
    }
  }
}

}  // namespace go::testing
