// Walking a parked goroutine's stack (unwind.cpp has how, and why it is safe while the
// goroutine may resume).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace go::detail {

struct goroutine;

// A goroutine's stack_hold (scheduler.hpp): free, held by a batch (the worker that resumes
// it may take it back), or being read (that worker waits). unwind.cpp has the protocol.
enum stack_hold : std::uint8_t { stack_free = 0, stack_held = 1, stack_reading = 2 };

// Whether a batch of stacks is held now (unwind.cpp).
extern std::atomic<bool> stacks_held;
void wait_stack_read(goroutine* g) noexcept;

// before_resume is called by the worker about to switch to g, after it has marked g running
// and before g's stack is used: if g's stack is held for a reader it takes it back, and if it
// is being read it waits. Off a profile or dump, one load of a global that nobody writes,
// and a branch (bench chan_sync).
inline void before_resume(goroutine* g) noexcept {
  std::atomic_signal_fence(std::memory_order_seq_cst);  // the membarrier orders the rest
  if (__builtin_expect(stacks_held.load(std::memory_order_acquire), 0)) wait_stack_read(g);
}

// held_stacks holds the stacks of a batch of goroutines still while they are read, with one
// barrier for the whole batch: add() each goroutine that is parked (or was a moment ago),
// hold() once, then for each, take() it and, if that succeeds, read its state and frames()
// and release() it. A goroutine whose worker resumes it before it is taken is no longer
// held (take fails) and is not waited for; one taken is not resumed until released. The
// destructor lets every goroutine of the batch go. One batch at a time in the process: the
// constructor waits for the one before; it must not be made under the registry of goroutine
// records (for_each_goroutine), whose callers take it the other way round.
class held_stacks {
 public:
  held_stacks();
  ~held_stacks();
  held_stacks(const held_stacks&) = delete;
  held_stacks& operator=(const held_stacks&) = delete;

  void add(goroutine* g);
  void hold() noexcept;
  bool take(goroutine* g) noexcept;
  // frames returns the return addresses on the stack of g, taken, innermost first; empty
  // if it is not parked or has no saved context.
  std::vector<std::uintptr_t> frames(goroutine* g);
  void release(goroutine* g) noexcept;

 private:
  std::unique_lock<std::mutex> lock_;
  std::vector<goroutine*> batch_;
};

// read_stacks reads the stacks of a list of goroutines with one barrier for all: for each
// item, walk(item) names the goroutine whose stack to hold (parked, or parked a moment ago)
// or is null (stackless, running); then visit(item, held) is called for each item in order,
// held non-null while that goroutine's stack is taken: held->frames(g) walks it, and g does
// not resume before visit returns. Not under the registry of goroutine records (held_stacks).
template <class Item, class Walk, class Visit>
void read_stacks(std::vector<Item>& items, Walk walk, Visit visit) {
  held_stacks held;
  std::vector<goroutine*> to_take;
  to_take.reserve(items.size());
  for (Item& item : items) {
    to_take.push_back(walk(item));
    if (to_take.back()) held.add(to_take.back());
  }
  held.hold();
  for (std::size_t i = 0; i < items.size(); ++i) {
    bool taken = to_take[i] && held.take(to_take[i]);
    visit(items[i], taken ? &held : nullptr);
    if (taken) held.release(to_take[i]);
  }
}

// parked_frames returns the frames of g, parked (or parked a moment ago), as a batch of one;
// empty if it is no longer parked.
std::vector<std::uintptr_t> parked_frames(goroutine* g);

// stack_read_barriers returns how many barriers (membarrier calls) stack reads have made.
std::uint64_t stack_read_barriers() noexcept;

}  // namespace go::detail
