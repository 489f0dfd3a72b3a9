// Echo server: a goroutine per connection copies what it reads back to the client
// (io::copy), while a client in the same program sends lines and reads the echoes with a
// bufio reader. Both ends run on 127.0.0.1 with a port the system picks.
#include <cstdio>
#include <string>

#include "go/bufio.hpp"
#include "go/go.hpp"
#include "go/io.hpp"
#include "go/net.hpp"

void example_echo_server() {
  auto [ln, err] = go::net::listen("tcp", "127.0.0.1:0");
  if (err) {
    std::printf("listen: %s\n", err.message().c_str());
    return;
  }
  go::wait_group wg;  // the accept loop and every connection's goroutine
  wg.go([ln = ln, &wg] {
    for (;;) {
      auto [c, err] = ln.accept();
      if (err) return;  // the listener was closed
      wg.go([c = c] {
        (void)go::io::copy(c, c);  // until the client closes its side
        (void)c.close();
      });
    }
  });

  auto [c, dial_err] = go::net::dial("tcp", ln.addr().string());
  if (dial_err) {
    std::printf("dial: %s\n", dial_err.message().c_str());
  } else {
    go::bufio::reader replies(c);
    for (std::string line : {"hello", "echo", "goodbye"}) {
      if (auto err = go::io::write_string(c, line + "\n").err) {
        std::printf("write: %s\n", err.message().c_str());
        break;
      }
      auto [reply, err] = replies.read_string('\n');
      if (err) {
        std::printf("read: %s\n", err.message().c_str());
        break;
      }
      std::printf("sent %-8s got back %s", line.c_str(), reply.c_str());
    }
    (void)c.close();
  }
  (void)ln.close();
  wg.wait();
}

#ifndef GOCXX_TOUR
int main() { go::run(example_echo_server); }
#endif
