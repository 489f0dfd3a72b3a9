// The examples tour: each idea a Go programmer meets first, in order, with a heading each.
#include <cstdio>

#include "go/go.hpp"

int main() {
  return go::run([] {
    std::printf("== goroutines and a wait group\n");
    go::wait_group wg;
    auto results = go::make_chan<int>(10);
    for (int i = 1; i <= 10; ++i) wg.go([i, results] { results << i * i; });
    wg.wait();
    results.close();
    int sum = 0;
    for (int v : results) sum += v;
    std::printf("sum of squares 1..10 = %d\n", sum);

    std::printf("== unbuffered ping-pong\n");
    auto ping = go::make_chan<int>(), pong = go::make_chan<int>();
    go::spawn([ping, pong] {
      for (auto v = ping.recv(); v; v = ping.recv()) pong << *v + 1;
      pong.close();
    });
    int x = 0;
    for (int i = 0; i < 5; ++i) {
      ping << x;
      x = *pong.recv();
    }
    ping.close();
    std::printf("after 5 round trips: %d\n", x);

    std::printf("== select with a timeout\n");
    auto never = go::make_chan<int>();
    int chosen = go::select(go::recv_case(never, [](std::optional<int>) { std::printf("value?\n"); }),
                            go::recv_case(go::after(std::chrono::milliseconds(10)),
                                          [](auto) { std::printf("timeout after 10ms\n"); }));
    return chosen == 1 ? 0 : 1;
  });
}
