// Sockets for go::net (include/go/net.hpp): dial, listen, accept and the conn and listener
// operations over the fd layer (src/poll/fd.hpp), with Go's errors (net/net.go's OpError
// around os.SyscallError or a poll error).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "go/async_io.hpp"
#include "go/chan.hpp"
#include "go/context.hpp"
#include "go/net.hpp"
#include "net/addr.hpp"
#include "poll/errors.hpp"
#include "poll/fd.hpp"

namespace go::net {

using go::detail::poll_fd;

namespace {

constexpr std::chrono::seconds default_keep_alive{15};

go::error syscall_err(const char* call, int e) { return os::new_syscall_error(call, e); }

// op_err is Go's &OpError{Op, Net, Source, Addr, Err}.
go::error op_err(const char* op, std::string_view net, const addr& source, const addr& address,
                 const go::error& inner) {
  std::string what = op;
  if (!net.empty()) (what += ' ') += net;
  if (source) (what += ' ') += source.string();
  if (address) {
    what += source ? "->" : " ";
    what += address.string();
  }
  what += ": ";
  what += inner.message();
  return go::detail::nest<op_error>(inner, what, op, std::string(net), source, address);
}

go::error unknown_network(const char* op, std::string_view network) {
  go::error inner(std::make_exception_ptr(unknown_network_error(std::string(network))));
  return op_err(op, network, {}, {}, inner);
}

addr local_of(const poll_fd* f) { return addr(f->net, reinterpret_cast<const sockaddr*>(&f->laddr), f->llen); }
addr remote_of(const poll_fd* f) { return addr(f->net, reinterpret_cast<const sockaddr*>(&f->raddr), f->rlen); }

// io_err wraps an fd layer result of operation `op` (whose system call is `call`), as
// netFD's methods do: io::eof as is, errno values in a syscall_error, all in an op_error.
go::error io_err(const poll_fd* f, const char* op, const char* call, int err) {
  if (err == go::detail::fd_eof) return io::eof;
  go::error inner = err > 0 ? syscall_err(call, err) : go::detail::poll_error(err, false);
  return op_err(op, f->net, local_of(f), remote_of(f), inner);
}

go::error invalid() { return os::err_invalid; }

void set_int_opt(int fd, int level, int name, int v) noexcept { ::setsockopt(fd, level, name, &v, sizeof v); }

// set_keep_alive turns keep-alive on with Go's settings (KeepAliveConfig's defaults: idle and
// interval `period`, 9 probes). The timings go first: setting TCP_KEEPIDLE on a connected
// socket that already has SO_KEEPALIVE re-arms its keep-alive timer, a second time for nothing.
void set_keep_alive(int fd, std::chrono::nanoseconds period) noexcept {
  if (period < std::chrono::nanoseconds::zero()) return;
  if (period == std::chrono::nanoseconds::zero()) period = default_keep_alive;
  int secs = static_cast<int>(std::max<std::int64_t>(1, std::chrono::ceil<std::chrono::seconds>(period).count()));
  set_int_opt(fd, IPPROTO_TCP, TCP_KEEPIDLE, secs);
  set_int_opt(fd, IPPROTO_TCP, TCP_KEEPINTVL, secs);
  set_int_opt(fd, IPPROTO_TCP, TCP_KEEPCNT, 9);
  set_int_opt(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
}

// set_tcp_conn_opts gives a TCP socket what Go gives every TCP conn: TCP_NODELAY and keep-alive.
void set_tcp_conn_opts(int fd, std::chrono::nanoseconds keep_alive) noexcept {
  set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
  set_keep_alive(fd, keep_alive);
}

// new_socket makes a non-blocking, close-on-exec socket registered with the poller.
poll_fd* new_socket(const go::detail::network_kind& k, int family, int* err) {
  int s = ::socket(family, k.sotype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0) return *err = errno, nullptr;
  poll_fd* f = go::detail::fd_new(s, true);
  f->is_stream = k.sotype == SOCK_STREAM;
  f->zero_read_is_eof = k.sotype != SOCK_DGRAM;
  f->family = family;
  f->sotype = k.sotype;
  f->net = k.base;
  return f;
}

void fill_local(poll_fd* f) noexcept {
  f->llen = sizeof f->laddr;
  if (::getsockname(f->sysfd, reinterpret_cast<sockaddr*>(&f->laddr), &f->llen) != 0) f->llen = 0;
}

void fill_remote(poll_fd* f) noexcept {
  f->rlen = sizeof f->raddr;
  if (::getpeername(f->sysfd, reinterpret_cast<sockaddr*>(&f->raddr), &f->rlen) != 0) f->rlen = 0;
}

// ctx_error is how a dial reports its context's end (Go's mapErr): "operation was canceled"
// or "i/o timeout".
go::error ctx_error(const go::error& e) {
  if (e.is(std::errc::timed_out)) return make_error_code(go::detail::poll_errc::deadline_exceeded);
  return make_error_code(go::detail::poll_errc::canceled);
}

// A dial of one address, in three parts around the connect's wait, which a stackful
// goroutine blocks in (dial_one) and a stackless one suspends in (async_dial).
struct dial_attempt {
  conn c;  // owns the socket: closes it on failure
  go::stop_func stop;
  chan<void> interrupted;  // ctx's after_func has moved the write deadline into the past
  go::error err;
};

// dial_start makes the socket to dial `to` and arms the deadline and ctx's cancel.
dial_attempt dial_start(const go::context& ctx, const go::detail::network_kind& k, const dialer& d, const addr& to,
                        std::int64_t deadline) {
  dial_attempt a;
  int e = 0;
  poll_fd* f = new_socket(k, to.sockaddr_ptr()->sa_family, &e);
  if (!f) return a.err = syscall_err("socket", e), a;
  a.c = conn_access::make_conn(f);
  if (k.sotype == SOCK_DGRAM && to.sockaddr_ptr()->sa_family != AF_UNIX)
    set_int_opt(f->sysfd, SOL_SOCKET, SO_BROADCAST, 1);
  if (d.local_addr) {
    if (::bind(f->sysfd, d.local_addr.sockaddr_ptr(), d.local_addr.sockaddr_len()) != 0)
      return a.err = syscall_err("bind", errno), a;
  }
  if (deadline) go::detail::fd_set_deadline(f, deadline, 'w');
  // A cancellable context aborts the connect: its after_func moves the write deadline into the
  // past, and the dial waits for that to be done (interrupted) before it looks at the result.
  if (ctx.done() != nullptr) {
    a.interrupted = make_chan<void>(1);
    go::detail::fd_retain(f);
    go::detail::fd_handle keep(f);
    a.stop = go::after_func(ctx, [keep, interrupted = a.interrupted] {
      go::detail::fd_set_deadline(keep.get(), 1, 'w');
      interrupted.send();
    });
  }
  return a;
}

// dial_cancelled: ctx's after_func ran (or runs), so the caller waits for a.interrupted and
// reports ctx's end.
bool dial_cancelled(dial_attempt& a) { return a.interrupted != nullptr && !a.stop(); }

// dial_finish completes a dial whose connect returned err.
conn_result dial_finish(dial_attempt& a, const go::detail::network_kind& k, const dialer& d, const addr& to,
                        std::int64_t deadline, int err) {
  if (err) return {{}, err > 0 ? syscall_err("connect", err) : go::detail::poll_error(err, false)};
  poll_fd* f = conn_access::get(a.c);
  if (deadline) go::detail::fd_set_deadline(f, 0, 'w');
  fill_local(f);
  if (f->rlen == 0) fill_remote(f);  // else the connect found it (fd_connect_start)
  if (f->rlen == 0 && k.sotype == SOCK_STREAM) return {{}, syscall_err("getpeername", ENOTCONN)};
  if (f->rlen == 0) {  // a connected datagram socket: the peer is where we connected
    std::memcpy(&f->raddr, to.sockaddr_ptr(), to.sockaddr_len());
    f->rlen = to.sockaddr_len();
  }
  if (k.sotype == SOCK_STREAM && k.family != AF_UNIX) set_tcp_conn_opts(f->sysfd, d.keep_alive);
  return {std::move(a.c), {}};
}

// dial_one connects a new socket to `to`; on failure returns the error (wrapped by the caller).
conn_result dial_one(const go::context& ctx, const go::detail::network_kind& k, const dialer& d, const addr& to,
                     std::int64_t deadline) {
  dial_attempt a = dial_start(ctx, k, d, to, deadline);
  if (a.err) return {{}, a.err};
  int err = go::detail::fd_connect(conn_access::get(a.c), to.sockaddr_ptr(), to.sockaddr_len());
  if (dial_cancelled(a)) {
    a.interrupted.recv();
    return {{}, ctx_error(ctx.err())};
  }
  return dial_finish(a, k, d, to, deadline, err);
}

std::int64_t earliest(std::int64_t a, std::int64_t b) noexcept { return a == 0 ? b : b == 0 ? a : std::min(a, b); }

}  // namespace

// --- dial ---

namespace {

// dial_plan is what a dial does before its first connect: the network, the deadline, the
// addresses; err ends the dial at once.
struct dial_plan {
  go::detail::network_kind k;
  std::int64_t deadline = 0;
  go::detail::resolved r;
  std::string name_to_look_up;  // a stackless dial's: the host, when it is a name
  go::error err;
};

dial_plan plan_dial(const dialer& d, const go::context& parent, std::string_view network, std::string_view address,
                    bool lookup = true) {
  dial_plan p;
  p.k = go::detail::parse_network(network);
  if (!p.k.ok) return p.err = unknown_network("dial", network), p;
  p.deadline = go::detail::deadline_ns(d.deadline);
  if (d.timeout > std::chrono::nanoseconds::zero())
    p.deadline = earliest(p.deadline, go::detail::deadline_after(d.timeout.count()));
  if (auto cd = parent.deadline()) p.deadline = earliest(p.deadline, go::detail::deadline_ns(*cd));
  if (go::error e = parent.err()) return p.err = op_err("dial", network, d.local_addr, {}, ctx_error(e)), p;
  p.r = go::detail::resolve(p.k, address, false, lookup ? nullptr : &p.name_to_look_up);
  if (p.r.err) p.err = op_err("dial", network, d.local_addr, {}, p.r.err);
  return p;
}

// lookup_off_worker looks up p.name_to_look_up for a stackless dial and puts the addresses (or
// the error) in p.r. getaddrinfo may block for long, and a stackless goroutine cannot hand
// its processor off (its go::blocking keeps it), so the lookup runs on a stackful goroutine
// of its own, whose go::blocking lets the processor run other goroutines meanwhile, and the
// dial waits for the result by suspending. It gives up on the lookup when ctx ends or the
// dial's deadline passes first, with Go's "lookup <name>: operation was canceled" or "i/o
// timeout"; the lookup then finishes unobserved into its channel's buffer.
task<void> lookup_off_worker(dial_plan& p, const go::context& ctx, std::string_view address) {
  auto found = make_chan<go::detail::resolved>(1);
  go::spawn([found, k = p.k, address = std::string(address)] { found.send(go::detail::resolve(k, address, false)); });
  go::context within = ctx;
  go::cancel_func cancel;
  if (p.deadline) {
    auto [c, f] = go::with_timeout(ctx, std::chrono::nanoseconds(p.deadline - go::detail::now_ns()));
    within = c, cancel = f;
  }
  std::optional<go::detail::resolved> r;
  co_await async_select(recv_case(found, [&](std::optional<go::detail::resolved> v) { r = std::move(v); }),
                        recv_case(within.done()));
  cancel();
  if (r) {
    p.r = std::move(*r);
  } else {
    std::string why = ctx_error(within.err()).message();
    p.r = {{}, go::error(std::make_exception_ptr(dns_error(why, p.name_to_look_up, false)))};
  }
}

// dial_expired: the deadline passed before the dial of `to` (the first error if none yet).
bool dial_expired(const dial_plan& p, const dialer& d, std::string_view network, const addr& to, go::error& first) {
  if (!p.deadline || p.deadline > go::detail::now_ns()) return false;
  if (!first)
    first = op_err("dial", network, d.local_addr, to, make_error_code(go::detail::poll_errc::deadline_exceeded));
  return true;
}

// dial_failed records the failure to dial `to`; true if the dial stops (ctx ended).
bool dial_failed(const go::context& parent, const dialer& d, std::string_view network, const addr& to,
                 const go::error& err, go::error& first) {
  if (!first) first = op_err("dial", network, d.local_addr, to, err);
  return bool(parent.err());
}

// connect_error is an async connect's result: as fd_connect's.
int connect_error(go::detail::io_op& op) { return op.err; }

}  // namespace

conn_result dialer::dial(const go::context& parent, std::string_view network, std::string_view address) const {
  dial_plan p = plan_dial(*this, parent, network, address);
  if (p.err) return {{}, p.err};
  go::error first;
  for (const addr& to : p.r.addrs) {
    if (dial_expired(p, *this, network, to, first)) break;
    conn_result c = dial_one(parent, p.k, *this, to, p.deadline);
    if (!c.err) return c;
    if (dial_failed(parent, *this, network, to, c.err, first)) break;
  }
  return {{}, first};
}

task<conn_result> async_dial(dialer d, go::context ctx, std::string network, std::string address) {
  dial_plan p = plan_dial(d, ctx, network, address, false);
  if (!p.err && !p.name_to_look_up.empty()) {
    co_await lookup_off_worker(p, ctx, address);
    if (p.r.err) p.err = op_err("dial", network, d.local_addr, {}, p.r.err);
  }
  if (p.err) co_return conn_result{{}, p.err};
  go::error first;
  for (const addr& to : p.r.addrs) {
    if (dial_expired(p, d, network, to, first)) break;
    dial_attempt a = dial_start(ctx, p.k, d, to, p.deadline);
    conn_result c{{}, a.err};
    if (!a.err) {
      poll_fd* f = conn_access::get(a.c);
      int err = go::detail::fd_connect_start(f, to.sockaddr_ptr(), to.sockaddr_len());
      if (err == EINPROGRESS) {
        go::detail::io_op op = go::detail::make_io_op(f, go::detail::io_kind::connect, nullptr, 0);
        err = co_await go::detail::io_awaiter<int, &connect_error>(op, GOCXX_CALL_SITE);
      }
      if (dial_cancelled(a)) {
        co_await async_recv(a.interrupted);
        c.err = ctx_error(ctx.err());
      } else {
        c = dial_finish(a, p.k, d, to, p.deadline, err);
      }
    }
    if (!c.err) co_return c;
    if (dial_failed(ctx, d, network, to, c.err, first)) break;
  }
  co_return conn_result{{}, first};
}

task<conn_result> async_dial(go::context ctx, std::string network, std::string address) {
  return async_dial(dialer{}, std::move(ctx), std::move(network), std::move(address));
}

task<conn_result> async_dial(std::string network, std::string address) {
  return async_dial(dialer{}, go::background(), std::move(network), std::move(address));
}

conn_result dialer::dial(std::string_view network, std::string_view address) const {
  return dial(go::background(), network, address);
}

conn_result dial(std::string_view network, std::string_view address) { return dialer{}.dial(network, address); }

conn_result dial(const go::context& ctx, std::string_view network, std::string_view address) {
  return dialer{}.dial(ctx, network, address);
}

// --- listen ---

namespace {

int listen_backlog() noexcept {
  static const int backlog = [] {
    int n = SOMAXCONN;
    if (std::FILE* f = std::fopen("/proc/sys/net/core/somaxconn", "r")) {
      if (std::fscanf(f, "%d", &n) != 1 || n <= 0) n = SOMAXCONN;
      std::fclose(f);
    }
    return n;
  }();
  return backlog;
}

// bind_socket makes a socket bound to `at` (listening if a stream); a syscall error on failure.
poll_fd* bind_socket(const go::detail::network_kind& k, const addr& at, go::error* err) {
  int e = 0;
  int family = at.sockaddr_ptr()->sa_family;
  poll_fd* f = new_socket(k, family, &e);
  if (!f) return *err = syscall_err("socket", e), nullptr;
  auto fail = [&](const char* call) {
    *err = syscall_err(call, errno);
    go::detail::fd_release(f);
    return nullptr;
  };
  if (family != AF_UNIX) {
    if (k.sotype == SOCK_STREAM) set_int_opt(f->sysfd, SOL_SOCKET, SO_REUSEADDR, 1);
    // A TCP socket that accept returns is a copy of its listener, options included (Linux's
    // sk_clone_lock; the copy starts its own keep-alive timer): set once here, they spare
    // every accepted conn the five system calls that would set them (accepted).
    if (k.sotype == SOCK_STREAM) set_tcp_conn_opts(f->sysfd, default_keep_alive);
    if (k.sotype == SOCK_DGRAM) set_int_opt(f->sysfd, SOL_SOCKET, SO_BROADCAST, 1);
    if (family == AF_INET6) set_int_opt(f->sysfd, IPPROTO_IPV6, IPV6_V6ONLY, k.family == AF_INET6 ? 1 : 0);
  }
  if (::bind(f->sysfd, at.sockaddr_ptr(), at.sockaddr_len()) != 0) return fail("bind");
  if (k.sotype != SOCK_DGRAM && ::listen(f->sysfd, listen_backlog()) != 0) return fail("listen");
  fill_local(f);
  if (family == AF_UNIX) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(at.sockaddr_ptr());
    if (at.sockaddr_len() > offsetof(sockaddr_un, sun_path) && un->sun_path[0] != '\0') f->unlink_path = un->sun_path;
  }
  return f;
}

}  // namespace

namespace {

// announce is listen and listen_packet: a socket of a stream (or datagram) network bound to
// address.
poll_fd* announce(std::string_view network, std::string_view address, bool datagram, go::error* err) {
  go::detail::network_kind k = go::detail::parse_network(network);
  if (!k.ok || (k.sotype == SOCK_DGRAM) != datagram) return *err = unknown_network("listen", network), nullptr;
  go::detail::resolved r = go::detail::resolve(k, address, true);
  if (r.err) return *err = op_err("listen", network, {}, {}, r.err), nullptr;
  go::error cause;
  poll_fd* f = bind_socket(k, r.addrs.front(), &cause);
  if (!f) *err = op_err("listen", network, {}, r.addrs.front(), cause);
  return f;
}

}  // namespace

listener_result listen(std::string_view network, std::string_view address) {
  go::error err;
  poll_fd* f = announce(network, address, false, &err);
  return f ? listener_result{conn_access::make_listener(f), {}} : listener_result{{}, err};
}

conn_result listen_packet(std::string_view network, std::string_view address) {
  go::error err;
  poll_fd* f = announce(network, address, true, &err);
  return f ? conn_result{conn_access::make_conn(f), {}} : conn_result{{}, err};
}

// --- listener ---

namespace {

// listens_on_one_address: the IP listener l is bound to one address, not a wildcard, so
// every conn it accepts has l's address as its own. A Unix socket's is asked for.
bool listens_on_one_address(const poll_fd* l) noexcept {
  if (l->llen == 0) return false;
  if (l->laddr.ss_family == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(&l->laddr)->sin_addr.s_addr != htonl(INADDR_ANY);
  }
  if (l->laddr.ss_family == AF_INET6) {
    return !IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6*>(&l->laddr)->sin6_addr);
  }
  return false;
}

// accepted makes the conn of socket s that accept took from listener l (s < 0: err failed it).
conn_result accepted(poll_fd* l, int s, const sockaddr_storage& from, socklen_t len, int err) {
  if (s < 0) {
    go::error inner = err > 0 ? syscall_err("accept4", err) : go::detail::poll_error(err, false);
    return {{}, op_err("accept", l->net, {}, local_of(l), inner)};
  }
  poll_fd* f = go::detail::fd_new(s, true);
  f->is_stream = l->is_stream;
  f->zero_read_is_eof = l->zero_read_is_eof;
  f->family = l->family;
  f->sotype = l->sotype;
  f->net = l->net;
  std::memcpy(&f->raddr, &from, len);
  f->rlen = len;
  // TCP_NODELAY and keep-alive came with the listener's options (bind_socket).
  if (listens_on_one_address(l)) {
    f->laddr = l->laddr;
    f->llen = l->llen;
  } else {
    fill_local(f);
  }
  return {conn_access::make_conn(f), {}};
}

}  // namespace

