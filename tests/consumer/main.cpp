// A program built against the installed package, possibly by another compiler than the
// library's (tests/CMakeLists.txt). It calls every blocking operation whose out-of-line part
// takes the caller's position (go::detail::source_location), so that a type in those exported
// signatures that differs between compilers fails to link here.
#include <go/go.hpp>

#include <cstdio>
#include <mutex>
#include <optional>
#include <shared_mutex>

namespace {

int check(bool ok, const char* what) {
  if (!ok) std::fprintf(stderr, "consumer: %s failed\n", what);
  return ok ? 0 : 1;
}

}  // namespace

int main() {
  return go::run([] {
    int failures = 0;

    // An unbuffered channel: chan_send and chan_recv.
    auto ch = go::make_chan<int>();
    go::spawn([ch] { ch << 42; });
    failures += check(ch.recv().value_or(0) == 42, "chan send and receive");

    // select_go.
    go::spawn([ch] { ch << 7; });
    int got = 0;
    go::select(go::recv_case(ch, [&got](std::optional<int> v) { got = v.value_or(0); }));
    failures += check(got == 7, "select");

    // mutex::lock_slow, rw_mutex::lock, semacquire (a reader behind a writer), cond::wait,
    // wait_group::wait.
    go::mutex mu;
    go::rw_mutex rw;
    go::cond ready(mu);
    bool flag = false;
    go::wait_group wg;
    wg.go([&mu, &rw, &ready, &flag] {
      std::shared_lock read(rw);
      std::lock_guard lock(mu);
      flag = true;
      ready.signal();
    });
    {
      std::unique_lock lock(mu);
      while (!flag) ready.wait();
    }
    wg.wait();
    { std::lock_guard write(rw); }
    failures += check(flag, "sync");

    // chan_send_or_done and chan_recv_or_done, through a pipeline stage under a context that
    // can be cancelled.
    auto [g, ctx] = go::errgroup::with_context(go::background());
    auto in = go::make_chan<int>();
    auto doubled = go::map(g, ctx, go::recv_chan<int>(in), [](int v) { return 2 * v; });
    g.go([in] {
      in << 21;
      in.close();
      return go::error();
    });
    failures += check(doubled.recv().value_or(0) == 42, "pipeline");
    failures += check(!g.wait(), "errgroup");

    // synctest::wait.
    go::synctest::run([] {
      auto c = go::make_chan<void>();
      go::spawn([c] { c.recv(); });
      go::synctest::wait();
      c.close();
    });

    return failures;
  });
}
