// Network and pipe I/O in stackless goroutines (go/async_io.hpp): echo between every mix of
// stackless and stackful sides, deadlines, close, Go's errors, dumps and deadlock detection.
// The blocking forms' own behaviours are net_test.cpp's; these pin down that the awaitables
// give the same results and wait (and wake) as a stackful goroutine does.
#include <gtest/gtest.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <thread>
#include <optional>
#include <atomic>
#include <array>
#include <chrono>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "go/async_io.hpp"
#include "go/chan.hpp"
#include "go/context.hpp"
#include "go/net.hpp"
#include "go/os.hpp"
#include "go/runtime.hpp"
#include "go/task.hpp"
#include "go/time.hpp"
#include "net/addr.hpp"
#include "test_scale.hpp"

using namespace std::chrono_literals;

namespace {

std::span<const std::byte> bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

std::string text(std::span<const std::byte> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

using gocxx_test::dump_once_it_shows;

// A stackless echo of one connection: what it reads it writes back, until EOF or an error.
go::task<void> echo(go::net::conn c) {
  std::array<std::byte, 512> buf;
  for (;;) {
    auto [n, err] = co_await go::net::async_read(c, buf);
    if (n > 0 && (co_await go::net::async_write(c, std::span(buf).first(n))).err) break;
    if (err) break;
  }
  c.close();
}

go::task<void> stackless_server(go::net::listener ln) {
  for (;;) {
    auto [c, err] = co_await go::net::async_accept(ln);
    if (err) co_return;
    go::spawn(echo, c);
  }
}

void stackful_server(go::net::listener ln) {
  for (;;) {
    auto [c, err] = ln.accept();
    if (err) return;
    go::spawn([c = c] {
      std::array<std::byte, 512> buf;
      for (;;) {
        auto [n, err] = c.read(buf);
        if (n > 0 && c.write(std::span(buf).first(n)).err) break;
        if (err) break;
      }
      c.close();
    });
  }
}

// A message larger than a read, so the client's reads return it in pieces.
std::string message_of(int client, int round) {
  return "client " + std::to_string(client) + " round " + std::to_string(round) + " " + std::string(700, 'x');
}

// A stackless client: dials, sends `rounds` messages and reads each echo back in full.
go::task<void> stackless_client(std::string addr, int id, int rounds, go::chan<std::string> out) {
  auto [c, err] = co_await go::net::async_dial("tcp", addr);
  if (err) {
    co_await go::async_send(out, "dial: " + err.message());
    co_return;
  }
  std::string result = "ok";
  for (int r = 0; r < rounds && result == "ok"; ++r) {
    std::string m = message_of(id, r);
    auto [n, werr] = co_await go::net::async_write(c, bytes(m));
    if (werr || n != m.size()) result = "write: " + werr.message();
    std::string back(m.size(), '\0');
    for (std::size_t got = 0; got < m.size() && result == "ok";) {
      auto [k, rerr] = co_await go::net::async_read(c, std::as_writable_bytes(std::span(back).subspan(got)));
      got += k;
      if (rerr) result = "read: " + rerr.message();
    }
    if (result == "ok" && back != m) result = "echo differs";
  }
  c.close();
  co_await go::async_send(out, result);
}

void stackful_client(const std::string& addr, int id, int rounds, go::chan<std::string> out) {
  auto [c, err] = go::net::dial("tcp", addr);
  if (err) {
    out << ("dial: " + err.message());
    return;
  }
  std::string result = "ok";
  for (int r = 0; r < rounds && result == "ok"; ++r) {
    std::string m = message_of(id, r);
    if (go::error werr = c.write(bytes(m)).err) result = "write: " + werr.message();
    std::string back(m.size(), '\0');
    for (std::size_t got = 0; got < m.size() && result == "ok";) {
      auto [k, rerr] = c.read(std::as_writable_bytes(std::span(back).subspan(got)));
      got += k;
      if (rerr) result = "read: " + rerr.message();
    }
    if (result == "ok" && back != m) result = "echo differs";
  }
  c.close();
  out << result;
}

enum class side { stackless, stackful };

void echo_between(side server, side client) {
  go::run([server, client] {
    auto [ln, err] = go::net::listen("tcp", "127.0.0.1:0");
    ASSERT_FALSE(err) << err.message();
    if (server == side::stackless) go::spawn(stackless_server, ln);
    else go::spawn([ln = ln] { stackful_server(ln); });
    constexpr int clients = 20, rounds = 20;
    auto out = go::make_chan<std::string>(clients);
    std::string addr = ln.addr().string();
    for (int i = 0; i < clients; ++i) {
      if (client == side::stackless) go::spawn(stackless_client, addr, i, rounds, out);
      else go::spawn([addr, i, out] { stackful_client(addr, i, rounds, out); });
    }
    for (int i = 0; i < clients; ++i) EXPECT_EQ(*out.recv(), "ok");
    ln.close();
  });
}

// A connected TCP pair over loopback: {client, server}.
std::pair<go::net::conn, go::net::conn> tcp_pair() {
  auto [ln, err] = go::net::listen("tcp", "127.0.0.1:0");
  EXPECT_FALSE(err) << err.message();
  auto accepted = go::make_chan<go::net::conn>(1);
  go::spawn([ln = ln, accepted] { accepted << ln.accept().conn; });
  auto [c, derr] = go::net::dial("tcp", ln.addr().string());
  EXPECT_FALSE(derr) << derr.message();
  go::net::conn s = *accepted.recv();
  ln.close();
  return {c, s};
}

// in_stackless runs t in a stackless goroutine of its own; the channel gets what t returns.
template <class T>
go::chan<T> in_stackless(go::task<T> t) {
  auto out = go::make_chan<T>(1);
  go::spawn(
      [](go::task<T> t, go::chan<T> out) -> go::task<void> { co_await go::async_send(out, co_await std::move(t)); },
      std::move(t), out);
  return out;
}

// The error of one read, accept or dial.
go::task<go::error> read_error(go::net::conn c) {
  std::array<std::byte, 16> buf;
  co_return (co_await go::net::async_read(c, buf)).err;
}
go::task<go::error> accept_error(go::net::listener ln) { co_return (co_await go::net::async_accept(ln)).err; }
go::task<go::error> dial_error(go::context ctx, std::string addr) {
  co_return (co_await go::net::async_dial(ctx, "tcp", addr)).err;
}

// One read of f: the bytes, or the error's message.
go::task<std::string> read_of(go::os::file f) {
  std::array<std::byte, 8> buf;
  auto [n, err] = co_await go::os::async_read(f, buf);
  co_return err ? err.message() : text(std::span(buf).first(n));
}

}  // namespace

TEST(TaskNet, EchoBetweenStacklessClientsAndAStacklessServer) { echo_between(side::stackless, side::stackless); }
TEST(TaskNet, EchoBetweenStackfulClientsAndAStacklessServer) { echo_between(side::stackless, side::stackful); }
TEST(TaskNet, EchoBetweenStacklessClientsAndAStackfulServer) { echo_between(side::stackful, side::stackless); }

TEST(TaskNet, AsyncWriteWritesEverythingThroughAFullSocket) {
  go::run([] {
    auto [c, s] = tcp_pair();
    auto out = go::make_chan<std::size_t>(1);
    constexpr std::size_t size = 8 << 20;  // far more than the socket buffers hold
    go::spawn(
        [](go::net::conn c, go::chan<std::size_t> out) -> go::task<void> {
          std::vector<std::byte> big(size, std::byte{'z'});
          auto [n, err] = co_await go::net::async_write(c, big);
          co_await go::async_send(out, err ? 0 : n);
          c.close();
        },
        c, out);
    go::sleep(100ms);  // the writer fills the buffers and waits for the reader (no dump: its
                       // snapshot of a goroutine that is parking is a race)
    std::vector<std::byte> buf(64 << 10);
    std::size_t total = 0;
    for (;;) {
      auto [n, err] = s.read(buf);
      total += n;
      if (err) {
        EXPECT_TRUE(err.is(go::io::eof)) << err.message();
        break;
      }
    }
    EXPECT_EQ(*out.recv(), size);
    EXPECT_EQ(total, size);
  });
}

TEST(TaskNet, ReadDeadlinePassingWhileWaitingIsAnIoTimeout) {
  go::run([] {
    auto [c, s] = tcp_pair();
    c.set_read_deadline(go::now() + 50ms);
    go::error err = *in_stackless(read_error(c)).recv();
    EXPECT_TRUE(err.is(go::os::err_deadline_exceeded)) << err.message();
    EXPECT_TRUE(err.is(std::errc::timed_out));
    EXPECT_EQ(err.message(), "read tcp " + c.local_addr().string() + "->" + c.remote_addr().string() + ": i/o timeout");
    c.close();
    s.close();
  });
}

TEST(TaskNet, MovingTheDeadlineIntoThePastWakesAWaitingRead) {
  go::run([] {
    auto [c, s] = tcp_pair();
    auto out = in_stackless(read_error(c));
    dump_once_it_shows("[IO wait]");
    c.set_read_deadline(go::now() - 1ms);
    go::error err = *out.recv();
    EXPECT_TRUE(err.is(std::errc::timed_out)) << err.message();
    c.close();
    s.close();
  });
}

TEST(TaskNet, ClearingTheDeadlineWhileAReadWaitsTakesEffect) {
  go::run([] {
    auto [c, s] = tcp_pair();
    auto out = in_stackless(read_error(c));
    dump_once_it_shows("[IO wait]");      // slow under the sanitizers: the deadline comes after
    c.set_read_deadline(go::now() + 1s);  // armed while the read waits,
    c.set_read_deadline({});              // and cleared while it still waits
    go::sleep(1200ms);                    // past the old deadline
    s.write(bytes("late"));
    go::error err = *out.recv();
    EXPECT_FALSE(err) << err.message();
    c.close();
    s.close();
  });
}

TEST(TaskNet, CloseWakesAWaitingReadAndAWaitingAccept) {
  go::run([] {
    auto [c, s] = tcp_pair();
    auto [ln, lerr] = go::net::listen("tcp", "127.0.0.1:0");
    ASSERT_FALSE(lerr) << lerr.message();
    auto read = in_stackless(read_error(c));
    auto accept = in_stackless(accept_error(ln));
    dump_once_it_shows("[IO wait]");
    go::sleep(20ms);  // both of them
    c.close();
    ln.close();
    for (go::error err : {*read.recv(), *accept.recv()}) {
      EXPECT_TRUE(err.is(go::net::err_closed)) << err.message();
      EXPECT_NE(err.message().find("use of closed network connection"), std::string::npos) << err.message();
    }
    s.close();
  });
}

TEST(TaskNet, AcceptAfterTheListenerClosedFailsWithGosError) {
  go::run([] {
    auto [ln, err] = go::net::listen("tcp", "127.0.0.1:0");
    ASSERT_FALSE(err) << err.message();
    std::string where = ln.addr().string();
    ln.close();
    go::error aerr = *in_stackless(accept_error(ln)).recv();
    EXPECT_TRUE(aerr.is(go::net::err_closed)) << aerr.message();
    EXPECT_EQ(aerr.message(), "accept tcp " + where + ": use of closed network connection");
  });
}

TEST(TaskNet, ReadReturnsEofOnceThePeerClosed) {
  go::run([] {
    auto [c, s] = tcp_pair();
    auto out = go::make_chan<std::string>(1);
    go::spawn(
        [](go::net::conn c, go::chan<std::string> out) -> go::task<void> {
          std::string got;
          std::array<std::byte, 4> buf;
          for (;;) {
            auto [n, err] = co_await go::net::async_read(c, buf);
            got += text(std::span(buf).first(n));
            if (err) {
              got += "|" + err.message();
              break;
            }
          }
          co_await go::async_send(out, got);
        },
        c, out);
    s.write(bytes("hello, world"));
    s.close();
    EXPECT_EQ(*out.recv(), "hello, world|EOF");
  });
}

TEST(TaskNet, DumpShowsIoWaitAndTheCoAwaitLine) {
  go::run([] {
    auto [c, s] = tcp_pair();
    auto line = go::make_chan<int>(1);
    go::spawn(
        [](go::net::conn c, go::chan<int> line) -> go::task<void> {
          std::array<std::byte, 4> buf;
          co_await go::async_send(line, __LINE__ + 1);
          co_await go::net::async_read(c, buf);  // the line the dump shows
        },
        c, line);
    int await_line = *line.recv();
    std::string dump = dump_once_it_shows("[IO wait]");
    EXPECT_NE(dump.find("[IO wait]"), std::string::npos) << dump;
    EXPECT_NE(dump.find("task_net_test.cpp:" + std::to_string(await_line)), std::string::npos) << dump;
    c.close();
    s.close();
  });
}

TEST(TaskNet, UdpReadFromAndWriteTo) {
  go::run([] {
    auto [pc, err] = go::net::listen_packet("udp", "127.0.0.1:0");
    ASSERT_FALSE(err) << err.message();
    auto out = go::make_chan<std::string>(1);
    go::spawn(
        [](go::net::conn pc, go::chan<std::string> out) -> go::task<void> {
          std::array<std::byte, 16> buf;
          auto [n, from, rerr] = co_await go::net::async_read_from(pc, buf);  // waits: nothing sent yet
          std::string got = text(std::span(buf).first(n));
          auto [m, werr] = co_await go::net::async_write_to(pc, bytes("pong"), from);
          if (rerr || werr || m != 4) got = "error";
          co_await go::async_send(out, got + " from " + from.string());
        },
        pc, out);
    dump_once_it_shows("[IO wait]");
    auto [c, derr] = go::net::dial("udp", pc.local_addr().string());
    ASSERT_FALSE(derr) << derr.message();
    ASSERT_FALSE(c.write(bytes("ping")).err);
    EXPECT_EQ(*out.recv(), "ping from " + c.local_addr().string());
    std::array<std::byte, 16> buf;
    auto [m, cerr] = c.read(buf);
    EXPECT_FALSE(cerr);
    EXPECT_EQ(text(std::span(buf).first(m)), "pong");
    pc.close();
    c.close();
  });
}

TEST(TaskNet, DialOfAClosedPortIsRefusedWithGosError) {
  go::run([] {
    auto [ln, err] = go::net::listen("tcp", "127.0.0.1:0");
    ASSERT_FALSE(err);
    std::string where = ln.addr().string();
    ln.close();
    go::error derr = *in_stackless(dial_error(go::background(), where)).recv();
    EXPECT_TRUE(derr.is(std::errc::connection_refused)) << derr.message();
    EXPECT_EQ(derr.message(), "dial tcp " + where + ": connect: connection refused");
  });
}

TEST(TaskNet, CancellingTheContextAbortsAnAsyncDial) {
  go::run([] {
    // A listener with a full queue that nobody accepts from: a dial to it hangs in connect.
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(fd, 0), 0);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    std::string hole = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
    std::vector<go::net::conn> fillers;
    for (int i = 0; i < 4; ++i) {
      auto [c, err] = go::net::dialer{.timeout = 200ms}.dial("tcp", hole);
      if (err) break;
      fillers.push_back(c);
    }
    auto [ctx, cancel] = go::with_cancel(go::background());
    auto out = in_stackless(dial_error(ctx, hole));
    dump_once_it_shows("[IO wait]");
    cancel();
    go::error err = *out.recv();
    EXPECT_TRUE(err.is(std::errc::operation_canceled)) << err.message();
    EXPECT_EQ(err.message(), "dial tcp " + hole + ": operation was canceled");
    ::close(fd);
  });
}

