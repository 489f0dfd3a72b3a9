// Shared test helpers. Test sizes: full size in normal builds, smaller under the sanitizers (ThreadSanitizer
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

#if defined(__SANITIZE_THREAD__)
#define GOCXX_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GOCXX_TEST_TSAN 1
#endif
#endif

#include <chrono>
#include <sstream>
#include <string>

#include "go/runtime.hpp"
#include "go/testing.hpp"
#include "go/time.hpp"

namespace gocxx_test {

// max_procs_scope sets GOMAXPROCS for a scope (Go's defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(n))).
class max_procs_scope {
 public:
  explicit max_procs_scope(int n) : old_(go::set_max_procs(n)) {}
  ~max_procs_scope() { go::set_max_procs(old_); }
  max_procs_scope(const max_procs_scope&) = delete;
  max_procs_scope& operator=(const max_procs_scope&) = delete;

 private:
  int old_;
};

#ifdef GOCXX_TEST_TSAN
inline constexpr bool tsan = true;
#else
inline constexpr bool tsan = false;
#endif

#ifdef GOCXX_TEST_SANITIZED
inline constexpr bool sanitized = true;
constexpr long scaled(long n) { return n / 20 > 0 ? n / 20 : 1; }
#else
inline constexpr bool sanitized = false;
constexpr long scaled(long n) { return n; }
#endif

// deadlock_detected says whether "all goroutines are asleep - deadlock!" can fire in this
// build. The check counts the process's threads (Go's checkdead counts Ms), so it is off
// wherever something else adds threads: the sanitizer runtimes, and qemu-user, which runs
// one of its own (GOCXX_TEST_EMULATED, set by tests/CMakeLists.txt when cross-compiling).
#ifdef GOCXX_TEST_EMULATED
inline constexpr bool deadlock_detected = false;
#else
inline constexpr bool deadlock_detected = !sanitized;
#endif
// settle_goroutines waits, at the end of its scope, up to 2 s for the goroutines the test
// started to return (all but `left_blocked`, which the test leaves blocked on purpose), so
// none is still winding down when the next test in this process counts goroutines.
class settle_goroutines {
 public:
  explicit settle_goroutines(int left_blocked = 0) : limit_(go::num_goroutine() + left_blocked) {}
  ~settle_goroutines() { go::testing::leaked_goroutines(limit_, std::chrono::seconds(2)); }
  settle_goroutines(const settle_goroutines&) = delete;
  settle_goroutines& operator=(const settle_goroutines&) = delete;

 private:
  int limit_;
};

// dump_once_it_shows returns the goroutine dump once it shows `what` (goroutines block in
// their own time: 5 s at most, then the last dump).
inline std::string dump_once_it_shows(const std::string& what) {
  std::string dump;
  for (int k = 0; k < 500; ++k) {
    std::ostringstream out;
    go::dump_goroutines(out);
    dump = out.str();
    if (dump.find(what) != std::string::npos) break;
    go::sleep(std::chrono::milliseconds(10));
  }
  return dump;
}

}  // namespace gocxx_test
