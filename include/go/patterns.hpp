// Concurrency patterns as reusable parts: context-aware send and receive, generator, pipeline
// stages (map, filter, flat_map, batch), fan-in (merge), worker pool, with_timeout and retry.
//
//   Go idiom                                        gocxx
//   select { case ch <- v: case <-ctx.Done(): }     go::send_ctx(ctx, ch, v)        (false: ctx done)
//   select { case v, ok := <-ch: case <-ctx.Done(): }   go::recv_ctx(ctx, ch)       (empty: closed or ctx done)
//   a goroutine feeding a channel                   go::generate<T>(g, ctx, [](auto emit) { ... emit(v) ... })
//   for v := range in { out <- f(v) }  (N of them)  go::map(g, ctx, in, f, workers)  /  go::map_ordered(...)
//   filter, flatten, group into slices              go::filter, go::flat_map, go::batch
//   fan-in of N channels                            go::merge(g, ctx, inputs)
//   jobs/results channels with N workers            go::worker_pool<Job, R> pool(ctx, workers, queue, f)
//   run f, give up at a deadline                    go::with_timeout(ctx, d, f)
//   retry with exponential backoff and jitter       go::retry(ctx, go::backoff{...}, f)
//
// Pipelines (Go's "pipelines and cancellation" with errgroup, as in x/sync/errgroup's example)
// - Every stage runs in goroutines of an errgroup `g` and watches a context `ctx`, normally the
//   one errgroup::with_context made: auto [g, ctx] = go::errgroup::with_context(parent);
// - A stage closes its output when its input is closed and drained, or when ctx is done, so
//   the end (or the cancellation) flows downstream; it never blocks on a send once ctx is done.
//   It checks ctx before every receive and send, so it stops even when its channels never
//   block; under a ctx that can never be cancelled (background) it sends and receives plainly.
// - A stage's goroutine returns ctx.err(), so g.wait() is nil for a pipeline that ran to its
//   end and canceled for one stopped early.
// - An exception thrown by a stage's function becomes g's error, which cancels ctx and so
//   stops every stage. g.wait() returns once all stages have returned.
// - A consumer that stops early cancels ctx's parent (or returns an error from a stage): no
//   goroutine stays blocked, so none leaks (tests/patterns_test.cpp checks the goroutine count).
// - map with workers > 1 fans out over one input and fans in to one output: output order is
//   not input order; map_ordered keeps input order, with at most `workers` values in flight.
// - merge runs one goroutine per input, which is faster than one goroutine with a dynamic
//   select over all inputs and ctx.done() (bench/patterns_bench.cpp, BM_fanin_8 against
//   BM_fanin_8_select).
//
// Worker pool: submit blocks while the queue is full (back-pressure) and fails once ctx is
// done or the pool is closed; close() lets the workers finish what is queued (graceful drain)
// and then closes results(); cancelling ctx stops them at once (queued jobs are dropped). Each
// job's outcome, value or error (an exception thrown by f included), is one value on results().
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "go/chan.hpp"
#include "go/context.hpp"
#include "go/errgroup.hpp"
#include "go/errors.hpp"
#include "go/runtime.hpp"
#include "go/select.hpp"
#include "go/sync.hpp"
#include "go/time.hpp"

