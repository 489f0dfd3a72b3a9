// go::net and go::os::pipe over the netpoller: behaviour, bad input and faults.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "go/chan.hpp"
#include "go/context.hpp"
#include "go/io.hpp"
#include "go/metrics.hpp"
#include "go/net.hpp"
#include "go/os.hpp"
#include "go/runtime.hpp"
#include "go/sync.hpp"
#include "go/time.hpp"
#include "poll/fd.hpp"
#include "test_scale.hpp"

using namespace std::chrono_literals;

namespace {

std::span<const std::byte> bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

// read_exactly reads n bytes (or up to an error) into a string.
std::string read_exactly(const go::net::conn& c, std::size_t n, go::error* err = nullptr) {
  std::string s(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    auto [k, e] = c.read(std::as_writable_bytes(std::span(s.data() + got, n - got)));
    got += k;
    if (e) {
      if (err) *err = e;
      break;
    }
  }
  s.resize(got);
  return s;
}

// A connected TCP pair over loopback: {client, server}.
std::pair<go::net::conn, go::net::conn> tcp_pair() {
  auto [ln, err] = go::net::listen("tcp", "127.0.0.1:0");
  EXPECT_FALSE(err) << err.message();
  auto accepted = go::make_chan<go::net::conn>(1);
  go::spawn([ln = ln, accepted] {
    auto [c, err] = ln.accept();
    EXPECT_FALSE(err) << err.message();
    accepted << c;
  });
  auto [c, derr] = go::net::dial("tcp", ln.addr().string());
  EXPECT_FALSE(derr) << derr.message();
  go::net::conn s = *accepted.recv();
  ln.close();
  return {c, s};
}

int open_fds() {
  int n = 0;
  for (auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)e;
    ++n;
  }
  return n;
}

}  // namespace

TEST(Net, ListenDialAcceptAndTalkBothWays) {
  go::run([] {
    auto [ln, err] = go::net::listen("tcp", "127.0.0.1:0");
    ASSERT_FALSE(err) << err.message();
    std::string a = ln.addr().string();
    EXPECT_EQ(a.rfind("127.0.0.1:", 0), 0u) << a;
    EXPECT_NE(ln.addr().port(), 0);
    EXPECT_EQ(ln.addr().network(), "tcp");
    go::wait_group wg;
    wg.go([ln = ln] {
      auto [c, err] = ln.accept();
      ASSERT_FALSE(err) << err.message();
      EXPECT_EQ(read_exactly(c, 5), "hello");
      EXPECT_FALSE(c.write(bytes("world")).err);
      c.close();
    });
    auto [c, derr] = go::net::dial("tcp", a);
    ASSERT_FALSE(derr) << derr.message();
    EXPECT_EQ(c.remote_addr().string(), a);
    EXPECT_EQ(c.local_addr().ip(), "127.0.0.1");
    auto [n, werr] = c.write(bytes("hello"));
    EXPECT_EQ(n, 5u);
    EXPECT_FALSE(werr);
    EXPECT_EQ(read_exactly(c, 5), "world");
    std::array<std::byte, 8> buf;
    auto [n2, eof] = c.read(buf);
    EXPECT_EQ(n2, 0u);
    EXPECT_EQ(eof, go::io::eof);
    wg.wait();
    EXPECT_FALSE(c.close());
    EXPECT_FALSE(ln.close());
  });
}

// One goroutine per connection on both sides, at GOMAXPROCS 1 and 2.
void echo_many(int procs) {
  gocxx_test::max_procs_scope scope(procs);
  go::run([] {
    auto [ln, err] = go::net::listen("tcp", "127.0.0.1:0");
    ASSERT_FALSE(err);
    go::spawn([ln = ln] {
      for (;;) {
        auto [c, err] = ln.accept();
        if (err) return;
        go::spawn([c = c] {
          std::array<std::byte, 1024> buf;
          for (;;) {
            auto [n, err] = c.read(buf);
            if (n > 0 && c.write(std::span(buf).first(n)).err) break;
            if (err) break;
          }
          c.close();
        });
      }
    });
    constexpr int clients = 50, rounds = 20;
    go::wait_group wg;
    std::atomic<int> ok{0};
    for (int i = 0; i < clients; ++i) {
      wg.go([addr = ln.addr().string(), i, &ok] {
        auto [c, err] = go::net::dial("tcp", addr);
        ASSERT_FALSE(err) << err.message();
        for (int r = 0; r < rounds; ++r) {
          std::string msg = "client " + std::to_string(i) + " round " + std::to_string(r) + ";";
          ASSERT_FALSE(c.write(bytes(msg)).err);
          ASSERT_EQ(read_exactly(c, msg.size()), msg);
        }
        c.close();
        ok.fetch_add(1);
      });
    }
    wg.wait();
    EXPECT_EQ(ok.load(), clients);
    ln.close();
  });
}

