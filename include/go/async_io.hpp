// Network and file I/O for stackless goroutines (go/task.hpp): the blocking calls of go::net
// and go::os as awaitables.
//
//   Go                                   gocxx, in a function that returns go::task<T>
//   n, err := c.Read(b)                  auto [n, err] = co_await go::net::async_read(c, buf);
//   n, err := c.Write(b)                 auto [n, err] = co_await go::net::async_write(c, buf);
//   c, err := ln.Accept()                auto [c, err] = co_await go::net::async_accept(ln);
//   c, err := net.Dial("tcp", addr)      auto [c, err] = co_await go::net::async_dial("tcp", addr);
//   d.DialContext(ctx, "tcp", addr)      co_await go::net::async_dial(ctx, "tcp", addr)  or
//                                        co_await go::net::async_dial(d, ctx, "tcp", addr)
//   n, from, err := pc.ReadFrom(b)       auto [n, from, err] = co_await go::net::async_read_from(pc, buf);
//   pc.WriteTo(b, addr)                  co_await go::net::async_write_to(pc, buf, addr)
//   n, err := f.Read(b), f.Write(b)      co_await go::os::async_read(f, buf), go::os::async_write(f, buf)
//
// Guarantees
// - Each is its blocking form (go/net.hpp, go/os.hpp) with the same results and errors in
//   Go's words (io::eof, "i/o timeout", "use of closed network connection", "file already
//   closed"), and async_write writes all of its bytes, as Go's Write. Deadlines set on the
//   socket or file apply, and one set while the goroutine waits takes effect; close from
//   another goroutine wakes it with err_closed. Conns, listeners and files serve stackful
//   goroutines, stackless ones and threads in any mix.
// - Waiting suspends the goroutine with wait reason "IO wait" at the line of the co_await
//   (dumps), and counts as waiting for the network: a program whose goroutines all wait for
//   I/O is not deadlocked.
// - An operation that completes at once (the system call succeeds, or fails other than with
//   EAGAIN) allocates nothing and does not suspend. One that waits takes a small frame from
//   the coroutine frame pool (task.hpp) for as long as it waits.
// - The socket (or file) must outlive the co_await: pass a handle that the coroutine holds.
// - Two goroutines reading (or writing) one socket at once, of either kind, are served one
//   after the other in the order they came, as in Go: the second waits in line on the
//   socket's read (write) lock, parked with wait reason "semacquire", until the first is
//   done; close wakes it with "use of closed network connection".
// - async_dial is a task. A host that is a name is looked up with getaddrinfo on a stackful
//   goroutine of its own, inside go::blocking, so no processor stalls however slow the
//   lookup (a stackless goroutine cannot hand its processor off itself); the dial waits for
//   it by suspending. ctx's cancel and deadline, and the dialer's timeout and deadline, end
//   the dial as they end net::dial's, and also while the lookup runs, which net::dial waits
//   out ("dial tcp: lookup <name>: operation was canceled", "... i/o timeout"; the lookup's
//   goroutine ends when getaddrinfo returns). Then it waits for the connect by suspending.
//   Its string arguments are copied into its frame.
//
// Example: an echo server, one stackless goroutine per connection
//   go::task<void> echo(go::net::conn c) {
//     std::array<std::byte, 4096> buf;
//     for (;;) {
//       auto [n, err] = co_await go::net::async_read(c, buf);
//       if (n > 0 && (co_await go::net::async_write(c, std::span(buf).first(n))).err) break;
//       if (err) break;
//     }
//     c.close();
//   }
//   go::task<void> serve(go::net::listener ln) {
//     for (;;) {
//       auto [c, err] = co_await go::net::async_accept(ln);
//       if (err) co_return;
//       go::spawn(echo, c);
//     }
//   }
#pragma once

#include <sys/socket.h>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>

#include "go/context.hpp"
#include "go/detail/source_location.hpp"
#include "go/io.hpp"
#include "go/net.hpp"
#include "go/os.hpp"
#include "go/task.hpp"

namespace go {

namespace net {
// conn_access reaches a conn's or listener's descriptor (src/net/net.cpp, async_io.hpp).
struct conn_access {
  static detail::poll_fd* get(const conn& c) noexcept { return c.h_.get(); }
  static detail::poll_fd* get(const listener& l) noexcept { return l.h_.get(); }
  static conn make_conn(detail::poll_fd* f) noexcept { return conn(f); }
  static listener make_listener(detail::poll_fd* f) noexcept { return listener(f); }
};
}  // namespace net

namespace os {
struct file_access {
  static detail::poll_fd* get(const file& f) noexcept { return f.h_.get(); }
};
}  // namespace os

namespace detail {

// io_op: one operation of a stackless goroutine on a descriptor, in its awaiter (in the
// coroutine frame). src/poll/fd_async.cpp runs it; the net and os layers turn its result
// into Go's (the *_result functions).
enum class io_kind : std::uint8_t { read, write, read_from, write_to, accept, connect };
struct io_op {
  poll_fd* f = nullptr;
  io_kind kind = io_kind::read;
  std::uint8_t state = 0;  // fd_async.cpp's
  int err = 0;             // 0, an errno value or a poll/fd.hpp fd_err
  std::byte* p = nullptr;  // the buffer (const for writes)
  std::size_t len = 0;
  std::size_t n = 0;     // bytes moved
  void* addr = nullptr;  // read_from, accept: the peer's sockaddr_storage; write_to: the sockaddr
  socklen_t addr_len = 0;
  int fd = -1;  // accept's new socket
};

// io_start takes the direction's lock and makes the first attempt: true if the operation is
// done (its result in op), false if it must wait. io_wait is the waiting rest, run as the
// awaiter's continuation: it returns once op is done. io_abandon releases what io_start
// took, for an awaiter that cannot wait (no frame).
bool io_start(io_op* op) noexcept;
go::task<void> io_wait(io_op* op, source_location site);
void io_abandon(io_op* op) noexcept;

io::result net_io_result(io_op& op);
net::read_from_result net_read_from_result(io_op& op);
net::conn_result net_accept_result(io_op& op);
io::result file_io_result(io_op& op);

// io_awaiter: co_await of an io_op; Finish turns it into the blocking form's result.
// WithAddr: the awaiter holds the peer address that read_from and accept report.
template <class Result, Result (*Finish)(io_op&), bool WithAddr = false>
class [[nodiscard]] GOCXX_CALL_SITE_ABI io_awaiter {
  using wait_handle = std::coroutine_handle<task_promise<void>>;
  struct no_addr {};

