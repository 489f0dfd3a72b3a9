// Scheduler and fiber-lifecycle scenarios (bench/peers/go/sched.go in Boost.Fiber).
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "peer.hpp"

namespace peer {
namespace {

// spawn_join: N fibers each call wg.done(); main waits.
results spawn_join(int n) {
  wait_group wg;
  auto start = clock_type::now();
  wg.add(n);
  for (int i = 0; i < n; ++i) spawn([&wg] { wg.done(); });
  wg.wait();
  return ns_per_op("spawn_join", since_ns(start), n, n);
}

// yield_pingpong: two fibers each call this_fiber::yield() N times.
results yield_pingpong(int n) {
  wait_group wg;
  i64 counts[2] = {0, 0};
  auto start = clock_type::now();
  wg.add(2);
  for (int g = 0; g < 2; ++g) {
    spawn([&wg, &counts, g, n] {
      i64 c = 0;
      for (int i = 0; i < n; ++i) {
        boost::this_fiber::yield();
        ++c;
      }
      counts[g] = c;
      wg.done();
    });
  }
  wg.wait();
  i64 el = since_ns(start);
  return ns_per_op("yield_pingpong", el, 2 * static_cast<i64>(n), counts[0] + counts[1]);
}

// create_goroutines: a chain f(N), f(N-1), ..., f(0); each spawns the next and exits, f(0)
// sends on c.
void create_chain(int n, fibers::unbuffered_channel<bool>* c) {
  if (n == 0) {
    c->push(true);
    return;
  }
  spawn(create_chain, n - 1, c);
}

results create_goroutines(int n) {
  fibers::unbuffered_channel<bool> c;
  auto start = clock_type::now();
  spawn(create_chain, n, &c);
  recv(c);
  return ns_per_op("create_goroutines", since_ns(start), n, n);
}

// rss_bytes returns a field of /proc/self/status in bytes (0 if unavailable): VmRSS, the
// resident set now, or VmHWM, its peak since the process started.
i64 rss_bytes(const char* field = "VmRSS:") {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  i64 kb = 0;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, field, std::strlen(field)) == 0) {
      kb = std::strtoll(line + std::strlen(field), nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return kb * 1024;
}

// parked_1m: N fibers parked on one channel; memory per fiber and spawn time. Closing the
// channel wakes every fiber blocked in pop() with channel_op_status::closed.
results parked_1m(int n) {
  fibers::unbuffered_channel<char> ch;
  wait_group started, exited;
  started.add(n);
  exited.add(n);
  i64 before = rss_bytes();
  auto start = clock_type::now();
  for (int i = 0; i < n; ++i) {
    spawn([&started, &exited, &ch] {
      started.done();
      char v;
      ch.pop(v);
      exited.done();
    });
  }
  started.wait();
  i64 spawned = since_ns(start);
  i64 after = rss_bytes();
  ch.close();
  exited.wait();
  i64 peak = rss_bytes("VmHWM:");
  return {
      {"parked_1m", static_cast<double>(after - before) / n, "B/goroutine", n},
      {"parked_1m_peak", static_cast<double>(peak - before) / n, "B/goroutine", n},
      {"parked_1m_spawn", static_cast<double>(spawned) / n, "ns/op", n},
  };
}

// wake_1m: N fibers parked on one channel; time from close(ch) until all of them exited.
results wake_1m(int n) {
  fibers::unbuffered_channel<char> ch;
  std::vector<std::int32_t> woke(static_cast<std::size_t>(n), 0);
  wait_group started, exited;
  started.add(n);
  exited.add(n);
  for (int i = 0; i < n; ++i) {
    spawn([&started, &exited, &ch, &woke, i] {
      started.done();
      char v;
      if (ch.pop(v) == fibers::channel_op_status::closed) woke[static_cast<std::size_t>(i)] = 1;
      exited.done();
    });
  }
  started.wait();
  boost::this_fiber::sleep_for(std::chrono::milliseconds(20));  // untimed: let the last few park
  auto start = clock_type::now();
  ch.close();
  exited.wait();
  i64 el = since_ns(start);
  i64 sum = 0;
  for (auto w : woke) sum += w;
  return ns_per_op("wake_1m", el, n, sum);
}

// sleep_100k: N fibers each doing 10 x sleep_for(1 ms). The value is the wall time of the
// whole run in ns (op = the whole run).
results sleep_100k(int n) {
  constexpr int sleeps = 10;
  std::vector<std::int32_t> counts(static_cast<std::size_t>(n), 0);
  wait_group wg;
  auto start = clock_type::now();
  wg.add(n);
  for (int i = 0; i < n; ++i) {
    spawn([&wg, &counts, i] {
      for (int k = 0; k < sleeps; ++k) {
        boost::this_fiber::sleep_for(std::chrono::milliseconds(1));
        ++counts[static_cast<std::size_t>(i)];
      }
      wg.done();
    });
  }
  wg.wait();
  i64 el = since_ns(start);
  i64 sum = 0;
  for (auto c : counts) sum += c;
  return ns_per_op("sleep_100k", el, 1, sum);
}

// spin busy-waits on the monotonic clock for d, without yielding.
void spin(clock_type::duration d) {
  auto end = clock_type::now() + d;
  while (clock_type::now() < end) {
  }
}

// wakeup_parallel_spinning_<delay>: Go's BenchmarkWakeupParallelSpinning for one delay.
std::function<results(int)> wakeup_parallel_spinning(std::chrono::microseconds delay) {
  constexpr std::chrono::microseconds wake_delay(5);
  std::string name = "wakeup_parallel_spinning_" + std::to_string(delay.count()) + "us";
  return [name, delay, wake_delay](int n) {
    fibers::unbuffered_channel<char> ping, pong, start;
    fibers::unbuffered_channel<i64> done;
    spawn([&, n] {
      recv(start);
      i64 c = 0;
      for (int i = 0; i < n; ++i) {
        // sender
        spin(delay + wake_delay);
        ping.push(0);
        // receiver
        spin(delay);
        recv(pong);
        ++c;
      }
      done.push(c);
    });
    spawn([&, n] {
      i64 c = 0;
      for (int i = 0; i < n; ++i) {
        // receiver
        spin(delay);
        recv(ping);
        // sender
        spin(delay + wake_delay);
        pong.push(0);
        ++c;
      }
      done.push(c);
    });
    auto t0 = clock_type::now();
    start.push(0);
    i64 sum = recv(done);
    sum += recv(done);
    return ns_per_op(name, since_ns(t0), n, sum);
  };
}

// skynet_div is the fan-out of skynet's tree.
constexpr int skynet_div = 10;

// skynet_node covers the numbers num..num+size-1: child i covers
// [num + i*size/10, num + (i+1)*size/10), and empty children are not spawned. A leaf pushes its
// number, an inner node the sum of its children's, on c. rc, on the node's stack, holds all its
// children's sums (capacity 10 -> 16), so a child's push never blocks; a push is done with the
// channel once it releases the channel's lock, before it wakes the popping parent, so the parent
// may return (and destroy rc) after its last pop. Children start with launch::dispatch (the
// child runs at once, its parent is queued), as in Boost's own skynet benchmark: with
// launch::post (peer::spawn) the FIFO ready queue runs the tree breadth first, with all 1.1M
// fibers alive at once (10 GB and 38 s at GOMAXPROCS=1), where Go and gocxx run the newest
// goroutine next (their `next` slot) and so keep far fewer alive (under 200 MB).
void skynet_node(buffered& c, i64 num, i64 size) {
  if (size == 1) {
    c.push(num);
    return;
  }
  buffered rc(buffered_capacity(skynet_div));
  int children = 0;
  for (int i = 0; i < skynet_div; ++i) {
    i64 lo = num + i * size / skynet_div, hi = num + (i + 1) * size / skynet_div;
    if (lo < hi) {
      fibers::fiber(fibers::launch::dispatch, std::allocator_arg, fibers::fixedsize_stack(stack_size), skynet_node,
                    std::ref(rc), lo, hi - lo)
          .detach();
      ++children;
    }
  }
  i64 sum = 0;
  for (; children > 0; --children) sum += recv(rc);
  c.push(sum);
}

// skynet: a tree of fibers over the numbers 0..N-1, summed over channels.
results skynet(int n) {
  auto start = clock_type::now();
  buffered c(buffered_capacity(1));
  spawn(skynet_node, std::ref(c), i64{0}, i64{n});
  i64 sum = recv(c);
  return ns_per_op("skynet", since_ns(start), n, sum);
}

}  // namespace

std::vector<scenario> sched_scenarios() {
  using std::chrono::microseconds;
  return {
      {"spawn_join", 1'000'000, spawn_join},
      {"yield_pingpong", 1'000'000, yield_pingpong},
      {"create_goroutines", 1'000'000, create_goroutines},
      {"parked_1m", 1'000'000, parked_1m},
      {"wake_1m", 1'000'000, wake_1m},
      {"sleep_100k", 100'000, sleep_100k},
      {"wakeup_parallel_spinning_0us", 20'000, wakeup_parallel_spinning(microseconds(0))},
      {"wakeup_parallel_spinning_5us", 10'000, wakeup_parallel_spinning(microseconds(5))},
      {"skynet", 1'000'000, skynet},
  };
}

}  // namespace peer
