// A counter shared by many goroutines: guarded by a mutex, or owned by one goroutine that the
// others talk to over channels ("share memory by communicating").
#include <cstdio>
#include <mutex>

#include "go/go.hpp"

void example_counters() {
  const int goroutines = 50, increments = 1000;

  // 1. A mutex protects the counter.
  go::mutex mu;
  long counter = 0;
  go::wait_group wg;
  for (int g = 0; g < goroutines; ++g) {
    // By reference: mu and counter outlive the goroutines, since wg.wait() returns first.
    wg.go([&] {
      for (int i = 0; i < increments; ++i) {
        std::lock_guard lock(mu);
        ++counter;
      }
    });
  }
  wg.wait();
  std::printf("mutex counter: %ld\n", counter);

  // 2. One goroutine owns the counter; others send increments and ask for the value.
  // Unbuffered: a send completes only when the owner has taken the increment, so once every
  // sender is done, every increment has been counted before the read is served.
  auto increment = go::make_chan<int>();
  auto read = go::make_chan<go::chan<long>>();
  go::spawn([increment, read] {
    long owned = 0;
    for (;;) {
      // select returns what the chosen handler returns (false for the increment case): true
      // once read is closed, which ends the loop, as `return` inside Go's case does.
      bool closed = go::select(go::recv_case(increment, [&](std::optional<int> d) { owned += d.value_or(0); }),
                               go::recv_case(read, [&](std::optional<go::chan<long>> reply) {
                                 if (!reply) return true;
                                 *reply << owned;
                                 return false;
                               }));
      if (closed) return;
    }
  });
  go::wait_group senders;
  for (int g = 0; g < goroutines; ++g) {
    senders.go([&] {
      for (int i = 0; i < increments; ++i) increment << 1;
    });
  }
  senders.wait();
  auto reply = go::make_chan<long>();
  read << reply;
  std::printf("channel-owned counter: %ld\n", *reply.recv());
  read.close();  // the owner returns
}

#ifndef GOCXX_TOUR
int main() { go::run(example_counters); }
#endif
