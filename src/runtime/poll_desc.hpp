// The poll descriptor: what a goroutine waiting for a file descriptor's readiness parks on
// (Go's pollDesc, runtime/netpoll.go). netpoll.cpp has the poller and the protocol; this is
// the interface the fd layer (src/poll/fd.cpp) uses.
//
// Per direction (read, write) one word, Go's rg and wg:
//   pd_nil     nobody waits and no readiness is pending
//   pd_ready   readiness arrived that nobody has consumed yet
//   a parker*  that parker waits (parked, or about to park)
// At most one waiter per direction: the fd layer serializes readers and writers (fd_mutex).
#pragma once

#include <atomic>
#include <cstdint>

#include "runtime/lock.hpp"
#include "runtime/timer.hpp"

namespace go::detail {

inline constexpr std::uintptr_t pd_nil = 0;
inline constexpr std::uintptr_t pd_ready = 1;

// What prepare and wait report (Go's pollNoError, pollErrClosing, pollErrTimeout), and
// unregistered: a descriptor opened with its registration deferred could not be registered
// when it first had to wait (the errno value is in register_err).
enum class poll_result : std::uint8_t { ok, closing, timeout, unregistered };

struct poll_desc;

struct poll_desc {
  // Bits of `info`, readable without the lock (Go's pollInfo): closing, and a read or write
  // deadline that has passed. Written under `lock`.
  static constexpr std::uint32_t info_closing = 1, info_read_expired = 2, info_write_expired = 4;

  std::atomic<std::uintptr_t> rg{pd_nil};
  std::atomic<std::uintptr_t> wg{pd_nil};
  std::atomic<std::uint32_t> info{0};
  // Set by the poller once an event said the peer hung up (or the socket failed): no edge
  // follows, so a read after a short read must not wait for one (fd.cpp).
  std::atomic<bool> read_hup{false};
  // Whether fd is in the epoll set. A socket's registration waits for its first wait
  // (poll_open's `defer`): most sockets of request-response traffic find their data and
  // room every time, or never wait on one side, and are spared the epoll_ctl calls that add
  // them and take them out. Set once, by the first waiter, before it publishes itself.
  std::atomic<bool> registered{false};
  std::atomic<int> register_err{0};  // why registering failed (poll_result::unregistered)
  int fd = -1;

  runtime_lock lock{lock_rank::poll_desc};  // guards the deadlines, the timers' arming and `info`'s writes
  std::int64_t rd = 0;                      // read deadline: 0 none, -1 passed, else nanotime() when it passes
  std::int64_t wd = 0;                      // write deadline, the same
  timer rt, wt;                             // the deadlines' timers; arg is the descriptor
  poll_desc* next_free = nullptr;           // the descriptor cache's free list
};

// poll_open registers fd (non-blocking) with the poller: edge-triggered, both directions, once.
// Returns null with errno set if the poller cannot wait on fd (a regular file: EPERM). With
// `defer` (for a socket, which the poller can always wait on) its first wait registers it
// (poll_arm), and registering reports the readiness the socket already has, so no edge is
// lost.
poll_desc* poll_open(int fd, bool defer = false) noexcept;

// poll_close unregisters the descriptor and returns it to the cache. poll_evict must have run
// and nobody may wait on it any more (the fd layer's last reference is gone).
void poll_close(poll_desc* pd) noexcept;

// poll_evict marks pd closing and wakes its waiters, which then report closing.
void poll_evict(poll_desc* pd) noexcept;

// poll_check reports close, or a passed deadline of mode 'r' or 'w'.
inline poll_result poll_check(const poll_desc* pd, int mode) noexcept {
  std::uint32_t info = pd->info.load(std::memory_order_acquire);
  if (info == 0) return poll_result::ok;
  if (info & poll_desc::info_closing) return poll_result::closing;
  if (info & (mode == 'r' ? poll_desc::info_read_expired : poll_desc::info_write_expired)) return poll_result::timeout;
  return poll_result::ok;
}

// poll_prepare checks as poll_check before an attempt, and forgets a readiness nobody
// consumed (the attempt itself will see it).
inline poll_result poll_prepare(poll_desc* pd, int mode) noexcept {
  if (poll_result r = poll_check(pd, mode); r != poll_result::ok) return r;
  std::atomic<std::uintptr_t>& gp = mode == 'r' ? pd->rg : pd->wg;
  if (gp.load(std::memory_order_relaxed) == pd_ready) gp.store(pd_nil, std::memory_order_relaxed);
  return poll_result::ok;
}

// poll_ready reports readiness in `mode` that nobody has consumed yet.
// poll_hung_up reports whether the poller has seen the peer hang up on pd.
inline bool poll_hung_up(const poll_desc* pd) noexcept { return pd->read_hup.load(std::memory_order_acquire); }

inline bool poll_ready(const poll_desc* pd, int mode) noexcept {
  return (mode == 'r' ? pd->rg : pd->wg).load(std::memory_order_acquire) == pd_ready;
}

// poll_wait parks the caller until pd is ready in `mode` ('r' or 'w'), is closed, or the
// deadline of that direction passes. The caller then retries its system call.
poll_result poll_wait(poll_desc* pd, int mode) noexcept;

// poll_wait's halves, for a waiter that parks in its own way (a stackless goroutine,
// poll/fd_async.cpp). poll_arm registers a deferred descriptor first (unregistered if it
// cannot), then returns an error (close, a passed deadline), or ok with
// *armed false: readiness was pending and is consumed, retry the system call; or ok with
// *armed true: `me` is published in the direction's word and must park (wait reason
// "IO wait"); its wake may already be on its way. Once woken, poll_woken takes it out of the
// word and reports readiness: true, retry; false, arm again (which reports the error).
struct parker;
poll_result poll_arm(poll_desc* pd, int mode, parker* me, bool* armed) noexcept;
bool poll_woken(poll_desc* pd, int mode) noexcept;

// poll_set_deadline sets the deadline of mode 'r', 'w' or 'r' + 'w': `when` is a nanotime()
// value, 0 for none; one not after now has passed at once and wakes a waiter with timeout.
void poll_set_deadline(poll_desc* pd, std::int64_t when, int mode) noexcept;

}  // namespace go::detail
