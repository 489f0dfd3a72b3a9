// Networking (Go's package net): TCP, UDP and Unix sockets whose blocking calls park the
// goroutine, not the thread.
//
//   Go                                          gocxx
//   ln, err := net.Listen("tcp", ":8080")       auto [ln, err] = go::net::listen("tcp", ":8080");
//   c, err := ln.Accept()                       auto [c, err] = ln.accept();
//   ln.Addr().String(), ln.Close()              ln.addr().string(), ln.close()
//   c, err := net.Dial("tcp", addr)             auto [c, err] = go::net::dial("tcp", addr);
//   d.DialContext(ctx, "tcp", addr)             go::net::dial(ctx, "tcp", addr)  or  d.dial(ctx, ...)
//   net.Dialer{Timeout: t, KeepAlive: k}        go::net::dialer{.timeout = t, .keep_alive = k}
//   n, err := c.Read(b), c.Write(b)             auto [n, err] = c.read(buf);  c.write(buf)
//   c.Close(), c.(*net.TCPConn).CloseWrite()    c.close(), c.close_write(), c.close_read()
//   c.LocalAddr(), c.RemoteAddr()               c.local_addr(), c.remote_addr()
//   c.SetDeadline(t), SetRead/WriteDeadline     c.set_deadline(t), set_read_deadline, set_write_deadline
//   pc, err := net.ListenPacket("udp", addr)    auto [pc, err] = go::net::listen_packet("udp", addr);
//   n, from, err := pc.ReadFrom(b)              auto [n, from, err] = pc.read_from(buf);
//   pc.WriteTo(b, addr)                         pc.write_to(buf, addr)
//   net.ResolveTCPAddr("tcp", s) (UDP, Unix)    go::net::resolve_addr("tcp", s)
//   net.SplitHostPort, net.JoinHostPort         go::net::split_host_port, go::net::join_host_port
//   net.ErrClosed, *net.OpError, *net.AddrError go::net::err_closed, go::net::op_error, go::net::addr_error
//   (in a stackless goroutine)                  co_await go::net::async_read(c, buf), async_write, async_accept,
//                                               async_dial, async_read_from, async_write_to (go/async_io.hpp)
//
// Networks: "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6", "unix" (stream), "unixgram"
// (datagrams). Addresses are Go's: "host:port" with host a name, an IPv4 address or a
// bracketed IPv6 one ("[::1]:80"); an empty host listens on every address, an empty or zero
// port picks a free one. Unix addresses are paths ("@name": Linux's abstract namespace).
//
// Guarantees (Go's)
// - conn and listener are cheap handles, as chan<T> is: copies refer to one socket, and a
//   goroutine captures them by value. Their operations are const and safe to call from
//   several goroutines at once: reads are serialized among themselves, as are writes.
// - A read or write that cannot proceed parks only its goroutine (wait reason "IO wait");
//   the runtime's poller (epoll) makes it runnable when the socket is ready. A plain thread
//   may call them too: it blocks. A stackless goroutine calls their awaitable forms
//   (go/async_io.hpp), which suspend instead, with the same results.
// - read returns as soon as some bytes are available; io::eof once the peer closed its side
//   and everything was read. write writes all of its bytes or returns an error with the
//   count written. EPIPE (the peer is gone) is an error, never a SIGPIPE.
// - Errors are go::error values (errors.hpp) with Go's messages: an op_error
//   ("dial tcp 127.0.0.1:1: connect: connection refused", "read tcp a->b: i/o timeout",
//   "accept tcp 127.0.0.1:80: use of closed network connection",
//   "listen tcp 127.0.0.1:80: bind: address already in use") around the cause. Test them
//   with err.is(...): err_closed, os::err_deadline_exceeded, a std::errc condition
//   (std::errc::timed_out for every timeout, std::errc::connection_refused, ...). io::eof is
//   returned as is, never wrapped.
// - close wakes every goroutine blocked on the socket (in read, write or accept) with an error
//   that is err_closed ("use of closed network connection"); later calls fail the same way.
//   The descriptor is closed once no call uses it any more, so its number is never reused
//   under a running call. The last handle closes the socket if nobody did.
// - Deadlines: past the time given, reads (or writes, or accept) fail with an error that is
//   os::err_deadline_exceeded and std::errc::timed_out ("i/o timeout"); one already passed
//   fails at once, even if data is ready; a new deadline takes effect for a call already
//   waiting. The zero time_point means no deadline (Go's zero time.Time).
// - dial(ctx, ...): cancelling ctx aborts a connect in progress ("operation was canceled");
//   ctx's deadline and the dialer's timeout bound it ("i/o timeout"). Names are resolved
//   with getaddrinfo inside go::blocking, so no processor stalls; the addresses are tried in
//   order. TCP connections have TCP_NODELAY and keep-alive (15 s unless dialer::keep_alive
//   says otherwise; negative turns it off), as Go's.
// - Every socket is non-blocking and close-on-exec.
//
// Example: a goroutine per connection
//   auto [ln, err] = go::net::listen("tcp", "127.0.0.1:0");
//   for (;;) {
//     auto [c, err] = ln.accept();
//     if (err) break;
//     go::spawn([c] {
//       std::array<std::byte, 4096> buf;
//       for (;;) {
//         auto [n, err] = c.read(buf);
//         if (n > 0 && c.write(std::span(buf).first(n)).err) break;
//         if (err) break;
//       }
//       c.close();
//     });
//   }
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "go/context.hpp"
#include "go/detail/fd_handle.hpp"
#include "go/errors.hpp"
#include "go/io.hpp"
#include "go/os.hpp"