TEST(TaskNet, AsyncDialLooksUpAName) {
  go::run([] {
    auto [ln, err] = go::net::listen("tcp", "127.0.0.1:0");
    ASSERT_FALSE(err) << err.message();
    const std::string port = std::to_string(ln.addr().port());
    auto out = go::make_chan<go::net::conn_result>(1);
    go::spawn(
        [](std::string address, go::chan<go::net::conn_result> out) -> go::task<void> {
          go::net::conn_result r = co_await go::net::async_dial("tcp", address);
          co_await go::async_send(out, std::move(r));
        },
        "localhost:" + port, out);
    go::net::conn_result r = *out.recv();
    ASSERT_FALSE(r.err) << r.err.message();
    EXPECT_EQ(r.conn.remote_addr().string(), "127.0.0.1:" + port);
    r.conn.close();
    ln.close();
  });
}

// held_lookup stands in for getaddrinfo (go::detail::lookup_name) while a held_lookups
// lives: it waits until the test lets lookups go on, then finds 127.0.0.1.
std::atomic<int> lookups_held{0};
std::atomic<bool> lookups_may_go{false};

int held_lookup(const char*, const char* service, const addrinfo* hints, addrinfo** res) {
  lookups_held.fetch_add(1);
  while (!lookups_may_go.load()) std::this_thread::sleep_for(1ms);
  return getaddrinfo("127.0.0.1", service, hints, res);
}

