// go::nats::worker_pool: go::worker_pool's shape over a JetStream pull consumer, or over a
// core NATS subscription (a queue group).
//
// Goroutines: `workers` workers ranging over `jobs`, fed by a pull consumer's feeder
// (pull_consumer::messages: fetch, send on `jobs`, closed when ctx is done) or by the
// subscription itself (its channel, closed when the subscription ends, and a watcher that
// drains the subscription once ctx is done). The last worker to return flushes the
// connection and closes `finished`.
//
// Why no job is lost over a pull consumer (the shutdown protocol)
// 1. ctx done: the feeder stops fetching. A batch it fetched and cannot hand over is naked.
// 2. The feeder closes `jobs`; what is buffered there stays receivable.
// 3. A worker that receives a job once ctx is done naks it without starting it.
// 4. A worker's job in hand runs to its end: acked after its result is published, or naked
//    if f threw.
// 5. When the last worker returns, the connection is flushed, so the server has every ack
//    and nak before wait() returns.
// Every fetched message thus reaches exactly one of ack or nak; a process killed before
// either leaves the message to the server, which redelivers it after ack_wait.
//
// Over a subscription nothing can be given back (core NATS has no nak), so every job the
// server delivered is run: ctx done makes the watcher drain the subscription (UNSUB, then
// libnats delivers what the server sent before it and closes `jobs`); workers keep ranging
// over `jobs`, steps 4 and 5 as above, without acks. The server sends the group's later
// jobs to its other members.
#include <atomic>
#include <exception>
#include <memory>
#include <mutex>
#include <utility>

#include "go/nats.hpp"
#include "go/runtime.hpp"
#include "go/select.hpp"
#include "nats/state.hpp"

namespace go::nats {

struct worker_pool::state {
  context ctx;
  cancel_func cancel;
  conn publisher;
  bool jetstream = true;  // jobs come from a pull consumer (acks and naks), else a subscription
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

  void nak(const msg& job, std::chrono::nanoseconds delay) {
    error err = delay.count() > 0 ? job.nak(delay) : job.nak();
    if (err) fail(err);
    naked.fetch_add(1, std::memory_order_relaxed);
  }

  // run handles one job: f, then its result published (to the job's reply subject over a
  // subscription, when it has one), then, over a pull consumer, the acknowledgement.
  void run(const msg& job) {
    if (jetstream && ctx.err()) return nak(job, {});
    std::string result;
    try {
      result = f(ctx, job);
    } catch (...) {
      if (jetstream) return nak(job, opts.nak_delay);
      failed.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    error err;
    if (!jetstream && !job.reply().empty()) {
      err = job.respond(result);
    } else if (!opts.results_subject.empty()) {
      err = publisher.publish(opts.results_subject, result);
    }
    if (!err && jetstream) err = opts.ack_sync ? job.ack_sync() : job.ack();
    if (err) {
      fail(err);
      failed.fetch_add(1, std::memory_order_relaxed);
    } else {
      acked.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void start_workers(const std::shared_ptr<state>& self, const recv_chan<msg>& jobs) {
    running = opts.workers;
    for (std::size_t i = 0; i < opts.workers; ++i) {
      go::spawn([s = self, jobs] {
        for (const msg& job : jobs) s->run(job);
        if (s->running.fetch_sub(1, std::memory_order_acq_rel) == 1) {
          if (error err = s->publisher.flush()) s->fail(err);
          s->finished.close();
        }
      });
    }
  }

  void init(const context& parent, worker_pool_options o, handler h) {
    auto [c, cancel_ctx] = with_cancel(parent);
    ctx = c;
    cancel = cancel_ctx;
    if (o.workers < 1) o.workers = 1;
    opts = std::move(o);
    f = std::move(h);
  }
};

worker_pool::worker_pool(const context& parent, const pull_consumer& consumer, worker_pool_options opts, handler f)
    : state_(std::make_shared<state>()) {
  state_->init(parent, std::move(opts), std::move(f));
  if (consumer.state_) state_->publisher = detail::connection_state::handle(consumer.state_->core->conn);
  state_->start_workers(state_, consumer.messages(state_->ctx, static_cast<int>(state_->opts.workers)));
}

worker_pool::worker_pool(const context& parent, subscription jobs, worker_pool_options opts, handler f)
    : state_(std::make_shared<state>()) {
  state_->init(parent, std::move(opts), std::move(f));
  state_->jetstream = false;
  if (jobs.state_) state_->publisher = detail::connection_state::handle(jobs.state_->core->conn);
  recv_chan<msg> messages = jobs.messages();
  if (messages == nullptr) {  // no subscription: nothing to take jobs from
    state_->finished.close();
    return;
  }
  state_->start_workers(state_, messages);
  // The watcher holds the subscription (its last handle unsubscribes) until the pool ends.
  go::spawn([s = state_, jobs = std::move(jobs)] {
    bool cancelled = false;
    go::select(go::recv_case(s->ctx.done(), [&] { cancelled = true; }), go::recv_case(s->finished));
    if (!cancelled) return;  // the subscription ended first (unsubscribed, connection closed)
    if (error err = jobs.drain()) {
      // Closed already, or a drain under way: unsubscribing ends it either way.
      if (jobs.unsubscribe()) s->fail(err);
    }
    s->finished.recv();
  });
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
