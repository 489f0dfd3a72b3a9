// Ports of golang.org/x/time/rate's sometimes_test.go, named after them. Go's examples
// compare printed lines; here each records the numbers of the calls that ran f. The interval
// examples run in a synctest bubble, whose fake clock makes their sleeps exact.
//
// Go's TestSometimesZero, TestSometimesMax and TestSometimesNegative only check that Do does
// not crash; here each also checks which calls ran f.
// Not ported: BenchmarkSometimes.
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <vector>

#include "go/rate.hpp"
#include "go/synctest.hpp"
#include "go/time.hpp"

namespace {

using namespace std::chrono_literals;

// calls runs s.call n times (the i-th call records i, counting from 1) and returns what ran.
std::vector<int> calls(go::rate::sometimes& s, int n, std::vector<int> ran = {}) {
  int first = static_cast<int>(s.count_) + 1;
  for (int i = first; i < first + n; ++i) s.call([&] { ran.push_back(i); });
  return ran;
}

// ExampleSometimes_once: the zero value runs f exactly once, like go::once.
TEST(GoRate, ExampleSometimesOnce) {
  go::rate::sometimes s;
  EXPECT_EQ(calls(s, 3), std::vector<int>({1}));
}

TEST(GoRate, ExampleSometimesFirst) {
  go::rate::sometimes s{.first = 2};
  EXPECT_EQ(calls(s, 3), std::vector<int>({1, 2}));
}

TEST(GoRate, ExampleSometimesEvery) {
  go::rate::sometimes s{.every = 2};
  EXPECT_EQ(calls(s, 3), std::vector<int>({1, 3}));
}

TEST(GoRate, ExampleSometimesInterval) {
  go::synctest::run([] {
    go::rate::sometimes s{.interval = 1s};
    std::vector<int> ran = calls(s, 2);
    go::sleep(1s);
    EXPECT_EQ(calls(s, 1, ran), std::vector<int>({1, 3}));
  });
}

TEST(GoRate, ExampleSometimesMix) {
  go::synctest::run([] {
    go::rate::sometimes s{.first = 2, .every = 2, .interval = 2s};
    std::vector<int> ran = calls(s, 3);  // 1 and 2 (first: 2), 3 (every: 2)
    go::sleep(2s);
    // 4 (interval), 5 (every: 2), not 6
    EXPECT_EQ(calls(s, 3, ran), std::vector<int>({1, 2, 3, 4, 5}));
  });
}

TEST(GoRate, SometimesZero) {
  go::rate::sometimes s{.interval = 0s};
  EXPECT_EQ(calls(s, 2), std::vector<int>({1})) << "a zero interval is no filter";
}

TEST(GoRate, SometimesMax) {
  go::synctest::run([] {
    go::rate::sometimes s{.interval = std::chrono::nanoseconds::max()};
    std::vector<int> ran = calls(s, 2);
    go::sleep(24h * 365 * 100);
    EXPECT_EQ(calls(s, 1, ran), std::vector<int>({1})) << "the longest interval has not elapsed";
  });
}

TEST(GoRate, SometimesNegative) {
  go::synctest::run([] {
    go::rate::sometimes s{.interval = -1ns};
    std::vector<int> ran = calls(s, 2);
    go::sleep(1s);
    EXPECT_EQ(calls(s, 1, ran), std::vector<int>({1})) << "a negative interval is no filter";
  });
}

// A call whose f throws is not counted, as Go's Do skips `count++` when f panics: the next
// call is still the "first" one.
TEST(GoRate, SometimesThrowingCallIsNotCounted) {
  go::rate::sometimes s;
  EXPECT_THROW(s.call([] { throw std::runtime_error("boom"); }), std::runtime_error);
  EXPECT_EQ(calls(s, 2), std::vector<int>({1}));
}

}  // namespace
