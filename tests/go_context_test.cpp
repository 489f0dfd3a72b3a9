// Go's context tests (go/src/context/context_test.go, Go 1.19), ported behaviour by
// behaviour, plus the tests Go 1.20 and 1.21 added with WithCancelCause, WithoutCancel and
// AfterFunc (context_test.go and x_test.go of those releases).
//
// The String() checks (fmt.Sprint(ctx)) are ported with ctx.string(); a key prints as its
// name where Go prints its type (context_test.key1).
//
// Not ported:
// - otherContext, myCtx, myDoneCtx and TestCustomContextGoroutines: go::context is a closed
//   set of kinds, not an interface a user implements, so there is no foreign context to
//   propagate from and no goroutine is ever started to watch one (NoGoroutineIsStarted
//   checks that none is).
// - TestAllocs: allocation counts are Go's escape analysis; no analogue.
// - TestWithValueChecksKey, TestInvalidDerivedFail: keys are typed go::context_key objects
//   and a default go::context is Background, so neither misuse compiles.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "go/chan.hpp"
#include "go/context.hpp"
#include "go/runtime.hpp"
#include "go/select.hpp"
#include "go/sync.hpp"
#include "go/time.hpp"
#include "test_scale.hpp"

using namespace std::chrono_literals;
using go::steady_clock;

namespace {

constexpr auto short_duration = 1ms;
constexpr auto very_long_duration = 1000h;
constexpr auto quiescent = gocxx_test::sanitized ? 30s : 5s;

// Stands in for Go's otherContext wrapper: a value layer between a context and its child.
const go::context_key<int> other_key{"other"};

// select { case <-c.Done(): return true; default: return false }
bool is_done(const go::context& c) { return static_cast<bool>(c.done().try_recv() == go::chan_status::closed); }

void test_deadline(const go::context& c, const char* name) {
  go::timer timer = go::new_timer(quiescent);
  int i = go::select(go::recv_case(timer.c()), go::recv_case(c.done()));
  EXPECT_EQ(i, 1) << name << ": context not timed out";
  EXPECT_TRUE(c.err() == go::errc::deadline_exceeded) << name << ": c.Err() == " << c.err().message();
  timer.stop();
}

}  // namespace

TEST(GoContext, Background) {
  go::context c = go::background();
  EXPECT_TRUE(c.done() == nullptr);
  EXPECT_FALSE(is_done(c));
  EXPECT_FALSE(c.err());
  EXPECT_FALSE(c.deadline().has_value());
  EXPECT_EQ(c.string(), "context.Background");
}

TEST(GoContext, TODO) {
  go::context c = go::todo();
  EXPECT_TRUE(c.done() == nullptr);
  EXPECT_FALSE(is_done(c));
  EXPECT_FALSE(c.err());
  EXPECT_FALSE(c == go::background());
  EXPECT_EQ(c.string(), "context.TODO");
}

TEST(GoContext, WithCancel) {
  auto [c1, cancel] = go::with_cancel(go::background());
  EXPECT_EQ(c1.string(), "context.Background.WithCancel");
  go::context o = go::with_value(c1, other_key, 1);  // in place of otherContext
  auto [c2, cancel2] = go::with_cancel(o);
  std::vector<go::context> contexts = {c1, o, c2};
  for (std::size_t i = 0; i < contexts.size(); ++i) {
    EXPECT_FALSE(contexts[i].done() == nullptr) << "c[" << i << "].Done() == nil";
    EXPECT_FALSE(contexts[i].err()) << "c[" << i << "].Err() != nil";
    EXPECT_FALSE(is_done(contexts[i])) << "<-c[" << i << "].Done() should block";
  }
  cancel();  // should propagate synchronously
  for (std::size_t i = 0; i < contexts.size(); ++i) {
    EXPECT_TRUE(is_done(contexts[i])) << "<-c[" << i << "].Done() blocked";
    EXPECT_TRUE(contexts[i].err() == go::errc::canceled) << "c[" << i << "].Err() == " << contexts[i].err().message();
  }
}