TEST(Net, EchoGoroutinePerConnectionOneProc) { echo_many(1); }
TEST(Net, EchoGoroutinePerConnectionTwoProcs) { echo_many(2); }

// An accepted conn's local address is the one its peer reached: the listener's own when it
// listens on one address, and the concrete address, not the wildcard, when it listens on all.
TEST(Net, AnAcceptedConnsAddressesAreThoseOfItsPeersEnds) {
  go::run([] {
    for (const char* where : {"127.0.0.1:0", "0.0.0.0:0", ":0"}) {
      auto [ln, err] = go::net::listen("tcp", where);
      ASSERT_FALSE(err) << where << ": " << err.message();
      auto accepted = go::make_chan<go::net::conn>(1);
      go::spawn([ln = ln, accepted] {
        auto [c, err] = ln.accept();
        if (!err) accepted.send(c);
        else accepted.close();
      });
      auto [c, derr] = go::net::dial("tcp", "127.0.0.1:" + std::to_string(ln.addr().port()));
      ASSERT_FALSE(derr) << derr.message();
      auto s = accepted.recv();
      ASSERT_TRUE(s) << where;
      EXPECT_EQ(s->local_addr().string(), c.remote_addr().string()) << where;
      EXPECT_EQ(s->local_addr().string(), "127.0.0.1:" + std::to_string(ln.addr().port())) << where;
      EXPECT_EQ(s->remote_addr().string(), c.local_addr().string()) << where;
      s->close();
      c.close();
      ln.close();
    }
  });
}

TEST(Net, MalformedAddressesFailWithGosMessages) {
  go::run([] {
    struct {
      const char* address;
      const char* message;
    } cases[] = {
        {"127.0.0.1", "dial tcp: address 127.0.0.1: missing port in address"},
        {"[::1", "dial tcp: address [::1: missing ']' in address"},
        {"a:b:c", "dial tcp: address a:b:c: too many colons in address"},
        {"[::1]x:80", "dial tcp: address [::1]x:80: missing port in address"},
        {"1.2.3.4]:80", "dial tcp: address 1.2.3.4]:80: unexpected ']' in address"},
        {"127.0.0.1:99999", "dial tcp: address 99999: invalid port"},
    };
    for (auto& tc : cases) {
      auto [c, err] = go::net::dial("tcp", tc.address);
      EXPECT_FALSE(c);
      ASSERT_TRUE(err) << tc.address;
      EXPECT_EQ(err.message(), tc.message);
      EXPECT_NE(err.as<go::net::addr_error>(), nullptr) << tc.address;
      EXPECT_NE(err.as<go::net::op_error>(), nullptr) << tc.address;
    }
    auto [h, p, err] = go::net::split_host_port("[::1%lo]:80");
    EXPECT_FALSE(err);
    EXPECT_EQ(h, "::1%lo");
    EXPECT_EQ(p, "80");
    EXPECT_EQ(go::net::join_host_port("::1", "80"), "[::1]:80");
    EXPECT_EQ(go::net::join_host_port("example.com", "80"), "example.com:80");
  });
}

TEST(Net, UnknownNetworksFail) {
  go::run([] {
    auto [c, err] = go::net::dial("foo", "127.0.0.1:80");
    EXPECT_EQ(err.message(), "dial foo: unknown network foo");
    EXPECT_NE(err.as<go::net::unknown_network_error>(), nullptr);
    auto [ln, lerr] = go::net::listen("udp", "127.0.0.1:0");  // not a stream network
    EXPECT_EQ(lerr.message(), "listen udp: unknown network udp");
    auto [pc, perr] = go::net::listen_packet("tcp", "127.0.0.1:0");
    EXPECT_EQ(perr.message(), "listen tcp: unknown network tcp");
  });
}