struct held_lookups {
  held_lookups() {
    lookups_held = 0;
    lookups_may_go = false;
    go::detail::lookup_name = &held_lookup;
  }
  ~held_lookups() {
    lookups_may_go = true;
    go::detail::lookup_name = &getaddrinfo;
  }
  held_lookups(const held_lookups&) = delete;
  held_lookups& operator=(const held_lookups&) = delete;
};

// The first of ch's values within 5 s, or nothing.
std::optional<go::error> within_5s(const go::chan<go::error>& ch) {
  std::optional<go::error> got;
  go::select(go::recv_case(ch, [&](std::optional<go::error> e) { got = e; }), go::recv_case(go::after(5s)));
  return got;
}

// A stackless dial looks a name up off its worker thread: at GOMAXPROCS=1 the main goroutine
// runs while the lookup hangs, and cancelling the dial's context ends the dial then.
TEST(TaskNet, CancellingTheContextEndsAnAsyncDialWhileItLooksUp) {
  held_lookups held;
  gocxx_test::max_procs_scope procs(1);
  go::run([] {
    auto [ctx, cancel] = go::with_cancel(go::background());
    auto out = in_stackless(dial_error(ctx, "held.example:80"));
    while (lookups_held == 0) go::sleep(1ms);
    cancel();
    std::optional<go::error> err = within_5s(out);
    lookups_may_go = true;
    ASSERT_TRUE(err) << "the dial waited for its lookup";
    EXPECT_EQ(err->message(), "dial tcp: lookup held.example: operation was canceled");
  });
}