TEST(GoContext, ParentFinishesChild) {
  // parent -> cancel_child; parent -> value_child -> timer_child
  auto [parent, cancel] = go::with_cancel(go::background());
  auto [cancel_child, stop1] = go::with_cancel(parent);
  static const go::context_key<std::string> key{"key"};
  go::context value_child = go::with_value(parent, key, "value");
  auto [timer_child, stop2] = go::with_timeout(value_child, very_long_duration);

  EXPECT_FALSE(is_done(parent) || is_done(cancel_child) || is_done(timer_child) || is_done(value_child));
  // The parent's children are the two cancelable children.
  EXPECT_EQ(go::detail::context_child_count(parent), 2u) << "bad linkage";

  cancel();
  EXPECT_EQ(go::detail::context_child_count(parent), 0u) << "pc.cancel didn't clear pc.children";
  for (auto& [ctx, name] : std::vector<std::pair<go::context, const char*>>{{parent, "parent"},
                                                                            {cancel_child, "cancelChild"},
                                                                            {value_child, "valueChild"},
                                                                            {timer_child, "timerChild"}}) {
    EXPECT_TRUE(is_done(ctx)) << "<-" << name << ".Done() blocked";
    EXPECT_TRUE(ctx.err() == go::errc::canceled) << name << ".Err() == " << ctx.err().message();
  }
  // A value child of a canceled parent is canceled at once.
  go::context precanceled_child = go::with_value(parent, key, "value");
  EXPECT_TRUE(is_done(precanceled_child));
  EXPECT_TRUE(precanceled_child.err() == go::errc::canceled);
  stop1();
  stop2();
}

TEST(GoContext, ChildFinishesFirst) {
  auto [cancelable, stop] = go::with_cancel(go::background());
  for (const go::context& parent : {go::background(), cancelable}) {
    bool cancelable_parent = !(parent == go::background());
    auto [child, cancel] = go::with_cancel(parent);
    EXPECT_FALSE(is_done(parent) || is_done(child));
    if (cancelable_parent) {
      EXPECT_EQ(go::detail::context_child_count(parent), 1u) << "bad linkage";
    }
    cancel();
    if (cancelable_parent) {
      EXPECT_EQ(go::detail::context_child_count(parent), 0u) << "child's cancel didn't remove self from pc.children";
    }
    EXPECT_TRUE(is_done(child));
    EXPECT_TRUE(child.err() == go::errc::canceled);
    EXPECT_FALSE(is_done(parent));
    EXPECT_FALSE(parent.err());
  }
  stop();
}

TEST(GoContext, Deadline) {
  go::run([] {
    auto c = go::with_deadline(go::background(), steady_clock::now() + short_duration).ctx;
    EXPECT_EQ(c.string().rfind("context.Background.WithDeadline(", 0), 0u) << c.string();
    test_deadline(c, "WithDeadline");

    c = go::with_deadline(go::background(), steady_clock::now() + short_duration).ctx;
    go::context o = go::with_value(c, other_key, 0);
    test_deadline(o, "WithDeadline+otherContext");

    c = go::with_deadline(go::background(), steady_clock::now() + short_duration).ctx;
    o = go::with_value(c, other_key, 0);
    c = go::with_deadline(o, steady_clock::now() + very_long_duration).ctx;
    test_deadline(c, "WithDeadline+otherContext+WithDeadline");

    c = go::with_deadline(go::background(), steady_clock::now() - short_duration).ctx;
    test_deadline(c, "WithDeadline+inthepast");

    c = go::with_deadline(go::background(), steady_clock::now()).ctx;
    test_deadline(c, "WithDeadline+now");
  });
}

