// go::as, go::must_as and go::type_switch over std::any and std::variant.
#include "go/any.hpp"

#include <gtest/gtest.h>

#include <any>
#include <string>
#include <variant>
#include <vector>

#include "go/go.hpp"

namespace {

TEST(Any, AsIsExactTypeAssertion) {
  std::any x = 42;
  ASSERT_NE(go::as<int>(x), nullptr);
  EXPECT_EQ(*go::as<int>(x), 42);
  EXPECT_EQ(go::as<long>(x), nullptr);  // no conversions, as in Go
  EXPECT_EQ(go::as<std::string>(x), nullptr);
  *go::as<int>(x) = 7;  // a pointer into x
  EXPECT_EQ(std::any_cast<int>(x), 7);
  const std::any& cx = x;
  static_assert(std::is_same_v<decltype(go::as<int>(cx)), const int*>);
}

TEST(Any, AsOnVariant) {
  std::variant<int, std::string> v = std::string("hi");
  EXPECT_EQ(go::as<int>(v), nullptr);
  ASSERT_NE(go::as<std::string>(v), nullptr);
  EXPECT_EQ(*go::as<std::string>(v), "hi");
  EXPECT_EQ(go::as<double>(v), nullptr);  // not an alternative: null, not a compile error
}

TEST(Any, MustAsThrowsOnMismatch) {
  std::any x = std::string("s");
  EXPECT_EQ(go::must_as<std::string>(x), "s");
  EXPECT_THROW(go::must_as<int>(x), go::type_assertion_error);
  EXPECT_THROW(go::must_as<int>(x), std::bad_cast);
}

TEST(Any, TypeSwitchRunsFirstMatchingCase) {
  std::vector<std::any> values{1, std::string("two"), 3.0, std::any(), 'c'};
  std::vector<std::string> seen;
  std::vector<int> indexes;
  for (auto& x : values) {
    indexes.push_back(go::type_switch(
        x, [] { /* default, written first on purpose */ }, [&](int v) { seen.push_back("int " + std::to_string(v)); },
        [&](std::string& v) { seen.push_back("string " + v); },
        [&](const double& v) { seen.push_back("double " + std::to_string(static_cast<int>(v))); },
        [&](std::nullptr_t) { seen.push_back("nil"); }));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"int 1", "string two", "double 3", "nil"}));
  EXPECT_EQ(indexes, (std::vector<int>{1, 2, 3, 4, 0}));  // 'c' went to the default
}

TEST(Any, TypeSwitchWithoutDefaultReturnsMinusOne) {
  std::any x = 1.5f;
  bool ran = false;
  EXPECT_EQ(go::type_switch(x, [&](int) { ran = true; }), -1);
  EXPECT_FALSE(ran);
}

TEST(Any, TypeSwitchCaseMayModifyTheValue) {
  std::variant<int, std::string> v = 5;
  go::type_switch(
      v, [](int& i) { i *= 2; }, [](std::string& s) { s += "!"; });
  EXPECT_EQ(std::get<int>(v), 10);
}

TEST(Any, OverAChannel) {
  go::run([] {
    auto ch = go::make_chan<std::any>(3);
    ch << std::any(1) << std::any(std::string("x")) << std::any(2);
    ch.close();
    int sum = 0;
    std::string text;
    for (std::any x : ch)
      go::type_switch(
          x, [&](int v) { sum += v; }, [&](const std::string& s) { text += s; });
    EXPECT_EQ(sum, 3);
    EXPECT_EQ(text, "x");
  });
}

}  // namespace