TEST(Net, ListeningOnAPortInUseFails) {
  go::run([] {
    auto [ln, err] = go::net::listen("tcp", "127.0.0.1:0");
    ASSERT_FALSE(err);
    std::string a = ln.addr().string();
    auto [ln2, err2] = go::net::listen("tcp", a);
    EXPECT_FALSE(ln2);
    EXPECT_TRUE(err2.is(std::errc::address_in_use));
    EXPECT_EQ(err2.message(), "listen tcp " + a + ": bind: address already in use");
    ln.close();
  });
}

TEST(Net, DialingAClosedPortIsRefused) {
  go::run([] {
    auto [ln, err] = go::net::listen("tcp", "127.0.0.1:0");
    ASSERT_FALSE(err);
    std::string a = ln.addr().string();
    ln.close();
    auto [c, derr] = go::net::dial("tcp", a);
    EXPECT_FALSE(c);
    EXPECT_TRUE(derr.is(std::errc::connection_refused));
    EXPECT_EQ(derr.message(), "dial tcp " + a + ": connect: connection refused");
    const auto* op = derr.as<go::net::op_error>();
    ASSERT_NE(op, nullptr);
    EXPECT_EQ(op->op(), "dial");
    EXPECT_FALSE(op->timeout());
  });
}

// Over loopback the kernel completes the handshake inside connect (the listener need not
// accept): the dial finds the connection made, with its peer, and returns without parking
// to wait for the poller.
TEST(Net, ALoopbackDialDoesNotWaitForThePoller) {
  go::run([] {
    auto [ln, err] = go::net::listen("tcp", "127.0.0.1:0");
    ASSERT_FALSE(err);
    const std::string a = ln.addr().string();
    constexpr int dials = 20;
    std::vector<go::net::conn> conns;
    const std::uint64_t parks_before = go::runtime_metrics().parks;
    for (int i = 0; i < dials; ++i) {
      auto [c, derr] = go::net::dial("tcp", a);
      ASSERT_FALSE(derr) << derr.message();
      EXPECT_EQ(c.remote_addr().string(), a);
      conns.push_back(c);
    }
    EXPECT_LT(go::runtime_metrics().parks - parks_before, static_cast<std::uint64_t>(dials) / 2);
    for (auto& c : conns) c.close();
    ln.close();
  });
}

int sock_opt(int fd, int level, int name) {
  int v = -1;
  socklen_t len = sizeof v;
  EXPECT_EQ(getsockopt(fd, level, name, &v, &len), 0);
  return v;
}