TEST(GoContext, Timeout) {
  go::run([] {
    auto c = go::with_timeout(go::background(), short_duration).ctx;
    EXPECT_EQ(c.string().rfind("context.Background.WithDeadline(", 0), 0u) << c.string();
    test_deadline(c, "WithTimeout");

    c = go::with_timeout(go::background(), short_duration).ctx;
    go::context o = go::with_value(c, other_key, 0);
    test_deadline(o, "WithTimeout+otherContext");

    c = go::with_timeout(go::background(), short_duration).ctx;
    o = go::with_value(c, other_key, 0);
    c = go::with_timeout(o, very_long_duration).ctx;
    test_deadline(c, "WithTimeout+otherContext+WithTimeout");
  });
}

TEST(GoContext, CanceledTimeout) {
  auto [c0, stop] = go::with_timeout(go::background(), 1s);
  go::context o = go::with_value(c0, other_key, 0);
  auto [c, cancel] = go::with_timeout(o, very_long_duration);
  cancel();  // should propagate synchronously
  EXPECT_TRUE(is_done(c));
  EXPECT_TRUE(c.err() == go::errc::canceled);
  stop();
}

namespace {
// Go: type key1 int; type key2 int; k1 = key1(1); k2 = key2(1); k3 = key2(3). Distinct key
// objects are distinct keys, whatever their type.
const go::context_key<const char*> k1{"k1"};
const go::context_key<const char*> k2{"k2"};
const go::context_key<const char*> k3{"k3"};

// check: v1..v3 are the expected values of k1..k3, "" meaning absent or nil.
void check(const go::context& c, const char* nm, std::string v1, std::string v2, std::string v3) {
  auto get = [&](const go::context_key<const char*>& k) -> std::string {
    const char* const* v = c.value(k);
    return v && *v ? *v : "";
  };
  EXPECT_EQ(get(k1), v1) << nm << ".Value(k1)";
  EXPECT_EQ(get(k2), v2) << nm << ".Value(k2)";
  EXPECT_EQ(get(k3), v3) << nm << ".Value(k3)";
}
}  // namespace

TEST(GoContext, Values) {
  go::context c0 = go::background();
  check(c0, "c0", "", "", "");

  go::context c1 = go::with_value(go::background(), k1, "c1k1");
  check(c1, "c1", "c1k1", "", "");
  EXPECT_EQ(c1.string(), "context.Background.WithValue(k1, c1k1)");

  go::context c2 = go::with_value(c1, k2, "c2k2");
  check(c2, "c2", "c1k1", "c2k2", "");
  EXPECT_EQ(c2.string(), "context.Background.WithValue(k1, c1k1).WithValue(k2, c2k2)");

  go::context c3 = go::with_value(c2, k3, "c3k3");
  check(c3, "c2", "c1k1", "c2k2", "c3k3");

  go::context c4 = go::with_value(c3, k1, nullptr);
  check(c4, "c4", "", "c2k2", "c3k3");
  EXPECT_EQ(c4.string(),
            "context.Background.WithValue(k1, c1k1).WithValue(k2, c2k2).WithValue(k3, c3k3).WithValue(k1, <nil>)");

  go::context o0 = go::without_cancel(go::background());  // in place of otherContext
  check(o0, "o0", "", "", "");

  go::context o1 = go::without_cancel(go::with_value(go::background(), k1, "c1k1"));
  check(o1, "o1", "c1k1", "", "");

  go::context o2 = go::with_value(o1, k2, "o2k2");
  check(o2, "o2", "c1k1", "o2k2", "");

  go::context o3 = go::without_cancel(c4);
  check(o3, "o3", "", "c2k2", "c3k3");

  go::context o4 = go::with_value(o3, k3, nullptr);
  check(o4, "o4", "", "c2k2", "");
}

