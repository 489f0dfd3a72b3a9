// The lock-order check (lock_rank.hpp has the rules), compiled where GOCXX_LOCK_RANK is
// defined. Each thread counts the locks it holds of each rank: a context cancel may hold a
// whole path of nodes, a select all its channels.
#include "runtime/lock_rank.hpp"

#ifdef GOCXX_LOCK_RANK

#include <cstdio>
#include <cstdlib>

namespace go::detail {

namespace {

constexpr int ranks = static_cast<int>(lock_rank::leaf) + 1;

thread_local int held[ranks];

const char* name(int r) noexcept {
  switch (static_cast<lock_rank>(r)) {
    case lock_rank::context: return "context";
    case lock_rank::timer: return "timer";
    case lock_rank::poll_desc: return "poll_desc";
    case lock_rank::bubble: return "bubble";
    case lock_rank::chan: return "chan";
    case lock_rank::sched: return "sched";
    case lock_rank::timers: return "timers";
    case lock_rank::inbox: return "inbox";
    case lock_rank::leaf: return "leaf";
  }
  return "?";
}

bool several_allowed(lock_rank r) noexcept { return r == lock_rank::context || r == lock_rank::chan; }

}  // namespace

__attribute__((noinline)) void lock_rank_acquire(lock_rank r, const void* lock, bool check) noexcept {
  int* h = held;
  const int k = static_cast<int>(r);
  for (int i = check ? k : ranks; i < ranks; ++i) {
    if (h[i] == 0 || (i == k && several_allowed(r))) continue;
    std::fprintf(stderr, "fatal error: lock ordering problem: taking %s (%p) while holding %s\n", name(k), lock,
                 name(i));
    std::abort();
  }
  ++h[k];
}

__attribute__((noinline)) void lock_rank_release(lock_rank r, const void*) noexcept { --held[static_cast<int>(r)]; }

}  // namespace go::detail

#endif