TEST(TaskNet, AnAsyncDialsTimeoutEndsItWhileItLooksUp) {
  held_lookups held;
  go::run([] {
    auto out = in_stackless([]() -> go::task<go::error> {
      co_return (
          co_await go::net::async_dial(go::net::dialer{.timeout = 50ms}, go::background(), "tcp", "held.example:80"))
          .err;
    }());
    std::optional<go::error> err = within_5s(out);
    lookups_may_go = true;
    ASSERT_TRUE(err) << "the dial waited for its lookup";
    EXPECT_EQ(err->message(), "dial tcp: lookup held.example: i/o timeout");
  });
}

TEST(TaskNet, PipeWriteOfMoreThanThePipeHoldsAndReadToEof) {
  go::run([] {
    auto [r, w, err] = go::os::pipe();
    ASSERT_FALSE(err) << err.message();
    constexpr std::size_t size = 1 << 20;  // more than a pipe holds: the writer waits
    auto out = go::make_chan<std::string>(2);
    go::spawn(
        [](go::os::file w, go::chan<std::string> out) -> go::task<void> {
          std::vector<std::byte> big(size, std::byte{'p'});
          auto [n, err] = co_await go::os::async_write(w, big);
          w.close();
          // Named, not a conditional inside the co_await: GCC 12 destroys a class-type temporary
          // of a ?: operand in a co_await expression twice.
          std::string result = err ? err.message() : std::to_string(n);
          co_await go::async_send(out, result);
        },
        w, out);
    go::spawn(
        [](go::os::file r, go::chan<std::string> out) -> go::task<void> {
          std::vector<std::byte> buf(4096);
          std::size_t total = 0;
          for (;;) {
            auto [n, err] = co_await go::os::async_read(r, buf);
            total += n;
            if (err) {
              co_await go::async_send(out, err.message() + " after " + std::to_string(total));
              co_return;
            }
          }
        },
        r, out);
    std::vector<std::string> got{*out.recv(), *out.recv()};
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got[0], std::to_string(size));
    EXPECT_EQ(got[1], "EOF after " + std::to_string(size));
  });
}

