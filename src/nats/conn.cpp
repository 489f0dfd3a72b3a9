// Core NATS over libnats: connect, publish, subscriptions into channels, request/reply,
// connection events. src/nats/state.hpp has the ownership and the lock rules; the public
// guarantees are at the top of include/go/nats.hpp.
//
// The delivery protocol: libnats's delivery thread (one for the process: every connection
// uses its global delivery pool, of one thread) calls on_message with a natsMsg that it
// hands over; on_message wraps it in a msg and try_sends it into the subscription's
// bounded channel. It never blocks and never calls user code, so the delivery thread keeps up
// whatever the receiver does; a full channel drops the message (the slow-consumer policy).
// Replies to requests and the messages of routed subscriptions skip the delivery thread
// where libnats exports its message filter: the goroutine that reads the connection hands
// them over the same way (offer; state.hpp).
#include <nats/nats.h>

#include <algorithm>
#include <string>
#include <utility>

#include "go/context.hpp"
#include "go/nats.hpp"
#include "go/runtime.hpp"
#include "go/select.hpp"
#include "go/time.hpp"
#include "nats/state.hpp"

#ifdef GOCXX_NATS_HAVE_MSG_FILTER
// libnats's per-connection message filter, as its private headers (conn.h, natsp.h) declare
// it: the reading side (our goroutine, in event-loop mode) calls it with each message it has
// parsed for a subscription that exists, holding none of libnats's locks, before routing the
// message to it; a filter that sets *msg to null has taken the message. cmake/nats.cmake
// checks that libnats exports it.
extern "C" {
using natsMsgFilter = void (*)(natsConnection* nc, natsMsg** msg, void* closure);
void natsConn_setFilterWithClosure(natsConnection* nc, natsMsgFilter f, void* closure);
}
#endif
#ifdef GOCXX_NATS_HAVE_MSG_FREE
// Frees a natsMsg and its headers: what libnats's garbage collector calls for each message
// natsMsg_Destroy hands it (its private msg.h declares it; cmake/nats.cmake checks it).
extern "C" void natsMsg_free(void* msg);
#endif

