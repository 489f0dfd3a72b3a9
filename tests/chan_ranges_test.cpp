// A channel as a C++20 range: its iterator is a std::input_iterator, so the standard range
// adaptors compose with it, and an adaptor that stops early receives no more than it uses.
#include <gtest/gtest.h>

#include <iterator>
#include <ranges>
#include <vector>

#include "go/go.hpp"

// clang before 15 cannot compile libstdc++ 12's range adaptors for any range (a std::vector
// included): there only the concepts are checked.
#if defined(__clang__) && __clang_major__ < 15 && defined(__GLIBCXX__)
#define GOCXX_RANGE_ADAPTORS 0
#else
#define GOCXX_RANGE_ADAPTORS 1
#endif

namespace {

static_assert(std::input_iterator<go::chan<int>::iterator>);
static_assert(std::sentinel_for<std::default_sentinel_t, go::chan<int>::iterator>);
static_assert(std::ranges::input_range<go::chan<int>>);
static_assert(std::ranges::input_range<go::recv_chan<int>>);
static_assert(std::ranges::viewable_range<go::chan<int>&>);

TEST(ChanRanges, RangeForReceivesUntilClosedAndDrained) {
  auto ch = go::make_chan<int>(4);
  for (int i = 0; i < 3; ++i) ch << i;
  ch.close();
  std::vector<int> got;
  for (int v : ch) got.push_back(v);
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2}));
}

#if GOCXX_RANGE_ADAPTORS

TEST(ChanRanges, TakeReceivesExactlyN) {
  auto ch = go::make_chan<int>(8);
  for (int i = 0; i < 5; ++i) ch << i;
  std::vector<int> got;
  for (int v : ch | std::views::take(3)) got.push_back(v);
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(ch.len(), 2u);  // 3 and 4 are still there
  EXPECT_EQ(ch.recv(), 3);
}

TEST(ChanRanges, AdaptorsComposeUntilClosedAndDrained) {
  go::recv_chan<int> in = go::make_chan<int>(16);
  auto out = go::make_chan<int>(16);
  for (int i = 1; i <= 10; ++i) out << i;
  out.close();
  in = out;
  auto odd_squares =
      in | std::views::filter([](int v) { return v % 2 == 1; }) | std::views::transform([](int v) { return v * v; });
  std::vector<int> got;
  for (int v : odd_squares) got.push_back(v);
  EXPECT_EQ(got, (std::vector<int>{1, 9, 25, 49, 81}));
}

TEST(ChanRanges, DropSkipsWhatItDoesNotUse) {
  auto ch = go::make_chan<int>(8);
  for (int i = 0; i < 4; ++i) ch << i;
  ch.close();
  std::vector<int> got;
  for (int v : ch | std::views::drop(2)) got.push_back(v);
  EXPECT_EQ(got, (std::vector<int>{2, 3}));
}

#endif  // GOCXX_RANGE_ADAPTORS

}  // namespace