namespace go {

// send_ctx sends v on ch (a chan<T> or send_chan<T>) unless ctx is done first; it reports
// whether it sent. It checks ctx first and then tries the channel without blocking: that
// fast path skips the select when the channel is ready, and the check makes a caller notice
// cancellation even when its channels are always ready (a select with both ready would pick
// at random). A failed try_send leaves the value in place. ch is used as passed: no new
// handle, whose reference count would cost an atomic retain and release per call. v is a T,
// as for ch.send(v).
template <detail::sendable C>
bool send_ctx(const context& ctx, const C& ch, std::type_identity_t<detail::chan_value_t<C>> v) {
  if (ctx.err()) return false;
  if (ch.try_send(std::move(v))) return true;
  return go::select(go::send_case(ch, std::move(v)), go::recv_case(ctx.done())) == 0;
}

// recv_ctx receives from ch (a chan<T> or recv_chan<T>) unless ctx is done first; empty when
// ch is closed or ctx is done.
template <detail::receivable C, class T = detail::chan_value_t<C>>
std::optional<T> recv_ctx(const context& ctx, const C& ch) {
  if (ctx.err()) return std::nullopt;
  if (auto r = ch.try_recv(); r.status != chan_status::would_block) return std::move(r.value);
  std::optional<T> out;
  go::select(go::recv_case(ch, [&](std::optional<T> v) { out = std::move(v); }), go::recv_case(ctx.done()));
  return out;
}

namespace detail {

// context_watch is send_ctx and recv_ctx for a loop: made once per goroutine, before its
// loop, it holds ctx.done(), so that a message costs no call to ctx.done() or ctx.err() and
// no copy of a channel handle. Every part below moves its messages through one; the hot
// path is guarded by bench/peer_scenarios.cpp's pool_4x1m, pipeline_3stage_1m and fanin_8
// (bench/compare.py) and bench/patterns_bench.cpp's BM_pipeline_3stage_1m.
// - done() polls the done channel without blocking or locking: true once ctx is done.
//   cancel sets err() before it closes done(), so err() is set once done() is true.
// - send and recv do what send_ctx and recv_ctx do: check, try without blocking, and only
//   when the channel would block, wait for it or for the done channel. That wait is the
//   2-case select's, but through a done_waiter (runtime/done_waiter.cpp): the watch keeps
//   one standing waiter on the done channel, so a message that blocks locks only its own
//   channel, where the select locked the done channel, shared by every goroutine of the
//   context, twice (bench pipeline_3stage_1m, fanin_8).
// - For a context that can never be cancelled (done() is the nil channel: background, todo)
//   they are a plain send and receive, which is all that select could do.
// - A default-constructed watch is that of a context that can never be cancelled.
// - A watch belongs to the goroutine that made it (its standing waiter names it): not
//   copyable, and used by one goroutine only.
class context_watch {
 public:
  context_watch() noexcept = default;
  explicit context_watch(const context& ctx) : done_(ctx.done()) {}
  context_watch(const context_watch&) = delete;
  context_watch& operator=(const context_watch&) = delete;
  ~context_watch() {
    if (waiter_) done_waiter_free(waiter_);
  }

  bool done() const { return done_ != nullptr && done_.try_recv() != chan_status::would_block; }

  template <sendable C>
  bool send(const C& ch, std::type_identity_t<chan_value_t<C>> v,
            const detail::source_location& site = detail::source_location::current()) const {
    if (done_ == nullptr) {
      ch.send(std::move(v), site);
      return true;
    }
    if (done()) return false;
    if (ch.try_send(std::move(v))) return true;
    // NOLINTNEXTLINE(bugprone-use-after-move): try_send moves from v only when it sends
    if (ch == nullptr) return go::select(go::send_case(ch, std::move(v)), go::recv_case(done_)) == 0;
    return chan_send_or_done(ch.core(), &v, standing(), site);
  }

  template <receivable C, class T = chan_value_t<C>>
  std::optional<T> recv(const C& ch, const detail::source_location& site = detail::source_location::current()) const {
    if (done_ == nullptr) return ch.recv();
    if (done()) return std::nullopt;
    if (auto r = ch.try_recv(); r.status != chan_status::would_block) return std::move(r.value);
    if (ch == nullptr) {
      go::select(go::recv_case(ch), go::recv_case(done_));  // only done can be ready
      return std::nullopt;
    }
    alignas(T) unsigned char buf[sizeof(T)];
    if (chan_recv_or_done(ch.core(), buf, standing(), site) != try_status::ok) return std::nullopt;
    T* p = std::launder(reinterpret_cast<T*>(buf));
    std::optional<T> out(std::move(*p));
    p->~T();
    return out;
  }

 private:
  done_waiter* standing() const {
    if (!waiter_) waiter_ = done_waiter_make(done_.core());
    return waiter_;
  }

