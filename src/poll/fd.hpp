// poll_fd: an open file descriptor as goroutines use it (Go's internal/poll.FD and the fields
// of net's netFD and os's File): every operation first tries its system call and waits on the
// poll descriptor only on EAGAIN, so a goroutine blocked on I/O holds no thread.
//
// Invariants
// - sysfd is non-blocking and close-on-exec, and has a poll descriptor (pd) if the poller can
//   wait on it: registered from the start, or for a socket from its first wait (poll_arm); a
//   regular file cannot be waited on (pd is null): its calls block the thread, inside
//   go::blocking so the processor is handed off.
// - mu (fd_mutex.hpp) keeps sysfd open while an operation uses it, and serializes reads and
//   writes (one waiter per direction on pd). sysfd is closed by whoever drops mu's last
//   reference after close; pd goes back to the poller's cache then.
// - `handles` counts the public handles (detail::fd_handle); the last one closes the fd if
//   nobody did and frees the object. Everything but sysfd's lifetime (mu) and the deadlines
//   (pd's lock) is written before the first handle is shared and read-only after.
//
// Results are allocation-free: n and an int that is 0, an errno value (> 0), or one of the
// fd_err values below; the net and os layers turn them into Go's errors.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "go/detail/fd_handle.hpp"
#include "go/sync.hpp"
#include "poll/fd_mutex.hpp"
#include "runtime/poll_desc.hpp"

namespace go::detail {

enum fd_err : int {
  fd_eof = -1,          // end of stream (io::eof)
  fd_closing = -2,      // used after close (Go's ErrNetClosing or ErrFileClosing)
  fd_timeout = -3,      // a deadline passed (os.ErrDeadlineExceeded)
  fd_no_deadline = -4,  // deadlines on a descriptor the poller cannot wait on (os.ErrNoDeadline)
};

struct fd_result {
  std::size_t n = 0;
  int err = 0;
};

struct poll_fd {
  std::atomic<int> handles{1};
  fd_mutex mu;
  sema rsema, wsema;  // fd_mutex's waiters
  int sysfd = -1;
  poll_desc* pd = nullptr;
  bool is_stream = true;         // a byte stream: large reads and writes are split
  bool zero_read_is_eof = true;  // not for datagrams, where an empty one is valid
  bool is_socket = false;        // send with MSG_NOSIGNAL (EPIPE is an error, never SIGPIPE)
  bool is_file = false;          // os::file: close errors say "file already closed"
  // The last read of this TCP socket returned less than it asked for, so it left the socket
  // empty: any byte that came after has raised an edge (fd.cpp, fd_read). Touched only by
  // the holder of the read lock.
  bool read_drained = false;

  // net's netFD: the socket's kind and addresses (as sockaddr: strings only on demand).
  int family = 0, sotype = 0;
  const char* net = "";
  sockaddr_storage laddr{}, raddr{};
  socklen_t llen = 0, rlen = 0;
  std::string unlink_path;  // a unix listener's socket file, removed at close
  std::string name;         // os::file's name
};

// fd_new wraps sysfd (already non-blocking and close-on-exec) and registers it with the
// poller if the poller can wait on it; a socket (`socket`: sets is_socket) only once it first
// has to wait. Returns the object with one handle.
poll_fd* fd_new(int sysfd, bool socket = false) noexcept;

fd_result fd_read(poll_fd* f, std::span<std::byte> p) noexcept;
// Reads that failed with EAGAIN, process-wide: what fd_read's readiness rule saves shows here
// (tests/net_test.cpp).
std::uint64_t fd_read_eagain_count() noexcept;
fd_result fd_write(poll_fd* f, std::span<const std::byte> p) noexcept;
fd_result fd_recvfrom(poll_fd* f, std::span<std::byte> p, sockaddr_storage* from, socklen_t* len) noexcept;
fd_result fd_sendto(poll_fd* f, std::span<const std::byte> p, const sockaddr* to, socklen_t len) noexcept;

// fd_accept returns a new non-blocking socket, or -1 with *err set.
int fd_accept(poll_fd* f, sockaddr_storage* from, socklen_t* len, int* err) noexcept;
// fd_connect connects the socket (not yet shared) and waits for the result; returns an error.
int fd_connect(poll_fd* f, const sockaddr* to, socklen_t len) noexcept;

// The halves of the operations above, for callers that wait in their own way (a stackless
// goroutine's awaiter, fd_async.cpp). The caller holds the direction's lock (mu's rw_lock or
// rw_lock_step; fd_rw_unlock releases it) and calls fd_prepare (or fd_read_begin), then a step:
// one attempt, which is done (the result in *out, or *err) or would block (wait): the caller
// waits for readiness in that direction (poll_arm, park, poll_woken) and steps again. A step
// that makes progress and then would block keeps it in *out (fd_write_step's n).
enum class fd_step : std::uint8_t { done, wait };
int fd_prepare(poll_fd* f, int mode) noexcept;  // 0, or close or a passed deadline
// fd_poll_error: fd_closing, fd_timeout, or the errno value of a registration that failed.
int fd_poll_error(const poll_fd* f, poll_result r) noexcept;
void fd_rw_unlock(poll_fd* f, bool read) noexcept;
// fd_read_begin is fd_prepare for a read: *wait_first when the last read drained the socket
// and no readiness came since (fd.cpp's top), so the first attempt waits.
int fd_read_begin(poll_fd* f, bool* wait_first) noexcept;
fd_step fd_read_step(poll_fd* f, std::span<std::byte> p, fd_result* out) noexcept;
fd_step fd_write_step(poll_fd* f, std::span<const std::byte> p, fd_result* out) noexcept;
fd_step fd_recvfrom_step(poll_fd* f, std::span<std::byte> p, sockaddr_storage* from, socklen_t* len,
                         fd_result* out) noexcept;
fd_step fd_sendto_step(poll_fd* f, std::span<const std::byte> p, const sockaddr* to, socklen_t len,
                       fd_result* out) noexcept;
fd_step fd_accept_step(poll_fd* f, sockaddr_storage* from, socklen_t* len, int* s, int* err) noexcept;
// fd_connect_start starts connecting (no lock: the socket is not shared yet): 0 connected, an
// errno value, or EINPROGRESS: wait until writable, then fd_connect_step until done. A
// connection found made records its peer in raddr.
int fd_connect_start(poll_fd* f, const sockaddr* to, socklen_t len) noexcept;
fd_step fd_connect_step(poll_fd* f, int* err) noexcept;

// fd_close closes: waiters wake with fd_closing, and sysfd is closed once no operation uses it.
int fd_close(poll_fd* f) noexcept;
int fd_set_deadline(poll_fd* f, std::int64_t when, int mode) noexcept;
int fd_shutdown(poll_fd* f, int how) noexcept;

// fd_decref drops a reference taken with f->mu.incref(), closing sysfd if it was the last
// after close.
void fd_decref(poll_fd* f) noexcept;

// fd_with_ref runs fn(sysfd) holding a reference; fn returns 0 or an errno value.
template <class Fn>
int fd_with_ref(poll_fd* f, Fn fn) noexcept {
  if (!f->mu.incref()) return fd_closing;
  int err = fn(f->sysfd);
  fd_decref(f);
  return err;
}

}  // namespace go::detail
