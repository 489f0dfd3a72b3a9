// The netpoller: epoll, edge-triggered (Go's runtime/netpoll.go and netpoll_epoll.go).
//
// Every pollable fd is registered once, for both directions (EPOLLIN | EPOLLOUT | EPOLLRDHUP
// | EPOLLET), with its poll_desc (poll_desc.hpp) as the event's data: when it is opened, or
// for a socket when a goroutine first has to wait on it (poll_arm, before the waiter publishes
// itself). EPOLL_CTL_ADD queues an event for the readiness the socket already has, so the
// edges that came before the registration are not lost. A goroutine first tries
// its system call; only on EAGAIN does it wait, publishing itself in the direction's word
// (rg or wg) and parking with wait reason "IO wait". The scheduler calls poll()
// (netpoll.hpp), which turns each event into a readiness of its descriptor's directions.
// A stackless goroutine waits through the same protocol split at the park: poll_arm (the
// waiter's column below up to the park), its own suspension, then poll_woken (the swap).
//
// The word protocol (one word per direction; a parker pointer is aligned, so never 0 or 1):
//
//   waiter (poll_wait)                       unblocker (event, close, deadline)
//   pd_ready -> pd_nil: consume, retry       parker -> pd_ready (event) or pd_nil: wake it
//   pd_nil -> me (CAS), then check close     pd_nil -> pd_ready (event only)
//     and deadline again; park               pd_ready: nothing (already pending)
//   after the wake: swap to pd_nil; it was
//     pd_ready: retry; else check errors
//
// - Exactly one unblocker takes a parker out of the word (its CAS moves it away), so each
//   park gets exactly one wake. A wake may come before the park: park() returns at once then.
// - close and deadlines set their `info` bit, then unblock; the waiter publishes itself, then
//   reads `info` (both sequentially consistent: a Dekker pair). So either the waiter sees the
//   bit, or the unblocker sees the waiter. A waiter that sees the bit takes itself back out
//   with a CAS; if that fails an unblocker has it and its wake is coming, so it parks to
//   consume that wake.
// - netpoll_waiters counts the published waiters: the waiter adds one before publishing;
//   whoever takes it back out subtracts one, after waking it (so the count never reads zero
//   while a woken goroutine is not yet runnable, which the deadlock check would misread).
//
// Deadlines are runtime timers embedded in the descriptor (rt, wt), armed under its lock. A
// firing checks, under the lock, that the deadline as now set has passed: a firing that lost a
// race with a change of the deadline (or the descriptor's reuse) then does nothing, so no
// sequence number is needed. A descriptor's memory is never freed (they are cached), so a
// late firing or a stale epoll event always finds valid memory; a stale event only makes a
// waiter retry its system call, which fails with EAGAIN and waits again.
//
// Lock order: a descriptor's lock, then a timer heap's lock (add_timer, remove_timer). The
// cache's lock is a leaf.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "runtime/netpoll.hpp"
#include "runtime/poll_desc.hpp"
#include "runtime/scheduler.hpp"