namespace go::net {

// err_closed: an operation on a closed socket (Go's net.ErrClosed, "use of closed network
// connection").
inline const go::error err_closed{make_error_code(detail::poll_errc::net_closing)};

// addr is a socket's address (Go's net.Addr): a TCP, UDP or Unix address. An empty addr
// (Go's nil Addr) prints as "<nil>".
class addr {
 public:
  addr() noexcept = default;
  addr(std::string_view network, const sockaddr* sa, socklen_t len) noexcept;

  // network is "tcp", "udp", "unix", "unixgram" (Go's Network()).
  std::string_view network() const noexcept { return network_; }
  // string is Go's String(): "127.0.0.1:80", "[::1]:80", "/tmp/sock", "<nil>".
  std::string string() const;
  // ip is the IP address as text ("" for a Unix address); port its port (0 for Unix).
  std::string ip() const;
  int port() const noexcept;

  const sockaddr* sockaddr_ptr() const noexcept { return reinterpret_cast<const sockaddr*>(&sa_); }
  socklen_t sockaddr_len() const noexcept { return len_; }
  explicit operator bool() const noexcept { return len_ != 0; }
  friend bool operator==(const addr& a, const addr& b) noexcept;

 private:
  const char* network_ = "";
  sockaddr_storage sa_{};
  socklen_t len_ = 0;
};

// op_error is the error of a network operation (Go's *net.OpError): what() is
// "<op> <net> [<source>->]<addr>: <cause>"; the cause is its nested exception (err.is sees
// it). timeout() is Go's Timeout().
class op_error : public std::runtime_error, public std::nested_exception {
 public:
  op_error(const std::string& what, std::string op, std::string net, net::addr source, net::addr address)
      : std::runtime_error(what), op_(std::move(op)), net_(std::move(net)), source_(source), addr_(address) {}
  const std::string& op() const noexcept { return op_; }    // "dial", "read", "accept", ...
  const std::string& net() const noexcept { return net_; }  // "tcp", ...
  const net::addr& source() const noexcept { return source_; }
  const net::addr& address() const noexcept { return addr_; }
  // err is the cause; timeout reports whether it is a timeout.
  go::error err() const noexcept { return go::error(nested_ptr()); }
  bool timeout() const noexcept { return err().is(std::errc::timed_out); }

 private:
  std::string op_, net_;
  net::addr source_, addr_;
};

// addr_error is a malformed or unusable address (Go's *net.AddrError):
// "address <addr>: <err>", e.g. "address 127.0.0.1: missing port in address".
class addr_error : public std::invalid_argument {
 public:
  addr_error(std::string err, std::string address);
  const std::string& err() const noexcept { return err_; }
  const std::string& address() const noexcept { return addr_; }

 private:
  std::string err_, addr_;
};

// unknown_network_error: a network name that is not one of those above (Go's
// net.UnknownNetworkError): "unknown network <name>".
class unknown_network_error : public std::invalid_argument {
 public:
  explicit unknown_network_error(const std::string& network) : std::invalid_argument("unknown network " + network) {}
};

// dns_error: a name that could not be resolved (Go's *net.DNSError): "lookup <name>: <err>".
class dns_error : public std::runtime_error {
 public:
  dns_error(const std::string& err, const std::string& name, bool not_found)
      : std::runtime_error("lookup " + name + ": " + err), not_found_(not_found) {}
  bool is_not_found() const noexcept { return not_found_; }

 private:
  bool not_found_;
};

struct read_from_result {
  std::size_t n = 0;
  net::addr from;
  go::error err;
};

// conn is a connection: a stream socket, or a datagram socket (connected or not). See the top.
class conn {
 public:
  conn() noexcept = default;  // no connection: every operation fails with os::err_invalid

