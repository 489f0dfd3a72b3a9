// The profiles over HTTP (go/pprof_http.hpp): every path fetched with a go::net client, the
// server's answers to requests that are not what it serves, and `go tool pprof` reading a
// profile from the server (skipped without Go).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <string>

#include "go/go.hpp"
#include "go/net.hpp"
#include "go/pprof.hpp"
#include "go/pprof_http.hpp"
#include "go/trace.hpp"
#include "go_tool.hpp"

using namespace std::chrono_literals;

namespace {

__attribute__((noinline)) void pprof_http_receiver(go::chan<int> ch) {
  ch.recv();
  asm volatile("");
}

struct http_response {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
};

std::span<const std::byte> bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

// Reads from c until the server closes it (or it fails), then closes it.
std::string read_to_end(const go::net::conn& c) {
  std::string all;
  for (;;) {
    char buf[4096];
    auto [n, e] = c.read(std::as_writable_bytes(std::span(buf)));
    all.append(buf, n);
    if (e) break;
  }
  (void)c.close();
  return all;
}

// Sends `raw` to the server at addr and reads the answer until the server closes.
http_response send_request(const std::string& addr, std::string_view raw) {
  auto [c, err] = go::net::dial("tcp", addr);
  EXPECT_FALSE(err) << err.message();
  EXPECT_FALSE(c.write(bytes(raw)).err);
  std::string all = read_to_end(c);
  http_response r;
  std::size_t end = all.find("\r\n\r\n");
  if (all.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos) return r;
  r.status = std::stoi(all.substr(9, 3));
  r.head = all.substr(0, end);
  r.body = all.substr(end + 4);
  return r;
}

http_response get(const std::string& addr, const std::string& target) {
  return send_request(addr, "GET " + target + " HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\n\r\n");
}

// Runs f(addr) in a goroutine with a server on a free local port, then closes it.
template <class F>
void with_server(F f) {
  go::run([&] {
    auto [ln, err] = go::pprof::listen_and_serve("127.0.0.1:0");
    ASSERT_FALSE(err) << err.message();
    f(ln.addr().string());
    (void)ln.close();
  });
}

bool has_header(const http_response& r, const std::string& line) {
  return r.head.find("\r\n" + line + "\r\n") != std::string::npos;
}

}  // namespace

TEST(PprofHttp, IndexListsEveryProfile) {
  with_server([](const std::string& addr) {
    http_response r = get(addr, "/debug/pprof/");
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(has_header(r, "Content-Type: text/html; charset=utf-8")) << r.head;
    EXPECT_TRUE(has_header(r, "Content-Length: " + std::to_string(r.body.size()))) << r.head;
    for (const char* name :
         {"goroutine?debug=1", "block?debug=1", "mutex?debug=1", "cmdline", "profile?seconds=30", "trace?seconds=1"}) {
      EXPECT_NE(r.body.find(std::string("href=\"") + name + "\""), std::string::npos) << name << "\n" << r.body;
    }
  });
}

TEST(PprofHttp, ProfilesAreGzippedProfileProto) {
  with_server([](const std::string& addr) {
    for (const char* name : {"goroutine", "block", "mutex"}) {
      http_response r = get(addr, std::string("/debug/pprof/") + name);
      EXPECT_EQ(r.status, 200) << name;
      EXPECT_TRUE(has_header(r, "Content-Type: application/octet-stream")) << r.head;
      EXPECT_TRUE(has_header(r, "Content-Length: " + std::to_string(r.body.size()))) << r.head;
      ASSERT_GE(r.body.size(), 2u) << name;
      EXPECT_EQ(static_cast<unsigned char>(r.body[0]), 0x1f) << name;  // gzip's magic
      EXPECT_EQ(static_cast<unsigned char>(r.body[1]), 0x8b) << name;
    }
  });
}

