// NATS: our channels and worker pool across machines, through NATS's official C client
// (libnats). An optional component: the target gocxx::nats, built when libnats is found.
//
//   Go (nats.go)                                   gocxx
//   nc, err := nats.Connect(url, opts...)          auto [nc, err] = go::nats::connect({.servers = {url}, ...});
//   nc.Publish(subj, data)                         nc.publish(subj, data)             (a go::error)
//   ch := make(chan *nats.Msg, n)
//   sub, err := nc.ChanSubscribe(subj, ch)         auto [sub, err] = nc.subscribe(subj, n);  sub.messages()
//   nc.ChanQueueSubscribe(subj, group, ch)         nc.queue_subscribe(subj, group, n)
//   sub.Unsubscribe(), sub.Dropped()               sub.unsubscribe(), sub.dropped()
//   msg, err := nc.RequestWithContext(ctx, s, d)   auto [m, err] = nc.request(ctx, s, d);
//   msg, err := nc.Request(s, d, timeout)          auto [m, err] = nc.request(s, d, timeout);
//   msg.Respond(data)                              m.respond(data)
//   nc.Flush(), nc.Drain(), nc.Close()             nc.flush(), nc.drain(), nc.close()
//   nats.DisconnectErrHandler, ReconnectHandler... nc.events()                        (a recv_chan<event>)
//   js, _ := nc.JetStream()                        auto [js, err] = nc.jetstream();
//   js.AddStream(&nats.StreamConfig{...})          js.add_stream({.name = ..., .subjects = {...}})
//   js.Publish(subj, data)                         js.publish(subj, data)
//   sub, _ := js.PullSubscribe(subj, durable, ...) auto [c, err] = js.pull_subscribe(subj, {.durable = ...});
//   msgs, err := sub.Fetch(n, nats.Context(ctx))   auto [msgs, err] = c.fetch(ctx, n);
//   (a goroutine feeding a channel from Fetch)     c.messages(ctx, n)                  (a recv_chan<msg>)
//   msg.Ack(), AckSync(), Nak(), NakWithDelay(d),  m.ack(), m.ack_sync(), m.nak(), m.nak(d),
//   Term(), InProgress()                           m.term(), m.in_progress()
//   (a pool of goroutines over a pull consumer)    go::nats::worker_pool pool(ctx, c, workers, f)
//   (a pool of goroutines over a queue group)      go::nats::worker_pool pool(ctx, sub, workers, f)
//   nats.ErrTimeout, ErrNoResponders, ...          go::nats::errc::timeout, no_responders, ... (Go's messages)
//
// Guarantees
// - libnats calls back on threads of its own (one delivery thread for the subscriptions of
//   the whole process, one for connection events). Those callbacks only hand the message to
//   our channel without blocking (channels work from plain threads) and never run user
//   code: user code runs in whatever goroutine or thread receives from the channel.
// - Slow consumers (nats.go's ChanSubscribe policy): a subscription's channel is bounded
//   (the capacity given to subscribe). A message that finds it full is dropped, counted in
//   dropped(), and the first drop after a delivery is reported on events() as an error event
//   with errc::slow_consumer ("nats: slow consumer, messages dropped"). The libnats thread
//   never waits for the receiver, so a stalled receiver cannot stall the connection.
// - A subscription's channel is closed once the subscription ends (unsubscribe, drain, the
//   connection closed), after every message delivered to it: `for (auto m : sub.messages())`
//   ends then. Messages already in the channel stay receivable.
// - request(ctx, ...) ends with the reply, with errc::no_responders, or with ctx.err()
//   (errc::deadline_exceeded past the deadline, errc::canceled on cancellation) as soon as
//   ctx is done. request(subject, data, timeout) ends with errc::timeout instead, as nats.go's
//   Request. Replies to all requests of a connection share one subscription (nats.go's
//   response multiplexer). Up to max_procs() requests of a connection at once wait inside
//   go::blocking, woken by libnats's reader thread directly; the others wait in their
//   goroutine, so many waiting requests do not hold a thread each.
// - Calls that may block a thread inside libnats (connect, flush, JetStream API requests,
//   js publish, fetch, ack_sync) run inside go::blocking, so the goroutine's processor moves
//   to another thread meanwhile.
// - Errors are go::error values. libnats's failures carry nats.go's messages through
//   go::nats::errc (a std::error_code category "nats"): `err == go::nats::errc::timeout`,
//   err.message() == "nats: timeout". errc::timeout is equivalent to std::errc::timed_out.
//   A failure without a nats.go counterpart reads "nats: <libnats's text>".
// - Handles (conn, subscription, pull_consumer, msg) are cheap to copy and share their
//   object; the last handle of a subscription unsubscribes, the last of a connection closes
//   it. A message keeps its subscription and connection alive, so it can be acknowledged
//   or responded to after the handles that made it are gone.
// - Connection events: events() carries disconnected, reconnected, closed (the last one;
//   the channel is then closed) and error (asynchronous errors, slow consumers). It is
//   bounded (options::events_capacity); an event that finds it full is dropped.
//
// JetStream (at-least-once)
// - add_stream creates the stream, or binds to it when one of that name exists with the
//   same configuration. work_queue retention removes a message once it is acknowledged.
// - A pull consumer is durable: it lives on the server, and processes binding to the same
//   durable name share its messages. A message not acknowledged within ack_wait (or naked)
//   is redelivered, to any process bound to the consumer, up to max_deliver times.
//   in_progress() restarts the ack_wait clock; term() stops redelivery.
// - fetch(ctx, n) returns 1 to n messages as soon as there are some, or ctx.err() once ctx
//   is done first (a fetch in flight then ends within fetch_slice, 100 ms). messages(ctx, n)
//   runs that loop in a goroutine and sends every message on a channel of capacity n, closed
//   when ctx is done; a message already in the channel then stays there, to be received, and
//   one fetched too late for it is naked (redelivered at once), not left waiting for ack_wait.
//
// Worker pool (go::nats::worker_pool, the shape of go::worker_pool over a pull consumer)
// - `workers` goroutines run f(ctx, msg) for the consumer's messages; f returns the result's
//   bytes (a std::string), published to options.results_subject when there is one, and the
//   job is then acknowledged (ack_sync: the server has recorded it when the pool counts it).
//   f throwing naks the job (redelivered at once, or after options.nak_delay).
// - Cancelling ctx (or cancel()): the pool stops fetching; jobs fetched but not started are
//   naked, so another worker takes them at once; jobs in hand finish (f sees ctx done and may
//   throw, which naks them); then the connection is flushed and wait() returns. No job is
//   lost: every job is either acknowledged by this pool or naked back to the server.
// - A worker process that dies mid-job (SIGKILL) acknowledges nothing: the server redelivers
//   its jobs to the other workers once ack_wait passes.
//
// Worker pool over a core NATS queue group (at most once)
// - The same pool over a subscription (normally a queue_subscribe: the group's members share
//   the jobs, each job going to one member). f's result is published to the job's reply
//   subject when it has one (the requester gets it as its reply), else to
//   options.results_subject when there is one. Core NATS has no acknowledgement: a job
//   counts as acked once f has returned and its result is published. f throwing counts the
//   job as failed and drops it (nothing redelivers it; a requester gets no reply).
// - The subscription's capacity bounds the jobs a member holds: a job that finds it full is
//   dropped (the slow-consumer policy above), so give it room for a burst.
// - Cancelling ctx: the pool drains the subscription (the server stops sending jobs to this
//   member and sends them to the others), then finishes every job already delivered to it,
//   those waiting in the channel included (f sees ctx done), flushes the connection, and
//   wait() returns. A job the server gave this member before the drain is handled here;
//   after it, no job comes here.
//
// Example:
//   auto [nc, err] = go::nats::connect({.servers = {"nats://127.0.0.1:4222"}});
//   if (err) return fail(err);
//   auto [sub, serr] = nc.subscribe("greet.*", 64);
//   nc.publish("greet.joe", "hello");
//   for (go::nats::msg m : sub.messages()) std::printf("%s: %.*s\n", ...);
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "go/chan.hpp"
#include "go/context.hpp"
#include "go/errors.hpp"

