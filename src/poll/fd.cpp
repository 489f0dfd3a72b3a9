// poll_fd's operations (fd.hpp has the invariants): Go's internal/poll/fd_unix.go.
//
// Each read-side operation holds the read lock, each write-side one the write lock
// (fd_mutex), checks for close and a passed deadline (poll_prepare), then loops: the system
// call; on EAGAIN, poll_wait and again. The attempt is a step function of its own (fd.hpp)
// that reports done or wait, so that a stackless goroutine's awaiter (fd_async.cpp) runs the
// same attempts and waits by suspending. The fast path is thus two compare-and-swaps on the
// lock word, one load of the descriptor's info and the system call, with no allocation
// (bench net_round_trip).
//
// Readiness after a short read (tokio's rule; Go tries the read every time). A read of a TCP
// socket that returns less than it asked for has emptied the socket (the kernel copies until
// the buffer is full or the queue and backlog are empty), and every byte that arrives later
// wakes the socket's waiters, which raises an edge for the poller. (A unix stream socket may
// stop short at a message that carries descriptors or other credentials, so it is left out.)
// So the next read, if no readiness has come in since (the descriptor's rg is not ready),
// waits first instead of making a system call that would fail with EAGAIN: the edge it
// waits for is either pending in epoll or still to come; except once the peer hung up: the
// edge that carried the end of stream may have come with the bytes just read, and no other
// follows, so the read goes on (poll_hung_up). Request-response traffic read into
// a buffer larger than a request (bufio) saves one system call per request. A read that
// filled its buffer proves nothing and reads as usual.
#include "poll/fd.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "go/runtime.hpp"

namespace go::detail {

namespace {

// Larger reads and writes are split, as Go's maxRW (some kernels reject them).
constexpr std::size_t max_rw = std::size_t{1} << 30;

int poll_error(const poll_fd* f, poll_result r) noexcept {
  if (r == poll_result::unregistered) return f->pd->register_err.load(std::memory_order_relaxed);
  return r == poll_result::closing ? fd_closing : fd_timeout;
}

std::atomic<std::uint64_t> read_eagain{0};

void destroy(poll_fd* f) noexcept {
  if (f->pd) poll_close(f->pd);
  f->pd = nullptr;
  ::close(f->sysfd);
  f->sysfd = -1;
}

// Scoped read or write lock of an operation.
class op_lock {
 public:
  op_lock(poll_fd* f, bool read) noexcept
      : f_(f), read_(read), held_(f->mu.rw_lock(read, read ? f->rsema : f->wsema)) {}
  ~op_lock() {
    if (held_) fd_rw_unlock(f_, read_);
  }
  op_lock(const op_lock&) = delete;
  op_lock& operator=(const op_lock&) = delete;
  bool held() const noexcept { return held_; }

 private:
  poll_fd* f_;
  bool read_;
  bool held_;
};

// wait waits for readiness after EAGAIN; 0 to retry, else the error.
int wait(poll_fd* f, int mode) noexcept {
  poll_result r = poll_wait(f->pd, mode);
  return r == poll_result::ok ? 0 : poll_error(f, r);
}

// drive runs step (one attempt) until it is done, waiting for readiness in `mode` between
// attempts; 0, or the error that ended the wait.
template <class Step>
int drive(poll_fd* f, int mode, Step step) noexcept {
  while (step() == fd_step::wait) {
    if (int e = wait(f, mode)) return e;
  }
  return 0;
}

// locked is a whole operation but a read's: the direction's lock, the checks, and step until
// done; a wait's error keeps the bytes already moved (a write's).
template <class Step>
fd_result locked(poll_fd* f, bool read, Step step) noexcept {
  op_lock lk(f, read);
  if (!lk.held()) return {0, fd_closing};
  const char mode = read ? 'r' : 'w';
  if (int e = fd_prepare(f, mode)) return {0, e};
  fd_result out;
  if (int e = drive(f, mode, [&] { return step(&out); })) out.err = e;
  return out;
}

// write_file writes to a pipe or other file with SIGPIPE blocked in this thread, so a closed
// reader is EPIPE, never the signal (a pending SIGPIPE that the write raised is consumed).
ssize_t write_file(int fd, const void* p, std::size_t n) noexcept {
  sigset_t pipe, old;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, &old);
  ssize_t r = ::write(fd, p, n);
  int e = errno;
  if (r < 0 && e == EPIPE && !sigismember(&old, SIGPIPE)) {
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE)) {
      timespec zero{0, 0};
      sigtimedwait(&pipe, nullptr, &zero);
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = e;
  return r;
}

ssize_t sys_write(poll_fd* f, const std::byte* p, std::size_t n) noexcept {
  if (f->is_socket) return ::send(f->sysfd, p, n, MSG_NOSIGNAL);
  if (!f->pd) return go::blocking([&] { return write_file(f->sysfd, p, n); });
  return write_file(f->sysfd, p, n);
}

ssize_t sys_read(poll_fd* f, std::byte* p, std::size_t n) noexcept {
  if (!f->pd) return go::blocking([&] { return ::read(f->sysfd, p, n); });
  return ::read(f->sysfd, p, n);
}

}  // namespace

