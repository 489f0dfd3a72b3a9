// errgroup: run subtasks in goroutines, wait for all, get the first error; with a context that
// is cancelled as soon as one fails, so the others can stop early.
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "go/errgroup.hpp"
#include "go/go.hpp"

using namespace std::chrono_literals;

namespace {

// A fake fetch: "bad" fails at once, others take 20ms unless the context is cancelled first.
go::error fetch(const go::context& ctx, const std::string& url) {
  if (url == "bad") return go::make_error("fetch " + url + ": connection refused");
  go::error err;
  go::select(go::recv_case(go::after(20ms)), go::recv_case(ctx.done(), [&] { err = ctx.err(); }));
  return err;
}

}  // namespace

void example_errgroup() {
  // All succeed: results land in their own slots.
  {
    auto [g, ctx] = go::errgroup::with_context(go::background());
    std::vector<std::string> urls{"a", "b", "c"};
    std::vector<std::size_t> sizes(urls.size());
    for (std::size_t i = 0; i < urls.size(); ++i) {
      g.go([&, i, ctx = ctx]() -> go::error {
        if (auto err = fetch(ctx, urls[i])) return err;
        sizes[i] = urls[i].size() * 100;
        return {};
      });
    }
    go::error err = g.wait();
    std::printf("all fetched: err = %s, sizes %zu %zu %zu\n", err ? err.message().c_str() : "nil", sizes[0], sizes[1],
                sizes[2]);
  }
  // One fails: wait returns its error and the others see their context cancelled.
  {
    auto [g, ctx] = go::errgroup::with_context(go::background());
    std::vector<std::string> urls{"a", "bad", "c"};
    std::vector<std::string> outcome(urls.size());
    for (std::size_t i = 0; i < urls.size(); ++i) {
      g.go([&, i, ctx = ctx] {
        go::error err = fetch(ctx, urls[i]);
        outcome[i] = err ? err.message() : "ok";
        return err;
      });
    }
    go::error err = g.wait();
    std::printf("first error: %s\n", err.message().c_str());
    for (std::size_t i = 0; i < urls.size(); ++i) std::printf("  %s: %s\n", urls[i].c_str(), outcome[i].c_str());
  }
  // An exception thrown by a task is its error; set_limit bounds the goroutines.
  {
    go::errgroup g;
    g.set_limit(2);
    for (int i = 0; i < 4; ++i) {
      g.go([i] {
        if (i == 3) throw std::runtime_error("task 3 threw");
      });
    }
    std::printf("exception as error: %s\n", g.wait().message().c_str());
  }
}

#ifndef GOCXX_TOUR
int main() { go::run(example_errgroup); }
#endif
