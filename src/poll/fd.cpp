// poll_fd's operations (fd.hpp has the invariants): Go's internal/poll/fd_unix.go.
//
// Each read-side operation holds the read lock, each write-side one the write lock
// (fd_mutex), checks for close and a passed deadline (poll_prepare), then loops: the system
// call; on EAGAIN, poll_wait and again. The fast path is thus two compare-and-swaps on the
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

int poll_error(poll_result r) noexcept { return r == poll_result::closing ? fd_closing : fd_timeout; }

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
  op_lock(poll_fd* f, bool read) noexcept : f_(f), read_(read), held_(f->mu.rw_lock(read, read ? f->rsema : f->wsema)) {}
  ~op_lock() {
    if (held_ && f_->mu.rw_unlock(read_, read_ ? f_->rsema : f_->wsema)) destroy(f_);
  }
  op_lock(const op_lock&) = delete;
  op_lock& operator=(const op_lock&) = delete;
  bool held() const noexcept { return held_; }

 private:
  poll_fd* f_;
  bool read_;
  bool held_;
};

// prepare checks for close and a passed deadline; 0 if the operation may go on.
int prepare(poll_fd* f, int mode) noexcept {
  if (!f->pd) return 0;
  poll_result r = poll_prepare(f->pd, mode);
  return r == poll_result::ok ? 0 : poll_error(r);
}

// wait waits for readiness after EAGAIN; 0 to retry, else the error.
int wait(poll_fd* f, int mode) noexcept {
  poll_result r = poll_wait(f->pd, mode);
  return r == poll_result::ok ? 0 : poll_error(r);
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

poll_fd* fd_new(int sysfd) noexcept {
  auto* f = new poll_fd;
  f->sysfd = sysfd;
  f->pd = poll_open(sysfd);  // null for a regular file: then calls block the thread
  return f;
}

fd_result fd_read(poll_fd* f, std::span<std::byte> p) noexcept {
  op_lock lk(f, true);
  if (!lk.held()) return {0, fd_closing};
  if (p.empty()) return {};  // Go: a zero-byte read returns at once, not end of stream
  const bool drained = f->read_drained;
  f->read_drained = false;
  if (drained && !poll_ready(f->pd, 'r') && !poll_hung_up(f->pd)) {  // readiness after a short read (top of the file)
    if (poll_result r = poll_check(f->pd, 'r'); r != poll_result::ok) return {0, poll_error(r)};
    if (int e = wait(f, 'r')) return {0, e};
  } else if (int e = prepare(f, 'r')) {
    return {0, e};
  }
  std::size_t n = f->is_stream && p.size() > max_rw ? max_rw : p.size();
  for (;;) {
    ssize_t r = sys_read(f, p.data(), n);
    if (r > 0) {
      f->read_drained = static_cast<std::size_t>(r) < n && f->pd && f->sotype == SOCK_STREAM &&
                        (f->family == AF_INET || f->family == AF_INET6);
      return {static_cast<std::size_t>(r), 0};
    }
    if (r == 0) return {0, f->zero_read_is_eof ? fd_eof : 0};
    int e = errno;
    if (e == EINTR) continue;
    if (e == EAGAIN && f->pd) {
      read_eagain.fetch_add(1, std::memory_order_relaxed);
      if ((e = wait(f, 'r')) == 0) continue;
    }
    return {0, e};
  }
}

std::uint64_t fd_read_eagain_count() noexcept { return read_eagain.load(std::memory_order_relaxed); }

fd_result fd_write(poll_fd* f, std::span<const std::byte> p) noexcept {
  op_lock lk(f, false);
  if (!lk.held()) return {0, fd_closing};
  if (int e = prepare(f, 'w')) return {0, e};
  std::size_t done = 0;
  for (;;) {
    std::size_t n = p.size() - done;
    if (f->is_stream && n > max_rw) n = max_rw;
    ssize_t r = sys_write(f, p.data() + done, n);
    if (r > 0) done += static_cast<std::size_t>(r);
    if (done == p.size()) return {done, 0};
    if (r < 0) {
      int e = errno;
      if (e == EINTR) continue;
      if (e == EAGAIN && f->pd) {
        if ((e = wait(f, 'w')) == 0) continue;
      }
      return {done, e};
    }
    if (r == 0) return {done, EIO};  // Go's io.ErrUnexpectedEOF: a write that moves nothing
  }
}

fd_result fd_recvfrom(poll_fd* f, std::span<std::byte> p, sockaddr_storage* from, socklen_t* len) noexcept {
  op_lock lk(f, true);
  if (!lk.held()) return {0, fd_closing};
  if (int e = prepare(f, 'r')) return {0, e};
  for (;;) {
    *len = sizeof(sockaddr_storage);
    ssize_t r = ::recvfrom(f->sysfd, p.data(), p.size(), 0, reinterpret_cast<sockaddr*>(from), len);
    if (r >= 0) return {static_cast<std::size_t>(r), 0};
    int e = errno;
    if (e == EINTR) continue;
    if (e == EAGAIN && f->pd) {
      if ((e = wait(f, 'r')) == 0) continue;
    }
    return {0, e};
  }
}

fd_result fd_sendto(poll_fd* f, std::span<const std::byte> p, const sockaddr* to, socklen_t len) noexcept {
  op_lock lk(f, false);
  if (!lk.held()) return {0, fd_closing};
  if (int e = prepare(f, 'w')) return {0, e};
  for (;;) {
    ssize_t r = ::sendto(f->sysfd, p.data(), p.size(), MSG_NOSIGNAL, to, len);
    if (r >= 0) return {static_cast<std::size_t>(r), 0};
    int e = errno;
    if (e == EINTR) continue;
    if (e == EAGAIN && f->pd) {
      if ((e = wait(f, 'w')) == 0) continue;
    }
    return {0, e};
  }
}

int fd_accept(poll_fd* f, sockaddr_storage* from, socklen_t* len, int* err) noexcept {
  op_lock lk(f, true);
  if (!lk.held()) return *err = fd_closing, -1;
  if ((*err = prepare(f, 'r'))) return -1;
  for (;;) {
    *len = sizeof(sockaddr_storage);
    int s = ::accept4(f->sysfd, reinterpret_cast<sockaddr*>(from), len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (s >= 0) return s;
    int e = errno;
    if (e == EINTR || e == ECONNABORTED) continue;  // a queued connection reset before we took it
    if (e == EAGAIN && f->pd) {
      if ((e = wait(f, 'r')) == 0) continue;
    }
    *err = e;
    return -1;
  }
}

int fd_connect(poll_fd* f, const sockaddr* to, socklen_t len) noexcept {
  for (;;) {
    if (::connect(f->sysfd, to, len) == 0) return 0;
    int e = errno;
    if (e == EINTR) continue;
    if (e == EISCONN) return 0;
    if (e != EINPROGRESS && e != EALREADY) return e;
    break;
  }
  if (!f->pd) return EINVAL;
  for (;;) {
    // Writable: connected or failed. SO_ERROR says which.
    if (int e = wait(f, 'w')) return e;
    int soerr = 0;
    socklen_t n = sizeof soerr;
    if (::getsockopt(f->sysfd, SOL_SOCKET, SO_ERROR, &soerr, &n) != 0) return errno;
    if (soerr == EINPROGRESS || soerr == EALREADY || soerr == EINTR) continue;
    if (soerr != 0 && soerr != EISCONN) return soerr;
    // Writable and no error can be spurious (a stale event): connected only if it has a peer.
    sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    if (::getpeername(f->sysfd, reinterpret_cast<sockaddr*>(&peer), &plen) == 0) return 0;
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