conn_result listener::accept() const {
  poll_fd* l = h_.get();
  if (!l) return {{}, invalid()};
  sockaddr_storage from;
  socklen_t len = 0;
  int err = 0;
  int s = go::detail::fd_accept(l, &from, &len, &err);
  return accepted(l, s, from, len, err);
}

go::error listener::close() const {
  poll_fd* l = h_.get();
  if (!l) return invalid();
  int err = go::detail::fd_close(l);
  if (err) return op_err("close", l->net, {}, local_of(l), go::detail::poll_error(err, false));
  if (!l->unlink_path.empty()) ::unlink(l->unlink_path.c_str());
  return {};
}

addr listener::addr() const {
  poll_fd* l = h_.get();
  return l ? local_of(l) : net::addr();
}

go::error listener::set_deadline(std::chrono::steady_clock::time_point t) const {
  poll_fd* l = h_.get();
  if (!l) return invalid();
  int err = go::detail::fd_set_deadline(l, go::detail::deadline_ns(t), 'r' + 'w');
  return err ? op_err("set", l->net, {}, local_of(l), go::detail::poll_error(err, false)) : go::error();
}

int listener::fd() const noexcept { return h_ ? h_.get()->sysfd : -1; }

// --- conn ---

namespace {

io::result io_result_of(poll_fd* f, const char* op, go::detail::fd_result r) {
  if (r.err == 0) return {r.n, {}};
  return {r.n, io_err(f, op, op, r.err)};
}

}  // namespace