namespace go::nats {

namespace {

class nats_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "nats"; }
  std::string message(int c) const override {
    switch (static_cast<errc>(c)) {
      case errc::timeout: return "nats: timeout";
      case errc::no_responders: return "nats: no responders available for request";
      case errc::invalid_subject: return "nats: invalid subject";
      case errc::invalid_queue_name: return "nats: invalid queue name";
      case errc::no_servers: return "nats: no servers available for connection";
      case errc::connection_closed: return "nats: connection closed";
      case errc::authorization: return "nats: authorization violation";
      case errc::reconnect_buffer_exceeded: return "nats: outbound buffer limit exceeded";
      case errc::slow_consumer: return "nats: slow consumer, messages dropped";
      case errc::draining: return "nats: connection draining";
      case errc::max_payload: return "nats: maximum payload exceeded";
      case errc::invalid_subscription: return "nats: invalid subscription";
      case errc::invalid_argument: return "nats: invalid argument";
      case errc::secure_connection_required: return "nats: secure connection required";
      case errc::stale_connection: return "nats: stale connection";
      case errc::stream_not_found: return "nats: stream not found";
      case errc::consumer_not_found: return "nats: consumer not found";
      case errc::jetstream_not_enabled: return "nats: jetstream not enabled";
      case errc::not_jetstream_message: return "nats: not a jetstream message";
    }
    return "nats: unknown error";
  }
  std::error_condition default_error_condition(int c) const noexcept override {
    if (static_cast<errc>(c) == errc::timeout) return std::errc::timed_out;
    return {c, *this};
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const nats_category category;
  return category;
}

namespace detail {

error error_from(natsStatus s, jsErrCode js) {
  switch (static_cast<int>(js)) {
    case 0: break;
    case JSStreamNotFoundErr: return to_error(errc::stream_not_found);
    case JSConsumerNotFoundErr: return to_error(errc::consumer_not_found);
    case JSNotEnabledErr:
    case JSNotEnabledForAccountErr: return to_error(errc::jetstream_not_enabled);
    default: break;
  }
  switch (s) {
    case NATS_OK: return {};
    case NATS_TIMEOUT: return to_error(errc::timeout);
    case NATS_NO_RESPONDERS: return to_error(errc::no_responders);
    case NATS_INVALID_SUBJECT: return to_error(errc::invalid_subject);
    case NATS_INVALID_QUEUE_NAME: return to_error(errc::invalid_queue_name);
    case NATS_NO_SERVER: return to_error(errc::no_servers);
    case NATS_CONNECTION_CLOSED: return to_error(errc::connection_closed);
    case NATS_CONNECTION_AUTH_FAILED:
    case NATS_NOT_PERMITTED: return to_error(errc::authorization);
    case NATS_INSUFFICIENT_BUFFER: return to_error(errc::reconnect_buffer_exceeded);
    case NATS_SLOW_CONSUMER: return to_error(errc::slow_consumer);
    case NATS_DRAINING: return to_error(errc::draining);
    case NATS_MAX_PAYLOAD: return to_error(errc::max_payload);
    case NATS_INVALID_SUBSCRIPTION: return to_error(errc::invalid_subscription);
    case NATS_INVALID_ARG: return to_error(errc::invalid_argument);
    case NATS_SECURE_CONNECTION_REQUIRED: return to_error(errc::secure_connection_required);
    case NATS_STALE_CONNECTION: return to_error(errc::stale_connection);
    case NATS_NO_SERVER_SUPPORT: return to_error(errc::jetstream_not_enabled);
    default: break;
  }
  std::string what = "nats: ";
  what += natsStatus_GetText(s);
  if (js != 0) what += " (jetstream error " + std::to_string(static_cast<int>(js)) + ")";
  return make_error(what);
}

void destroy_message(natsMsg* m) noexcept {
#ifdef GOCXX_NATS_HAVE_MSG_FREE
  natsMsg_free(m);
#else
  natsMsg_Destroy(m);
#endif
}

std::int64_t millis(std::chrono::nanoseconds d) noexcept {
  if (d <= std::chrono::nanoseconds::zero()) return 0;
  return std::max<std::int64_t>(1, std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

// The timeout of the flush that libnats's own close makes (conn.c, _close).
constexpr std::int64_t close_flush_ms = 500;

void connection_state::close_with(void (*close)(natsConnection*)) {
  go::blocking([&] {
    if (on_loop) {
      // The flush libnats's close makes, with its timeout, made while the reader still reads
      // the PONG; what is published after it makes libnats's own flush wait in vain.
      if (natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED && natsConnection_Buffered(nc) > 0) {
        (void)natsConnection_FlushTimeout(nc, close_flush_ms);
      }
      loop.stop_reading();
    }
    close(nc);
  });
}

connection_state::~connection_state() {
  // Then the loop's goroutines, which read and may still hold a subscription they looked
  // up, return before subscriptions go.
  if (nc) close_with(natsConnection_Destroy);
  loop.wait();
  if (responses) natsSubscription_Destroy(responses);
  for (natsSubscription* sub : retired) natsSubscription_Destroy(sub);
}

msg message_state::make(natsMsg* m, std::shared_ptr<subscription_core> sub) {
  message_pool* pool = sub && sub->conn ? &sub->conn->messages : nullptr;
  std::shared_ptr<message_state> s;
  std::unique_lock<message_pool> busy;
  if (pool && natsMsg_GetDataLength(m) <= message_pool::max_returned_bytes) busy = {*pool, std::try_to_lock};
  if (busy.owns_lock()) {
    s = std::allocate_shared<message_state>(message_allocator<message_state>(pool));
    s->home = pool->last_allocated();
  } else {
    s = std::make_shared<message_state>();
  }
  s->m = m;
  s->sub = std::move(sub);
  return msg(std::move(s));
}

void offer(subscription_sink& s, natsMsg* m) {
  msg wrapped = message_state::make(m, s.core);
  std::lock_guard lock(s.mu);
  if (s.closed) return;
  if (s.messages.try_send(std::move(wrapped))) {
    s.slow = false;
    return;
  }
  s.core->dropped.fetch_add(1, std::memory_order_relaxed);
  if (!s.slow) {
    s.slow = true;
    s.events->post(event{event::kind::error, to_error(errc::slow_consumer)});
  }
}

void event_sink::post(event e) {
  std::lock_guard lock(mu);
  if (!done) (void)events.try_send(std::move(e));
}

void event_sink::close() {
  std::lock_guard lock(mu);
  if (std::exchange(done, true)) return;
  (void)events.try_send(event{event::kind::closed, {}});
  events.close();
  closed.close();
}

void connection_state::unroute(const std::string& subject, const subscription_core* core) {
  std::lock_guard lock(mu);
  auto it = routes.find(subject);
  if (it == routes.end()) return;
  auto& members = it->second.members;
  std::erase_if(members, [&](const auto& s) { return s->core.get() == core; });
  if (members.empty() && !it->second.shared) routes.erase(it);
}

}  // namespace detail

namespace {

using detail::connection_state;
using detail::event_sink;
using detail::message_state;
using detail::subscription_core;

using detail::subscription_sink;

// Frees a sink in a goroutine: never on the libnats thread that calls this (state.hpp).
template <class T>
void release_off_thread(T* p) {
  go::spawn([p] { delete p; });
}

void post_event(event_sink& s, event e) { s.post(std::move(e)); }

// The closure of a subscription's callbacks: the sink, shared with its route if it has one.
using sink_holder = std::shared_ptr<subscription_sink>;

void on_message(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
  detail::offer(**static_cast<sink_holder*>(closure), m);
}

void on_subscription_complete(void* closure) {
  auto* holder = static_cast<sink_holder*>(closure);
  {
    std::lock_guard lock((*holder)->mu);
    (*holder)->closed = true;
    (*holder)->messages.close();
  }
  release_off_thread(holder);
}

void on_disconnected(natsConnection*, void* closure) {
  post_event(**static_cast<std::shared_ptr<event_sink>*>(closure), {event::kind::disconnected, {}});
}
void on_reconnected(natsConnection*, void* closure) {
  post_event(**static_cast<std::shared_ptr<event_sink>*>(closure), {event::kind::reconnected, {}});
}
void on_closed(natsConnection*, void* closure) {
  auto* holder = static_cast<std::shared_ptr<event_sink>*>(closure);
  (*holder)->close();
  release_off_thread(holder);
}
void on_error(natsConnection*, natsSubscription*, natsStatus s, void* closure) {
  post_event(**static_cast<std::shared_ptr<event_sink>*>(closure), {event::kind::error, detail::error_from(s)});
}

// The slot of the request waiting for the reply on `subject` (in c's inbox), or null for
// a late reply, whose request has returned.
std::shared_ptr<detail::reply_slot> waiter_of(connection_state& c, std::string_view subject) {
  std::lock_guard lock(c.mu);
  auto it = c.waiting.find(std::string(subject.substr(std::min(subject.size(), c.inbox.size() + 1))));
  return it != c.waiting.end() ? it->second : nullptr;
}

// Hands m to the slot's request and wakes it; a second reply is dropped.
void deliver(detail::reply_slot& slot, natsMsg* m) { (void)slot.ch.try_send(message_state::make_reply(m)); }

// The response multiplexer's handler: hands the reply to the request waiting on its token.
void on_response(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
  auto waiter = waiter_of(*static_cast<connection_state*>(closure), natsMsg_GetSubject(m));
  if (waiter == nullptr) {
    detail::destroy_message(m);
    return;
  }
  deliver(*waiter, m);
}

#ifdef GOCXX_NATS_HAVE_MSG_FILTER
// The connection's filter (state.hpp): on the reading goroutine, takes a reply that a
// request waits for and hands it over as on_response would, and a message for a routed
// subscription, offered as on_message would; leaves every other message to libnats, a late
// reply included (on_response destroys it).
void on_any_message(natsConnection*, natsMsg** m, void* closure) {
  auto* c = static_cast<connection_state*>(closure);
  std::string_view subject = natsMsg_GetSubject(*m);
  if (c->has_inbox.load(std::memory_order_acquire) && !c->overlap.load(std::memory_order_acquire)) {
    const std::string& inbox = c->inbox;  // set before has_inbox, never changed after
    if (subject.size() > inbox.size() && subject.starts_with(inbox) && subject[inbox.size()] == '.') {
      auto waiter = waiter_of(*c, subject);
      if (waiter == nullptr) return;
      deliver(*waiter, *m);
      *m = nullptr;
      return;
    }
  }
  if (!c->has_routes.load(std::memory_order_acquire) || c->wildcard.load(std::memory_order_acquire)) return;
  std::shared_ptr<subscription_sink> target;
  {
    std::lock_guard lock(c->mu);
    if (c->wildcard.load(std::memory_order_relaxed)) return;
    auto it = c->routes.find(subject);
    if (it == c->routes.end() || it->second.members.empty()) return;
    detail::route& r = it->second;
    target = r.members[r.next++ % r.members.size()];
  }
  detail::offer(*target, *m);
  *m = nullptr;
  // The last reference (the route went meanwhile) may hold the last one to the connection,
  // whose destructor waits for this goroutine: dropped elsewhere.
  if (target.use_count() == 1) release_off_thread(new std::shared_ptr<subscription_sink>(std::move(target)));
}
#endif

// Whether a subscription on `subject` could match the inbox of the request multiplexer
// ("_INBOX.<nuid>.<token>"): its first token is ">", "*" or "_INBOX".
bool may_match_inbox(std::string_view subject) {
  std::string_view first = subject.substr(0, subject.find('.'));
  return first == ">" || first == "*" || first == "_INBOX";
}

// Whether a subject has a wildcard token ("*" or ">").
bool has_wildcard(std::string_view subject) {
  for (std::size_t at = 0;;) {
    std::size_t dot = subject.find('.', at);
    std::string_view token = subject.substr(at, dot == std::string_view::npos ? dot : dot - at);
    if (token == "*" || token == ">") return true;
    if (dot == std::string_view::npos) return false;
    at = dot + 1;
  }
}

// Routes the subscription's messages through the filter (state.hpp) where that is safe: a
// literal subject, not an inbox of libnats's, that no other subscription of ours has but
// members of the same queue group; a wildcard subscription turns routing off for the
// connection. Before the subscription exists, so that none of its messages takes libnats's
// way first.
void route_subscription(connection_state& c, const std::string& subject, const char* group, bool own_inbox,
                        const std::shared_ptr<subscription_sink>& sink) {
  std::lock_guard lock(c.mu);
  if (has_wildcard(subject)) {
    c.wildcard.store(true, std::memory_order_release);
    return;
  }
  if (!own_inbox && subject.starts_with("_INBOX")) return;
  std::string_view g = group ? group : "";
  auto [it, fresh] = c.routes.try_emplace(subject);
  detail::route& r = it->second;
  if (r.shared) return;
  if (fresh || (!g.empty() && r.group == g)) {
    if (fresh) r.group = g;
    r.members.push_back(sink);
    sink->core->routed = subject;
  } else {
    r.members.clear();
    r.shared = true;
  }
  c.has_routes.store(true, std::memory_order_release);
}

std::pair<subscription, error> subscribe_impl(const std::shared_ptr<connection_state>& c, std::string_view subject,
                                              const char* group, std::size_t capacity, bool own_inbox = false) {
  if (!c) return {{}, to_error(errc::connection_closed)};
  auto core = std::make_shared<subscription_core>();
  core->conn = c;
  auto sink = std::make_shared<subscription_sink>();
  sink->messages = make_chan<msg>(std::max<std::size_t>(capacity, 1));
  sink->core = core;
  sink->events = c->sink;
  auto* holder = new sink_holder(sink);
  std::string subj(subject);
  // Before the server can send to it: from now on the filter leaves replies to libnats.
  if (!own_inbox && may_match_inbox(subj)) c->overlap.store(true, std::memory_order_release);
  route_subscription(*c, subj, group, own_inbox, sink);
  natsSubscription* sub = nullptr;
  natsStatus s = group ? natsConnection_QueueSubscribe(&sub, c->nc, subj.c_str(), group, on_message, holder)
                       : natsConnection_Subscribe(&sub, c->nc, subj.c_str(), on_message, holder);
  if (s != NATS_OK) {
    if (!core->routed.empty()) c->unroute(core->routed, core.get());
    delete holder;  // libnats made no subscription, so it never calls back
    return {{}, detail::error_from(s)};
  }
  core->sub = sub;
  subscription out = detail::subscription_state::make(core, sink->messages);
  if (natsSubscription_SetOnCompleteCB(sub, on_subscription_complete, holder) != NATS_OK) {
    // Closed already (the connection closed in between): its handler may still run once,
    // so the holder is left to leak rather than freed under it; the channel must still end.
    std::lock_guard lock(sink->mu);
    sink->closed = true;
    sink->messages.close();
  }
  return {std::move(out), error{}};
}

}  // namespace

// --- msg ---

std::string_view msg::subject() const noexcept { return state_ ? natsMsg_GetSubject(state_->m) : ""; }
std::string_view msg::reply() const noexcept {
  if (!state_) return {};
  const char* r = natsMsg_GetReply(state_->m);
  return r ? r : "";
}
std::string_view msg::data() const noexcept {
  if (!state_) return {};
  const char* d = natsMsg_GetData(state_->m);
  return d ? std::string_view(d, static_cast<std::size_t>(natsMsg_GetDataLength(state_->m))) : "";
}

error msg::respond(std::string_view data) const {
  if (!state_) return to_error(errc::invalid_argument);
  if (!state_->sub || !state_->sub->conn) return to_error(errc::connection_closed);
  const auto& c = state_->sub->conn;
  const char* reply = natsMsg_GetReply(state_->m);
  if (!reply || !*reply) return make_error("nats: message does not have a reply");
  return detail::error_from(detail::write_through(
      *c, [&] { return natsConnection_Publish(c->nc, reply, data.data(), static_cast<int>(data.size())); }));
}

// --- subscription ---

error subscription::unsubscribe() const {
  if (!state_) return to_error(errc::invalid_subscription);
  const auto& core = state_->core;
  if (!core->routed.empty()) core->conn->unroute(core->routed, core.get());
  return detail::error_from(natsSubscription_Unsubscribe(core->sub));
}
error subscription::drain() const {
  if (!state_) return to_error(errc::invalid_subscription);
  const auto& core = state_->core;
  // What is still on its way to it then goes through libnats, after what the filter gave.
  if (!core->routed.empty()) core->conn->unroute(core->routed, core.get());
  return detail::error_from(natsSubscription_Drain(core->sub));
}
std::uint64_t subscription::dropped() const noexcept {
  return state_ ? state_->core->dropped.load(std::memory_order_relaxed) : 0;
}

// --- conn ---

std::pair<conn, error> connect(const options& opts) {
  natsOptions* o = nullptr;
  if (natsStatus s = natsOptions_Create(&o); s != NATS_OK) return {{}, detail::error_from(s)};
  struct destroy_options {
    natsOptions* o;
    ~destroy_options() { natsOptions_Destroy(o); }
  } destroy{o};

  std::vector<const char*> servers;
  for (const auto& s : opts.servers) servers.push_back(s.c_str());
  natsStatus s = NATS_OK;
  auto set = [&](natsStatus r) {
    if (s == NATS_OK) s = r;
  };
  if (!servers.empty()) set(natsOptions_SetServers(o, servers.data(), static_cast<int>(servers.size())));
  set(natsOptions_SetNoRandomize(o, true));
  if (!opts.name.empty()) set(natsOptions_SetName(o, opts.name.c_str()));
  if (!opts.user.empty()) set(natsOptions_SetUserInfo(o, opts.user.c_str(), opts.password.c_str()));
  if (!opts.token.empty()) set(natsOptions_SetToken(o, opts.token.c_str()));
  if (opts.secure) set(natsOptions_SetSecure(o, true));
  if (!opts.ca_file.empty()) set(natsOptions_LoadCATrustedCertificates(o, opts.ca_file.c_str()));
  if (!opts.cert_file.empty()) {
    set(natsOptions_LoadCertificatesChain(o, opts.cert_file.c_str(), opts.key_file.c_str()));
  }
  set(natsOptions_SetTimeout(o, detail::millis(opts.connect_timeout)));
  set(natsOptions_SetAllowReconnect(o, opts.allow_reconnect));
  set(natsOptions_SetMaxReconnect(o, opts.max_reconnect));
  set(natsOptions_SetReconnectWait(o, detail::millis(opts.reconnect_wait)));
  set(natsOptions_SetReconnectBufSize(o, opts.reconnect_buffer_bytes));
  if (opts.send_asap) set(natsOptions_SetSendAsap(o, true));
  // One libnats delivery thread for every subscription of the process instead of a thread
  // per subscription: our handlers only try_send, so they never hold it up, and one thread
  // readying the receivers of every subscription costs far less CPU than one per
  // subscription (bench/nats_compare.sh's qpub: docs/nats.md).
  set(natsOptions_UseGlobalMessageDelivery(o, true));
  if (s != NATS_OK) return {{}, detail::error_from(s)};

  auto c = std::make_shared<connection_state>();
  // With send_asap (each publish written at once: latency before throughput) our netpoller
  // reads and writes the socket (event_loop.cpp): no libnats reader thread, and a message
  // reaches its receiving goroutine from the goroutine that read it. Without it libnats's
  // reader thread reads: it keeps a stream of messages off the workers' CPUs (docs/nats.md).
  natsStatus loop_status = NATS_OK;
  if (opts.send_asap && detail::use_event_loop(o, &c->loop, &loop_status)) {
    set(loop_status);
    c->on_loop = true;
  }
  c->sink = std::make_shared<event_sink>();
  c->sink->events = make_chan<event>(std::max<std::size_t>(opts.events_capacity, 1));
  c->sink->closed = make_chan<void>();
  auto* holder = new std::shared_ptr<event_sink>(c->sink);  // freed by on_closed
  set(natsOptions_SetDisconnectedCB(o, on_disconnected, holder));
  set(natsOptions_SetReconnectedCB(o, on_reconnected, holder));
  set(natsOptions_SetClosedCB(o, on_closed, holder));
  set(natsOptions_SetErrorHandler(o, on_error, holder));
  // libnats says why a TLS handshake failed only in the connecting thread's last error.
  std::string why;
  if (s == NATS_OK) {
    s = go::blocking([&] {
      natsStatus r = natsConnection_Connect(&c->nc, o);
      if (r == NATS_SSL_ERROR) {
        why = nats_GetLastError(nullptr);
        if (why.starts_with('(')) why.erase(0, std::min(why.size(), why.find("): ") + 3));  // "(conn.c:733): "
      }
      return r;
    });
  }
  if (s != NATS_OK) {
    delete holder;  // a connection that never opened makes no callback
    c->nc = nullptr;
    c->loop.stop_all();  // libnats detaches nothing it attached before failing
    if (s == NATS_SSL_ERROR && !why.empty()) return {{}, make_error("nats: TLS: " + why)};
    return {{}, detail::error_from(s)};
  }
#ifdef GOCXX_NATS_HAVE_MSG_FILTER
  // c outlives the filter's calls: ~connection_state closes nc and waits for the goroutines
  // that read it first.
  natsConn_setFilterWithClosure(c->nc, on_any_message, c.get());
#endif
  conn out;
  out.state_ = std::move(c);
  return {std::move(out), error{}};
}

error conn::publish(std::string_view subject, std::string_view data) const {
  if (!state_) return to_error(errc::connection_closed);
  std::string subj(subject);
  return detail::error_from(detail::write_through(*state_, [&] {
    return natsConnection_Publish(state_->nc, subj.c_str(), data.data(), static_cast<int>(data.size()));
  }));
}

error conn::publish_request(std::string_view subject, std::string_view reply, std::string_view data) const {
  if (!state_) return to_error(errc::connection_closed);
  std::string subj(subject), rep(reply);
  return detail::error_from(detail::write_through(*state_, [&] {
    return natsConnection_PublishRequest(state_->nc, subj.c_str(), rep.c_str(), data.data(),
                                         static_cast<int>(data.size()));
  }));
}

std::pair<subscription, error> detail::subscribe_inbox(const std::shared_ptr<connection_state>& c,
                                                       std::string_view inbox, std::size_t capacity) {
  return subscribe_impl(c, inbox, nullptr, capacity, true);
}

std::pair<subscription, error> conn::subscribe(std::string_view subject, std::size_t capacity) const {
  return subscribe_impl(state_, subject, nullptr, capacity);
}

std::pair<subscription, error> conn::queue_subscribe(std::string_view subject, std::string_view group,
                                                     std::size_t capacity) const {
  std::string g(group);
  return subscribe_impl(state_, subject, g.c_str(), capacity);
}

std::pair<msg, error> conn::request(const context& ctx, std::string_view subject, std::string_view data) const {
  if (!state_) return {{}, to_error(errc::connection_closed)};
  if (error err = ctx.err()) return {{}, err};
  connection_state& c = *state_;
  auto slot = std::make_shared<detail::reply_slot>();
  std::string token, reply_subject;
  {
    std::lock_guard lock(c.mu);
    if (!c.responses) {
      natsInbox* inbox = nullptr;
      if (natsStatus s = natsInbox_Create(&inbox); s != NATS_OK) return {{}, detail::error_from(s)};
      std::string prefix = inbox;
      natsInbox_Destroy(inbox);
      natsSubscription* sub = nullptr;
      natsStatus s = natsConnection_Subscribe(&sub, c.nc, (prefix + ".*").c_str(), on_response, &c);
      if (s != NATS_OK) return {{}, detail::error_from(s)};
      c.responses = sub;
      c.inbox = std::move(prefix);
      c.has_inbox.store(true, std::memory_order_release);
    }
    token = std::to_string(++c.next_token);
    reply_subject = c.inbox + "." + token;
    c.waiting.emplace(token, slot);
  }
  struct unregister {
    connection_state& c;
    const std::string& token;
    ~unregister() {
      std::lock_guard lock(c.mu);
      c.waiting.erase(token);
    }
  } cleanup{c, token};
  std::string subj(subject);
  if (natsStatus s = detail::write_through(c,
                                           [&] {
                                             return natsConnection_PublishRequest(c.nc, subj.c_str(),
                                                                                  reply_subject.c_str(), data.data(),
                                                                                  static_cast<int>(data.size()));
                                           });
      s != NATS_OK) {
    return {{}, detail::error_from(s)};
  }
  msg out;
  go::select(go::recv_case(slot->ch,
                           [&](std::optional<msg> m) {
                             if (m) out = std::move(*m);
                           }),
             go::recv_case(ctx.done()));
  if (!out) return {{}, ctx.err()};
  if (natsMsg_IsNoResponders(message_state::of(out)->m)) return {{}, to_error(errc::no_responders)};
  return {std::move(out), error{}};
}

std::pair<msg, error> conn::request(std::string_view subject, std::string_view data,
                                    std::chrono::nanoseconds timeout) const {
  auto [ctx, cancel] = go::with_timeout(go::background(), timeout);
  auto [m, err] = request(ctx, subject, data);
  cancel();
  if (err == go::errc::deadline_exceeded) err = to_error(errc::timeout);
  return {std::move(m), std::move(err)};
}

error conn::flush(std::chrono::nanoseconds timeout) const {
  if (!state_) return to_error(errc::connection_closed);
  natsConnection* nc = state_->nc;
  std::int64_t ms = std::max<std::int64_t>(1, detail::millis(timeout));
  return detail::error_from(go::blocking([&] { return natsConnection_FlushTimeout(nc, ms); }));
}

error conn::drain(std::chrono::nanoseconds timeout) const {
  if (!state_) return to_error(errc::connection_closed);
  std::int64_t ms = std::max<std::int64_t>(1, detail::millis(timeout));
  if (natsStatus s = natsConnection_DrainTimeout(state_->nc, ms); s != NATS_OK) return detail::error_from(s);
  // libnats closes the connection when the drain completes or times out; closed ends then.
  state_->sink->closed.recv();
  return {};
}

void conn::close() const {
  if (state_) state_->close_with(natsConnection_Close);
}

bool conn::is_closed() const noexcept { return !state_ || natsConnection_IsClosed(state_->nc); }

int conn::buffered() const noexcept { return state_ ? natsConnection_Buffered(state_->nc) : 0; }

recv_chan<event> conn::events() const noexcept { return state_ ? recv_chan<event>(state_->sink->events) : nullptr; }

}  // namespace go::nats
