// go::context beyond Go's own tests (go_context_test.cpp): std::stop_token interop, no leak
// when a long-lived parent makes millions of short-lived children, deep chains, cancelling
// from many threads, and the error model of go/errors.hpp.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <sstream>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "go/chan.hpp"
#include "go/context.hpp"
#include "go/errors.hpp"
#include "go/runtime.hpp"
#include "go/select.hpp"
#include "go/sync.hpp"
#include "go/synctest.hpp"
#include "go/time.hpp"
#include "test_scale.hpp"

using namespace std::chrono_literals;
using go::steady_clock;
using gocxx_test::scaled;

namespace {

bool is_done(const go::context& c) { return c.done().try_recv() == go::chan_status::closed; }

template <class F>
bool wait_until(F cond, std::chrono::milliseconds limit = 5000ms) {
  auto end = steady_clock::now() + limit;
  while (!cond()) {
    if (steady_clock::now() > end) return false;
    go::sleep(1ms);
  }
  return true;
}

}  // namespace

// --- std::stop_token interop ---

TEST(Context, StopTokenIsRequestedOnCancel) {
  auto [ctx, cancel] = go::with_cancel(go::background());
  std::stop_token tok = ctx.stop_token();
  EXPECT_TRUE(tok.stop_possible());
  EXPECT_FALSE(tok.stop_requested());
  std::atomic<int> calls{0};
  std::stop_callback cb(tok, [&] { calls++; });
  static const go::context_key<int> key;
  go::context child = go::with_value(ctx, key, 1);
  std::stop_token child_tok = child.stop_token();  // a value context shares its parent's
  cancel();
  EXPECT_TRUE(tok.stop_requested());
  EXPECT_TRUE(child_tok.stop_requested());
  EXPECT_EQ(calls.load(), 1);
  // A token obtained after the cancel is stopped already.
  EXPECT_TRUE(ctx.stop_token().stop_requested());
}

TEST(Context, StopTokenOfAContextThatCannotBeCancelledNeverStops) {
  EXPECT_FALSE(go::background().stop_token().stop_possible());
  EXPECT_FALSE(go::todo().stop_token().stop_possible());
  auto [ctx, cancel] = go::with_cancel(go::background());
  EXPECT_FALSE(go::without_cancel(ctx).stop_token().stop_possible());
  cancel();
}

TEST(Context, StopTokenIsRequestedOnDeadline) {
  go::run([] {
    auto [ctx, cancel] = go::with_timeout(go::background(), 2ms);
    std::stop_token tok = ctx.stop_token();
    auto fired = go::make_chan<void>(1);
    std::stop_callback cb(tok, [fired] { fired.try_send(); });
    EXPECT_TRUE(fired.recv());
    EXPECT_TRUE(ctx.err() == go::errc::deadline_exceeded);
    cancel();
  });
}

TEST(Context, WithStopTokenIsCancelledWhenStopIsRequested) {
  go::run([] {
    std::stop_source src;
    go::context ctx = go::with_stop_token(go::background(), src.get_token());
    auto [child, cancel] = go::with_cancel(ctx);
    EXPECT_FALSE(is_done(ctx));
    go::spawn([src]() mutable {
      go::sleep(1ms);
      src.request_stop();
    });
    EXPECT_FALSE(child.done().recv());  // closed
    EXPECT_TRUE(ctx.err() == go::errc::canceled);
    EXPECT_TRUE(child.err() == go::errc::canceled);
    cancel();
  });
}

TEST(Context, WithStopTokenFromAJthread) {
  auto [parent, cancel] = go::with_cancel(go::background());
  std::atomic<bool> saw_cancel{false};
  {
    std::jthread worker([&, parent = parent](std::stop_token st) {
      go::context ctx = go::with_stop_token(parent, st);
      ctx.done().recv();  // a plain thread parks on the channel
      saw_cancel = ctx.err() == go::errc::canceled;
    });
  }  // ~jthread requests stop, then joins
  EXPECT_TRUE(saw_cancel.load());
  EXPECT_EQ(go::detail::context_child_count(parent), 0u);
  cancel();
}

TEST(Context, WithStopTokenAlreadyStoppedOrNeverStopping) {
  std::stop_source src;
  src.request_stop();
  go::context ctx = go::with_stop_token(go::background(), src.get_token());
  EXPECT_TRUE(is_done(ctx));
  EXPECT_TRUE(ctx.err() == go::errc::canceled);
  auto [parent, cancel] = go::with_cancel(go::background());
  EXPECT_TRUE(go::with_stop_token(parent, std::stop_token()) == parent);
  // Parent cancellation still reaches a stop-token context.
  std::stop_source never;
  go::context child = go::with_stop_token(parent, never.get_token());
  cancel();
  EXPECT_TRUE(is_done(child));
}