namespace go::detail {

namespace {

int epfd = -1;
int wake_fd = -1;                            // the eventfd of interrupt()
std::atomic<std::uint32_t> wake_pending{0};  // a wake-up is written and not yet read
char wake_tag;                               // its events' data: &wake_tag
bool have_pwait2 = true;                     // epoll_pwait2 (Linux 5.11): nanosecond timeouts

int epoll_wait_ns(epoll_event* events, int max, std::int64_t delay_ns) noexcept {
#ifdef SYS_epoll_pwait2
  if (have_pwait2 && delay_ns > 0) {
    timespec ts{static_cast<time_t>(delay_ns / 1'000'000'000), static_cast<long>(delay_ns % 1'000'000'000)};
    long n = syscall(SYS_epoll_pwait2, epfd, events, max, &ts, nullptr, 0);
    if (n >= 0 || errno != ENOSYS) return static_cast<int>(n);
    have_pwait2 = false;
  }
#endif
  int ms;
  if (delay_ns < 0) ms = -1;
  else if (delay_ns == 0) ms = 0;
  else if (delay_ns < 1'000'000'000'000) ms = static_cast<int>((delay_ns + 999'999) / 1'000'000);  // never early
  else ms = 1'000'000'000;
  return epoll_wait(epfd, events, max, ms);
}

// unblock takes the waiter of one direction out of its word, leaving pd_ready if `ready`
// (an event) or pd_nil; returns the parker to wake, or null.
parker* unblock(std::atomic<std::uintptr_t>& gp, bool ready) noexcept {
  std::uintptr_t old = gp.load(std::memory_order_acquire);
  for (;;) {
    if (old == pd_ready) return nullptr;
    if (old == pd_nil && !ready) return nullptr;
    if (gp.compare_exchange_weak(old, ready ? pd_ready : pd_nil, std::memory_order_acq_rel)) {
      return old == pd_nil ? nullptr : reinterpret_cast<parker*>(old);
    }
  }
}

// wake_all wakes what unblock returned, then drops them from the waiter count.
int wake_all(parker* a, parker* b) noexcept {
  int n = 0;
  if (a) wake(a), ++n;
  if (b) wake(b), ++n;
  if (n) netpoll_waiters.fetch_sub(n, std::memory_order_seq_cst);
  return n;
}

int netpoll(std::int64_t delay_ns) noexcept {
  epoll_event events[128];
  int n = epoll_wait_ns(events, 128, delay_ns);
  if (n < 0) {
    if (errno != EINTR) {
      std::fprintf(stderr, "netpoll: epoll_wait failed: errno %d\n", errno);
      std::abort();
    }
    return 0;
  }
  int woken = 0;
  parker* batch[256];
  int m = 0;
  for (int i = 0; i < n; ++i) {
    const epoll_event& ev = events[i];
    if (ev.data.ptr == &wake_tag) {
      std::uint64_t v;
      ssize_t r = ::read(wake_fd, &v, sizeof v);
      (void)r;
      wake_pending.store(0, std::memory_order_release);
      continue;
    }
    auto* pd = static_cast<poll_desc*>(ev.data.ptr);
    if (ev.events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) pd->read_hup.store(true, std::memory_order_release);
    if (ev.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
      if (parker* p = unblock(pd->rg, true)) batch[m++] = p;
    }
    if (ev.events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
      if (parker* p = unblock(pd->wg, true)) batch[m++] = p;
    }
  }
  for (int i = 0; i < m; ++i) wake(batch[i]);
  woken += m;
  if (m) netpoll_waiters.fetch_sub(m, std::memory_order_seq_cst);
  return woken;
}

void netpoll_interrupt() noexcept {
  std::uint32_t expected = 0;
  if (!wake_pending.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) return;  // one is on its way
  std::uint64_t one = 1;
  ssize_t r = ::write(wake_fd, &one, sizeof one);
  (void)r;
}

const netpoller the_netpoller{&netpoll, &netpoll_interrupt};

void init_poller() noexcept {
  epfd = epoll_create1(EPOLL_CLOEXEC);
  wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epfd < 0 || wake_fd < 0) {
    std::fprintf(stderr, "netpoll: cannot create the poller: errno %d\n", errno);
    std::abort();
  }
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered: pending until poll reads it
  ev.data.ptr = &wake_tag;
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, wake_fd, &ev) != 0) std::abort();
  netpoll_register(&the_netpoller);
}

// The descriptor cache: descriptors are allocated in blocks and never freed (see the top).
runtime_lock cache_lock;
poll_desc* cache_free = nullptr;  // guarded by cache_lock

void deadline_fired(timer* t) noexcept;

poll_desc* cache_alloc() noexcept {
  std::lock_guard lk(cache_lock);
  if (!cache_free) {
    constexpr int block = 64;
    // NOLINTNEXTLINE(bugprone-unhandled-exception-at-new): out of memory ends the process, as in Go
    auto* pds = new poll_desc[block];
    for (int i = 0; i < block; ++i) {
      pds[i].rt.fire = pds[i].wt.fire = &deadline_fired;
      pds[i].rt.arg = pds[i].wt.arg = &pds[i];
      pds[i].next_free = cache_free;
      cache_free = &pds[i];
    }
  }
  poll_desc* pd = cache_free;
  cache_free = pd->next_free;
  return pd;
}

// set_info rewrites `info` from the deadlines; under pd->lock.
void set_info(poll_desc* pd, bool closing) noexcept {
  std::uint32_t info = closing ? poll_desc::info_closing : 0;
  if (pd->rd < 0) info |= poll_desc::info_read_expired;
  if (pd->wd < 0) info |= poll_desc::info_write_expired;
  pd->info.store(info, std::memory_order_seq_cst);
}

void deadline_fired(timer* t) noexcept {
  auto* pd = static_cast<poll_desc*>(t->arg);
  bool read = t == &pd->rt;
  parker* p = nullptr;
  {
    std::lock_guard lk(pd->lock);
    std::int64_t& d = read ? pd->rd : pd->wd;
    bool closing = pd->info.load(std::memory_order_relaxed) & poll_desc::info_closing;
    if (closing || d <= 0 || d > nanotime()) return;  // stale: the deadline moved or was cleared
    d = -1;
    set_info(pd, false);
    p = unblock(read ? pd->rg : pd->wg, false);
  }
  wake_all(p, nullptr);
}

// arm (re)starts a deadline's timer for deadline d, or stops it; under pd->lock.
void arm(timer* t, std::int64_t d) noexcept {
  remove_timer(t);  // false: not pending, or a firing in flight, which will find it stale
  if (d > 0) {
    t->when = d;
    add_timer(t);
  }
}

}  // namespace

namespace {

// add_to_epoll registers pd's fd; 0 or the errno value. EEXIST is success: a concurrent
// first waiter of the other direction registered it, and epoll_ctl reports EEXIST only once
// that registration is complete (both run under the epoll set's mutex).
int add_to_epoll(poll_desc* pd) noexcept {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = pd;
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, pd->fd, &ev) != 0 && errno != EEXIST) return errno;
  pd->registered.store(true, std::memory_order_release);
  return 0;
}

}  // namespace