io::result conn::read(std::span<std::byte> p) const {
  poll_fd* f = h_.get();
  if (!f) return {0, invalid()};
  return io_result_of(f, "read", go::detail::fd_read(f, p));
}

io::result conn::write(std::span<const std::byte> p) const {
  poll_fd* f = h_.get();
  if (!f) return {0, invalid()};
  return io_result_of(f, "write", go::detail::fd_write(f, p));
}

go::error conn::close() const {
  poll_fd* f = h_.get();
  if (!f) return invalid();
  int err = go::detail::fd_close(f);
  if (err) return io_err(f, "close", "close", err);
  if (!f->unlink_path.empty()) ::unlink(f->unlink_path.c_str());
  return {};
}

go::error conn::close_read() const {
  poll_fd* f = h_.get();
  if (!f) return invalid();
  int err = go::detail::fd_shutdown(f, SHUT_RD);
  return err ? io_err(f, "close", "shutdown", err) : go::error();
}

go::error conn::close_write() const {
  poll_fd* f = h_.get();
  if (!f) return invalid();
  int err = go::detail::fd_shutdown(f, SHUT_WR);
  return err ? io_err(f, "close", "shutdown", err) : go::error();
}

addr conn::local_addr() const { return h_ ? local_of(h_.get()) : addr(); }
addr conn::remote_addr() const { return h_ ? remote_of(h_.get()) : addr(); }

