// Ports of golang.org/x/sync/errgroup's errgroup_test.go (v0.25.0), named after them, and of
// the behaviour of its SetLimit that no Go test pins (SetLimitNegativeWhileActive).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "go/errgroup.hpp"
#include "go/select.hpp"
#include "go/time.hpp"
#include "test_scale.hpp"

namespace {

bool is_done(const go::context& ctx) {
  bool done = false;
  go::select(go::recv_case(ctx.done(), [&] { done = true; }), go::default_case());
  return done;
}

// ExampleGroup_parallel: results land in their own slots, in order.
TEST(GoErrgroup, ExampleGroupParallel) {
  go::run([] {
    auto search = [](std::string kind) {
      return [kind](const go::context&, const std::string& query) { return kind + " result for \"" + query + "\""; };
    };
    auto [g, ctx] = go::errgroup::with_context(go::background());
    std::vector<std::function<std::string(const go::context&, const std::string&)>> searches{
        search("web"), search("image"), search("video")};
    std::vector<std::string> results(searches.size());
    for (std::size_t i = 0; i < searches.size(); ++i) {
      g.go([&, i, ctx = ctx] { results[i] = searches[i](ctx, "golang"); });
    }
    ASSERT_FALSE(g.wait());
    EXPECT_EQ(results, (std::vector<std::string>{"web result for \"golang\"", "image result for \"golang\"",
                                                 "video result for \"golang\""}));
  });
}

TEST(GoErrgroup, ZeroGroup) {
  go::run([] {
    go::error err1 = go::make_error("errgroup_test: 1");
    go::error err2 = go::make_error("errgroup_test: 2");
    std::vector<std::vector<go::error>> cases{
        {}, {go::error()}, {err1}, {err1, go::error()}, {err1, go::error(), err2}};
    for (const auto& errs : cases) {
      go::errgroup g;
      go::error first;
      for (std::size_t i = 0; i < errs.size(); ++i) {
        go::error err = errs[i];
        g.go([err] { return err; });
        if (!first && err) first = err;
        EXPECT_EQ(g.wait(), first) << "after " << i + 1 << " calls";
      }
    }
  });
}

TEST(GoErrgroup, WithContext) {
  go::run([] {
    go::error doom = go::make_error("group_test: doomed");
    struct tc {
      std::vector<go::error> errs;
      go::error want;
    };
    std::vector<tc> cases{{{}, {}}, {{go::error()}, {}}, {{doom}, doom}, {{doom, go::error()}, doom}};
    for (const auto& c : cases) {
      auto [g, ctx] = go::errgroup::with_context(go::background());
      for (const auto& err : c.errs) g.go([err] { return err; });
      EXPECT_EQ(g.wait(), c.want);
      EXPECT_TRUE(is_done(ctx)) << "ctx.done() was not closed";
    }
  });
}

TEST(GoErrgroup, TryGo) {
  go::run([] {
    go::errgroup g;
    const int n = 42;
    g.set_limit(42);
    auto ch = go::make_chan<void>();
    auto fn = [ch] { ch.send(); };
    for (int i = 0; i < n; ++i) ASSERT_TRUE(g.try_go(fn)) << "TryGo should succeed but failed at call " << i;
    ASSERT_FALSE(g.try_go(fn)) << "TryGo is expected to fail but succeeded";
    go::spawn([ch] {
      for (int i = 0; i < n; ++i) ch.recv();
    });
    g.wait();

    ASSERT_TRUE(g.try_go(fn)) << "TryGo should succeed after all goroutines";
    go::spawn([ch] { ch.recv(); });
    g.wait();

    // Switch limit.
    g.set_limit(1);
    ASSERT_TRUE(g.try_go(fn));
    ASSERT_FALSE(g.try_go(fn));
    go::spawn([ch] { ch.recv(); });
    g.wait();

    // Block all calls.
    g.set_limit(0);
    for (int i = 0; i < 1 << 10; ++i) ASSERT_FALSE(g.try_go(fn));
    g.wait();
  });
}

TEST(GoErrgroup, GoLimit) {
  go::run([] {
    const int limit = 10;
    go::errgroup g;
    g.set_limit(limit);
    std::atomic<int> active{0};
    for (long i = 0; i <= gocxx_test::scaled(1 << 10); ++i) {
      g.go([&]() -> go::error {
        int n = active.fetch_add(1) + 1;
        if (n > limit) return go::make_error("saw " + std::to_string(n) + " active goroutines");
        go::sleep(std::chrono::microseconds(1));
        active.fetch_sub(1);
        return {};
      });
    }
    go::error err = g.wait();
    EXPECT_FALSE(err) << err.message();
  });
}

// TestCancelCause: the group's context is cancelled with the first error as its cause, or
// with errc::canceled when wait() cancels it and there was none.
TEST(GoErrgroup, CancelCause) {
  go::run([] {
    const go::error err_doom = go::make_error("group_test: doomed");
    struct test_case {
      std::vector<go::error> errs;
      go::error want;
    };
    const std::vector<test_case> cases{
        {{}, {}},
        {{go::error()}, {}},
        {{err_doom}, err_doom},
        {{err_doom, go::error()}, err_doom},
    };
    for (std::size_t i = 0; i < cases.size(); ++i) {
      const test_case& tc = cases[i];
      auto [g, ctx] = go::errgroup::with_context(go::background());
      for (const go::error& err : tc.errs) (void)g.try_go([err] { return err; });
      go::error err = g.wait();
      EXPECT_EQ(err, tc.want) << "case " << i << ": g.wait() = " << err.message();
      go::error want_cause = tc.want ? tc.want : go::error(go::errc::canceled);
      go::error cause = go::cause(ctx);
      EXPECT_EQ(cause, want_cause) << "case " << i << ": go::cause(ctx) = " << cause.message();
    }
  });
}

// SetLimit with a negative value removes the limit even while goroutines are active (x/sync's
// SetLimit returns before its "modify limit while ... still active" check); the goroutines
// started under the old limit still free their slots.
TEST(GoErrgroup, SetLimitNegativeWhileActive) {
  go::run([] {
    go::errgroup g;
    g.set_limit(1);
    auto release = go::make_chan<void>();
    g.go([release] { release.recv(); });
    EXPECT_FALSE(g.try_go([] {})) << "the limit of 1 is reached";
    EXPECT_NO_THROW(g.set_limit(-1));
    EXPECT_TRUE(g.try_go([release] { release.recv(); })) << "no limit any more";
    release.close();
    EXPECT_FALSE(g.wait());
    g.set_limit(1);  // nothing active: allowed
    EXPECT_TRUE(g.try_go([] {}));
    EXPECT_FALSE(g.wait());
  });
}

}  // namespace
