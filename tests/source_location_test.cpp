// go::detail::source_location, the position a blocking call records for the goroutine dump:
// gocxx's own type with every compiler, since the library's exported functions take it
// (tests/consumer links a program built by the other compiler), and current() as a default
// argument gives the caller's position.
#include <gtest/gtest.h>

#include <cstring>
#include <type_traits>

#include "go/detail/source_location.hpp"

#if defined(__cpp_lib_source_location)
static_assert(!std::is_same_v<go::detail::source_location, std::source_location>);
#endif
static_assert(sizeof(go::detail::source_location) == 2 * sizeof(const char*) + 2 * sizeof(unsigned));

namespace {

go::detail::source_location caller(go::detail::source_location site = go::detail::source_location::current()) {
  return site;
}

}  // namespace

TEST(SourceLocation, ADefaultArgumentIsTheCallersPosition) {
  const unsigned line = __LINE__ + 1;
  go::detail::source_location site = caller();
  EXPECT_EQ(site.line(), line);
  EXPECT_NE(std::strstr(site.file_name(), "source_location_test.cpp"), nullptr) << site.file_name();
  EXPECT_NE(std::strstr(site.function_name(), "TestBody"), nullptr) << site.function_name();
  EXPECT_GT(site.column(), 0u);
}

TEST(SourceLocation, DefaultConstructedIsEmpty) {
  go::detail::source_location none;
  EXPECT_STREQ(none.file_name(), "");
  EXPECT_STREQ(none.function_name(), "");
  EXPECT_EQ(none.line(), 0u);
}

namespace {

go::detail::call_site awaited_at(go::detail::call_site::arg site = GOCXX_CALL_SITE) { return site; }

}  // namespace

// call_site, what an awaiter keeps: the caller's position, built into a source_location only
// when asked; one word where the standard library has std::source_location.
TEST(CallSite, ADefaultArgumentIsTheCallersPosition) {
  const unsigned line = __LINE__ + 1;
  go::detail::source_location site = awaited_at().location();
  EXPECT_EQ(site.line(), line);
  EXPECT_NE(std::strstr(site.file_name(), "source_location_test.cpp"), nullptr) << site.file_name();
  EXPECT_NE(std::strstr(site.function_name(), "TestBody"), nullptr) << site.function_name();
  EXPECT_GT(site.column(), 0u);
#if defined(__cpp_lib_source_location)
  static_assert(sizeof(go::detail::call_site) == sizeof(void*));
#endif
}

TEST(CallSite, OfASourceLocationGivesItBack) {
  const auto s = go::detail::source_location::make("f.cpp", "fn", 12, 3);
  go::detail::source_location back = go::detail::call_site::of(s).location();
  EXPECT_EQ(back.file_name(), s.file_name());
  EXPECT_EQ(back.function_name(), s.function_name());
  EXPECT_EQ(back.line(), 12u);
  EXPECT_EQ(back.column(), 3u);
}