TEST(TaskNet, PipeCloseWakesAWaitingReadWithFileAlreadyClosed) {
  go::run([] {
    auto [r, w, err] = go::os::pipe();
    ASSERT_FALSE(err) << err.message();
    auto out = in_stackless(read_of(r));
    dump_once_it_shows("[IO wait]");
    r.close();
    EXPECT_EQ(*out.recv(), "read |0: file already closed");
    w.close();
  });
}

TEST(TaskNet, AStacklessAndAStackfulReaderOfOneSocketTakeTurns) {
  go::run([] {
    auto [c, s] = tcp_pair();
    auto out = go::make_chan<std::string>(2);
    go::spawn([c = c, out] {
      std::array<std::byte, 1> buf;
      auto [n, err] = c.read(buf);
      out << (err ? err.message() : text(std::span(buf).first(n)));
    });
    go::spawn(
        [](go::net::conn c, go::chan<std::string> out) -> go::task<void> {
          std::array<std::byte, 1> buf;
          auto [n, err] = co_await go::net::async_read(c, buf);
          std::string got = err ? err.message() : text(std::span(buf).first(n));
          co_await go::async_send(out, got);
        },
        c, out);
    go::sleep(20ms);  // both started: one waits for data, the other for the read lock
    s.write(bytes("a"));
    std::string first = *out.recv();
    s.write(bytes("b"));
    std::string second = *out.recv();
    EXPECT_EQ(first + second, "ab");
    c.close();
    s.close();
  });
}