poll_desc* poll_open(int fd, bool defer) noexcept {
  static std::once_flag once;
  std::call_once(once, init_poller);
  poll_desc* pd = cache_alloc();
  {
    std::lock_guard lk(pd->lock);
    pd->fd = fd;
    pd->rd = pd->wd = 0;
    pd->rg.store(pd_nil, std::memory_order_relaxed);
    pd->wg.store(pd_nil, std::memory_order_relaxed);
    pd->read_hup.store(false, std::memory_order_relaxed);
    pd->registered.store(false, std::memory_order_relaxed);
    pd->register_err.store(0, std::memory_order_relaxed);
    set_info(pd, false);
  }
  if (defer) return pd;
  if (int e = add_to_epoll(pd)) {
    poll_close(pd);
    errno = e;
    return nullptr;
  }
  return pd;
}

void poll_close(poll_desc* pd) noexcept {
  if (pd->fd >= 0 && pd->registered.load(std::memory_order_acquire)) {
    epoll_event ev{};
    epoll_ctl(epfd, EPOLL_CTL_DEL, pd->fd, &ev);
  }
  {
    std::lock_guard lk(pd->lock);
    arm(&pd->rt, 0);
    arm(&pd->wt, 0);
    pd->fd = -1;
  }
  std::lock_guard lk(cache_lock);
  pd->next_free = cache_free;
  cache_free = pd;
}

void poll_evict(poll_desc* pd) noexcept {
  parker *r, *w;
  {
    std::lock_guard lk(pd->lock);
    set_info(pd, true);
    arm(&pd->rt, 0);
    arm(&pd->wt, 0);
    r = unblock(pd->rg, false);
    w = unblock(pd->wg, false);
  }
  wake_all(r, w);
}

void poll_set_deadline(poll_desc* pd, std::int64_t when, int mode) noexcept {
  if (when != 0 && when <= nanotime()) when = -1;
  parker *r = nullptr, *w = nullptr;
  {
    std::lock_guard lk(pd->lock);
    if (pd->info.load(std::memory_order_relaxed) & poll_desc::info_closing) return;
    if (mode == 'r' || mode == 'r' + 'w') {
      pd->rd = when;
      arm(&pd->rt, when);
    }
    if (mode == 'w' || mode == 'r' + 'w') {
      pd->wd = when;
      arm(&pd->wt, when);
    }
    set_info(pd, false);
    if (pd->rd < 0) r = unblock(pd->rg, false);
    if (pd->wd < 0) w = unblock(pd->wg, false);
  }
  wake_all(r, w);
}

poll_result poll_arm(poll_desc* pd, int mode, parker* me, bool* armed) noexcept {
  std::atomic<std::uintptr_t>& gp = mode == 'r' ? pd->rg : pd->wg;
  *armed = false;
  if (!pd->registered.load(std::memory_order_acquire)) {
    // The caller's lock on the fd keeps pd->fd open (fd.hpp).
    if (int e = add_to_epoll(pd)) {
      pd->register_err.store(e, std::memory_order_relaxed);
      return poll_result::unregistered;
    }
  }
  for (;;) {
    if (poll_result r = poll_check(pd, mode); r != poll_result::ok) return r;
    std::uintptr_t old = gp.load(std::memory_order_acquire);
    if (old == pd_ready) {
      if (gp.compare_exchange_strong(old, pd_nil, std::memory_order_acquire)) return poll_result::ok;
      continue;
    }
    if (old != pd_nil) fatal("netpoll: two goroutines wait on one file descriptor in one direction");
    auto mine = reinterpret_cast<std::uintptr_t>(me);
    if (netpoll_waiters.fetch_add(1, std::memory_order_seq_cst) == 0) netpoll_first_waiter();
    if (!gp.compare_exchange_strong(old, mine, std::memory_order_seq_cst)) {  // readiness arrived
      netpoll_waiters.fetch_sub(1, std::memory_order_seq_cst);
      continue;
    }
    if (poll_check(pd, mode) != poll_result::ok &&
        gp.compare_exchange_strong(mine, pd_nil, std::memory_order_seq_cst)) {
      netpoll_waiters.fetch_sub(1, std::memory_order_seq_cst);
      continue;  // reports the error
    }
    // Published, or an unblocker already has us and its wake is coming: park either way.
    *armed = true;
    return poll_result::ok;
  }
}

bool poll_woken(poll_desc* pd, int mode) noexcept {
  return (mode == 'r' ? pd->rg : pd->wg).exchange(pd_nil, std::memory_order_acquire) == pd_ready;
}

poll_result poll_wait(poll_desc* pd, int mode) noexcept {
  for (;;) {
    bool armed;
    if (poll_result r = poll_arm(pd, mode, current_parker(), &armed); r != poll_result::ok || !armed) return r;
    park(wait_reason::io_wait, source_location::current());
    if (poll_woken(pd, mode)) return poll_result::ok;
  }
}

}  // namespace go::detail
