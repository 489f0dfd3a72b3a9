// go::defer: Go's defer as a scope guard (include/go/defer.hpp).
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "go/go.hpp"

TEST(Defer, RunsWhenTheScopeEnds) {
  int runs = 0;
  {
    go::defer count([&runs] { ++runs; });
    EXPECT_EQ(runs, 0);
  }
  EXPECT_EQ(runs, 1);
}

TEST(Defer, SeveralRunInReverseOrderOfDeclaration) {
  std::string order;
  {
    go::defer first([&order] { order += "1"; });
    go::defer second([&order] { order += "2"; });
    go::defer third([&order] { order += "3"; });
  }
  EXPECT_EQ(order, "321");
}

TEST(Defer, RunsWhileAnExceptionUnwinds) {
  bool ran = false;
  EXPECT_THROW(
      {
        go::defer mark([&ran] { ran = true; });
        throw std::runtime_error("a problem");
      },
      std::runtime_error);
  EXPECT_TRUE(ran);
}

TEST(Defer, AnExceptionFromTheFunctionPropagates) {
  EXPECT_THROW({ go::defer fail([] { throw std::runtime_error("in a deferred call"); }); }, std::runtime_error);
}

TEST(Defer, ACancelFunctionIsCopiedAndCalled) {
  auto [ctx, cancel] = go::with_cancel(go::background());
  {
    go::defer stop(cancel);
    EXPECT_FALSE(ctx.err());
  }
  EXPECT_TRUE(ctx.err().is(go::errc::canceled));
}

TEST(Defer, DoneOfAWaitGroupInAGoroutine) {
  go::run([] {
    go::wait_group wg;
    auto results = go::make_chan<int>(3);
    for (int i = 0; i < 3; ++i) {
      wg.add(1);
      go::spawn([&wg, results, i] {
        go::defer done([&wg] { wg.done(); });
        results << i;
      });
    }
    wg.wait();
    EXPECT_EQ(results.len(), 3u);
  });
}