// Go's TCP conns, dialed or accepted: TCP_NODELAY, and keep-alive every 15 s with 9 probes.
void expect_go_tcp_options(int fd) {
  EXPECT_EQ(sock_opt(fd, IPPROTO_TCP, TCP_NODELAY), 1);
  EXPECT_EQ(sock_opt(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
  EXPECT_EQ(sock_opt(fd, IPPROTO_TCP, TCP_KEEPIDLE), 15);
  EXPECT_EQ(sock_opt(fd, IPPROTO_TCP, TCP_KEEPINTVL), 15);
  EXPECT_EQ(sock_opt(fd, IPPROTO_TCP, TCP_KEEPCNT), 9);
}

TEST(Net, BothEndsOfATcpConnHaveGosOptions) {
  go::run([] {
    auto [c, s] = tcp_pair();
    expect_go_tcp_options(c.fd());
    expect_go_tcp_options(s.fd());
    c.close();
    s.close();
  });
}

// An accepted socket starts as a copy of its listener, options included: the listener carries
// the conn options so that accept need not set them on every conn.
TEST(Net, ATcpListenerCarriesTheOptionsItsConnsInherit) {
  go::run([] {
    auto [ln, err] = go::net::listen("tcp", "127.0.0.1:0");
    ASSERT_FALSE(err) << err.message();
    expect_go_tcp_options(ln.fd());
    ln.close();
  });
}

// in_epoll_set: whether fd is registered in an epoll set of this process (the poller's), as
// /proc/self/fdinfo lists an epoll fd's targets ("tfd: N").
bool in_epoll_set(int fd) {
  for (auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (std::filesystem::read_symlink(e.path(), ec).string() != "anon_inode:[eventpoll]") continue;
    std::FILE* info = std::fopen(("/proc/self/fdinfo/" + e.path().filename().string()).c_str(), "r");
    if (!info) continue;
    char line[256];
    bool found = false;
    while (!found && std::fgets(line, sizeof line, info)) {
      int tfd = -1;
      found = std::sscanf(line, "tfd: %d", &tfd) == 1 && tfd == fd;
    }
    std::fclose(info);
    if (found) return true;
  }
  return false;
}

// A socket joins the poller's epoll set only when a goroutine first has to wait on it: the
// two ends of a loopback conn whose reads find their data never do, and one whose reader
// then waits does, and its reader is woken by the data that follows.
TEST(Net, ASocketJoinsThePollerOnlyWhenItFirstWaits) {
  go::run([] {
    auto [c, s] = tcp_pair();
    ASSERT_FALSE(c.write(bytes("x")).err);
    EXPECT_EQ(read_exactly(s, 1), "x");
    EXPECT_FALSE(in_epoll_set(c.fd()));
    EXPECT_FALSE(in_epoll_set(s.fd()));
    auto got = go::make_chan<std::string>(1);
    go::spawn([c = c, got] { got << read_exactly(c, 1); });
    while (!in_epoll_set(c.fd())) go::sleep(1ms);  // the reader waits
    EXPECT_FALSE(in_epoll_set(s.fd()));
    ASSERT_FALSE(s.write(bytes("y")).err);
    EXPECT_EQ(*got.recv(), "y");
    c.close();
    s.close();
  });
}

// The peer's last bytes and its FIN can reach the poller as one edge, which wakes a reader
// that then reads the bytes short of its buffer: the next read must find the end of stream
// rather than wait for an edge that never comes. Each round's reader is parked when the
// bytes and the FIN are sent back to back.
TEST(Net, ReadAfterAShortReadFindsTheEndOfStreamThatCameWithIt) {
  go::run([] {
    for (int round = 0; round < 20; ++round) {
      auto [client, server] = tcp_pair();
      auto parked = go::make_chan<void>();
      go::spawn([server = server, parked] {
        parked.recv();
        go::sleep(1ms);  // for the reader to park
        EXPECT_FALSE(server.write(bytes("hello")).err);
        (void)server.close();
      });
      parked.send();
      std::string got;
      go::error err;
      char buf[4096];
      while (!err) {
        auto [n, e] = client.read(std::as_writable_bytes(std::span(buf)));
        got.append(buf, n);
        err = e;
      }
      EXPECT_EQ(got, "hello");
      EXPECT_EQ(err, go::io::eof) << err.message();
      (void)client.close();
    }
  });
}

TEST(Net, PeerResetMidReadIsAnError) {
  go::run([] {
    auto [c, s] = tcp_pair();
    linger l{1, 0};  // close sends a reset
    ASSERT_EQ(setsockopt(s.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
    go::spawn([s = s] {
      go::sleep(20ms);  // let the client block in read
      s.close();
    });
    std::array<std::byte, 16> buf;
    auto [n, err] = c.read(buf);
    EXPECT_EQ(n, 0u);
    EXPECT_TRUE(err.is(std::errc::connection_reset)) << err.message();
    EXPECT_NE(err.message().find("read: connection reset by peer"), std::string::npos) << err.message();
    c.close();
  });
}

TEST(Net, WriteAfterPeerClosedIsAnErrorNotSigpipe) {
  go::run([] {
    auto [c, s] = tcp_pair();
    s.close();
    std::vector<std::byte> big(64 * 1024);
    go::error err;
    for (int i = 0; i < 1000 && !err; ++i) err = c.write(big).err;  // the reset arrives, then EPIPE
    EXPECT_TRUE(err.is(std::errc::broken_pipe) || err.is(std::errc::connection_reset)) << err.message();
    c.close();
  });
}

TEST(Net, CloseFromAnotherGoroutineWakesReaderWriterAndAccepter) {
  go::run([] {
    auto [reader, quiet_peer] = tcp_pair();  // nobody writes to reader
    auto [writer, idle_peer] = tcp_pair();   // nobody reads from idle_peer
    auto [ln, lerr] = go::net::listen("tcp", "127.0.0.1:0");
    ASSERT_FALSE(lerr);
    auto errs = go::make_chan<go::error>(3);
    go::spawn([reader = reader, errs] {
      std::array<std::byte, 16> buf;
      errs << reader.read(buf).err;
    });
    go::spawn([writer = writer, errs] {
      std::vector<std::byte> big(1 << 20);
      go::error err;
      while (!err) err = writer.write(big).err;  // fills the buffers, then blocks
      errs << err;
    });
    go::spawn([ln = ln, errs] { errs << ln.accept().err; });
    go::sleep(30ms);
    reader.close();
    writer.close();
    ln.close();
    for (int i = 0; i < 3; ++i) {
      go::error err = *errs.recv();
      EXPECT_TRUE(err.is(go::net::err_closed)) << err.message();
      EXPECT_NE(err.message().find("use of closed network connection"), std::string::npos) << err.message();
    }
    // Later calls fail the same way; a second close too.
    std::array<std::byte, 4> buf;
    EXPECT_TRUE(reader.read(buf).err.is(go::net::err_closed));
    EXPECT_TRUE(reader.write(bytes("x")).err.is(go::net::err_closed));
    EXPECT_TRUE(reader.close().is(go::net::err_closed));
    quiet_peer.close();
    idle_peer.close();
  });
}

TEST(Net, DataFromAPlainThreadWakesAGoroutine) {
  gocxx_test::max_procs_scope scope(2);
  go::run([] {
    auto [c, s] = tcp_pair();
    std::thread t([s = s] {
      std::this_thread::sleep_for(50ms);
      s.write(bytes("late"));
    });
    EXPECT_EQ(read_exactly(c, 4), "late");
    t.join();
  });
}

TEST(Net, ClosingFromAPlainThreadWakesAGoroutine) {
  go::run([] {
    auto [c, s] = tcp_pair();
    std::thread t([c = c] {
      std::this_thread::sleep_for(20ms);
      c.close();
    });
    std::array<std::byte, 4> buf;
    EXPECT_TRUE(c.read(buf).err.is(go::net::err_closed));
    t.join();
  });
}

// A plain thread's I/O wait is served by an idle worker blocked in the poller, or sysmon.
TEST(Net, APlainThreadCanReadAndWrite) {
  auto [ln, err] = go::net::listen("tcp", "127.0.0.1:0");
  ASSERT_FALSE(err);
  std::thread server([ln = ln] {
    auto [c, err] = ln.accept();
    ASSERT_FALSE(err);
    EXPECT_EQ(read_exactly(c, 4), "ping");
    c.write(bytes("pong"));
  });
  auto [c, derr] = go::net::dial("tcp", ln.addr().string());
  ASSERT_FALSE(derr);
  go::sleep(10ms);
  c.write(bytes("ping"));
  EXPECT_EQ(read_exactly(c, 4), "pong");
  server.join();
}

// A listener with backlog 0 that never accepts: after it holds one connection, further SYNs
// are dropped, so a dial to it stays in progress until something aborts it.
struct black_hole {
  int fd = -1;
  std::string addr;
  std::vector<go::net::conn> fillers;
  black_hole() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd, 0), 0);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    addr = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
    // Fill the queue: dials that complete (the queue holds them) until one would hang.
    for (int i = 0; i < 4; ++i) {
      go::net::dialer d{.timeout = 200ms};
      auto [c, err] = d.dial("tcp", addr);
      if (err) break;
      fillers.push_back(c);
    }
  }
  ~black_hole() { ::close(fd); }
};

TEST(Net, CancellingTheContextAbortsADial) {
  go::run([] {
    black_hole hole;
    auto [ctx, cancel] = go::with_cancel(go::background());
    go::spawn([cancel = cancel] {
      go::sleep(50ms);
      cancel();
    });
    auto [c, err] = go::net::dial(ctx, "tcp", hole.addr);
    EXPECT_FALSE(c);
    EXPECT_TRUE(err.is(std::errc::operation_canceled)) << err.message();
    EXPECT_EQ(err.message(), "dial tcp " + hole.addr + ": operation was canceled");
  });
}

TEST(Net, DialerTimeoutBoundsADial) {
  go::run([] {
    black_hole hole;
    go::net::dialer d{.timeout = 50ms};
    auto [c, err] = d.dial("tcp", hole.addr);
    EXPECT_FALSE(c);
    EXPECT_TRUE(err.is(std::errc::timed_out)) << err.message();
    EXPECT_TRUE(err.is(go::os::err_deadline_exceeded));
    EXPECT_EQ(err.message(), "dial tcp " + hole.addr + ": i/o timeout");
    ASSERT_NE(err.as<go::net::op_error>(), nullptr);
    EXPECT_TRUE(err.as<go::net::op_error>()->timeout());
  });
}

TEST(Net, ReadDeadlineInThePastFailsAtOnceEvenWithDataReady) {
  go::run([] {
    auto [c, s] = tcp_pair();
    s.write(bytes("data"));
    go::sleep(10ms);
    c.set_read_deadline(go::now() - 1s);
    std::array<std::byte, 4> buf;
    auto [n, err] = c.read(buf);
    EXPECT_EQ(n, 0u);
    EXPECT_TRUE(err.is(go::os::err_deadline_exceeded));
    EXPECT_TRUE(err.is(std::errc::timed_out));
    EXPECT_EQ(err.message(), "read tcp " + c.local_addr().string() + "->" + c.remote_addr().string() + ": i/o timeout");
    c.set_read_deadline({});  // the zero time: no deadline
    EXPECT_EQ(read_exactly(c, 4), "data");
  });
}

TEST(Net, MovingADeadlineIntoThePastWakesAWaitingRead) {
  go::run([] {
    auto [c, s] = tcp_pair();
    go::spawn([c = c] {
      go::sleep(20ms);
      c.set_read_deadline(go::now() - 1ms);
    });
    std::array<std::byte, 4> buf;
    EXPECT_TRUE(c.read(buf).err.is(std::errc::timed_out));
  });
}

TEST(Net, ClearingADeadlineWhileAReadWaitsTakesEffect) {
  go::run([] {
    auto [c, s] = tcp_pair();
    auto result = go::make_chan<go::error>(1);
    c.set_read_deadline(go::now() + 300ms);
    go::spawn([c = c, result] {
      std::array<std::byte, 4> buf;
      result << c.read(buf).err;
    });
    go::sleep(20ms);
    c.set_read_deadline({});
    go::sleep(600ms);  // well past the old deadline
    s.write(bytes("late"));
    go::error err = *result.recv();
    EXPECT_FALSE(err) << err.message();
  });
}

TEST(Net, NoDescriptorLeaksOverTenThousandConnections) {
  go::run([] {
    auto [ln, err] = go::net::listen("tcp", "127.0.0.1:0");
    ASSERT_FALSE(err);
    int before = open_fds();
    constexpr int n = gocxx_test::scaled(10000);
    go::spawn([ln = ln] {
      for (;;) {
        auto [c, err] = ln.accept();
        if (err) return;
        std::array<std::byte, 1> b;
        c.read(b);
        c.write(b);
        c.close();
      }
    });
    for (int i = 0; i < n; ++i) {
      auto [c, err] = go::net::dial("tcp", ln.addr().string());
      ASSERT_FALSE(err) << i << ": " << err.message();
      c.write(bytes("x"));
      std::array<std::byte, 1> b;
      c.read(b);
      c.close();
    }
    go::sleep(10ms);  // the server's last close
    // At most as many as before: a connection of an earlier test may close meanwhile.
    EXPECT_LE(open_fds(), before);
    ln.close();
  });
}

TEST(NetDeathTest, AcceptKeepsServingOnceDescriptorsFreeUp) {
#if defined(GOCXX_TEST_SANITIZED) && !defined(GOCXX_TEST_TSAN)
  // UBSan's vptr check reads /proc/self/maps when an object is made, and reports a false
  // error when no descriptor is free to open it.
  GTEST_SKIP() << "UBSan needs a free descriptor";
#endif
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        int rc = go::run([] {
          auto [ln, err] = go::net::listen("tcp", "127.0.0.1:0");
          if (err) return 10;
          auto [c, derr] = go::net::dial("tcp", ln.addr().string());  // queued, not accepted
          if (derr) return 11;
          rlimit lim;
          getrlimit(RLIMIT_NOFILE, &lim);
          lim.rlim_cur = static_cast<rlim_t>(open_fds() + 4);
          setrlimit(RLIMIT_NOFILE, &lim);
          std::vector<int> hogs;
          for (int fd; (fd = ::dup(0)) >= 0;) hogs.push_back(fd);
          auto [a, aerr] = ln.accept();
          if (!aerr.is(std::errc::too_many_files_open)) return 12;
          if (aerr.message() != "accept tcp " + ln.addr().string() + ": accept4: too many open files") return 13;
          for (int fd : hogs) ::close(fd);
          auto [a2, aerr2] = ln.accept();
          if (aerr2) return 14;
          a2.write(bytes("ok"));
          return read_exactly(c, 2) == "ok" ? 0 : 15;
        });
        std::exit(rc);
      },
      ::testing::ExitedWithCode(0), "");
}