  recv_chan<void> done_;
  mutable done_waiter* waiter_ = nullptr;  // made when the goroutine first blocks
};

}  // namespace detail

// generate runs f(emit) in a goroutine of g and returns the channel emit sends on; emit(v)
// returns false once ctx is done, and f should then return. The channel closes when f returns.
template <class T, class F>
[[nodiscard]] recv_chan<T> generate(errgroup& g, const context& ctx, F f, std::size_t buffer = 0) {
  auto out = make_chan<T>(buffer);
  g.go([ctx, out, f = std::move(f)]() mutable {
    struct closer {
      chan<T> c;
      ~closer() { c.close(); }
    } close_out{out};
    const detail::context_watch watch(ctx);
    auto emit = [&](T v) { return watch.send(out, std::move(v)); };
    f(emit);
    return ctx.err();
  });
  return out;
}

namespace detail {

// Runs body(out, watch) in `workers` goroutines of g; out closes when the last one returns.
// Each goroutine makes its own context_watch before body's loop.
// A stage's goroutine returns ctx.err(): nil when its input ended, canceled (or the deadline)
// when it stopped early, so g.wait() tells a finished pipeline from a cancelled one.
template <class U, class Body>
recv_chan<U> run_stage(errgroup& g, const context& ctx, std::size_t workers, std::size_t buffer, Body body) {
  auto out = make_chan<U>(buffer);
  if (workers < 1) workers = 1;
  auto remaining = std::make_shared<std::atomic<std::size_t>>(workers);
  auto shared_body = std::make_shared<Body>(std::move(body));
  for (std::size_t i = 0; i < workers; ++i) {
    g.go([ctx, out, remaining, shared_body] {
      struct closer {
        chan<U> c;
        std::shared_ptr<std::atomic<std::size_t>> n;
        ~closer() {
          if (n->fetch_sub(1, std::memory_order_acq_rel) == 1) c.close();
        }
      } close_out{out, remaining};
      (*shared_body)(send_chan<U>(out), context_watch(ctx));
      return ctx.err();
    });
  }
  return out;
}

}  // namespace detail

// map sends f(v) for each v from in, using `workers` goroutines (output order: see the top).
template <class T, class F, class U = std::invoke_result_t<F&, T>>
[[nodiscard]] recv_chan<U> map(errgroup& g, const context& ctx, recv_chan<T> in, F f, std::size_t workers = 1) {
  auto body = [in, f = std::move(f)](const send_chan<U>& out, const detail::context_watch& watch) mutable {
    while (auto v = watch.recv(in)) {
      if (!watch.send(out, f(std::move(*v)))) return;
    }
  };
  return detail::run_stage<U>(g, ctx, workers, 0, std::move(body));
}

// map_ordered is map whose output keeps the input's order.
template <class T, class F, class U = std::invoke_result_t<F&, T>>
[[nodiscard]] recv_chan<U> map_ordered(errgroup& g, const context& ctx, recv_chan<T> in, F f, std::size_t workers = 1) {
  if (workers < 1) workers = 1;
  // Each input gets a one-value slot; slots travel in input order to the collector, and the
  // value to the workers, so the collector emits results in input order.
  struct job {
    T value;
    chan<U> slot;
  };
  auto jobs = make_chan<job>();
  auto slots = make_chan<chan<U>>(workers);
  g.go([ctx, in, jobs, slots] {
    struct closer {
      chan<job> j;
      chan<chan<U>> s;
      ~closer() {
        j.close();
        s.close();
      }
    } close_both{jobs, slots};
    const detail::context_watch watch(ctx);
    while (auto v = watch.recv(in)) {
      auto slot = make_chan<U>(1);
      if (!watch.send(slots, slot)) return ctx.err();
      if (!watch.send(jobs, job{std::move(*v), std::move(slot)})) return ctx.err();
    }
    return ctx.err();
  });
  auto fp = std::make_shared<F>(std::move(f));
  for (std::size_t i = 0; i < workers; ++i) {
    g.go([ctx, jobs, fp] {
      const detail::context_watch watch(ctx);
      while (auto j = watch.recv(jobs)) j->slot.send((*fp)(std::move(j->value)));
      return ctx.err();
    });
  }
  auto collect = [slots](const send_chan<U>& out, const detail::context_watch& watch) {
    while (auto slot = watch.recv(slots)) {
      auto v = watch.recv(*slot);
      if (!v || !watch.send(out, std::move(*v))) return;
    }
  };
  return detail::run_stage<U>(g, ctx, 1, 0, std::move(collect));
}

// filter passes on the values for which keep(v) is true.
template <class T, class F>
[[nodiscard]] recv_chan<T> filter(errgroup& g, const context& ctx, recv_chan<T> in, F keep) {
  auto body = [in, keep = std::move(keep)](const send_chan<T>& out, const detail::context_watch& watch) mutable {
    while (auto v = watch.recv(in)) {
      if (keep(std::as_const(*v)) && !watch.send(out, std::move(*v))) return;
    }
  };
  return detail::run_stage<T>(g, ctx, 1, 0, std::move(body));
}

// flat_map sends every element of the range f(v) returns, for each v from in.
template <class T, class F, class R = std::invoke_result_t<F&, T>,
          class U = std::remove_cvref_t<decltype(*std::begin(std::declval<R&>()))>>
[[nodiscard]] recv_chan<U> flat_map(errgroup& g, const context& ctx, recv_chan<T> in, F f) {
  auto body = [in, f = std::move(f)](const send_chan<U>& out, const detail::context_watch& watch) mutable {
    while (auto v = watch.recv(in)) {
      for (auto&& u : f(std::move(*v))) {
        if (!watch.send(out, std::move(u))) return;
      }
    }
  };
  return detail::run_stage<U>(g, ctx, 1, 0, std::move(body));
}

// batch groups values into vectors of n (the last may be shorter; none is empty).
template <class T>
[[nodiscard]] recv_chan<std::vector<T>> batch(errgroup& g, const context& ctx, recv_chan<T> in, std::size_t n) {
  if (n < 1) n = 1;
  auto body = [in, n](const send_chan<std::vector<T>>& out, const detail::context_watch& watch) {
    std::vector<T> group;
    while (auto v = watch.recv(in)) {
      group.push_back(std::move(*v));
      if (group.size() == n && !watch.send(out, std::exchange(group, {}))) return;
    }
    if (!group.empty()) watch.send(out, std::move(group));  // not once ctx is done
  };
  return detail::run_stage<std::vector<T>>(g, ctx, 1, 0, std::move(body));
}

// merge sends every value from all inputs on one channel, closed when all inputs are (fan-in).
template <class T>
[[nodiscard]] recv_chan<T> merge(errgroup& g, const context& ctx, std::vector<recv_chan<T>> inputs) {
  auto out = make_chan<T>();
  auto remaining = std::make_shared<std::atomic<std::size_t>>(inputs.size());
  if (inputs.empty()) out.close();
  for (auto& in : inputs) {
    g.go([ctx, in, out, remaining] {
      struct closer {
        chan<T> c;
        std::shared_ptr<std::atomic<std::size_t>> n;
        ~closer() {
          if (n->fetch_sub(1, std::memory_order_acq_rel) == 1) c.close();
        }
      } close_out{out, remaining};
      const detail::context_watch watch(ctx);
      while (auto v = watch.recv(in)) {
        if (!watch.send(out, std::move(*v))) return ctx.err();
      }
      return ctx.err();
    });
  }
  return out;
}

// outcome is what a worker pool reports for one job: the job, and f's value or its error.
template <class Job, class R>
struct outcome {
  Job job;
  std::optional<R> value;  // empty when err is set
  error err;
};

// worker_pool runs f(ctx, job) for submitted jobs on `workers` goroutines; see the top.
// f returns R, or throws: the exception becomes that job's error.
//
// Example (3 workers, a queue of 10):
//   go::worker_pool<int, int> pool(ctx, 3, 10, [](const go::context&, int j) { return j * 2; });
//   go::spawn([&] { for (int j : jobs) if (!pool.submit(j)) break; pool.close(); });
//   for (auto& o : pool.results()) use(o.job, o.value, o.err);
template <class Job, class R>
class worker_pool {
 public:
  template <class F>
  worker_pool(const context& parent, std::size_t workers, std::size_t queue, F f)
      : jobs_(make_chan<Job>(queue)), results_(make_chan<outcome<Job, R>>(queue)) {
    auto [ctx, cancel] = with_cancel(parent);
    ctx_ = ctx;
    cancel_ = cancel;
    done_ = ctx_.done();
    if (workers < 1) workers = 1;
    auto remaining = std::make_shared<std::atomic<std::size_t>>(workers);
    auto fp = std::make_shared<F>(std::move(f));
    for (std::size_t i = 0; i < workers; ++i) {
      go::spawn([ctx = ctx_, jobs = jobs_, results = results_, remaining, fp] {
        const detail::context_watch watch(ctx);
        while (auto j = watch.recv(jobs)) {
          outcome<Job, R> o{*j, std::nullopt, {}};
          try {
            o.value.emplace((*fp)(ctx, std::move(*j)));
          } catch (...) {
            o.err = error(std::current_exception());
          }
          if (!watch.send(results, std::move(o))) break;
        }
        if (remaining->fetch_sub(1, std::memory_order_acq_rel) == 1) results.close();
      });
    }
  }
  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;
  // The destructor cancels the workers; they return without leaking.
  ~worker_pool() { cancel_(); }