 public:
  io_awaiter(const io_op& op, call_site site) noexcept : op_(op), site_(site) {}
  io_awaiter(const io_awaiter&) = delete;
  io_awaiter& operator=(const io_awaiter&) = delete;
  ~io_awaiter() {
    if (wait_) wait_.destroy();
  }

  bool await_ready() noexcept {
    if constexpr (WithAddr) op_.addr = &addr_;
    return io_start(&op_);
  }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
    void* w;
    try {
      w = io_wait(&op_, site_.location()).release();
    } catch (...) {
      io_abandon(&op_);
      throw;
    }
    wait_ = wait_handle::from_address(w);
    wait_.promise().continuation = h;
    return wait_;  // runs the wait inline; it returns to h when done
  }
  Result await_resume() { return Finish(op_); }

 private:
  io_op op_;
  call_site site_;
  wait_handle wait_{};
  [[no_unique_address]] std::conditional_t<WithAddr, sockaddr_storage, no_addr> addr_;
};

inline io_op make_io_op(poll_fd* f, io_kind kind, const void* p, std::size_t len) noexcept {
  io_op op;
  op.f = f;
  op.kind = kind;
  op.p = static_cast<std::byte*>(const_cast<void*>(p));
  op.len = len;
  return op;
}

}  // namespace detail

namespace net {

using conn_awaiter = detail::io_awaiter<io::result, &detail::net_io_result>;
using read_from_awaiter = detail::io_awaiter<read_from_result, &detail::net_read_from_result, true>;
using accept_awaiter = detail::io_awaiter<conn_result, &detail::net_accept_result, true>;

// async_read: conn::read (one read: the bytes available, io::eof at the end of the stream).
inline conn_awaiter async_read(const conn& c, std::span<std::byte> p,
                               detail::call_site::arg site = GOCXX_CALL_SITE) noexcept {
  return {detail::make_io_op(conn_access::get(c), detail::io_kind::read, p.data(), p.size()), site};
}

// async_write: conn::write (all of p, or the count written and the error).
inline conn_awaiter async_write(const conn& c, std::span<const std::byte> p,
                                detail::call_site::arg site = GOCXX_CALL_SITE) noexcept {
  return {detail::make_io_op(conn_access::get(c), detail::io_kind::write, p.data(), p.size()), site};
}

// async_read_from: conn::read_from (one datagram and its sender).
inline read_from_awaiter async_read_from(const conn& c, std::span<std::byte> p,
                                         detail::call_site::arg site = GOCXX_CALL_SITE) noexcept {
  return {detail::make_io_op(conn_access::get(c), detail::io_kind::read_from, p.data(), p.size()), site};
}

// async_write_to: conn::write_to (one datagram to `to`, which must outlive the co_await).
inline conn_awaiter async_write_to(const conn& c, std::span<const std::byte> p, const net::addr& to,
                                   detail::call_site::arg site = GOCXX_CALL_SITE) noexcept {
  detail::io_op op = detail::make_io_op(conn_access::get(c), detail::io_kind::write_to, p.data(), p.size());
  op.addr = const_cast<sockaddr*>(to.sockaddr_ptr());
  op.addr_len = to.sockaddr_len();
  return {op, site};
}

// async_accept: listener::accept (the next connection).
inline accept_awaiter async_accept(const listener& l, detail::call_site::arg site = GOCXX_CALL_SITE) noexcept {
  return {detail::make_io_op(conn_access::get(l), detail::io_kind::accept, nullptr, 0), site};
}

// async_dial: dial and dialer::dial (see the top).
task<conn_result> async_dial(dialer d, go::context ctx, std::string network, std::string address);
task<conn_result> async_dial(go::context ctx, std::string network, std::string address);
task<conn_result> async_dial(std::string network, std::string address);

}  // namespace net

namespace os {

using file_awaiter = detail::io_awaiter<io::result, &detail::file_io_result>;

// async_read and async_write: file::read and file::write. A file the poller cannot wait on
// (a regular file) blocks the worker thread, as go::blocking does in a stackless goroutine.
inline file_awaiter async_read(const file& f, std::span<std::byte> p,
                               detail::call_site::arg site = GOCXX_CALL_SITE) noexcept {
  return {detail::make_io_op(file_access::get(f), detail::io_kind::read, p.data(), p.size()), site};
}
inline file_awaiter async_write(const file& f, std::span<const std::byte> p,
                                detail::call_site::arg site = GOCXX_CALL_SITE) noexcept {
  return {detail::make_io_op(file_access::get(f), detail::io_kind::write, p.data(), p.size()), site};
}

}  // namespace os

}  // namespace go