// --- readiness after a short read (src/poll/fd.cpp) ---

// A read that returned less than it asked for left the socket empty: the next one waits for
// the poller's edge instead of trying a system call that fails with EAGAIN.
TEST(Net, AShortReadWaitsForTheNextEdgeInsteadOfFailingWithEagain) {
#ifdef GOCXX_TEST_EMULATED
  // Under qemu-user the count depends on how the emulator schedules the two threads: one
  // run in three of the aarch64 suite counted an EAGAIN in nearly every round.
  GTEST_SKIP() << "the EAGAIN count is timing-dependent under emulation";
#endif
  gocxx_test::max_procs_scope scope(2);
  go::run([] {
    auto [c, s] = tcp_pair();
    constexpr int rounds = 200;
    go::wait_group wg;
    wg.go([s = s] {
      std::array<std::byte, 4096> buf;
      for (int i = 0; i < rounds; ++i) {
        auto [n, err] = s.read(buf);
        ASSERT_FALSE(err) << err.message();
        ASSERT_FALSE(s.write(std::span(buf).first(n)).err);
      }
    });
    const std::uint64_t before = go::detail::fd_read_eagain_count();
    std::array<std::byte, 4096> reply;
    for (int i = 0; i < rounds; ++i) {
      ASSERT_FALSE(c.write(bytes("sixteen bytes..!")).err);
      std::size_t got = 0;
      while (got < 16) {
        auto [n, err] = c.read(std::span(reply).subspan(got));
        ASSERT_FALSE(err) << err.message();
        got += n;
      }
    }
    wg.wait();
    // Trying first, each side's read after its write fails once per round: 2 * rounds.
    EXPECT_LT(go::detail::fd_read_eagain_count() - before, static_cast<std::uint64_t>(rounds) / 5);
  });
}