TEST(GoContext, SimultaneousCancels) {
  go::run([] {
    auto [root, cancel] = go::with_cancel(go::background());
    std::vector<std::pair<go::context, go::cancel_func>> m = {{root, cancel}};
    std::vector<go::context> q = {root};
    // Create a tree of contexts.
    while (!q.empty() && m.size() < 100) {
      go::context parent = q.front();
      q.erase(q.begin());
      for (int i = 0; i < 4; ++i) {
        auto [ctx, c] = go::with_cancel(parent);
        m.push_back({ctx, c});
        q.push_back(ctx);
      }
    }
    std::shuffle(m.begin(), m.end(), std::mt19937(42));
    // Start all the cancels in a random order.
    go::wait_group wg;
    for (auto& [ctx, c] : m) wg.go([c = c] { c(); });
    auto stuck = go::make_chan<void>();
    go::timer timer = go::after_func(quiescent, [stuck] { stuck.close(); });
    // Wait on all the contexts in a random order.
    std::shuffle(m.begin(), m.end(), std::mt19937(7));
    for (auto& [ctx, c] : m) {
      ASSERT_EQ(go::select(go::recv_case(ctx.done()), go::recv_case(stuck)), 0) << "timed out waiting for <-ctx.Done()";
    }
    // Wait for all the cancel functions to return.
    auto done = go::make_chan<void>();
    go::spawn([&wg, done] {
      wg.wait();
      done.close();
    });
    ASSERT_EQ(go::select(go::recv_case(done), go::recv_case(stuck)), 0) << "timed out waiting for cancel functions";
    timer.stop();
  });
}

TEST(GoContext, InterlockedCancels) {
  go::run([] {
    auto [parent, cancel_parent] = go::with_cancel(go::background());
    auto [child, cancel_child] = go::with_cancel(parent);
    go::spawn([parent = parent, cancel_child = cancel_child] {
      parent.done().recv();
      cancel_child();
    });
    cancel_parent();
    go::timer timer = go::new_timer(quiescent);
    EXPECT_EQ(go::select(go::recv_case(child.done()), go::recv_case(timer.c())), 0)
        << "timed out waiting for child.Done()";
    timer.stop();
  });
}

namespace {

void test_layers(std::uint64_t seed, bool test_timeout) {
  std::mt19937_64 r(seed);
  const int min_layers = 30;
  std::vector<std::unique_ptr<go::context_key<int>>> vals;
  std::vector<go::cancel_func> cancels;
  int num_timers = 0;
  go::context ctx = go::background();
  for (int i = 0; i < min_layers || num_timers == 0 || cancels.empty() || vals.empty(); ++i) {
    switch (r() % 3) {
      case 0: {
        vals.push_back(std::make_unique<go::context_key<int>>());
        ctx = go::with_value(ctx, *vals.back(), static_cast<int>(vals.size()));
        break;
      }
      case 1: {
        auto [c, cancel] = go::with_cancel(ctx);
        ctx = c;
        cancels.push_back(cancel);
        break;
      }
      case 2: {
        auto [c, cancel] =
            test_timeout ? go::with_timeout(ctx, short_duration) : go::with_timeout(ctx, very_long_duration);
        ctx = c;
        cancels.push_back(cancel);
        ++num_timers;
        break;
      }
    }
  }
  auto check_values = [&](const char* when) {
    for (std::size_t i = 0; i < vals.size(); ++i) {
      const int* v = ctx.value(*vals[i]);
      ASSERT_TRUE(v != nullptr) << "seed=" << seed << " " << when;
      EXPECT_EQ(*v, static_cast<int>(i + 1)) << "seed=" << seed << " " << when;
    }
  };
  if (!test_timeout) {
    EXPECT_FALSE(is_done(ctx)) << "seed=" << seed << ": ctx should not be canceled yet";
  }
  check_values("before cancel");
  if (test_timeout) {
    go::timer timer = go::new_timer(quiescent);
    EXPECT_EQ(go::select(go::recv_case(ctx.done()), go::recv_case(timer.c())), 0)
        << "seed=" << seed << ": ctx should have timed out";
    check_values("after timeout");
    timer.stop();
  } else {
    cancels[r() % cancels.size()]();
    EXPECT_TRUE(is_done(ctx)) << "seed=" << seed << ": ctx should be canceled";
    check_values("after cancel");
  }
  for (auto& c : cancels) c();
}

}  // namespace

TEST(GoContext, LayersCancel) {
  go::run([] { test_layers(static_cast<std::uint64_t>(steady_clock::now().time_since_epoch().count()), false); });
}

