// select: wait on several channels, with a timeout (time.After) and with a default case.
#include <chrono>
#include <cstdio>
#include <string>

#include "go/go.hpp"

using namespace std::chrono_literals;

void example_select() {
  auto c1 = go::make_chan<std::string>(1), c2 = go::make_chan<std::string>(1);
  go::spawn([c1] {
    go::sleep(10ms);
    c1 << "one";
  });
  go::spawn([c2] {
    go::sleep(20ms);
    c2 << "two";
  });
  for (int i = 0; i < 2; ++i) {  // whichever is ready first; here c1 always is
    go::select(go::recv_case(c1, [](auto v) { std::printf("received %s\n", v->c_str()); }),
               go::recv_case(c2, [](auto v) { std::printf("received %s\n", v->c_str()); }));
  }

  // Timeout: the result comes after 50ms, we wait 10ms.
  auto slow = go::make_chan<std::string>(1);  // buffered: the sender never blocks forever
  go::spawn([slow] {
    go::sleep(50ms);
    slow << "result";
  });
  go::select(go::recv_case(slow, [](auto v) { std::printf("%s\n", v->c_str()); }),
             go::recv_case(go::after(10ms), [](auto) { std::printf("timeout after 10ms\n"); }));

  // Default: non-blocking receive and send.
  auto messages = go::make_chan<std::string>();
  go::select(go::recv_case(messages, [](auto v) { std::printf("received %s\n", v->c_str()); }),
             go::default_case([] { std::printf("no message received\n"); }));
  go::select(go::send_case(messages, std::string("hi"), [] { std::printf("sent message\n"); }),
             go::default_case([] { std::printf("no message sent\n"); }));
}

#ifndef GOCXX_TOUR
int main() { go::run(example_select); }
#endif