// Bytes that arrive after a short read, before or while the next read waits, are read: the
// edge they raised is either in the descriptor already or still in the poller.
TEST(Net, BytesArrivingAfterAShortReadAreRead) {
  gocxx_test::max_procs_scope scope(2);
  go::run([] {
    auto [c, s] = tcp_pair();
    std::array<std::byte, 64> buf;
    for (int i = 0; i < 50; ++i) {
      ASSERT_FALSE(c.write(bytes("ab")).err);
      auto [n, err] = s.read(buf);  // short: 2 of 64
      ASSERT_FALSE(err);
      ASSERT_EQ(n, 2u);
      if (i % 2 == 0) {
        ASSERT_FALSE(c.write(bytes("cde")).err);  // before the next read
        go::sleep(1ms);
      } else {
        go::spawn([c = c] {  // while the next read waits
          go::sleep(1ms);
          (void)c.write(bytes("cde"));
        });
      }
      std::string got;
      while (got.size() < 3) {
        auto [k, e] = s.read(buf);
        ASSERT_FALSE(e) << e.message();
        got.append(reinterpret_cast<const char*>(buf.data()), k);
      }
      EXPECT_EQ(got, "cde");
    }
  });
}

// The read that waits after a short read still fails at once on a passed deadline, and
// wakes on close and on end of stream.
TEST(Net, AReadAfterAShortReadHonoursDeadlinesCloseAndEof) {
  go::run([] {
    auto [c, s] = tcp_pair();
    std::array<std::byte, 64> buf;
    ASSERT_FALSE(c.write(bytes("x")).err);
    ASSERT_EQ(s.read(buf).n, 1u);
    s.set_read_deadline(go::now() - 1s);
    EXPECT_TRUE(s.read(buf).err.is(go::os::err_deadline_exceeded));
    s.set_read_deadline({});

    ASSERT_FALSE(c.write(bytes("y")).err);
    ASSERT_EQ(s.read(buf).n, 1u);
    go::spawn([c = c] {
      go::sleep(5ms);
      (void)c.close();
    });
    EXPECT_TRUE(s.read(buf).err.is(go::io::eof));

    auto [c2, s2] = tcp_pair();
    ASSERT_FALSE(c2.write(bytes("z")).err);
    ASSERT_EQ(s2.read(buf).n, 1u);
    go::spawn([s2 = s2] {
      go::sleep(5ms);
      (void)s2.close();
    });
    EXPECT_TRUE(s2.read(buf).err.is(go::net::err_closed));
    (void)c2.close();
  });
}