TEST(Context, StopTokenRoundTrip) {
  auto [a, cancel] = go::with_cancel(go::background());
  go::context b = go::with_stop_token(go::background(), a.stop_token());
  EXPECT_FALSE(is_done(b));
  cancel();
  EXPECT_TRUE(is_done(b));
}

// --- no leaks ---

// Millions of short-lived children of one long-lived parent, cancelled or merely dropped:
// the parent's child set holds only the live ones, and nodes and timers are freed.
TEST(Context, ShortLivedChildrenDoNotAccumulateInTheParent) {
  go::run([] {
    auto [parent, cancel_parent] = go::with_cancel(go::background());
    auto nodes = go::detail::live_context_nodes();
    auto timers = go::detail::live_timer_states();
    const long n = scaled(1'000'000);
    for (long i = 0; i < n; ++i) {
      switch (i % 4) {
        case 0: {  // cancelled
          auto [c, cancel] = go::with_cancel(parent);
          cancel();
          break;
        }
        case 1: {  // a timeout cancelled early
          auto [c, cancel] = go::with_timeout(parent, 1h);
          cancel();
          break;
        }
        case 2: {  // never cancelled, just dropped
          auto [c, cancel] = go::with_timeout(parent, 1h);
          break;
        }
        case 3: {  // a grandchild through a value layer, dropped
          static const go::context_key<int> key;
          auto [c, cancel] = go::with_cancel(go::with_value(parent, key, 1));
          break;
        }
      }
      if (i % 100'000 == 0) {
        ASSERT_LE(go::detail::context_child_count(parent), 1u);
      }
    }
    EXPECT_EQ(go::detail::context_child_count(parent), 0u);
    EXPECT_LE(go::detail::live_context_nodes(), nodes);
    // (Stopped timers are freed when their heap sweeps: a few may remain.)
    EXPECT_LE(go::detail::live_timer_states(), timers + 1000) << "deadline timers of cancelled children not freed";
    cancel_parent();
  });
}

TEST(Context, ExpiredDeadlinesFreeTheirTimers) {
  go::run([] {
    auto timers = go::detail::live_timer_states();
    auto nodes = go::detail::live_context_nodes();
    {
      std::vector<go::context> ctxs;
      for (int i = 0; i < 1000; ++i) ctxs.push_back(go::with_timeout(go::background(), 1ms).ctx);
      for (auto& c : ctxs) c.done().recv();
    }
    EXPECT_TRUE(wait_until([&] { return go::detail::live_timer_states() <= timers; }));
    EXPECT_TRUE(wait_until([&] { return go::detail::live_context_nodes() <= nodes; }));
  });
}