  io::result read(std::span<std::byte> p) const;
  io::result write(std::span<const std::byte> p) const;
  // close closes the connection; blocked calls fail with err_closed.
  go::error close() const;
  // close_read and close_write shut down one direction of a TCP or Unix stream connection
  // (Go's CloseRead, CloseWrite): the peer then reads io::eof after close_write.
  go::error close_read() const;
  go::error close_write() const;

  net::addr local_addr() const;
  net::addr remote_addr() const;  // empty for an unconnected datagram socket

  go::error set_deadline(std::chrono::steady_clock::time_point t) const;
  go::error set_read_deadline(std::chrono::steady_clock::time_point t) const;
  go::error set_write_deadline(std::chrono::steady_clock::time_point t) const;

  // Datagram sockets (udp, unixgram): one datagram each, with its peer's address.
  read_from_result read_from(std::span<std::byte> p) const;
  io::result write_to(std::span<const std::byte> p, const net::addr& to) const;

  // fd is the socket's descriptor while it is open (-1 otherwise), for setsockopt and the like.
  int fd() const noexcept;

  explicit operator bool() const noexcept { return bool(h_); }
  friend bool operator==(const conn& a, const conn& b) noexcept { return a.h_ == b.h_; }

 private:
  friend struct conn_access;
  explicit conn(detail::poll_fd* f) noexcept : h_(f) {}
  detail::fd_handle h_;
};

struct conn_result {
  net::conn conn;
  go::error err;
};

// listener accepts stream connections (Go's net.Listener, *TCPListener, *UnixListener).
class listener {
 public:
  listener() noexcept = default;

  // accept waits for the next connection. A failure (out of file descriptors, say) leaves the
  // listener usable: a later accept takes the connection still queued, as Go's servers do
  // when they sleep and retry.
  conn_result accept() const;
  // close stops listening; blocked accepts fail with err_closed. A Unix listener removes its
  // socket file.
  go::error close() const;
  net::addr addr() const;
  // set_deadline bounds accept (Go's TCPListener.SetDeadline).
  go::error set_deadline(std::chrono::steady_clock::time_point t) const;
  int fd() const noexcept;

  explicit operator bool() const noexcept { return bool(h_); }
  friend bool operator==(const listener& a, const listener& b) noexcept { return a.h_ == b.h_; }

 private:
  friend struct conn_access;
  explicit listener(detail::poll_fd* f) noexcept : h_(f) {}
  detail::fd_handle h_;
};

struct listener_result {
  net::listener listener;
  go::error err;
};

// dialer holds options for connecting (Go's net.Dialer). The zero dialer is net::dial's.
struct dialer {
  // timeout bounds the whole dial, name resolution included; zero: none (the operating
  // system's own connect timeout still applies).
  std::chrono::nanoseconds timeout{0};
  // deadline, if not the zero time_point, is an absolute time past which the dial fails.
  std::chrono::steady_clock::time_point deadline{};
  // keep_alive is the TCP keep-alive period: zero means 15 s, negative turns it off.
  std::chrono::nanoseconds keep_alive{0};
  // local_addr, if set, is the address to dial from.
  net::addr local_addr{};

  conn_result dial(std::string_view network, std::string_view address) const;
  conn_result dial(const go::context& ctx, std::string_view network, std::string_view address) const;
};

// dial connects to address on network (Go's net.Dial), with the zero dialer.
[[nodiscard]] conn_result dial(std::string_view network, std::string_view address);
[[nodiscard]] conn_result dial(const go::context& ctx, std::string_view network, std::string_view address);

// listen announces on a local address of a stream network: tcp, tcp4, tcp6, unix.
[[nodiscard]] listener_result listen(std::string_view network, std::string_view address);
// listen_packet binds a datagram socket (udp, udp4, udp6, unixgram) for read_from/write_to.
[[nodiscard]] conn_result listen_packet(std::string_view network, std::string_view address);

struct addr_result {
  net::addr addr;
  go::error err;
};

// resolve_addr resolves address on network to one addr (Go's ResolveTCPAddr, ResolveUDPAddr,
// ResolveUnixAddr), preferring IPv4 for "tcp" and "udp".
[[nodiscard]] addr_result resolve_addr(std::string_view network, std::string_view address);

struct host_port {
  std::string host, port;
  go::error err;
};

// split_host_port splits "host:port", "[host]:port" or "[host%zone]:port" (Go's
// net.SplitHostPort); the error is an addr_error.
[[nodiscard]] host_port split_host_port(std::string_view hostport);
// join_host_port is Go's net.JoinHostPort: brackets a host that contains a colon.
[[nodiscard]] std::string join_host_port(std::string_view host, std::string_view port);

}  // namespace go::net