TEST(Net, UdpReadFromAndWriteTo) {
  go::run([] {
    auto [pc, err] = go::net::listen_packet("udp", "127.0.0.1:0");
    ASSERT_FALSE(err) << err.message();
    auto [c, derr] = go::net::dial("udp", pc.local_addr().string());
    ASSERT_FALSE(derr) << derr.message();
    ASSERT_FALSE(c.write(bytes("ping")).err);
    std::array<std::byte, 16> buf;
    auto [n, from, rerr] = pc.read_from(buf);
    ASSERT_FALSE(rerr) << rerr.message();
    EXPECT_EQ(n, 4u);
    EXPECT_EQ(from, c.local_addr());
    EXPECT_EQ(from.network(), "udp");
    ASSERT_FALSE(pc.write_to(bytes("pong"), from).err);
    auto [m, cerr] = c.read(buf);
    EXPECT_FALSE(cerr);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(buf.data()), m), "pong");
    pc.close();
    c.close();
  });
}

TEST(Net, UnixStreamSocketsAndTheFileIsRemovedAtClose) {
  go::run([] {
    std::string path = (std::filesystem::temp_directory_path() / ("gocxx_net_" + std::to_string(getpid()))).string();
    auto [ln, err] = go::net::listen("unix", path);
    ASSERT_FALSE(err) << err.message();
    EXPECT_EQ(ln.addr().string(), path);
    EXPECT_EQ(ln.addr().network(), "unix");
    go::spawn([ln = ln] {
      auto [c, err] = ln.accept();
      if (err) return;
      c.write(bytes(read_exactly(c, 3)));
      c.close();
    });
    auto [c, derr] = go::net::dial("unix", path);
    ASSERT_FALSE(derr) << derr.message();
    EXPECT_EQ(c.remote_addr().string(), path);
    c.write(bytes("abc"));
    EXPECT_EQ(read_exactly(c, 3), "abc");
    c.close();
    EXPECT_TRUE(std::filesystem::exists(path));
    ln.close();
    EXPECT_FALSE(std::filesystem::exists(path));
  });
}