  // submit queues a job, blocking while the queue is full; false once the pool's context is
  // done. Must not be called after close().
  // Any goroutine or thread may submit, so it selects (a context_watch is one goroutine's).
  bool submit(Job job) {
    if (ctx_.err()) return false;
    if (jobs_.try_send(std::move(job))) return true;
    return go::select(go::send_case(jobs_, std::move(job)), go::recv_case(done_)) == 0;
  }
  // close ends submission: workers finish the queued jobs, then results() closes.
  void close() { jobs_.close(); }
  // cancel stops the workers at once; queued jobs are dropped and results() closes.
  void cancel() { cancel_(); }
  // results carries one outcome per finished job; closed after close() or cancel() once every
  // worker has returned.
  recv_chan<outcome<Job, R>> results() const { return results_; }

 private:
  context ctx_;
  cancel_func cancel_;
  recv_chan<void> done_;  // ctx_.done(), held: submit copies no handle
  chan<Job> jobs_;
  chan<outcome<Job, R>> results_;
};

// result is a value or an error, what with_timeout returns for a function with a value.
template <class T>
struct result {
  std::optional<T> value;
  error err;
};

// with_timeout runs f(ctx') in a new goroutine, ctx' being ctx with a timeout of d, and returns
// its outcome, or errc::deadline_exceeded (ctx'.err()) as soon as ctx' is done first. f should
// watch ctx' and return when it is done; until then it keeps running, and its late result is
// dropped. An exception thrown by f is returned as the error. f returns R (the result is
// result<R>), go::error, or void (the result is go::error).
template <class Rep, class Period, class F>
auto with_timeout(const context& ctx, std::chrono::duration<Rep, Period> d, F f) {
  using R = std::invoke_result_t<F&, const context&>;
  cancel_context timed = go::with_timeout(ctx, d);
  const context& child = timed.ctx;
  constexpr bool returns_error = std::is_void_v<R> || std::is_same_v<R, error>;
  using out_t = std::conditional_t<returns_error, error, result<std::conditional_t<returns_error, int, R>>>;
  auto done = make_chan<out_t>(1);  // the goroutine never blocks, so it never leaks
  go::spawn([child, done, f = std::move(f)]() mutable {
    out_t out{};
    try {
      if constexpr (std::is_void_v<R>) f(child);
      else if constexpr (std::is_same_v<R, error>) out = f(child);
      else out.value.emplace(f(child));
    } catch (...) {
      if constexpr (returns_error) out = error(std::current_exception());
      else out.err = error(std::current_exception());
    }
    done.send(std::move(out));
  });
  out_t out{};
  go::select(go::recv_case(done, [&](std::optional<out_t> v) { out = std::move(*v); }),
             go::recv_case(child.done(), [&] {
               if constexpr (returns_error) out = child.err();
               else out.err = child.err();
             }));
  timed.cancel();
  return out;
}

// backoff configures retry: the delay before attempt k+1 is initial * multiplier^k, capped at
// max, then spread by jitter: a random factor in [1 - jitter, 1 + jitter].
struct backoff {
  std::chrono::nanoseconds initial = std::chrono::milliseconds(100);
  std::chrono::nanoseconds max = std::chrono::seconds(10);
  double multiplier = 2.0;
  double jitter = 0.2;
  int max_attempts = 5;  // <= 0: until ctx is done
};

// retry calls f() until it returns a nil error, waiting between attempts as b says. It
// returns nil on success, the last error after max_attempts, or ctx.err() if ctx is done
// before an attempt or during a wait. An exception thrown by f counts as a failed attempt
// with that error. f returns go::error (or anything go::error converts from).
template <class F>
error retry(const context& ctx, const backoff& b, F f) {
  double delay = static_cast<double>(b.initial.count());
  error last;
  for (int attempt = 1;; ++attempt) {
    if (error err = ctx.err()) return err;
    try {
      last = error(f());
    } catch (...) {
      last = error(std::current_exception());
    }
    if (!last) return {};
    if (b.max_attempts > 0 && attempt >= b.max_attempts) return last;
    double capped = std::min(delay, static_cast<double>(b.max.count()));
    double factor = 1.0;
    if (b.jitter > 0) {
      double u = static_cast<double>(detail::fastrand() >> 11) * 0x1.0p-53;  // uniform in [0, 1)
      factor = 1.0 - b.jitter + 2.0 * b.jitter * u;
    }
    auto wait = std::chrono::nanoseconds(static_cast<std::int64_t>(capped * factor));
    if (go::select(go::recv_case(go::after(wait)), go::recv_case(ctx.done())) == 1) return ctx.err();
    delay *= b.multiplier;
  }
}

}  // namespace go
