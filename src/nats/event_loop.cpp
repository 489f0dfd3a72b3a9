// libnats's external event loop (natsOptions_SetEventLoop), run by our netpoller: the socket
// of a connection on the loop (one with send_asap, conn.cpp) is read and written by two
// goroutines of its own instead of libnats's reader thread. state.hpp has what the loop owns.
//
// The protocol, from libnats 3.4's conn.c:
// - attach(fd) is called, with the connection's lock held, once a connection or a
//   reconnection is established; from then on libnats reads only when
//   natsConnection_ProcessReadEvent is called, which makes one recv(2) (0 bytes on EAGAIN)
//   and parses what it got.
// - write(add) is called with the lock held when the write buffer has something to send;
//   natsConnection_ProcessWriteEvent makes one send(2) and calls write(remove) from inside
//   once the buffer is empty, so a call that leaves write(add)'s state standing wrote part.
// - read(remove) (then write(remove)) is called, with the lock held and from any thread
//   (ours inside ProcessReadEvent, libnats's ping timer, a publishing thread, close), right
//   before libnats closes the socket to reconnect or to close; a reconnection attaches a new
//   socket with a new attachment, and detach is called once, at close, for the last one.
// - ProcessReadEvent checks the socket under the lock, then reads it without the lock; a
//   close under the lock from another thread can come between, so the read would race
//   the close or take a reused descriptor's bytes (libnats's own adapters have the same
//   gap). Our closes (Close, Destroy) first flush, while the reader still reads the PONG,
//   then stop_reading, which waits on read_mu for the reader to leave ProcessReadEvent for
//   good. libnats's own closes (a drain's end, a reconnect after a failed write or a stale
//   connection) cannot be ordered so from outside it; a reconnect after a failed read
//   closes on the reader itself.
// Callbacks run with libnats's lock held, so they never call libnats (nor take read_mu,
// which the reader holds while ProcessReadEvent waits for that lock): they set flags and
// wake goroutines. The poller waits on a duplicate of libnats's socket, so that libnats's
// close can never leave the poller with a descriptor number reused by another file; the
// duplicate is closed when both goroutines have returned, which read(remove) brings about.
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <mutex>
#include <utility>

#include "go/go.hpp"
#include "nats/state.hpp"
#include "runtime/poll_desc.hpp"

#ifdef GOCXX_NATS_HAVE_CONN_RETAIN
// libnats's reference count on a connection (its private conn.h declares them; cmake/
// nats.cmake checks that libnats exports them): a goroutine of an attachment may still be
// about to call ProcessReadEvent when the connection is destroyed, so each attachment holds
// a reference until its goroutines have returned. Without them no connection uses the loop.
extern "C" {
void natsConn_retain(natsConnection* nc);
void natsConn_release(natsConnection* nc);
}
#endif