TEST(PprofHttp, DebugQueryGivesTheTextForms) {
  with_server([](const std::string& addr) {
    auto ch = go::make_chan<int>();
    int base = go::num_goroutine();
    go::spawn(pprof_http_receiver, ch);
    for (int i = 0; i < 500 && go::num_goroutine() < base + 1; ++i) go::sleep(1ms);
    go::sleep(20ms);  // for it to park
    http_response text = get(addr, "/debug/pprof/goroutine?debug=1");
    EXPECT_EQ(text.status, 200);
    EXPECT_TRUE(has_header(text, "Content-Type: text/plain; charset=utf-8")) << text.head;
    EXPECT_EQ(text.body.rfind("goroutine profile: total ", 0), 0u) << text.body;
    EXPECT_NE(text.body.find("pprof_http_receiver"), std::string::npos) << text.body;
    http_response dump = get(addr, "/debug/pprof/goroutine?debug=2");
    EXPECT_EQ(dump.status, 200);
    EXPECT_NE(dump.body.find("[chan receive"), std::string::npos) << dump.body;
    EXPECT_NE(dump.body.find("pprof_http_receiver"), std::string::npos) << dump.body;
    EXPECT_EQ(get(addr, "/debug/pprof/block?debug=1").body.rfind("--- contention:\n", 0), 0u);
    EXPECT_EQ(get(addr, "/debug/pprof/mutex?debug=1").body.rfind("--- mutex:\n", 0), 0u);
    ch.send(1);
  });
}

TEST(PprofHttp, CmdlineIsTheArgumentsJoinedByNul) {
  std::string expected;
  int fd = ::open("/proc/self/cmdline", O_RDONLY);
  ASSERT_GE(fd, 0);
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) expected.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  expected.pop_back();  // the last argument's NUL
  with_server([&](const std::string& addr) {
    http_response r = get(addr, "/debug/pprof/cmdline");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, expected);
  });
}

TEST(PprofHttp, TraceRecordsForTheSecondsAsked) {
  with_server([](const std::string& addr) {
    http_response r = get(addr, "/debug/pprof/trace?seconds=1");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(has_header(r, "Content-Type: application/json")) << r.head;
    EXPECT_EQ(r.body.rfind("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[", 0), 0u) << r.body.substr(0, 200);
    EXPECT_EQ(r.body.substr(r.body.size() - 3), "]}\n");
    EXPECT_EQ(get(addr, "/debug/pprof/trace?seconds=x").status, 400);
    EXPECT_EQ(get(addr, "/debug/pprof/trace?seconds=0").status, 400);
  });
}

TEST(PprofHttp, TraceWhileOneRunsIs500) {
  with_server([](const std::string& addr) {
    std::ostringstream out;
    go::trace::start(out);
    http_response r = get(addr, "/debug/pprof/trace?seconds=1");
    go::trace::stop();
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.body.rfind("Could not enable tracing: ", 0), 0u) << r.body;
  });
}

TEST(PprofHttp, CpuProfileForTheSecondsAsked) {
  with_server([](const std::string& addr) {
    http_response r = get(addr, "/debug/pprof/profile?seconds=1");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(has_header(r, "Content-Type: application/octet-stream")) << r.head;
    ASSERT_GE(r.body.size(), 2u);
    EXPECT_EQ(static_cast<unsigned char>(r.body[0]), 0x1f);
    EXPECT_EQ(static_cast<unsigned char>(r.body[1]), 0x8b);
    EXPECT_EQ(get(addr, "/debug/pprof/profile?seconds=-1").status, 400);
    std::ostringstream out;
    go::pprof::start_cpu_profile(out);
    http_response busy = get(addr, "/debug/pprof/profile?seconds=1");
    go::pprof::stop_cpu_profile();
    EXPECT_EQ(busy.status, 500);
    EXPECT_EQ(busy.body, "Could not enable CPU profiling: cpu profiling already in use\n");
  });
}

TEST(PprofHttp, UnknownPathsAre404) {
  with_server([](const std::string& addr) {
    http_response other = get(addr, "/index.html");
    EXPECT_EQ(other.status, 404);
    EXPECT_EQ(other.body, "404 page not found\n");
    http_response heap = get(addr, "/debug/pprof/heap");
    EXPECT_EQ(heap.status, 404);
    EXPECT_EQ(heap.body, "Unknown profile\n");
  });
}