namespace go::nats {

// errc enumerates the failures that have a nats.go counterpart; message() is nats.go's text.
enum class errc : int {
  timeout = 1,                 // "nats: timeout"
  no_responders,               // "nats: no responders available for request"
  invalid_subject,             // "nats: invalid subject"
  invalid_queue_name,          // "nats: invalid queue name"
  no_servers,                  // "nats: no servers available for connection"
  connection_closed,           // "nats: connection closed"
  authorization,               // "nats: authorization violation"
  reconnect_buffer_exceeded,   // "nats: outbound buffer limit exceeded"
  slow_consumer,               // "nats: slow consumer, messages dropped"
  draining,                    // "nats: connection draining"
  max_payload,                 // "nats: maximum payload exceeded"
  invalid_subscription,        // "nats: invalid subscription"
  invalid_argument,            // "nats: invalid argument"
  secure_connection_required,  // "nats: secure connection required"
  stale_connection,            // "nats: stale connection"
  stream_not_found,            // "nats: stream not found"
  consumer_not_found,          // "nats: consumer not found"
  jetstream_not_enabled,       // "nats: jetstream not enabled"
  not_jetstream_message,       // "nats: not a jetstream message"
};

// error_category is the category of errc codes; its name() is "nats".
const std::error_category& error_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

}  // namespace go::nats

