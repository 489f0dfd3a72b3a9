// Pattern scenarios (bench/peers/go/patterns.go in Boost.Fiber): worker pool, pipeline, fan-in.
//
// Boost.Fiber has no select and no context, so these are the plain versions a Boost.Fiber user
// writes: every goroutine's `select { case out <- v: case <-ctx.Done(): }` is a plain push, and
// the end of the input flows downstream by closing channels. The Go and gocxx numbers include
// watching the context; these do not.
//
// The channels live in the scenario's frame, and a fiber that closes one may still be inside
// close() when its consumer sees the close (an atomic flag), so every fiber is counted in
// `exited`, which is waited for after the timed region, as in chans.cpp.
#include <array>

#include "peer.hpp"

namespace peer {
namespace {

// spawn_counted spawns f in a fiber that calls exited.done() when f returns.
template <class F>
void spawn_counted(wait_group& exited, F f) {
  spawn([&exited, f]() mutable {
    f();
    exited.done();
  });
}

// generate pushes from..to on out, then closes it.
template <class Chan>
void generate(Chan& out, i64 from, i64 to) {
  for (i64 i = from; i <= to; ++i) out.push(i);
  out.close();
}

// forward pushes f(v) on out for every v popped from in, until in is closed.
template <class Chan, class F>
void forward(Chan& in, Chan& out, F f) {
  i64 v;
  while (in.pop(v) == fibers::channel_op_status::success) out.push(f(v));
}

// sum_until_closed is main's part: it pops from c until it is closed, ends the timed region
// begun at start, then waits for the scenario's fibers (untimed).
template <class Chan>
results sum_until_closed(const char* name, clock_type::time_point start, i64 ops, Chan& c, wait_group& exited) {
  i64 sum = 0, v;
  while (c.pop(v) == fibers::channel_op_status::success) sum += v;
  i64 el = since_ns(start);
  exited.wait();
  return ns_per_op(name, el, ops, sum);
}

// pool_4x1m: 4 workers over N tiny jobs (j*2) from a queue of 128 (-> 255); op = one job
// submitted, run and its result received.
results pool_4x1m(int n) {
  constexpr int workers_count = 4;
  auto start = clock_type::now();
  buffered jobs(buffered_capacity(128)), done_jobs(buffered_capacity(128));
  wait_group workers, exited;
  workers.add(workers_count);
  exited.add(workers_count + 2);
  for (int w = 0; w < workers_count; ++w) {
    spawn_counted(exited, [&jobs, &done_jobs, &workers] {
      forward(jobs, done_jobs, [](i64 j) { return j * 2; });
      workers.done();
    });
  }
  spawn_counted(exited, [&jobs, n] { generate(jobs, 1, n); });
  spawn_counted(exited, [&done_jobs, &workers] {
    workers.wait();
    done_jobs.close();
  });
  return sum_until_closed("pool_4x1m", start, n, done_jobs, exited);
}

// pipeline_3stage_1m: generate 1..N -> *3 -> +1 -> main, unbuffered channels; op = one value
// through all stages.
results pipeline_3stage_1m(int n) {
  auto start = clock_type::now();
  unbuffered numbers, tripled, out;
  wait_group exited;
  exited.add(3);
  spawn_counted(exited, [&numbers, n] { generate(numbers, 1, n); });
  spawn_counted(exited, [&numbers, &tripled] {
    forward(numbers, tripled, [](i64 v) { return v * 3; });
    tripled.close();
  });
  spawn_counted(exited, [&tripled, &out] {
    forward(tripled, out, [](i64 v) { return v + 1; });
    out.close();
  });
  return sum_until_closed("pipeline_3stage_1m", start, n, out, exited);
}

// fanin_8: 8 generators of N/8 values each, merged (a fiber per input) into one unbuffered
// channel; op = one value received from the merged channel.
results fanin_8(int n) {
  constexpr int inputs_count = 8;
  int per = n / inputs_count;
  auto start = clock_type::now();
  std::array<unbuffered, inputs_count> inputs;
  unbuffered out;
  wait_group forwarders, exited;
  forwarders.add(inputs_count);
  exited.add(2 * inputs_count + 1);
  for (auto& in : inputs) {
    spawn_counted(exited, [&in, per] { generate(in, 1, per); });
    spawn_counted(exited, [&in, &out, &forwarders] {
      forward(in, out, [](i64 v) { return v; });
      forwarders.done();
    });
  }
  spawn_counted(exited, [&out, &forwarders] {
    forwarders.wait();
    out.close();
  });
  return sum_until_closed("fanin_8", start, static_cast<i64>(per) * inputs_count, out, exited);
}

}  // namespace

std::vector<scenario> pattern_scenarios() {
  return {
      {"pool_4x1m", 1'000'000, pool_4x1m},
      {"pipeline_3stage_1m", 1'000'000, pipeline_3stage_1m},
      {"fanin_8", 1'000'000, fanin_8},
  };
}

}  // namespace peer