TEST(GoContext, LayersTimeout) {
  go::run([] { test_layers(static_cast<std::uint64_t>(steady_clock::now().time_since_epoch().count()), true); });
}

TEST(GoContext, CancelRemoves) {
  auto check_children = [](const char* when, const go::context& ctx, std::size_t want) {
    EXPECT_EQ(go::detail::context_child_count(ctx), want) << when;
  };
  {
    auto [ctx, stop] = go::with_cancel(go::background());
    check_children("after creation", ctx, 0);
    auto [child, cancel] = go::with_cancel(ctx);
    check_children("with WithCancel child", ctx, 1);
    cancel();
    check_children("after canceling WithCancel child", ctx, 0);
  }
  {
    auto [ctx, stop] = go::with_cancel(go::background());
    check_children("after creation", ctx, 0);
    auto [child, cancel] = go::with_timeout(ctx, 60min);
    check_children("with WithTimeout child", ctx, 1);
    cancel();
    check_children("after canceling WithTimeout child", ctx, 0);
  }
}

TEST(GoContext, WithCancelCanceledParent) {
  auto [parent, pcancel] = go::with_cancel(go::background());
  pcancel();
  auto [c, cancel] = go::with_cancel(parent);
  EXPECT_TRUE(is_done(c)) << "child not done immediately upon construction";
  EXPECT_TRUE(c.err() == go::errc::canceled);
}

TEST(GoContext, DeadlineExceededSupportsTimeout) {
  // Go: DeadlineExceeded implements Timeout() bool. C++: the code is equivalent to
  // std::errc::timed_out.
  go::error err = go::errc::deadline_exceeded;
  EXPECT_TRUE(err.is(std::errc::timed_out));
  EXPECT_TRUE(err.code() == std::errc::timed_out);
  EXPECT_FALSE(go::error(go::errc::canceled).is(std::errc::timed_out));
  EXPECT_EQ(err.message(), "context deadline exceeded");
}

// Go's checkCreatedGoroutine/checkNoGoroutine: deriving and cancelling contexts starts no
// goroutine.
TEST(GoContext, NoGoroutineIsStarted) {
  go::run([] {
    int before = go::num_goroutine();
    auto [ctx1, cancel1] = go::with_cancel(go::background());
    auto [ctx3, cancel3] = go::with_cancel(go::with_value(ctx1, k1, "x"));
    auto [ctx4, cancel4] = go::with_timeout(ctx3, very_long_duration);
    auto [ctx5, cancel5] = go::with_cancel(ctx4);
    cancel5();
    auto [ctx6, cancel6] = go::with_timeout(ctx5, very_long_duration);
    cancel6();
    cancel1();
    auto [ctx7, cancel7] = go::with_cancel(ctx5);
    cancel7();
    // At most: run in one process with the other tests (not as ctest runs it), a goroutine
    // they left may end meanwhile; one started here would still be running.
    EXPECT_LE(go::num_goroutine(), before);
  });
}

// --- Go 1.20 and 1.21 ---