template <>
struct std::is_error_code_enum<go::nats::errc> : std::true_type {};

namespace go::nats {

// to_error makes a go::error of e (go::error converts from a std::error_code, not from an
// enum of another library); err == e compares err's code with e.
inline error to_error(errc e) noexcept { return error(make_error_code(e)); }
inline bool operator==(const error& err, errc e) noexcept { return err.code() == make_error_code(e); }

namespace detail {
struct connection_state;
struct subscription_state;
struct message_state;
struct consumer_state;
// returned_messages_freed counts the received messages that, dropped by their receivers, were
// freed by the side that reads their connection (src/nats/message_pool.hpp); for tests.
std::uint64_t returned_messages_freed() noexcept;
}  // namespace detail

// options configures connect (nats.Options). Durations are rounded down to milliseconds,
// libnats's unit.
struct options {
  std::vector<std::string> servers = {"nats://127.0.0.1:4222"};  // tried in this order
  std::string name{};                                            // the connection's name on the server
  std::string user{}, password{};                                // user/password authentication
  std::string token{};                                           // token authentication
  // TLS as libnats offers it: secure requires TLS; ca_file is a PEM file of trusted
  // certificates; cert_file and key_file a client certificate chain and its key. A server
  // that requires TLS gets it without secure. A handshake that fails (the server's
  // certificate not signed by ca_file...) fails connect with "nats: TLS: " and OpenSSL's
  // reason ("SSL handshake error: 20:unable to get local issuer certificate:...").
  bool secure = false;
  std::string ca_file{}, cert_file{}, key_file{};
  std::chrono::milliseconds connect_timeout{2000};
  // Reconnection (nats.go's defaults): up to max_reconnect attempts per server (-1: forever),
  // reconnect_wait apart; publishes meanwhile are buffered up to reconnect_buffer_bytes,
  // beyond which publish fails with errc::reconnect_buffer_exceeded (libnats fills that
  // buffer in the background: the publish after the one that crosses the limit fails).
  bool allow_reconnect = true;
  int max_reconnect = 60;
  std::chrono::milliseconds reconnect_wait{2000};
  int reconnect_buffer_bytes = 8 * 1024 * 1024;
  std::size_t events_capacity = 64;  // events() is bounded: see the top
  // send_asap writes each publish at once, from the publishing thread. Otherwise libnats's
  // flusher thread writes what has accumulated, which batches a stream of publishes but
  // delays a lone one by up to about 1 ms: set it for request/reply latency
  // (bench/nats_compare.sh's reqrep), leave it for publish throughput.
  bool send_asap = false;
};

// event is a connection event, read from conn::events().
struct event {
  enum class kind : std::uint8_t { disconnected, reconnected, closed, error };
  kind what;
  error err{};  // for error: what went wrong (errc::slow_consumer, a permissions violation...)
};

// msg is a received message (nats.Msg): a cheap handle. data() and the other views are valid
// while a handle to the message exists.
class msg {
 public:
  msg() = default;  // no message: every accessor returns empty, every action invalid_argument
  std::string_view subject() const noexcept;
  std::string_view reply() const noexcept;
  std::string_view data() const noexcept;
  explicit operator bool() const noexcept { return state_ != nullptr; }

  // respond publishes data to reply() (Msg.Respond).
  error respond(std::string_view data) const;

  // JetStream acknowledgements (the message must come from a pull consumer, else
  // errc::not_jetstream_message). ack and the others only publish; ack_sync waits for the
  // server to confirm (AckSync).
  error ack() const;
  error ack_sync() const;
  error nak() const;
  error nak(std::chrono::nanoseconds delay) const;  // redeliver after delay (NakWithDelay)
  error term() const;
  error in_progress() const;
  // num_delivered is how many times JetStream delivered this message (1 the first time); 0
  // for a core NATS message.
  std::uint64_t num_delivered() const;