TEST(Context, CancellingADeepChainDoesNotOverflowTheStack) {
  go::run([] {
    auto nodes = go::detail::live_context_nodes();
    {
      auto [root, cancel] = go::with_cancel(go::background());
      go::context leaf = root;
      for (long i = 0; i < scaled(200'000); ++i) leaf = go::with_cancel(leaf).ctx;
      auto done = leaf.done();
      cancel();  // iterative: a goroutine's stack would not hold 200k frames
      EXPECT_FALSE(done.recv());
      EXPECT_TRUE(leaf.err() == go::errc::canceled);
    }  // and freeing the chain is iterative too
    EXPECT_LE(go::detail::live_context_nodes(), nodes);
  });
}

TEST(Context, CancelOfAWideTreeReachesEveryDescendant) {
  go::run([] {
    auto [root, cancel] = go::with_cancel(go::background());
    std::vector<go::context> all = {root};
    for (std::size_t i = 0; all.size() < 10001; ++i) all.push_back(go::with_cancel(all[i / 10]).ctx);
    std::vector<go::recv_chan<void>> dones;
    for (auto& c : all) dones.push_back(c.done());
    cancel();
    for (std::size_t i = 0; i < all.size(); ++i) {
      ASSERT_TRUE(all[i].err() == go::errc::canceled) << i;
      ASSERT_EQ(dones[i].try_recv(), go::chan_status::closed) << i;
    }
  });
}

// Cancel closes done channels without their locks, in batches behind one fence (chan.hpp):
// a waiter that parks on a descendant's done() while the cancel runs must still be woken.
TEST(Context, CancelWakesEveryWaiterOnADescendantsDone) {
  for (int round = 0; round < static_cast<int>(scaled(50)); ++round) {
    auto [root, cancel] = go::with_cancel(go::background());
    std::vector<go::context> all = {root};
    for (std::size_t i = 0; all.size() < 2001; ++i) all.push_back(go::with_cancel(all[i / 10]).ctx);
    for (auto& c : all) (void)c.done();
    auto never = go::make_chan<int>();
    std::atomic<int> woken{0};
    auto wait_on = [&](std::size_t first, std::size_t step) {
      for (std::size_t i = first; i < all.size(); i += step) {
        if (i % 2 == 0) all[i].done().recv();
        else go::select(go::recv_case(never), go::recv_case(all[i].done()));
        woken++;
      }
    };
    go::wait_group wg;
    for (std::size_t g = 0; g < 4; ++g) wg.go([&, g] { wait_on(g, 6); });
    std::thread t1([&] { wait_on(4, 6); });
    std::thread t2([&] { wait_on(5, 6); });
    std::this_thread::sleep_for(std::chrono::microseconds(50 * (round % 5)));
    cancel();
    wg.wait();
    t1.join();
    t2.join();
    EXPECT_EQ(woken.load(), static_cast<int>(all.size()));
  }
}

TEST(Context, ConcurrentCancelsAndDerivationsFromThreadsAndGoroutines) {
  for (int round = 0; round < 20; ++round) {
    auto [root, cancel_root] = go::with_cancel(go::background());
    std::atomic<int> finished{0};
    std::vector<std::thread> threads;
    go::wait_group wg;
    auto work = [root = root, &finished] {
      for (int i = 0; i < 200; ++i) {
        auto [c, cancel] = go::with_cancel(root);
        auto [d, cancel2] = go::with_timeout(c, std::chrono::microseconds(i % 50));
        if (i % 3 == 0) cancel();
        if (root.err()) {  // cancellation reaches them (a moment later, or already)
          EXPECT_FALSE(c.done().recv());
          EXPECT_FALSE(d.done().recv());
          EXPECT_TRUE(c.err() == go::errc::canceled);
        }
        cancel2();
      }
      finished++;
    };
    for (int t = 0; t < 2; ++t) threads.emplace_back(work);
    for (int g = 0; g < 4; ++g) wg.go(work);
    std::thread canceller([cancel_root = cancel_root] {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      cancel_root();
      cancel_root();  // idempotent
    });
    for (auto& t : threads) t.join();
    canceller.join();
    wg.wait();
    EXPECT_EQ(finished.load(), 6);
    EXPECT_TRUE(root.err() == go::errc::canceled);
    EXPECT_EQ(go::detail::context_child_count(root), 0u);
  }
}

TEST(Context, DoneIsUsableFromPlainThreadsAndSelect) {
  auto start = steady_clock::now();  // before the deadline is computed: it is start + 5ms or later
  auto [ctx, cancel] = go::with_timeout(go::background(), 5ms);
  int i = go::select(go::recv_case(ctx.done()), go::recv_case(go::after(10s)));
  EXPECT_EQ(i, 0);
  EXPECT_GE(steady_clock::now() - start, 5ms);
  EXPECT_TRUE(ctx.done() == ctx.done()) << "done() returns the same channel every time";
  cancel();
  EXPECT_TRUE(ctx.err() == go::errc::deadline_exceeded) << "the first reason stays";
}

TEST(Context, ValuesOfAnyTypeShadowAndSurviveCancel) {
  static const go::context_key<std::vector<int>> vec{"vec"};
  static const go::context_key<std::unique_ptr<int>> owned{"owned"};
  static const go::context_key<int> number{"number"};
  auto [base, cancel] = go::with_cancel(go::background());
  go::context a = go::with_value(base, vec, std::vector<int>{1, 2, 3});
  go::context b = go::with_value(a, owned, std::make_unique<int>(5));  // move-only is fine
  go::context c = go::with_value(b, number, 1);
  go::context d = go::with_value(c, number, 2);
  EXPECT_EQ(*d.value(number), 2);
  EXPECT_EQ(*c.value(number), 1);
  EXPECT_EQ(d.value(vec)->size(), 3u);
  EXPECT_EQ(**d.value(owned), 5);
  EXPECT_TRUE(a.value(number) == nullptr);
  cancel();
  EXPECT_EQ(*d.value(number), 2);
  EXPECT_TRUE(go::background().value(number) == nullptr);
}

TEST(Context, AfterFuncOnAContextThatCannotBeCancelled) {
  std::atomic<bool> ran{false};
  go::stop_func stop = go::after_func(go::background(), [&] { ran = true; });
  EXPECT_TRUE(stop());
  EXPECT_FALSE(stop());
  EXPECT_FALSE(ran.load());
}

TEST(Context, AfterFuncKeepsAnUnreferencedContextAlive) {
  go::run([] {
    auto [parent, cancel] = go::with_cancel(go::background());
    auto ran = go::make_chan<void>();
    {
      auto [child, child_cancel] = go::with_cancel(parent);
      go::after_func(child, [ran] { ran.close(); });  // child and its stop func dropped
    }
    cancel();
    EXPECT_EQ(go::select(go::recv_case(ran), go::recv_case(go::after(10s))), 0);
  });
}

TEST(Context, ManyAfterFuncsStoppedLeaveNothingBehind) {
  auto [ctx, cancel] = go::with_cancel(go::background());
  auto nodes = go::detail::live_context_nodes();
  for (int i = 0; i < 100000; ++i) {
    go::stop_func stop = go::after_func(ctx, [] {});
    ASSERT_TRUE(stop());
  }
  EXPECT_EQ(go::detail::context_child_count(ctx), 0u);
  EXPECT_LE(go::detail::live_context_nodes(), nodes);
  cancel();
}

// --- the error model ---

TEST(ContextErrors, CodesAndConditions) {
  go::error nil;
  EXPECT_FALSE(nil);
  EXPECT_EQ(nil.message(), "");
  go::error canceled = go::errc::canceled;
  EXPECT_TRUE(canceled);
  EXPECT_EQ(canceled.message(), "context canceled");
  EXPECT_TRUE(canceled == go::errc::canceled);
  EXPECT_FALSE(canceled == go::errc::deadline_exceeded);
  EXPECT_TRUE(canceled.is(std::errc::operation_canceled));
  EXPECT_TRUE(canceled.code() == std::errc::operation_canceled);
  EXPECT_STREQ(canceled.code().category().name(), "gocxx");
  std::error_code ec = go::errc::deadline_exceeded;
  EXPECT_TRUE(ec == std::errc::timed_out);
  EXPECT_THROW(canceled.rethrow(), std::system_error);
  nil.rethrow();  // nothing
}

TEST(ContextErrors, UserErrorsCompareByIdentity) {
  go::error a = go::make_error("boom");
  go::error a2 = a;
  go::error b = go::make_error("boom");
  EXPECT_EQ(a.message(), "boom");
  EXPECT_TRUE(a == a2);
  EXPECT_FALSE(a == b) << "errors.New makes distinct values";
  EXPECT_TRUE(a.is(a2));
  EXPECT_FALSE(a.is(b));
  EXPECT_FALSE(a.is(go::errc::canceled));
  EXPECT_TRUE(a.as<std::runtime_error>() != nullptr);
  EXPECT_TRUE(a.as<std::logic_error>() == nullptr);
}

TEST(ContextErrors, WrappingKeepsTheChain) {
  go::error base = go::make_error("not found");
  go::error wrapped = go::wrap_error(go::wrap_error(base, "open"), "load config");
  EXPECT_EQ(wrapped.message(), "load config: open: not found");
  EXPECT_TRUE(wrapped.is(base));
  EXPECT_FALSE(wrapped == base);
  go::error wrapped_code = go::wrap_error(go::errc::deadline_exceeded, "fetch");
  EXPECT_EQ(wrapped_code.message(), "fetch: context deadline exceeded");
  EXPECT_TRUE(wrapped_code.is(go::errc::deadline_exceeded));
  EXPECT_TRUE(wrapped_code.is(std::errc::timed_out));
  EXPECT_FALSE(wrapped_code.is(go::errc::canceled));
  EXPECT_TRUE(wrapped_code.as<std::system_error>() != nullptr);
  EXPECT_FALSE(go::wrap_error({}, "nothing"));
}

TEST(ContextErrors, ExceptionsAreErrors) {
  go::error err;
  try {
    throw std::system_error(std::make_error_code(std::errc::timed_out), "dial");
  } catch (...) {
    err = std::current_exception();
  }
  EXPECT_TRUE(err.is(std::errc::timed_out));
  EXPECT_TRUE(err.code() == std::errc::timed_out);
  EXPECT_NE(err.message().find("dial"), std::string::npos);
  EXPECT_THROW(err.rethrow(), std::system_error);
  go::error from_int;
  try {
    throw 42;
  } catch (...) {
    from_int = std::current_exception();
  }
  EXPECT_TRUE(from_int);
  EXPECT_EQ(from_int.message(), "unknown exception");
}

// Regression (found by the stress tests): err() and done() must agree both ways. Whoever sees
// err() set must find done() closed (cancel once set err() first), and whoever wakes from
// done() must find err() set (closing done() first alone broke that).
TEST(Context, ErrAndDoneAgreeWhileCancelling) {
  const auto contexts = static_cast<std::size_t>(scaled(20000));
  std::vector<go::cancel_context> ctxs;
  for (std::size_t i = 0; i < contexts; ++i) {
    ctxs.push_back(go::with_cancel(go::background()));
    (void)ctxs.back().ctx.done();  // made now, so the cancel has to close it
  }
  std::atomic<std::size_t> watching{contexts};
  int open_after_err = 0, no_err_after_done = 0;
  std::thread watcher([&] {
    for (std::size_t i = 0; i < contexts; ++i) {
      const go::context& ctx = ctxs[i].ctx;
      watching.store(i);
      if (i % 2 == 0) {  // sees err() the moment it is set
        while (!ctx.err()) {
        }
        if (ctx.done().try_recv() != go::chan_status::closed) ++open_after_err;
      } else {  // wakes the moment done() closes
        ctx.done().recv();
        if (!ctx.err()) ++no_err_after_done;
      }
    }
  });
  for (std::size_t i = 0; i < contexts; ++i) {
    while (watching.load() != i) {
    }
    ctxs[i].cancel();
  }
  watcher.join();
  EXPECT_EQ(open_after_err, 0) << "times err() was set while done() was still open";
  EXPECT_EQ(no_err_after_done, 0) << "times done() was closed while err() was still empty";
}

// The printed form names every layer from the root, as Go's String() does; deadlines in a
// synctest bubble, whose fake clock makes the time left exact (its clock starts at 946684800 s).
TEST(Context, StringNamesEveryLayer) {
  go::synctest::run([] {
    static const go::context_key<int> unnamed;
    static const go::context_key<std::string> name{"name"};
    struct stringer {
      std::string string() const { return "I am a stringer"; }
    };
    static const go::context_key<stringer> s{"s"};
    auto [c1, cancel1] = go::with_cancel_cause(go::todo());
    go::context c2 = go::with_value(c1, unnamed, 7);
    go::context c3 = go::with_value(go::without_cancel(c2), name, "gopher");
    go::context c4 = go::with_value(c3, s, stringer{});
    EXPECT_EQ(c4.string(),
              "context.TODO.WithCancel.WithValue(go::context_key<int>, int).WithoutCancel"
              ".WithValue(name, gopher).WithValue(s, I am a stringer)");

    std::stop_source stop;
    EXPECT_EQ(go::with_stop_token(go::background(), stop.get_token()).string(), "context.Background.WithStopToken");

    auto [d, cancel_d] = go::with_timeout(go::background(), 1500ms);
    EXPECT_EQ(d.string(), "context.Background.WithDeadline(m=+946684801.500000000 [1.5s])");
    go::sleep(500ms);
    EXPECT_EQ(d.string(), "context.Background.WithDeadline(m=+946684801.500000000 [1s])");
    std::ostringstream out;
    out << d;
    EXPECT_EQ(out.str(), d.string());

    // Time left as Go's Duration.String prints it.
    auto left = [](auto timeout) {
      std::string s = go::with_timeout(go::background(), timeout).ctx.string();
      return s.substr(s.find('[') + 1, s.find(']') - s.find('[') - 1);
    };
    EXPECT_EQ(left(1h + 2min + 3500ms), "1h2m3.5s");
    EXPECT_EQ(left(2min), "2m0s");
    EXPECT_EQ(left(999us), "999\u00b5s");
    EXPECT_EQ(left(1500ns), "1.5\u00b5s");
    EXPECT_EQ(left(12ns), "12ns");
    EXPECT_EQ(left(1100ms), "1.1s");
    std::string past = go::with_deadline(go::background(), go::now() - 1s).ctx.string();
    EXPECT_NE(past.find(" [-1s])"), std::string::npos) << past << ": a deadline already passed";
    // A parent's earlier deadline wins: the child is like with_cancel, and says so.
    EXPECT_EQ(go::with_timeout(d, 1h).ctx.string(),
              "context.Background.WithDeadline(m=+946684801.500000000 [1s]).WithCancel");
    cancel1();
  });
}