namespace {

go::error set_deadline_mode(poll_fd* f, std::chrono::steady_clock::time_point t, int mode) {
  if (!f) return invalid();
  int err = go::detail::fd_set_deadline(f, go::detail::deadline_ns(t), mode);
  return err ? io_err(f, "set", "setsockopt", err) : go::error();
}

}  // namespace

go::error conn::set_deadline(std::chrono::steady_clock::time_point t) const {
  return set_deadline_mode(h_.get(), t, 'r' + 'w');
}
go::error conn::set_read_deadline(std::chrono::steady_clock::time_point t) const {
  return set_deadline_mode(h_.get(), t, 'r');
}
go::error conn::set_write_deadline(std::chrono::steady_clock::time_point t) const {
  return set_deadline_mode(h_.get(), t, 'w');
}

namespace {

read_from_result read_from_result_of(poll_fd* f, go::detail::fd_result r, const sockaddr_storage& from, socklen_t len) {
  if (r.err) return {r.n, {}, io_err(f, "read", "recvfrom", r.err)};
  return {r.n, addr(f->net, reinterpret_cast<const sockaddr*>(&from), len), {}};
}

io::result write_to_result_of(poll_fd* f, go::detail::fd_result r, const net::addr& to) {
  if (r.err)
    return {r.n, op_err("write", f->net, local_of(f), to,
                        r.err > 0 ? syscall_err("sendto", r.err) : go::detail::poll_error(r.err, false))};
  return {r.n, {}};
}

}  // namespace