TEST(OsPipe, ReadWriteEofAndCloseWakesReader) {
  go::run([] {
    auto [r, w, err] = go::os::pipe();
    ASSERT_FALSE(err);
    EXPECT_EQ(r.name(), "|0");
    go::spawn([w = w] {
      go::sleep(10ms);
      w.write(bytes("hi"));
      w.close();
    });
    std::array<std::byte, 8> buf;
    auto [n, rerr] = r.read(buf);
    EXPECT_EQ(n, 2u);
    EXPECT_FALSE(rerr);
    auto [n2, eof] = r.read(buf);
    EXPECT_EQ(n2, 0u);
    EXPECT_EQ(eof, go::io::eof);
    r.close();

    auto [r2, w2, err2] = go::os::pipe();
    go::spawn([r2 = r2] {
      go::sleep(20ms);
      r2.close();
    });
    auto [n3, cerr] = r2.read(buf);
    EXPECT_TRUE(cerr.is(go::os::err_closed)) << cerr.message();
    EXPECT_EQ(cerr.message(), "read |0: file already closed");
    EXPECT_NE(cerr.as<go::os::path_error>(), nullptr);
    w2.close();
  });
}

TEST(OsPipe, DeadlinesAndBrokenPipe) {
  go::run([] {
    auto [r, w, err] = go::os::pipe();
    ASSERT_FALSE(err);
    r.set_read_deadline(go::now() + 20ms);
    std::array<std::byte, 8> buf;
    auto [n, rerr] = r.read(buf);
    EXPECT_TRUE(rerr.is(go::os::err_deadline_exceeded));
    EXPECT_EQ(rerr.message(), "read |0: i/o timeout");
    r.close();
    auto [wn, werr] = w.write(bytes("x"));  // no reader left: EPIPE, not SIGPIPE
    EXPECT_TRUE(werr.is(std::errc::broken_pipe)) << werr.message();
    EXPECT_EQ(werr.message(), "write |1: broken pipe");
    w.close();
  });
}