namespace go::nats::detail {

namespace {

// How many bytes a connection on the loop may hold unsent before a publish waits
// (event_loop::wait_for_room): 32 of libnats's default 32 KiB write buffers.
constexpr int max_unsent = 1 << 20;

// write_through's state on its thread: whether a publish of ours is under way, and the
// attachment whose write(add) it made.
thread_local bool writing_through = false;
thread_local attachment* asked_through = nullptr;

// Reads: ProcessReadEvent while the socket has bytes, else waits for the next edge. A
// readiness that arrives after poll_prepare makes the next wait return at once, so none is
// lost between the check and the wait.
void read_loop(const std::shared_ptr<attachment>& a) {
  while (!a->stopped.load(std::memory_order_acquire)) {
    if (go::detail::poll_prepare(a->pd, 'r') != go::detail::poll_result::ok) break;
    {
      std::lock_guard lock(a->read_mu);  // never parks inside: callbacks only try_send
      if (a->reading_stopped) break;
      natsConnection_ProcessReadEvent(a->nc);
    }
    int unread = 0;
    if (go::detail::poll_hung_up(a->pd) || ioctl(a->fd, FIONREAD, &unread) != 0 || unread > 0) continue;
    if (go::detail::poll_wait(a->pd, 'r') != go::detail::poll_result::ok) break;
  }
  a->exit();
}

// Whether the socket has room now (a write that took part of the buffer left it full, or
// more was appended after it).
bool writable(int fd) {
  pollfd p{fd, POLLOUT, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLOUT) != 0;
}

// Writes: woken by write(add) or by a write of ours that left something, writes until the
// buffer is empty, and waits for room when the socket takes only part.
void write_loop(const std::shared_ptr<attachment>& a) {
  bool again = false;
  while (!a->stopped.load(std::memory_order_acquire)) {
    if (!again && !a->write_wanted.load(std::memory_order_acquire) && !a->rest.exchange(false)) {
      a->kick.recv();
      continue;
    }
    again = false;
    if (go::detail::poll_prepare(a->pd, 'w') != go::detail::poll_result::ok) break;
    if (!a->write_once()) continue;
    if (!writable(a->fd) && go::detail::poll_wait(a->pd, 'w') != go::detail::poll_result::ok) break;
    again = true;
  }
  a->exit();
}

// The loop's callbacks (unused where libnats lacks natsConn_retain: use_event_loop).
[[maybe_unused]] natsStatus on_attach(void** user_data, void* loop, natsConnection* nc, natsSock fd) {
  int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return NATS_SYS_ERROR;
  go::detail::poll_desc* pd = go::detail::poll_open(dup);
  if (pd == nullptr) {
    ::close(dup);
    return NATS_SYS_ERROR;
  }
  auto a = std::make_shared<attachment>();
  a->nc = nc;
  a->fd = dup;
  a->pd = pd;
  a->kick = make_chan<void>(1);
  a->done = make_chan<void>();
#ifdef GOCXX_NATS_HAVE_CONN_RETAIN
  natsConn_retain(nc);  // the lock is held and recursive
#endif
  static_cast<event_loop*>(loop)->add(a);
  *user_data = a.get();
  go::spawn(read_loop, a);
  go::spawn(write_loop, a);
  return NATS_OK;
}

[[maybe_unused]] natsStatus on_read(void* user_data, bool add) {
  if (!add) static_cast<attachment*>(user_data)->stop();
  return NATS_OK;
}

[[maybe_unused]] natsStatus on_write(void* user_data, bool add) {
  auto* a = static_cast<attachment*>(user_data);
  a->write_wanted.store(add, std::memory_order_release);
  if (add) {
    if (writing_through) asked_through = a;
    else (void)a->kick.try_send();
  }
  return NATS_OK;
}

[[maybe_unused]] natsStatus on_detach(void* user_data) {
  static_cast<attachment*>(user_data)->stop();
  return NATS_OK;
}

}  // namespace

void begin_write_through() noexcept { writing_through = true; }

void end_write_through() noexcept {
  writing_through = false;
  attachment* a = std::exchange(asked_through, nullptr);
  if (a != nullptr) a->write_rest_later(a->write_once());
}

bool attachment::write_once() noexcept {
  std::lock_guard lock(write_mu);
  if (stopped.load(std::memory_order_acquire) || natsConnection_Buffered(nc) <= 0) return false;
  natsConnection_ProcessWriteEvent(nc);
  return natsConnection_Buffered(nc) > 0;
}

void attachment::write_rest_later(bool left) noexcept {
  if (!left) return;
  rest.store(true, std::memory_order_release);
  (void)kick.try_send();
}

void attachment::stop() noexcept {
  std::lock_guard lock(mu);
  if (stopped.load(std::memory_order_relaxed)) return;
  stopped.store(true, std::memory_order_release);
  go::detail::poll_evict(pd);
  (void)kick.try_send();
}

void attachment::exit() noexcept {
  if (live.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  {
    // stop's eviction has finished (it holds mu throughout), so nobody touches pd after this.
    std::lock_guard lock(mu);
    if (!stopped.exchange(true, std::memory_order_acq_rel)) go::detail::poll_evict(pd);
  }
  go::detail::poll_close(pd);
  ::close(fd);
#ifdef GOCXX_NATS_HAVE_CONN_RETAIN
  natsConn_release(nc);
#endif
  done.close();
}

void event_loop::add(std::shared_ptr<attachment> a) {
  std::lock_guard lock(mu);
  a->reading_stopped = reading_stopped;  // not shared yet
  attachments.push_back(std::move(a));
}

void event_loop::stop_reading() {
  std::vector<std::shared_ptr<attachment>> all;
  {
    // Not held while waiting for a reader: one can be waiting for libnats's lock, which
    // on_attach holds while it waits for mu (add).
    std::lock_guard lock(mu);
    reading_stopped = true;
    all = attachments;
  }
  for (auto& a : all) {
    std::lock_guard reading(a->read_mu);
    a->reading_stopped = true;
  }
}

void event_loop::stop_all() {
  std::lock_guard lock(mu);
  for (auto& a : attachments) a->stop();
}

void event_loop::wait() {
  std::vector<std::shared_ptr<attachment>> all;
  {
    std::lock_guard lock(mu);
    all = attachments;
  }
  for (auto& a : all) a->done.recv();
}

std::shared_ptr<attachment> event_loop::latest() {
  std::lock_guard lock(mu);
  return attachments.empty() ? nullptr : attachments.back();
}

void event_loop::write_now() {
  if (std::shared_ptr<attachment> a = latest()) a->write_rest_later(a->write_once());
}

void event_loop::wait_for_room(natsConnection* nc) {
  if (natsConnection_Buffered(nc) <= max_unsent) return;
  std::shared_ptr<attachment> a = latest();
  // Polled: the wait is rare (a server or network slower than the publisher), and so it
  // needs nothing from the writer goroutine's path.
  while (a != nullptr && !a->stopped.load(std::memory_order_acquire) && natsConnection_Buffered(nc) > max_unsent) {
    go::sleep(std::chrono::milliseconds(1));
  }
}

bool use_event_loop(natsOptions* o, event_loop* loop, natsStatus* s) {
#ifdef GOCXX_NATS_HAVE_CONN_RETAIN
  *s = natsOptions_SetEventLoop(o, loop, on_attach, on_read, on_write, on_detach);
  return true;
#else
  (void)o, (void)loop, (void)s;
  return false;
#endif
}

}  // namespace go::nats::detail
