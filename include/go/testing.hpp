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
// A goroutine "leaks" when the number of goroutines at the end of the scope (or test) is
// higher than at its start. Goroutines that are about to exit get a grace period (default
// 1 s) to finish; after it, the check fails the test and lists the goroutines as the
// goroutine dump does.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "go/runtime.hpp"
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

}  // namespace go::testing
