// A worker's run queue (src/runtime/runq.hpp) on its own: what take, take_next and grab
// move, in which order, and what they leave.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "runtime/runq.hpp"

namespace go::detail {
namespace {

// Distinct task addresses that are never dereferenced (the queue stores pointers only).
std::vector<task*> fake_tasks(std::size_t n) {
  static char storage[1024];
  std::vector<task*> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(reinterpret_cast<task*>(&storage[i]));
  return out;
}

TEST(RunQueue, TakeMovesFromTheHeadInOrderUpToItsLimit) {
  run_queue q;
  auto t = fake_tasks(10);
  for (task* x : t) ASSERT_TRUE(q.push_tail(x));
  task* out[8];
  ASSERT_EQ(q.take(out, 4), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out[i], t[i]);
  ASSERT_EQ(q.take(out, 8), 6u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(out[i], t[4 + i]);
  EXPECT_EQ(q.take(out, 8), 0u);
  EXPECT_EQ(q.size(), 0u);
}

TEST(RunQueue, GrabTakesHalfRoundedUpAndTheNextSlotOnlyWhenTheRingIsEmpty) {
  run_queue q;
  auto t = fake_tasks(8);
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(q.push_tail(t[i]));
  q.next.store(t[7]);
  task* out[run_queue::capacity / 2];
  ASSERT_EQ(q.grab(out, true), 4u);  // 7 - 7 / 2
  EXPECT_EQ(out[0], t[0]);
  EXPECT_EQ(out[3], t[3]);
  ASSERT_EQ(q.grab(out, true), 2u);
  ASSERT_EQ(q.grab(out, true), 1u);
  EXPECT_EQ(out[0], t[6]);
  EXPECT_EQ(q.next.load(), t[7]);     // untouched while the ring held anything
  EXPECT_EQ(q.grab(out, false), 0u);  // an empty ring, and the next slot not asked for
  EXPECT_EQ(q.next.load(), t[7]);
  ASSERT_EQ(q.grab(out, true), 1u);
  EXPECT_EQ(out[0], t[7]);
  EXPECT_EQ(q.next.load(), nullptr);
  EXPECT_EQ(q.grab(out, true), 0u);
}

TEST(RunQueue, AFullRingGrabsHalfAndRefusesAnotherPush) {
  run_queue q;
  auto t = fake_tasks(run_queue::capacity + 1);
  for (std::uint32_t i = 0; i < run_queue::capacity; ++i) ASSERT_TRUE(q.push_tail(t[i]));
  EXPECT_FALSE(q.push_tail(t[run_queue::capacity]));
  task* out[run_queue::capacity / 2];
  ASSERT_EQ(q.grab(out, false), run_queue::capacity / 2);
  EXPECT_EQ(out[run_queue::capacity / 2 - 1], t[run_queue::capacity / 2 - 1]);
  EXPECT_TRUE(q.push_tail(t[run_queue::capacity]));  // wraps around into a freed slot
  ASSERT_EQ(q.size(), run_queue::capacity / 2 + 1);
}

TEST(RunQueue, TakeNextEmptiesTheNextSlotOnce) {
  run_queue q;
  auto t = fake_tasks(1);
  task* out[1] = {nullptr};
  EXPECT_EQ(q.take_next(out), 0u);
  q.next.store(t[0]);
  ASSERT_EQ(q.take_next(out), 1u);
  EXPECT_EQ(out[0], t[0]);
  EXPECT_EQ(q.take_next(out), 0u);
  EXPECT_TRUE(q.empty());
}

}  // namespace
}  // namespace go::detail