TEST(PprofHttp, MalformedRequestsAre400) {
  with_server([](const std::string& addr) {
    EXPECT_EQ(send_request(addr, "NONSENSE\r\n\r\n").status, 400);
    EXPECT_EQ(send_request(addr, "GET /debug/pprof/ HTTP/2.0\r\n\r\n").status, 400);
    EXPECT_EQ(send_request(addr, "GET debug/pprof/ HTTP/1.1\r\n\r\n").status, 400);
    EXPECT_EQ(send_request(addr, "GET /debug/pprof/ HTTP/1.1\r\nno colon here\r\n\r\n").status, 400);
    EXPECT_EQ(send_request(addr, "GET /debug/pprof/goroutine?debug=%zz HTTP/1.1\r\n\r\n").status, 400);
    EXPECT_EQ(get(addr, "/debug/pprof/goroutine?debug=one").status, 400);
    // Closed halfway through the head: a partial request.
    auto [c, err] = go::net::dial("tcp", addr);
    ASSERT_FALSE(err);
    EXPECT_FALSE(c.write(bytes("GET /debug/pprof/ HT")).err);
    EXPECT_FALSE(c.close_write());
    std::string all = read_to_end(c);
    EXPECT_EQ(all.rfind("HTTP/1.1 400 ", 0), 0u) << all;
  });
}

// A client that never finishes its head is cut off (after the server's 10 s head deadline)
// without an answer, so it cannot hold the connection's goroutine forever.
TEST(PprofHttp, ClientTooSlowToSendItsHeadIsDisconnected) {
  with_server([](const std::string& addr) {
    auto [c, err] = go::net::dial("tcp", addr);
    ASSERT_FALSE(err);
    EXPECT_FALSE(c.write(bytes("GET /debug/pprof/ HTTP/1.1\r\n")).err);
    EXPECT_EQ(read_to_end(c), "");
  });
}

TEST(PprofHttp, OtherMethodsAre405AndHeadHasNoBody) {
  with_server([](const std::string& addr) {
    EXPECT_EQ(send_request(addr, "POST /debug/pprof/ HTTP/1.1\r\nContent-Length: 0\r\n\r\n").status, 405);
    http_response head = send_request(addr, "HEAD /debug/pprof/cmdline HTTP/1.1\r\n\r\n");
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.body, "");
    EXPECT_NE(head.head.find("\r\nContent-Length: "), std::string::npos) << head.head;
  });
}

TEST(PprofHttp, HeadOverTheLimitIs431) {
  with_server([](const std::string& addr) {
    std::string big = "GET /debug/pprof/ HTTP/1.1\r\nX-Filler: " + std::string(9000, 'a') + "\r\n\r\n";
    EXPECT_EQ(send_request(addr, big).status, 431);
    // Just under the limit is served.
    std::string fits = "GET /debug/pprof/cmdline HTTP/1.1\r\nX-Filler: " + std::string(8000, 'a') + "\r\n\r\n";
    EXPECT_EQ(send_request(addr, fits).status, 200);
  });
}

TEST(PprofHttp, ServeReturnsOnceTheListenerCloses) {
  go::run([] {
    go::net::listener_result listening = go::net::listen("tcp", "127.0.0.1:0");
    ASSERT_FALSE(listening.err);
    go::net::listener ln = listening.listener;
    auto done = go::make_chan<go::error>(1);
    go::spawn([=] { done.send(go::pprof::serve(ln)); });
    EXPECT_EQ(get(ln.addr().string(), "/debug/pprof/cmdline").status, 200);
    (void)ln.close();
    go::error served = *done.recv();
    EXPECT_TRUE(served.is(go::net::err_closed)) << served.message();
  });
}

TEST(PprofHttp, GoToolPprofReadsTheGoroutineAndCpuProfiles) {
  if (!gocxx_test::have_go()) GTEST_SKIP() << "go is not installed";
  with_server([](const std::string& addr) {
    auto ch = go::make_chan<int>();
    for (int i = 0; i < 3; ++i) go::spawn(pprof_http_receiver, ch);
    go::sleep(20ms);
    std::string raw =
        go::blocking([&] { return gocxx_test::pprof("-raw", "http://" + addr + "/debug/pprof/goroutine"); });
    EXPECT_NE(raw.find("PeriodType: goroutine count"), std::string::npos) << raw;
    EXPECT_NE(raw.find("pprof_http_receiver"), std::string::npos) << raw;
    for (int i = 0; i < 3; ++i) ch.send(i);
    std::string cpu =
        go::blocking([&] { return gocxx_test::pprof("-raw", "http://" + addr + "/debug/pprof/profile?seconds=1"); });
    EXPECT_NE(cpu.find("PeriodType: cpu nanoseconds"), std::string::npos) << cpu;
  });
}