read_from_result conn::read_from(std::span<std::byte> p) const {
  poll_fd* f = h_.get();
  if (!f) return {0, {}, invalid()};
  sockaddr_storage from;
  socklen_t len = 0;
  go::detail::fd_result r = go::detail::fd_recvfrom(f, p, &from, &len);
  return read_from_result_of(f, r, from, len);
}

io::result conn::write_to(std::span<const std::byte> p, const net::addr& to) const {
  poll_fd* f = h_.get();
  if (!f) return {0, invalid()};
  return write_to_result_of(f, go::detail::fd_sendto(f, p, to.sockaddr_ptr(), to.sockaddr_len()), to);
}

int conn::fd() const noexcept { return h_ ? h_.get()->sysfd : -1; }

}  // namespace go::net

// --- the results of a stackless goroutine's operations (go/async_io.hpp) ---

namespace go::detail {

io::result net_io_result(io_op& op) {
  if (!op.f) return {0, os::err_invalid};
  fd_result r{op.n, op.err};
  switch (op.kind) {
    case io_kind::write: return net::io_result_of(op.f, "write", r);
    case io_kind::write_to:
      return net::write_to_result_of(op.f, r, net::addr(op.f->net, static_cast<const sockaddr*>(op.addr), op.addr_len));
    default: return net::io_result_of(op.f, "read", r);
  }
}

net::read_from_result net_read_from_result(io_op& op) {
  if (!op.f) return {0, {}, os::err_invalid};
  return net::read_from_result_of(op.f, {op.n, op.err}, *static_cast<const sockaddr_storage*>(op.addr), op.addr_len);
}

net::conn_result net_accept_result(io_op& op) {
  if (!op.f) return {{}, os::err_invalid};
  return net::accepted(op.f, op.fd, *static_cast<const sockaddr_storage*>(op.addr), op.addr_len, op.err);
}

}  // namespace go::detail