void fd_retain(poll_fd* f) noexcept { f->handles.fetch_add(1, std::memory_order_relaxed); }

void fd_release(poll_fd* f) noexcept {
  if (f->handles.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  fd_close(f);  // fd_closing if closed already: nothing to do
  delete f;
}

void fd_decref(poll_fd* f) noexcept {
  if (f->mu.decref()) destroy(f);
}

poll_fd* fd_new(int sysfd, bool socket) noexcept {
  auto* f = new poll_fd;  // NOLINT(bugprone-unhandled-exception-at-new): out of memory ends the process, as in Go
  f->sysfd = sysfd;
  f->is_socket = socket;
  // Null for a regular file: then calls block the thread. A socket is registered when it
  // first has to wait (poll_desc.hpp).
  f->pd = poll_open(sysfd, socket);
  return f;
}

int fd_prepare(poll_fd* f, int mode) noexcept {
  if (!f->pd) return 0;
  poll_result r = poll_prepare(f->pd, mode);
  return r == poll_result::ok ? 0 : poll_error(f, r);
}

int fd_poll_error(const poll_fd* f, poll_result r) noexcept { return poll_error(f, r); }

void fd_rw_unlock(poll_fd* f, bool read) noexcept {
  if (f->mu.rw_unlock(read, read ? f->rsema : f->wsema)) destroy(f);
}

int fd_read_begin(poll_fd* f, bool* wait_first) noexcept {
  const bool drained = f->read_drained;
  f->read_drained = false;
  // Readiness after a short read (top of the file), unless the peer hung up.
  *wait_first = drained && !poll_ready(f->pd, 'r') && !poll_hung_up(f->pd);
  if (!*wait_first) return fd_prepare(f, 'r');
  poll_result r = poll_check(f->pd, 'r');
  return r == poll_result::ok ? 0 : poll_error(f, r);
}

fd_step fd_read_step(poll_fd* f, std::span<std::byte> p, fd_result* out) noexcept {
  std::size_t n = f->is_stream && p.size() > max_rw ? max_rw : p.size();
  for (;;) {
    ssize_t r = sys_read(f, p.data(), n);
    if (r > 0) {
      f->read_drained = static_cast<std::size_t>(r) < n && f->pd && f->sotype == SOCK_STREAM &&
                        (f->family == AF_INET || f->family == AF_INET6);
      *out = {static_cast<std::size_t>(r), 0};
      return fd_step::done;
    }
    if (r == 0) {
      *out = {0, f->zero_read_is_eof ? fd_eof : 0};
      return fd_step::done;
    }
    int e = errno;
    if (e == EINTR) continue;
    if (e == EAGAIN && f->pd) {
      read_eagain.fetch_add(1, std::memory_order_relaxed);
      return fd_step::wait;
    }
    *out = {0, e};
    return fd_step::done;
  }
}

fd_result fd_read(poll_fd* f, std::span<std::byte> p) noexcept {
  op_lock lk(f, true);
  if (!lk.held()) return {0, fd_closing};
  if (p.empty()) return {};  // Go: a zero-byte read returns at once, not end of stream
  bool wait_first;
  if (int e = fd_read_begin(f, &wait_first)) return {0, e};
  if (wait_first) {
    if (int e = wait(f, 'r')) return {0, e};
  }
  fd_result out;
  if (int e = drive(f, 'r', [&] { return fd_read_step(f, p, &out); })) return {0, e};
  return out;
}

std::uint64_t fd_read_eagain_count() noexcept { return read_eagain.load(std::memory_order_relaxed); }

fd_step fd_write_step(poll_fd* f, std::span<const std::byte> p, fd_result* out) noexcept {
  for (;;) {
    std::size_t n = p.size() - out->n;
    if (f->is_stream && n > max_rw) n = max_rw;
    ssize_t r = sys_write(f, p.data() + out->n, n);
    if (r > 0) out->n += static_cast<std::size_t>(r);
    if (out->n == p.size()) return fd_step::done;
    if (r < 0) {
      int e = errno;
      if (e == EINTR) continue;
      if (e == EAGAIN && f->pd) return fd_step::wait;
      out->err = e;
      return fd_step::done;
    }
    if (r == 0) {  // Go's io.ErrUnexpectedEOF: a write that moves nothing
      out->err = EIO;
      return fd_step::done;
    }
  }
}

fd_result fd_write(poll_fd* f, std::span<const std::byte> p) noexcept {
  return locked(f, false, [&](fd_result* out) { return fd_write_step(f, p, out); });
}

fd_step fd_recvfrom_step(poll_fd* f, std::span<std::byte> p, sockaddr_storage* from, socklen_t* len,
                         fd_result* out) noexcept {
  for (;;) {
    *len = sizeof(sockaddr_storage);
    ssize_t r = ::recvfrom(f->sysfd, p.data(), p.size(), 0, reinterpret_cast<sockaddr*>(from), len);
    if (r >= 0) {
      *out = {static_cast<std::size_t>(r), 0};
      return fd_step::done;
    }
    int e = errno;
    if (e == EINTR) continue;
    if (e == EAGAIN && f->pd) return fd_step::wait;
    *out = {0, e};
    return fd_step::done;
  }
}

fd_result fd_recvfrom(poll_fd* f, std::span<std::byte> p, sockaddr_storage* from, socklen_t* len) noexcept {
  return locked(f, true, [&](fd_result* out) { return fd_recvfrom_step(f, p, from, len, out); });
}

fd_step fd_sendto_step(poll_fd* f, std::span<const std::byte> p, const sockaddr* to, socklen_t len,
                       fd_result* out) noexcept {
  for (;;) {
    ssize_t r = ::sendto(f->sysfd, p.data(), p.size(), MSG_NOSIGNAL, to, len);
    if (r >= 0) {
      *out = {static_cast<std::size_t>(r), 0};
      return fd_step::done;
    }
    int e = errno;
    if (e == EINTR) continue;
    if (e == EAGAIN && f->pd) return fd_step::wait;
    *out = {0, e};
    return fd_step::done;
  }
}

fd_result fd_sendto(poll_fd* f, std::span<const std::byte> p, const sockaddr* to, socklen_t len) noexcept {
  return locked(f, false, [&](fd_result* out) { return fd_sendto_step(f, p, to, len, out); });
}

fd_step fd_accept_step(poll_fd* f, sockaddr_storage* from, socklen_t* len, int* s, int* err) noexcept {
  for (;;) {
    *len = sizeof(sockaddr_storage);
    *s = ::accept4(f->sysfd, reinterpret_cast<sockaddr*>(from), len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (*s >= 0) return fd_step::done;
    int e = errno;
    if (e == EINTR || e == ECONNABORTED) continue;  // a queued connection reset before we took it
    if (e == EAGAIN && f->pd) return fd_step::wait;
    *err = e;
    return fd_step::done;
  }
}

int fd_accept(poll_fd* f, sockaddr_storage* from, socklen_t* len, int* err) noexcept {
  op_lock lk(f, true);
  if (!lk.held()) return *err = fd_closing, -1;
  if ((*err = fd_prepare(f, 'r'))) return -1;
  int s = -1;
  if (int e = drive(f, 'r', [&] { return fd_accept_step(f, from, len, &s, err); })) *err = e;
  return s;
}

namespace {

// connected: whether the socket has a peer, which it then records in f->raddr. A TCP socket
// has none while its handshake is under way or after it failed (ENOTCONN).
bool connected(poll_fd* f) noexcept {
  f->rlen = sizeof f->raddr;
  if (::getpeername(f->sysfd, reinterpret_cast<sockaddr*>(&f->raddr), &f->rlen) == 0) return true;
  f->rlen = 0;
  return false;
}

}  // namespace

int fd_connect_start(poll_fd* f, const sockaddr* to, socklen_t len) noexcept {
  for (;;) {
    if (::connect(f->sysfd, to, len) == 0) return 0;
    int e = errno;
    if (e == EINTR) continue;
    if (e == EISCONN) return 0;
    if (e != EINPROGRESS && e != EALREADY) return e;
    if (!f->pd) return EINVAL;
    // Over loopback the handshake is done by the time connect returns: no wait, and no
    // trip through the poller and the scheduler (bench net_dial_8).
    return connected(f) ? 0 : EINPROGRESS;
  }
}

fd_step fd_connect_step(poll_fd* f, int* err) noexcept {
  // Writable: connected or failed. SO_ERROR says which.
  int soerr = 0;
  socklen_t n = sizeof soerr;
  if (::getsockopt(f->sysfd, SOL_SOCKET, SO_ERROR, &soerr, &n) != 0) return *err = errno, fd_step::done;
  if (soerr == EINPROGRESS || soerr == EALREADY || soerr == EINTR) return fd_step::wait;
  if (soerr != 0 && soerr != EISCONN) return *err = soerr, fd_step::done;
  // Writable and no error can be spurious (a stale event): connected only if it has a peer.
  if (connected(f)) return *err = 0, fd_step::done;
  return fd_step::wait;
}

int fd_connect(poll_fd* f, const sockaddr* to, socklen_t len) noexcept {
  int err = fd_connect_start(f, to, len);
  if (err != EINPROGRESS) return err;
  for (;;) {
    if (int e = wait(f, 'w')) return e;
    if (fd_connect_step(f, &err) == fd_step::done) return err;
  }
}

int fd_close(poll_fd* f) noexcept {
  if (!f->mu.incref_and_close(f->rsema, f->wsema)) return fd_closing;
  if (f->pd) poll_evict(f->pd);  // blocked readers and writers wake with fd_closing
  fd_decref(f);
  return 0;
}

int fd_set_deadline(poll_fd* f, std::int64_t when, int mode) noexcept {
  if (!f->mu.incref()) return fd_closing;
  int err = 0;
  if (f->pd) poll_set_deadline(f->pd, when, mode);
  else err = fd_no_deadline;
  fd_decref(f);
  return err;
}

int fd_shutdown(poll_fd* f, int how) noexcept {
  return fd_with_ref(f, [how](int fd) { return ::shutdown(fd, how) == 0 ? 0 : errno; });
}

}  // namespace go::detail
