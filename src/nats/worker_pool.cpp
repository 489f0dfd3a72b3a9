// go::nats::worker_pool: go::worker_pool's shape over a JetStream pull consumer.
//
// Goroutines: one feeder (pull_consumer::messages: fetch, send on `jobs`, closed when ctx
// is done) and `workers` workers ranging over `jobs`; the last worker to return flushes the
// connection and closes `finished`.
//
// Why no job is lost (the shutdown protocol)
// 1. ctx done: the feeder stops fetching. A batch it fetched and cannot hand over is naked.
// 2. The feeder closes `jobs`; what is buffered there stays receivable.
// 3. A worker that receives a job once ctx is done naks it without starting it.
// 4. A worker's job in hand runs to its end: acked after its result is published, or naked
//    if f threw.
// 5. When the last worker returns, the connection is flushed, so the server has every ack
//    and nak before wait() returns.
// Every fetched message thus reaches exactly one of ack or nak; a process killed before
// either leaves the message to the server, which redelivers it after ack_wait.
#include <atomic>
#include <exception>
#include <memory>
#include <mutex>
#include <utility>

#include "go/nats.hpp"
#include "go/runtime.hpp"
#include "nats/state.hpp"

namespace go::nats {

struct worker_pool::state {
  context ctx;
  cancel_func cancel;
  conn publisher;
  worker_pool_options opts;
  handler f;
  chan<void> finished = make_chan<void>();
  std::atomic<std::size_t> running{0};
  std::atomic<std::uint64_t> acked{0}, naked{0}, failed{0};
  std::mutex mu;
  error first_error;  // guarded by mu

  void fail(const error& err) {
    std::lock_guard lock(mu);
    if (!first_error) first_error = err;
  }
};

worker_pool::worker_pool(const context& parent, pull_consumer consumer, worker_pool_options opts, handler f)
    : state_(std::make_shared<state>()) {
  auto [ctx, cancel] = with_cancel(parent);
  state_->ctx = ctx;
  state_->cancel = cancel;
  if (opts.workers < 1) opts.workers = 1;
  state_->opts = std::move(opts);
  state_->f = std::move(f);
  if (consumer.state_) state_->publisher = detail::connection_state::handle(consumer.state_->core->conn);
  recv_chan<msg> jobs = consumer.messages(ctx, static_cast<int>(state_->opts.workers));
  state_->running = state_->opts.workers;
  for (std::size_t i = 0; i < state_->opts.workers; ++i) {
    go::spawn([s = state_, jobs] {
      for (msg job : jobs) {
        if (s->ctx.err()) {
          if (error err = job.nak()) s->fail(err);
          s->naked.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        std::string result;
        try {
          result = s->f(s->ctx, job);
        } catch (...) {
          error err = s->opts.nak_delay.count() > 0 ? job.nak(s->opts.nak_delay) : job.nak();
          if (err) s->fail(err);
          s->naked.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        error err;
        if (!s->opts.results_subject.empty()) err = s->publisher.publish(s->opts.results_subject, result);
        if (!err) err = s->opts.ack_sync ? job.ack_sync() : job.ack();
        if (err) {
          s->fail(err);
          s->failed.fetch_add(1, std::memory_order_relaxed);
        } else {
          s->acked.fetch_add(1, std::memory_order_relaxed);
        }
      }
      if (s->running.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        if (error err = s->publisher.flush()) s->fail(err);
        s->finished.close();
      }
    });
  }
}

worker_pool::~worker_pool() {
  cancel();
  (void)wait();
}

void worker_pool::cancel() const noexcept { state_->cancel(); }

error worker_pool::wait() {
  state_->finished.recv();
  std::lock_guard lock(state_->mu);
  return state_->first_error;
}

worker_pool_stats worker_pool::stats() const noexcept {
  return {state_->acked.load(std::memory_order_relaxed), state_->naked.load(std::memory_order_relaxed),
          state_->failed.load(std::memory_order_relaxed)};
}

}  // namespace go::nats
