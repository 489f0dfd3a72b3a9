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