// TestCause (Go 1.20/1.21): Cause reports the cause given to the cancel function, the
// deadline cause, or Err.
TEST(GoContext, Cause) {
  go::error parent_cause = go::make_error("parentCause");
  go::error child_cause = go::make_error("childCause");
  go::error timeout_cause = go::make_error("timeoutCause");
  {  // no context
    EXPECT_FALSE(go::cause(go::background()));
  }
  {  // WithCancelCause canceled with a cause
    auto [ctx, cancel] = go::with_cancel_cause(go::background());
    cancel(parent_cause);
    EXPECT_TRUE(ctx.err() == go::errc::canceled);
    EXPECT_TRUE(go::cause(ctx) == parent_cause);
  }
  {  // WithCancelCause canceled with nil
    auto [ctx, cancel] = go::with_cancel_cause(go::background());
    cancel({});
    EXPECT_TRUE(go::cause(ctx) == go::errc::canceled);
  }
  {  // parent canceled with a cause, child has none of its own
    auto [parent, pcancel] = go::with_cancel_cause(go::background());
    auto [ctx, cancel] = go::with_cancel_cause(parent);
    pcancel(parent_cause);
    EXPECT_TRUE(ctx.err() == go::errc::canceled);
    EXPECT_TRUE(go::cause(ctx) == parent_cause);
    cancel(child_cause);  // too late
    EXPECT_TRUE(go::cause(ctx) == parent_cause);
  }
  {  // child canceled first keeps its cause
    auto [parent, pcancel] = go::with_cancel_cause(go::background());
    auto [ctx, cancel] = go::with_cancel_cause(parent);
    cancel(child_cause);
    pcancel(parent_cause);
    EXPECT_TRUE(go::cause(ctx) == child_cause);
    EXPECT_TRUE(go::cause(parent) == parent_cause);
  }
  {  // a value context shows its parent's cause
    auto [parent, pcancel] = go::with_cancel_cause(go::background());
    go::context ctx = go::with_value(parent, k1, "v");
    pcancel(parent_cause);
    EXPECT_TRUE(go::cause(ctx) == parent_cause);
  }
  go::run([&] {
    {  // WithTimeout: the cause is DeadlineExceeded
      auto [ctx, cancel] = go::with_timeout(go::background(), 0s);
      EXPECT_TRUE(ctx.err() == go::errc::deadline_exceeded);
      EXPECT_TRUE(go::cause(ctx) == go::errc::deadline_exceeded);
    }
    {  // WithTimeoutCause, expired
      auto [ctx, cancel] = go::with_timeout_cause(go::background(), 1ms, timeout_cause);
      ctx.done().recv();
      EXPECT_TRUE(ctx.err() == go::errc::deadline_exceeded);
      EXPECT_TRUE(go::cause(ctx) == timeout_cause);
    }
    {  // WithTimeoutCause, canceled before it expires
      auto [ctx, cancel] = go::with_timeout_cause(go::background(), very_long_duration, timeout_cause);
      cancel();
      EXPECT_TRUE(ctx.err() == go::errc::canceled);
      EXPECT_TRUE(go::cause(ctx) == go::errc::canceled);
    }
    {  // parent with a cause, then a child timeout
      auto [parent, pcancel] = go::with_cancel_cause(go::background());
      auto [ctx, cancel] = go::with_timeout_cause(parent, very_long_duration, timeout_cause);
      pcancel(parent_cause);
      EXPECT_TRUE(ctx.err() == go::errc::canceled);
      EXPECT_TRUE(go::cause(ctx) == parent_cause);
    }
  });
}

// TestCauseRace (Go 1.20): Cause and cancel race from several goroutines without a data race.
TEST(GoContext, CauseRace) {
  go::run([] {
    go::error cause = go::make_error("TestCauseRace");
    auto [ctx, cancel] = go::with_cancel_cause(go::background());
    go::spawn([cancel = cancel, cause] { cancel(cause); });
    while (!ctx.err()) go::yield();
    EXPECT_TRUE(go::cause(ctx) == cause);
  });
}

// TestWithoutCancel (Go 1.21): values pass through; cancellation and deadline do not.
TEST(GoContext, WithoutCancel) {
  static const go::context_key<std::string> key{"key"};
  go::context ctx = go::with_value(go::background(), key, "value");
  auto [c, cancel] = go::with_timeout(ctx, 1h);
  go::context wc = go::without_cancel(c);
  cancel();
  EXPECT_TRUE(c.err() == go::errc::canceled);
  EXPECT_FALSE(wc.deadline().has_value());
  EXPECT_TRUE(wc.done() == nullptr);
  EXPECT_FALSE(wc.err());
  ASSERT_TRUE(wc.value(key) != nullptr);
  EXPECT_EQ(*wc.value(key), "value");
  EXPECT_FALSE(go::cause(wc));
  EXPECT_EQ(wc.string().rfind("context.Background.WithValue(key, value).WithDeadline(", 0), 0u) << wc.string();
  EXPECT_TRUE(wc.string().ends_with("]).WithoutCancel")) << wc.string();
}