 private:
  friend struct detail::message_state;
  explicit msg(std::shared_ptr<detail::message_state> s) noexcept : state_(std::move(s)) {}
  std::shared_ptr<detail::message_state> state_;
};

// subscription is an interest in a subject whose messages arrive on messages().
class subscription {
 public:
  subscription() = default;
  recv_chan<msg> messages() const noexcept { return messages_; }
  // unsubscribe ends the subscription at once; drain ends it after the messages the server
  // sent before it saw the unsubscribe have been delivered. messages() is closed after either.
  error unsubscribe() const;
  error drain() const;
  // dropped counts messages dropped because messages() was full (see slow consumers).
  std::uint64_t dropped() const noexcept;

 private:
  friend struct detail::subscription_state;
  friend class worker_pool;
  std::shared_ptr<detail::subscription_state> state_;
  recv_chan<msg> messages_;
};

class jetstream;

// conn is a connection to a NATS server (nats.Conn).
class conn {
 public:
  conn() = default;  // no connection: every call returns errc::connection_closed

  error publish(std::string_view subject, std::string_view data) const;
  // publish_request publishes with a reply subject (PublishRequest).
  error publish_request(std::string_view subject, std::string_view reply, std::string_view data) const;

  // subscribe delivers the subject's messages into a channel of the given capacity (at
  // least 1); queue_subscribe shares them with the other members of group (a queue group:
  // each message goes to one member).
  std::pair<subscription, error> subscribe(std::string_view subject, std::size_t capacity = 1024) const;
  std::pair<subscription, error> queue_subscribe(std::string_view subject, std::string_view group,
                                                 std::size_t capacity = 1024) const;

  // request publishes data to subject and waits for one reply; see the top for how it ends.
  std::pair<msg, error> request(const context& ctx, std::string_view subject, std::string_view data) const;
  std::pair<msg, error> request(std::string_view subject, std::string_view data,
                                std::chrono::nanoseconds timeout) const;

  // flush waits until the server has processed everything sent so far (a PING/PONG round
  // trip), up to timeout (errc::timeout).
  error flush(std::chrono::nanoseconds timeout = std::chrono::seconds(10)) const;
  // drain unsubscribes every subscription after delivering what the server sent before,
  // flushes the publishes, then closes; it returns once the connection is closed (or
  // errc::timeout after timeout, when the connection is closed anyway).
  error drain(std::chrono::nanoseconds timeout = std::chrono::seconds(30)) const;
  // close closes the connection at once; subscriptions end. Idempotent.
  void close() const;
  bool is_closed() const noexcept;
  // buffered is the number of bytes in the write buffer, not yet sent (libnats's Buffered;
  // it does not count the reconnect buffer).
  int buffered() const noexcept;

  recv_chan<event> events() const noexcept;

  std::pair<::go::nats::jetstream, error> jetstream() const;

 private:
  friend std::pair<conn, error> connect(const options& opts);
  friend struct detail::connection_state;
  friend class ::go::nats::jetstream;
  std::shared_ptr<detail::connection_state> state_;
};

// connect connects to the first server of opts that answers (nats.Connect).
std::pair<conn, error> connect(const options& opts);

// stream_config is a stream's configuration (a subset of nats.StreamConfig).
struct stream_config {
  std::string name{};
  std::vector<std::string> subjects{};
  bool work_queue = true;  // WorkQueuePolicy retention; otherwise LimitsPolicy
  bool memory = false;     // memory storage; otherwise file
};

// consumer_config configures a durable pull consumer (a subset of nats.ConsumerConfig).
struct consumer_config {
  std::string durable{};  // its name on the server
  std::chrono::nanoseconds ack_wait = std::chrono::seconds(30);
  std::int64_t max_deliver = -1;      // -1: no limit
  std::int64_t max_ack_pending = -1;  // -1: the server's default (1000)
};

// stream_info is what stream_info() reports.
struct stream_info {
  std::uint64_t messages = 0;
  std::uint64_t consumers = 0;
};
// consumer_info is what consumer_info() reports.
struct consumer_info {
  std::uint64_t num_pending = 0;      // in the stream, not yet delivered
  std::uint64_t num_ack_pending = 0;  // delivered, not yet acknowledged
  std::uint64_t num_redelivered = 0;
};

// pull_consumer is a durable pull consumer bound to by this process (a pull subscription).
class pull_consumer {
 public:
  pull_consumer() = default;
  // fetch returns up to n messages (see the top).
  std::pair<std::vector<msg>, error> fetch(const context& ctx, int n) const;
  // messages runs fetch(ctx, n) in a goroutine and sends every message on a channel of
  // capacity n, closed when ctx is done or the consumer fails.
  recv_chan<msg> messages(const context& ctx, int n) const;
  // unsubscribe stops this process's binding; the durable consumer stays on the server.
  error unsubscribe() const;

