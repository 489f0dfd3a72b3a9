// The lock-order check (src/runtime/lock_rank.hpp): in the builds that define
// GOCXX_LOCK_RANK (Debug and sanitizer builds, the dev preset), taking the runtime's locks
// out of docs/runtime.md's order ends the process with both ranks named. Elsewhere the check compiles to nothing and
// these tests are skipped.
#include <gtest/gtest.h>

#include <mutex>

#include "runtime/lock.hpp"

using go::detail::lock_rank;
using go::detail::runtime_lock;

#ifdef GOCXX_LOCK_RANK
constexpr bool checked = true;
#else
constexpr bool checked = false;
#endif

TEST(LockRank, LocksTakenInOrderPass) {
  runtime_lock context{lock_rank::context}, child{lock_rank::context}, timer{lock_rank::timer};
  runtime_lock sched{lock_rank::sched}, heap{lock_rank::timers}, leaf{lock_rank::leaf};
  std::lock_guard a(context), b(child), c(timer), d(sched), e(heap), f(leaf);
  SUCCEED();
}

TEST(LockRankDeathTest, TakingALowerRankWhileHoldingAHigherOneIsFatal) {
  if (!checked) GTEST_SKIP() << "GOCXX_LOCK_RANK is not defined in this build";
  runtime_lock sched{lock_rank::sched}, timer{lock_rank::timer};
  EXPECT_DEATH(
      {
        std::lock_guard a(sched);
        std::lock_guard b(timer);
      },
      "lock ordering problem: taking timer .* while holding sched");
}

TEST(LockRankDeathTest, TwoLocksOfARankThatAllowsOneAreFatal) {
  if (!checked) GTEST_SKIP() << "GOCXX_LOCK_RANK is not defined in this build";
  runtime_lock one{lock_rank::sched}, two{lock_rank::sched};
  EXPECT_DEATH(
      {
        std::lock_guard a(one);
        std::lock_guard b(two);
      },
      "taking sched .* while holding sched");
}

TEST(LockRankDeathTest, ALeafTakesNothing) {
  if (!checked) GTEST_SKIP() << "GOCXX_LOCK_RANK is not defined in this build";
  runtime_lock leaf{lock_rank::leaf}, sched{lock_rank::sched};
  EXPECT_DEATH(
      {
        std::lock_guard a(leaf);
        std::lock_guard b(sched);
      },
      "taking sched .* while holding leaf");
}

TEST(LockRank, ReleasedLocksNoLongerCount) {
  runtime_lock sched{lock_rank::sched}, timer{lock_rank::timer};
  { std::lock_guard a(sched); }
  std::lock_guard b(timer);  // sched is no longer held
  SUCCEED();
}