// TestAfterFuncCalledAfterCancel (Go 1.21).
TEST(GoContext, AfterFuncCalledAfterCancel) {
  go::run([] {
    auto [ctx, cancel] = go::with_cancel(go::background());
    auto donec = go::make_chan<void>();
    go::stop_func stop = go::after_func(ctx, [donec] { donec.close(); });
    EXPECT_FALSE(go::select(go::recv_case(donec), go::recv_case(go::after(1ms))) == 0)
        << "AfterFunc called before context is done";
    cancel();
    EXPECT_EQ(go::select(go::recv_case(donec), go::recv_case(go::after(quiescent))), 0)
        << "AfterFunc not called after context is canceled";
    EXPECT_FALSE(stop()) << "stop() = true, want false";
  });
}

// TestAfterFuncCalledAfterTimeout (Go 1.21).
TEST(GoContext, AfterFuncCalledAfterTimeout) {
  go::run([] {
    auto [ctx, cancel] = go::with_timeout(go::background(), 5ms);
    auto donec = go::make_chan<void>();
    go::after_func(ctx, [donec] { donec.close(); });
    EXPECT_EQ(go::select(go::recv_case(donec), go::recv_case(go::after(quiescent))), 0)
        << "AfterFunc not called after context is canceled";
    cancel();
  });
}

// TestAfterFuncCalledImmediately (Go 1.21): on a done context f runs at once.
TEST(GoContext, AfterFuncCalledImmediately) {
  go::run([] {
    auto [ctx, cancel] = go::with_cancel(go::background());
    cancel();
    auto donec = go::make_chan<void>();
    go::after_func(ctx, [donec] { donec.close(); });
    EXPECT_EQ(go::select(go::recv_case(donec), go::recv_case(go::after(quiescent))), 0)
        << "AfterFunc not called for already-canceled context";
  });
}

// TestAfterFuncNotCalledAfterStop (Go 1.21).
TEST(GoContext, AfterFuncNotCalledAfterStop) {
  go::run([] {
    auto [ctx, cancel] = go::with_cancel(go::background());
    auto donec = go::make_chan<void>();
    go::stop_func stop = go::after_func(ctx, [donec] { donec.close(); });
    EXPECT_TRUE(stop()) << "stop() = false, want true";
    EXPECT_FALSE(go::select(go::recv_case(donec), go::recv_case(go::after(1ms))) == 0)
        << "AfterFunc called before context is done";
    cancel();
    EXPECT_FALSE(go::select(go::recv_case(donec), go::recv_case(go::after(5ms))) == 0) << "AfterFunc called after stop";
    EXPECT_FALSE(stop()) << "stop() = true, want false";
  });
}

// TestAfterFuncCalledAsynchronously (Go 1.21): cancel does not wait for f.
TEST(GoContext, AfterFuncCalledAsynchronously) {
  go::run([] {
    auto [ctx, cancel] = go::with_cancel(go::background());
    auto donec = go::make_chan<void>();
    go::after_func(ctx, [donec] {
      donec.recv();  // blocks until the test closes donec
    });
    cancel();  // must not block
    donec.close();
  });
}

// TestWithDeadline's earlier-parent rule (Go: "The current deadline is already sooner than
// the new one"): the child keeps the parent's deadline.
TEST(GoContext, DeadlineOfParentWins) {
  auto d1 = steady_clock::now() + 1h;
  auto [p, pc] = go::with_deadline(go::background(), d1);
  auto [c, cc] = go::with_deadline(p, d1 + 1h);
  ASSERT_TRUE(c.deadline().has_value());
  EXPECT_EQ(*c.deadline(), d1);
  auto [c2, cc2] = go::with_deadline(p, d1 - 30min);
  EXPECT_EQ(*c2.deadline(), d1 - 30min);
  go::context v = go::with_value(c2, k1, "x");
  EXPECT_EQ(*v.deadline(), d1 - 30min);
  pc();
}
