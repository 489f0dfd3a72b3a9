// net_floor: what the kernel alone costs for the network rows of the comparison
// (bench/peers/go/SCENARIOS.md, "Networking"), with no runtime at all: plain threads and
// blocking or known-ready system calls on loopback TCP. No goroutine runtime can send a
// message with fewer system calls than these programs make, so their times are the floor
// under gocxx's and Go's rows (docs/performance.md, "Networking and blocking calls").
//
//   rtt_1thread    one thread, one connection: write(a), read(b), write(b), read(a). A round
//                  trip's four system calls and the TCP stack, without any wake-up.
//   rtt_2threads   net_rtt_64's shape as a C program writes it: a client thread writes and
//                  blocks in read; a server thread blocks in read and writes back. Adds the
//                  two thread wake-ups a round trip needs when each side waits.
//   rtt_epoll      what an epoll runtime does for net_rtt_64 at GOMAXPROCS=1, by hand, in one
//                  thread: non-blocking sockets registered edge-triggered; write(a), read(a)
//                  fails with EAGAIN, epoll_wait reports b, read(b), write(b), read(b) fails,
//                  epoll_wait reports a, read(a). Eight system calls per round trip, the
//                  fewest for a runtime that tries a read before it waits (Go and gocxx do).
//   rtt_uring      the round trip as a completion-based runtime would make it with io_uring
//                  (built where liburing is found): the server's read is always submitted;
//                  the client submits its write and its read in one io_uring_enter that also
//                  waits, and the server, its read completed, submits its write and its next
//                  read the same way. Two system calls per round trip.
//   echo_64x64     net_echo_64x64 at GOMAXPROCS=1 with nothing to wait for: one thread, 64
//                  connections; each round writes 64 bytes on every client, reads and writes
//                  them back on every server end, and reads every reply. Four system calls
//                  per message; no epoll, since every read finds its data.
//   dial_1thread   net_dial_8's connection with nothing to wait for: one thread, one listener;
//                  each connection is socket, connect (loopback completes it in the call),
//                  accept4, TCP_NODELAY on both ends as Go sets it, the client's 1-byte write,
//                  the server's read and write back, the client's read, and both closes.
//                  Eleven system calls, against about 30 that Go makes (non-blocking connect,
//                  SO_ERROR, epoll registration, keep-alive options).
//   dial_calls     the system calls gocxx makes for net_dial_8's connection at GOMAXPROCS=1,
//                  by hand in one thread with no runtime, in its order: the client's
//                  non-blocking socket, connect (EINPROGRESS), getpeername, getsockname,
//                  TCP_NODELAY and the four keep-alive options, its write, its read that
//                  fails with EAGAIN and the epoll registration that wait makes; accept4 (on a
//                  listener that carries the options), getsockname, the server's read, write
//                  and close; epoll_wait; the client's read, epoll_ctl DEL and close. 21 calls
//                  (gocxx shares an epoll_wait among several connections): what gocxx
//                  takes beyond this is the runtime's own work.
//
// Usage: net_floor [-scenario NAME] [-n N] [-reps R]; prints `NAME NS_PER_OP ns/op N` lines,
// the median of R runs (default 5).
#include <netinet/in.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef GOCXX_NET_FLOOR_URING
#include <liburing.h>
#endif

#include <algorithm>
#include <cerrno>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

// loopback_listener returns a TCP socket listening on 127.0.0.1 at a free port, *addr set
// to its address.
int loopback_listener(int backlog, sockaddr_in* addr) {
  int ln = ::socket(AF_INET, SOCK_STREAM, 0);
  if (ln < 0) die("socket");
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof *addr;
  if (::bind(ln, reinterpret_cast<sockaddr*>(addr), sizeof *addr) != 0) die("bind");
  if (::listen(ln, backlog) != 0) die("listen");
  if (::getsockname(ln, reinterpret_cast<sockaddr*>(addr), &len) != 0) die("getsockname");
  return ln;
}

// tcp_pair returns a connected loopback TCP pair (client, server end), blocking, with
// TCP_NODELAY as Go sets it.
std::pair<int, int> tcp_pair() {
  sockaddr_in addr{};
  int ln = loopback_listener(1, &addr);
  int c = ::socket(AF_INET, SOCK_STREAM, 0);
  if (c < 0 || ::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("connect");
  int s = ::accept(ln, nullptr, nullptr);
  if (s < 0) die("accept");
  ::close(ln);
  int one = 1;
  ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return {c, s};
}

void write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t r = ::write(fd, p, n);
    if (r <= 0) die("write");
    p += r;
    n -= static_cast<std::size_t>(r);
  }
}

void read_full(int fd, char* p, std::size_t n) {
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r <= 0) die("read");
    p += r;
    n -= static_cast<std::size_t>(r);
  }
}

constexpr std::size_t msg = 64;