 private:
  friend class ::go::nats::jetstream;
  friend class worker_pool;
  void nak_stragglers() const;
  std::shared_ptr<detail::consumer_state> state_;
};

// jetstream is a JetStream context on a connection (nats.JetStreamContext).
class jetstream {
 public:
  jetstream() = default;
  error add_stream(const stream_config& cfg) const;
  error delete_stream(std::string_view name) const;
  std::pair<::go::nats::stream_info, error> stream_info(std::string_view name) const;
  std::pair<::go::nats::consumer_info, error> consumer_info(std::string_view stream, std::string_view durable) const;
  // publish publishes and waits for the stream's acknowledgement.
  error publish(std::string_view subject, std::string_view data) const;
  // publish_async publishes without waiting; publish_async_complete waits for every
  // acknowledgement outstanding (up to timeout; errc::timeout).
  error publish_async(std::string_view subject, std::string_view data) const;
  error publish_async_complete(std::chrono::nanoseconds timeout = std::chrono::seconds(10)) const;
  // pull_subscribe creates the durable consumer cfg.durable filtered on subject, or binds
  // to it when it exists.
  std::pair<pull_consumer, error> pull_subscribe(std::string_view subject, const consumer_config& cfg) const;

 private:
  friend class conn;
  std::shared_ptr<detail::connection_state> state_;
  std::shared_ptr<void> js_;  // the jsCtx
};

// worker_pool_options configure a worker_pool.
struct worker_pool_options {
  std::size_t workers = 4;
  std::string results_subject{};          // empty: results are not published
  std::chrono::nanoseconds nak_delay{0};  // for jobs whose f threw
  bool ack_sync = true;                   // wait for the server to confirm each ack (false: Ack, not AckSync)
};

// worker_pool_stats counts what a pool did.
struct worker_pool_stats {
  std::uint64_t acked = 0;   // completed, result published, acknowledgement confirmed
  std::uint64_t naked = 0;   // given back to the server (f threw, or not started at cancellation)
  std::uint64_t failed = 0;  // acknowledgement or publish failed (the job will be redelivered);
                             // over a queue group: f threw or the publish failed (the job is lost)
};

// worker_pool runs f(ctx, msg) -> std::string on `workers` goroutines for a pull consumer's
// messages, or for a subscription's (a core NATS queue group); see the top for results and
// cancellation.
//
// Example:
//   go::nats::worker_pool pool(ctx, consumer, {.workers = 4, .results_subject = "done"},
//                              [](const go::context&, const go::nats::msg& job) {
//                                return process(job.data());
//                              });
//   ...
//   cancel();                          // stop: in-hand jobs finish, the rest are naked
//   go::error err = pool.wait();
class worker_pool {
 public:
  using handler = std::function<std::string(const context&, const msg&)>;
  worker_pool(const context& parent, const pull_consumer& consumer, worker_pool_options opts, handler f);
  // Over a core NATS subscription, normally nc.queue_subscribe(subject, group, capacity);
  // options.nak_delay and ack_sync do not apply.
  worker_pool(const context& parent, subscription jobs, worker_pool_options opts, handler f);
  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;
  // The destructor cancels the pool and waits for it (see wait).
  ~worker_pool();

  // cancel stops the pool as cancelling its context does.
  void cancel() const noexcept;
  // wait returns once the pool has stopped (its context done) and every job it fetched is
  // acknowledged or naked (over a queue group: every job delivered to it is handled): nil,
  // or the first error of the consumer, the drain, a publish or an ack.
  error wait();
  worker_pool_stats stats() const noexcept;

 private:
  struct state;
  std::shared_ptr<state> state_;
};

}  // namespace go::nats
