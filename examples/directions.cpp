// Directional channels: a function that only sends takes go::send_chan<T> (Go's chan<- T), one
// that only receives takes go::recv_chan<T> (<-chan T). A go::chan<T> converts to either.
#include <cstdio>
#include <string>

#include "go/go.hpp"

namespace {

void ping(go::send_chan<std::string> pings, std::string msg) { pings << std::move(msg); }

void pong(go::recv_chan<std::string> pings, go::send_chan<std::string> pongs) { pongs << *pings.recv() + " (relayed)"; }

}  // namespace

void example_directions() {
  auto pings = go::make_chan<std::string>(1);
  auto pongs = go::make_chan<std::string>(1);
  ping(pings, "passed message");
  pong(pings, pongs);
  std::printf("%s\n", pongs.recv()->c_str());
}

#ifndef GOCXX_TOUR
int main() { go::run(example_directions); }
#endif