double rtt_1thread(int n) {
  auto [a, b] = tcp_pair();
  std::array<char, msg> buf{};
  auto start = clock_type::now();
  for (int i = 0; i < n; ++i) {
    write_all(a, buf.data(), msg);
    read_full(b, buf.data(), msg);
    write_all(b, buf.data(), msg);
    read_full(a, buf.data(), msg);
  }
  double ns = std::chrono::duration<double, std::nano>(clock_type::now() - start).count();
  ::close(a);
  ::close(b);
  return ns / n;
}

double rtt_2threads(int n) {
  auto [a, b] = tcp_pair();
  std::thread server([fd = b, n] {
    std::array<char, msg> buf{};
    for (int i = 0; i < n; ++i) {
      read_full(fd, buf.data(), msg);
      write_all(fd, buf.data(), msg);
    }
  });
  std::array<char, msg> buf{};
  auto start = clock_type::now();
  for (int i = 0; i < n; ++i) {
    write_all(a, buf.data(), msg);
    read_full(a, buf.data(), msg);
  }
  double ns = std::chrono::duration<double, std::nano>(clock_type::now() - start).count();
  server.join();
  ::close(a);
  ::close(b);
  return ns / n;
}

// try_read reads n bytes that may not have arrived: false on EAGAIN.
bool try_read(int fd, char* p, std::size_t n) {
  ssize_t r = ::read(fd, p, n);
  if (r < 0 && errno == EAGAIN) return false;
  if (r != static_cast<ssize_t>(n)) die("read");
  return true;
}

double rtt_epoll(int n) {
  auto [a, b] = tcp_pair();
  int ep = ::epoll_create1(0);
  for (int fd : {a, b}) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.fd = fd;
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
  }
  // wait_for blocks in epoll_wait until fd is readable, as a runtime's idle worker does.
  auto wait_for = [ep](int fd) {
    for (;;) {
      std::array<epoll_event, 8> evs;
      int k = ::epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), -1);
      for (int i = 0; i < k; ++i) {
        if (evs[static_cast<std::size_t>(i)].data.fd == fd && (evs[static_cast<std::size_t>(i)].events & EPOLLIN))
          return;
      }
    }
  };
  std::array<char, msg> buf{};
  auto start = clock_type::now();
  for (int i = 0; i < n; ++i) {
    write_all(a, buf.data(), msg);
    if (!try_read(a, buf.data(), msg)) {
      wait_for(b);
      if (!try_read(b, buf.data(), msg)) die("no data after the event");
      write_all(b, buf.data(), msg);
      if (try_read(b, buf.data(), msg)) die("unexpected data");
      wait_for(a);
      if (!try_read(a, buf.data(), msg)) die("no reply after the event");
    }
  }
  double ns = std::chrono::duration<double, std::nano>(clock_type::now() - start).count();
  ::close(ep);
  ::close(a);
  ::close(b);
  return ns / n;
}

#ifdef GOCXX_NET_FLOOR_URING
// rtt_uring's requests carry which of the four operations they are.
enum uring_op : std::uint64_t { client_write, client_read, server_read, server_write };

double rtt_uring(int n) {
  auto [a, b] = tcp_pair();
  io_uring ring;
  if (io_uring_queue_init(16, &ring, 0) != 0) die("io_uring_queue_init");
  std::array<char, msg> cbuf{}, sbuf{};
  auto submit = [&ring](int fd, char* p, uring_op op) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    if (op == client_write || op == server_write) io_uring_prep_send(sqe, fd, p, msg, 0);
    else io_uring_prep_recv(sqe, fd, p, msg, MSG_WAITALL);
    io_uring_sqe_set_data64(sqe, op);
  };
  submit(b, sbuf.data(), server_read);
  auto start = clock_type::now();
  for (int i = 0; i < n; ++i) {
    submit(a, cbuf.data(), client_write);
    submit(a, cbuf.data(), client_read);
    bool replied = false;
    while (!replied) {
      if (io_uring_submit_and_wait(&ring, 1) < 0) die("io_uring_submit_and_wait");
      unsigned head, seen = 0;
      io_uring_cqe* cqe;
      io_uring_for_each_cqe(&ring, head, cqe) {
        ++seen;
        if (cqe->res < 0) die("io_uring request");
        switch (io_uring_cqe_get_data64(cqe)) {
          case server_read:  // the server echoes and reads again
            submit(b, sbuf.data(), server_write);
            submit(b, sbuf.data(), server_read);
            break;
          case client_read: replied = true; break;
          default: break;
        }
      }
      io_uring_cq_advance(&ring, seen);
    }
  }
  double ns = std::chrono::duration<double, std::nano>(clock_type::now() - start).count();
  io_uring_queue_exit(&ring);
  ::close(a);
  ::close(b);
  return ns / n;
}
#endif

