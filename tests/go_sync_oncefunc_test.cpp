// Go's sync/oncefunc_test.go (Go 1.26), ported behaviour by behaviour; each test is named
// after the Go test it ports.
//
// Adapted:
// - A panic is an exception: "panics with the same value on every call" becomes "throws the
//   same exception object on every call", checked by its address and message.
// - TestOnceXGC checks with a garbage collector that the wrapped function is kept until the
//   first call and dropped after it; here the function owns a counted object, whose
//   destructor runs at that moment.
// Not ported:
// - The allocation counts of TestOnceFunc, TestOnceValue and TestOnceValues: the test binary's
//   counting operator new belongs to alloc_test.cpp. (Making one is one make_shared; calling
//   one allocates nothing but what f does.)
// - TestOnceFuncPanicNil and TestOnceFuncGoexit: C++ has no nil panic and no Goexit.
// - TestOnceFuncPanicTraceback: the first call's exception is the one f threw, as it left f
//   (OnceFuncPanic checks its identity); C++ exceptions carry no stack to compare.
// - The benchmarks.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "go/runtime.hpp"
#include "go/sync.hpp"
#include "go/time.hpp"

namespace {

// TestOnceFunc: f called many times calls its function once.
TEST(GoSync, OnceFunc) {
  int calls = 0;
  auto f = go::once_func([&] { calls++; });
  for (int i = 0; i < 10; ++i) f();
  EXPECT_EQ(calls, 1);
  auto copy = f;  // copies share the one call
  copy();
  EXPECT_EQ(calls, 1);
}

TEST(GoSync, OnceValue) {
  int calls = 0;
  auto f = go::once_value([&] {
    calls++;
    return calls;
  });
  for (int i = 0; i < 10; ++i) f();
  int value = f();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(value, 1);
  EXPECT_EQ(&f(), &f()) << "every call returns the one stored value";
}

TEST(GoSync, OnceValues) {
  int calls = 0;
  auto f = go::once_values([&] {
    calls++;
    return std::pair(calls, calls + 1);
  });
  for (int i = 0; i < 10; ++i) f();
  auto [v1, v2] = f();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(v1, 1);
  EXPECT_EQ(v2, 2);
}

// testOncePanicX: each call throws the same exception, but the function runs only once.
void test_once_throws_x(int& calls, const std::function<void()>& f) {
  const std::exception* first = nullptr;
  for (const char* label : {"first time", "second time", "third time"}) {
    try {
      f();
      FAIL() << label << ": f did not throw";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "x") << label;
      if (!first) first = &e;
      EXPECT_EQ(&e, first) << label << ": not the same exception object";
    }
  }
  EXPECT_EQ(calls, 1);
}

TEST(GoSync, OnceFuncPanic) {
  int calls = 0;
  auto f = go::once_func([&] {
    calls++;
    throw std::runtime_error("x");
  });
  test_once_throws_x(calls, f);
}

TEST(GoSync, OnceValuePanic) {
  int calls = 0;
  auto f = go::once_value([&]() -> int {
    calls++;
    throw std::runtime_error("x");
  });
  test_once_throws_x(calls, [&] { f(); });
}

TEST(GoSync, OnceValuesPanic) {
  int calls = 0;
  auto f = go::once_values([&]() -> std::pair<int, int> {
    calls++;
    throw std::runtime_error("x");
  });
  test_once_throws_x(calls, [&] { f(); });
}

// TestOnceXGC: the wrapped function (and what it holds) lives until the first call, and not
// after it, though the returned function does; with or without an exception.
TEST(GoSync, OnceXGC) {
  struct owned {
    std::shared_ptr<int> buf;  // the Go test's buf, whose use_count tells whether f is alive
  };
  using maker = std::function<std::function<void()>(owned)>;
  const std::map<std::string, maker> fns{
      {"OnceFunc", [](owned o) { return std::function<void()>(go::once_func([o] { *o.buf = 1; })); }},
      {"OnceValue",
       [](owned o) {
         auto f = go::once_value([o] {
           *o.buf = 1;
           return 0;
         });
         return std::function<void()>([f] { f(); });
       }},
      {"OnceValues",
       [](owned o) {
         auto f = go::once_values([o] {
           *o.buf = 1;
           return std::pair(0, 0);
         });
         return std::function<void()>([f] { f(); });
       }},
      {"OnceFunc panic",
       [](owned o) {
         return std::function<void()>(go::once_func([o] {
           *o.buf = 1;
           throw std::runtime_error("test panic");
         }));
       }},
      {"OnceValue panic",
       [](owned o) {
         auto f = go::once_value([o]() -> int {
           *o.buf = 1;
           throw std::runtime_error("test panic");
         });
         return std::function<void()>([f] { f(); });
       }},
      {"OnceValues panic",
       [](owned o) {
         auto f = go::once_values([o]() -> std::pair<int, int> {
           *o.buf = 1;
           throw std::runtime_error("test panic");
         });
         return std::function<void()>([f] { f(); });
       }},
  };
  for (const auto& [name, fn] : fns) {
    auto buf = std::make_shared<int>(0);
    std::function<void()> f = fn(owned{buf});
    EXPECT_GT(buf.use_count(), 1) << name << ": wrapped function destroyed too early";
    try {
      f();
    } catch (const std::runtime_error&) {
    }
    EXPECT_EQ(*buf, 1) << name;
    EXPECT_EQ(buf.use_count(), 1) << name << ": wrapped function should be destroyed, but still lives";
    try {
      f();
    } catch (const std::runtime_error&) {
    }
  }
}

// Go's "The returned function may be called concurrently": callers in many goroutines and
// threads all return after f has returned, and f runs once.
TEST(GoSync, OnceFuncConcurrentCallersWaitForTheCall) {
  go::run([] {
    std::atomic<int> calls{0};
    std::atomic<bool> finished{false};
    auto f = go::once_value([&] {
      calls++;
      go::sleep(std::chrono::milliseconds(20));  // parks: the other callers must wait
      finished = true;
      return 42;
    });
    go::wait_group wg;
    std::atomic<int> saw_unfinished{0};
    for (int i = 0; i < 16; ++i) {
      wg.go([&] {
        if (f() != 42 || !finished) saw_unfinished++;
      });
    }
    wg.wait();
    EXPECT_EQ(calls.load(), 1);
    EXPECT_EQ(saw_unfinished.load(), 0);
  });
}

}  // namespace
