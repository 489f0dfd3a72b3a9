// Test sizes: full size in normal builds, smaller under the sanitizers (ThreadSanitizer
// creates a fiber per goroutine and slows everything 5-15x; the bugs they find show up at
// small sizes too).
#pragma once

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define GOCXX_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define GOCXX_TEST_SANITIZED 1
#endif
#endif

namespace gocxx_test {
#ifdef GOCXX_TEST_SANITIZED
inline constexpr bool sanitized = true;
constexpr long scaled(long n) { return n / 20 > 0 ? n / 20 : 1; }
#else
inline constexpr bool sanitized = false;
constexpr long scaled(long n) { return n; }
#endif
}  // namespace gocxx_test
