// Unbuffered and buffered channels.
//
// An unbuffered channel is a rendezvous: a send waits for a receiver. A buffered channel
// accepts up to cap values without a receiver.
#include <cstdio>
#include <string>

#include "go/go.hpp"

void example_channels() {
  // Unbuffered: ping-pong between two goroutines.
  auto ping = go::make_chan<int>(), pong = go::make_chan<int>();
  go::spawn([ping, pong] {
    for (int v : ping) pong << v + 1;
    pong.close();
  });
  int x = 0;
  for (int i = 0; i < 5; ++i) {
    ping << x;
    x = *pong.recv();
  }
  ping.close();
  std::printf("unbuffered: after 5 round trips x = %d\n", x);

  // Buffered: two sends succeed with nobody receiving yet.
  auto messages = go::make_chan<std::string>(2);
  messages << "buffered";
  messages << "channel";
  std::printf("buffered: len %zu cap %zu\n", messages.len(), messages.cap());
  std::printf("%s\n", messages.recv()->c_str());
  std::printf("%s\n", messages.recv()->c_str());
}

#ifndef GOCXX_TOUR
int main() { go::run(example_channels); }
#endif