// One read of one byte from c: the byte, or the error's message.
go::task<std::string> read_one_byte(go::net::conn c) {
  std::array<std::byte, 1> buf;
  auto [n, err] = co_await go::net::async_read(c, buf);
  co_return err ? err.message() : text(std::span(buf).first(n));
}

// A second stackless reader of a socket waits in line for the read lock, parked on the
// lock's semaphore (not runnable, so it costs no CPU), while the first waits for data; each
// gets the data in the order they came.
TEST(TaskNet, ASecondStacklessReaderParksInLineForTheSocket) {
  go::run([] {
    auto [c, s] = tcp_pair();
    auto first = in_stackless(read_one_byte(c));
    dump_once_it_shows("[IO wait]");
    auto second = in_stackless(read_one_byte(c));
    std::string dump = dump_once_it_shows("[semacquire]");
    EXPECT_NE(dump.find("[semacquire]"), std::string::npos) << dump;
    s.write(bytes("a"));
    EXPECT_EQ(*first.recv(), "a");
    s.write(bytes("b"));
    EXPECT_EQ(*second.recv(), "b");
    c.close();
    s.close();
  });
}

TEST(TaskNet, CloseWakesAStacklessReaderInLineForTheSocket) {
  go::run([] {
    auto [c, s] = tcp_pair();
    auto first = in_stackless(read_error(c));
    dump_once_it_shows("[IO wait]");
    auto second = in_stackless(read_error(c));
    std::string dump = dump_once_it_shows("[semacquire]");
    EXPECT_NE(dump.find("[semacquire]"), std::string::npos) << dump;
    c.close();
    for (go::error err : {*first.recv(), *second.recv()}) {
      EXPECT_TRUE(err.is(go::net::err_closed)) << err.message();
      EXPECT_NE(err.message().find("use of closed network connection"), std::string::npos) << err.message();
    }
    s.close();
  });
}

// A goroutine that waits for I/O keeps the program alive: the peer here is another process,
// which writes after a while. Were the stackless reader not counted as waiting for the
// network, the main goroutine's receive would be reported as a deadlock.
TEST(TaskNetDeathTest, WaitingForIoIsNotADeadlock) {
  if (!gocxx_test::deadlock_detected) GTEST_SKIP() << "other threads in the process: detection is off";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) std::_Exit(3);
        if (::fork() == 0) {
          ::usleep(200'000);
          [[maybe_unused]] ssize_t n = ::write(sv[1], "x", 1);
          std::_Exit(0);
        }
        ::close(sv[1]);
        go::run([fd = sv[0]] {
          go::os::file f = go::os::new_file(fd, "peer");
          std::string got = *in_stackless(read_of(f)).recv();
          std::_Exit(got == "x" ? 0 : 4);
        });
        std::_Exit(5);
      },
      testing::ExitedWithCode(0), "");
}