double echo_64x64(int n) {
  constexpr int conns = 64;
  std::vector<std::pair<int, int>> pairs;
  for (int i = 0; i < conns; ++i) pairs.push_back(tcp_pair());
  const int rounds = std::max(1, n / conns);
  std::array<char, msg> buf{};
  auto start = clock_type::now();
  for (int r = 0; r < rounds; ++r) {
    for (auto [c, s] : pairs) write_all(c, buf.data(), msg);
    for (auto [c, s] : pairs) {
      read_full(s, buf.data(), msg);
      write_all(s, buf.data(), msg);
    }
    for (auto [c, s] : pairs) read_full(c, buf.data(), msg);
  }
  double ns = std::chrono::duration<double, std::nano>(clock_type::now() - start).count();
  for (auto [c, s] : pairs) {
    ::close(c);
    ::close(s);
  }
  return ns / (static_cast<double>(rounds) * conns);
}

// dial_1thread: see the top of the file. Nanoseconds per connection.
double dial_1thread(int n) {
  sockaddr_in addr{};
  int ln = loopback_listener(128, &addr);
  auto start = clock_type::now();
  for (int i = 0; i < n; ++i) {
    int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c < 0 || ::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("connect");
    int s = ::accept4(ln, nullptr, nullptr, SOCK_CLOEXEC);
    if (s < 0) die("accept4");
    int one = 1;
    ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char b = 1;
    if (::write(c, &b, 1) != 1 || ::read(s, &b, 1) != 1 || ::write(s, &b, 1) != 1 || ::read(c, &b, 1) != 1) {
      die("dial_1thread io");
    }
    ::close(s);
    ::close(c);
  }
  double ns = std::chrono::duration<double, std::nano>(clock_type::now() - start).count();
  ::close(ln);
  return ns / n;
}

// set_conn_opts sets what Go sets on a TCP conn: TCP_NODELAY and keep-alive (15 s, 9 probes).
void set_conn_opts(int fd) {
  int one = 1, secs = 15, probes = 9;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &secs, sizeof secs);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &secs, sizeof secs);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes);
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
}

// dial_calls: see the top of the file. Nanoseconds per connection.
double dial_calls(int n) {
  sockaddr_in addr{};
  int ln = loopback_listener(128, &addr);
  set_conn_opts(ln);
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  auto start = clock_type::now();
  for (int i = 0; i < n; ++i) {
    int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c < 0) die("socket");
    if (::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 || errno != EINPROGRESS) die("connect");
    sockaddr_storage peer, local;
    socklen_t len = sizeof peer;
    if (::getpeername(c, reinterpret_cast<sockaddr*>(&peer), &len) != 0) die("getpeername");
    len = sizeof local;
    ::getsockname(c, reinterpret_cast<sockaddr*>(&local), &len);
    set_conn_opts(c);
    char b = 1;
    if (::send(c, &b, 1, MSG_NOSIGNAL) != 1 || ::read(c, &b, 1) != -1 || errno != EAGAIN) die("client io");
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.fd = c;
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev) != 0) die("epoll_ctl");
    len = sizeof peer;
    int s = ::accept4(ln, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (s < 0) die("accept4");
    len = sizeof local;
    ::getsockname(s, reinterpret_cast<sockaddr*>(&local), &len);
    if (::read(s, &b, 1) != 1 || ::send(s, &b, 1, MSG_NOSIGNAL) != 1) die("server io");
    ::close(s);
    epoll_event events[8];
    if (::epoll_wait(ep, events, 8, 0) < 1) die("epoll_wait");
    if (::read(c, &b, 1) != 1) die("client read");
    ::epoll_ctl(ep, EPOLL_CTL_DEL, c, &ev);
    ::close(c);
  }
  double ns = std::chrono::duration<double, std::nano>(clock_type::now() - start).count();
  ::close(ep);
  ::close(ln);
  return ns / n;
}

struct scenario {
  const char* name;
  int default_n;
  double (*run)(int);
};

const std::vector<scenario> scenarios{
    {"rtt_1thread", 50'000, rtt_1thread}, {"rtt_2threads", 50'000, rtt_2threads}, {"rtt_epoll", 50'000, rtt_epoll},
#ifdef GOCXX_NET_FLOOR_URING
    {"rtt_uring", 50'000, rtt_uring},
#endif
    {"echo_64x64", 200'000, echo_64x64},  {"dial_1thread", 4'000, dial_1thread},  {"dial_calls", 4'000, dial_calls},
};

}  // namespace

int main(int argc, char** argv) {
  std::string only;
  int n = 0, reps = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "-scenario") only = argv[i + 1];
    else if (flag == "-n") n = std::atoi(argv[i + 1]);
    else if (flag == "-reps") reps = std::max(1, std::atoi(argv[i + 1]));
    else {
      std::fprintf(stderr, "usage: net_floor [-scenario NAME] [-n N] [-reps R]\n");
      return 2;
    }
  }
  for (const scenario& s : scenarios) {
    if (!only.empty() && only != s.name) continue;
    const int count = n > 0 ? n : s.default_n;
    std::vector<double> runs;
    for (int r = 0; r < reps; ++r) runs.push_back(s.run(count));
    std::sort(runs.begin(), runs.end());
    std::printf("%s %.0f ns/op %d\n", s.name, runs[runs.size() / 2], count);
  }
  return 0;
}
