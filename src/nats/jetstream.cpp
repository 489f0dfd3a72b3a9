// JetStream over libnats: streams, durable pull consumers, fetch, acknowledgements.
// Every JetStream API call is a request to the server that blocks its thread inside
// libnats, so each runs in go::blocking. src/nats/state.hpp has the ownership rules.
//
// Fetching. libnats's natsSubscription_Fetch publishes its pull request through the
// connection's write buffer, which its flusher thread writes only about 1 ms after being
// woken (it waits for more), and a fetch waits for that every time. So fetch does what
// libnats's fetch does with the request in its own hands: the pull request (JSON: batch,
// expires or no_wait) is published to "$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>" with
// the consumer's own inbox as reply subject, and is written at once, with the
// acknowledgements buffered since the last fetch (by natsConnection_FlushTimeout, or on an
// event loop from the fetching goroutine, event_loop::write_now); the server's answers
// arrive on an ordinary subscription on that inbox, delivered into a channel that fetch
// receives from, so that no thread waits for them (a synchronous subscription would keep a
// thread blocked for each fetch, woken, a context switch each time, for each message that
// finds it waiting): messages, then possibly a status
// message (a message without data whose "Status" header is 404 no messages for a no_wait
// request, 408 request expired, 100 idle heartbeat, 409 and others errors). As libnats's
// simple fetch: what is queued already is taken first, then a no_wait request for the rest
// (when that is more than one), and when that finds nothing a request that waits until the
// fetch's slice ends (its expiry 10 ms shorter, so that the server ends it first). Only
// the flush, which waits for the server's PONG, blocks a thread. The channel holds
// pulled_capacity messages, which bounds what one fetch asks for; past it the subscription's
// slow-consumer policy drops a message, which the server delivers again after ack_wait.
// Acknowledgements are publishes to the message's reply subject ("+ACK", "-NAK",
// "-NAK {"delay":ns}", "+TERM", "+WPI"), as libnats's natsMsg_Ack and the others, which
// work only on messages of libnats's own JetStream subscriptions.
#include <nats/nats.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "go/nats.hpp"
#include "go/patterns.hpp"
#include "go/runtime.hpp"
#include "go/select.hpp"
#include "go/time.hpp"
#include "nats/state.hpp"

namespace go::nats {

using detail::error_from;
using detail::message_state;

namespace {

// A fetch in flight cannot be interrupted; fetch waits in slices of at most this long and
// checks ctx between them, which bounds how late it notices cancellation.
constexpr std::chrono::milliseconds fetch_slice{100};
// The capacity of a consumer's inbox channel, and so the most one fetch asks for.
constexpr int pulled_capacity = 4096;
// How long ack_sync waits for the server's confirmation (libnats's default JetStream wait).
constexpr std::int64_t ack_sync_wait_ms = 5000;

jsCtx* js_of(const std::shared_ptr<void>& js) { return static_cast<jsCtx*>(js.get()); }

}  // namespace

// --- msg: acknowledgements ---

namespace {
// acknowledge publishes body to a fetched message's reply subject; a final one (all but
// in_progress) marks the message acknowledged, after which acknowledgements do nothing
// (as libnats's). sync waits for the server's confirmation.
error acknowledge(const std::shared_ptr<message_state>& s, std::string_view body, bool final, bool sync = false) {
  if (!s) return to_error(errc::invalid_argument);
  if (!s->jetstream) return to_error(errc::not_jetstream_message);
  if (s->acked.load(std::memory_order_acquire)) return {};
  const char* reply = natsMsg_GetReply(s->m);
  if (!reply || !*reply) return to_error(errc::not_jetstream_message);
  natsConnection* nc = s->sub->conn->nc;
  std::string b(body);
  natsStatus st = NATS_OK;
  if (sync) {
    st = go::blocking([&] {
      natsMsg* confirmation = nullptr;
      natsStatus r = natsConnection_RequestString(&confirmation, nc, reply, b.c_str(), ack_sync_wait_ms);
      natsMsg_Destroy(confirmation);
      return r;
    });
  } else {
    st = natsConnection_PublishString(nc, reply, b.c_str());
  }
  if (st == NATS_OK && final) s->acked.store(true, std::memory_order_release);
  return error_from(st);
}
}  // namespace

error msg::ack() const { return acknowledge(state_, "+ACK", true); }
error msg::ack_sync() const { return acknowledge(state_, "+ACK", true, true); }
error msg::nak() const { return acknowledge(state_, "-NAK", true); }
error msg::nak(std::chrono::nanoseconds delay) const {
  if (delay <= std::chrono::nanoseconds::zero()) return nak();
  return acknowledge(state_, "-NAK {\"delay\":" + std::to_string(delay.count()) + "}", true);
}
error msg::term() const { return acknowledge(state_, "+TERM", true); }
error msg::in_progress() const { return acknowledge(state_, "+WPI", false); }

std::uint64_t msg::num_delivered() const {
  if (!state_ || !state_->jetstream) return 0;
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, state_->m) != NATS_OK) return 0;
  std::uint64_t n = meta->NumDelivered;
  jsMsgMetaData_Destroy(meta);
  return n;
}

// --- conn::jetstream ---

std::pair<jetstream, error> conn::jetstream() const {
  if (!state_) return {{}, to_error(errc::connection_closed)};
  jsCtx* js = nullptr;
  if (natsStatus s = natsConnection_JetStream(&js, state_->nc, nullptr); s != NATS_OK) return {{}, error_from(s)};
  ::go::nats::jetstream out;
  out.state_ = state_;
  out.js_ = std::shared_ptr<void>(js, [](void* p) { jsCtx_Destroy(static_cast<jsCtx*>(p)); });
  return {std::move(out), error{}};
}

// --- jetstream ---

error jetstream::add_stream(const stream_config& cfg) const {
  if (!js_) return to_error(errc::connection_closed);
  jsStreamConfig c;
  jsStreamConfig_Init(&c);
  c.Name = cfg.name.c_str();
  std::vector<const char*> subjects;
  for (const auto& s : cfg.subjects) subjects.push_back(s.c_str());
  c.Subjects = subjects.data();
  c.SubjectsLen = static_cast<int>(subjects.size());
  c.Retention = cfg.work_queue ? js_WorkQueuePolicy : js_LimitsPolicy;
  c.Storage = cfg.memory ? js_MemoryStorage : js_FileStorage;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = go::blocking([&] { return js_AddStream(nullptr, js_of(js_), &c, nullptr, &jerr); });
  return error_from(s, jerr);
}

error jetstream::delete_stream(std::string_view name) const {
  if (!js_) return to_error(errc::connection_closed);
  std::string n(name);
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = go::blocking([&] { return js_DeleteStream(js_of(js_), n.c_str(), nullptr, &jerr); });
  return error_from(s, jerr);
}

std::pair<stream_info, error> jetstream::stream_info(std::string_view name) const {
  if (!js_) return {{}, to_error(errc::connection_closed)};
  std::string n(name);
  jsErrCode jerr = static_cast<jsErrCode>(0);
  jsStreamInfo* si = nullptr;
  natsStatus s = go::blocking([&] { return js_GetStreamInfo(&si, js_of(js_), n.c_str(), nullptr, &jerr); });
  if (s != NATS_OK) return {{}, error_from(s, jerr)};
  ::go::nats::stream_info out{si->State.Msgs, static_cast<std::uint64_t>(si->State.Consumers)};
  jsStreamInfo_Destroy(si);
  return {out, {}};
}

std::pair<consumer_info, error> jetstream::consumer_info(std::string_view stream, std::string_view durable) const {
  if (!js_) return {{}, to_error(errc::connection_closed)};
  std::string st(stream), d(durable);
  jsErrCode jerr = static_cast<jsErrCode>(0);
  jsConsumerInfo* ci = nullptr;
  natsStatus s =
      go::blocking([&] { return js_GetConsumerInfo(&ci, js_of(js_), st.c_str(), d.c_str(), nullptr, &jerr); });
  if (s != NATS_OK) return {{}, error_from(s, jerr)};
  ::go::nats::consumer_info out{ci->NumPending, static_cast<std::uint64_t>(ci->NumAckPending),
                                static_cast<std::uint64_t>(ci->NumRedelivered)};
  jsConsumerInfo_Destroy(ci);
  return {out, {}};
}

error jetstream::publish(std::string_view subject, std::string_view data) const {
  if (!js_) return to_error(errc::connection_closed);
  std::string subj(subject);
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = go::blocking([&] {
    return js_Publish(nullptr, js_of(js_), subj.c_str(), data.data(), static_cast<int>(data.size()), nullptr, &jerr);
  });
  return error_from(s, jerr);
}

error jetstream::publish_async(std::string_view subject, std::string_view data) const {
  if (!js_) return to_error(errc::connection_closed);
  std::string subj(subject);
  // Blocks only while too many publishes await their acknowledgement (libnats's stall wait).
  natsStatus s = go::blocking(
      [&] { return js_PublishAsync(js_of(js_), subj.c_str(), data.data(), static_cast<int>(data.size()), nullptr); });
  return error_from(s);
}

error jetstream::publish_async_complete(std::chrono::nanoseconds timeout) const {
  if (!js_) return to_error(errc::connection_closed);
  jsPubOptions o;
  jsPubOptions_Init(&o);
  o.MaxWait = std::max<std::int64_t>(1, detail::millis(timeout));
  return error_from(go::blocking([&] { return js_PublishAsyncComplete(js_of(js_), &o); }));
}

std::pair<pull_consumer, error> jetstream::pull_subscribe(std::string_view subject, const consumer_config& cfg) const {
  if (!js_) return {{}, to_error(errc::connection_closed)};
  std::string subj(subject);
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Config.AckPolicy = js_AckExplicit;
  so.Config.AckWait = cfg.ack_wait.count();
  so.Config.MaxDeliver = cfg.max_deliver;
  if (cfg.max_ack_pending > 0) so.Config.MaxAckPending = cfg.max_ack_pending;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsSubscription* sub = nullptr;
  natsStatus s = go::blocking(
      [&] { return js_PullSubscribe(&sub, js_of(js_), subj.c_str(), cfg.durable.c_str(), nullptr, &so, &jerr); });
  if (s != NATS_OK) return {{}, error_from(s, jerr)};
  auto st = std::make_shared<detail::consumer_state>();
  st->core = std::make_shared<detail::subscription_core>();
  st->core->conn = state_;
  st->core->sub = sub;
  st->core->js = js_;
  // The consumer's stream and name, for the subject of the pull requests: libnats found the
  // stream by the subject and keeps neither where it can be read (its consumer info call
  // fails on a subscription that bound an existing consumer), so the stream is looked up
  // the same way; an ephemeral consumer's name comes from its info.
  std::string stream, name = cfg.durable;
  s = go::blocking([&] {
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Stream.Info.SubjectsFilter = subj.c_str();
    jsStreamNamesList* names = nullptr;
    natsStatus r = js_StreamNames(&names, js_of(js_), &jo, &jerr);
    if (r != NATS_OK) return r;
    if (names->Count > 0) stream = names->List[0];
    jsStreamNamesList_Destroy(names);
    if (!name.empty()) return NATS_OK;
    jsConsumerInfo* ci = nullptr;
    r = natsSubscription_GetConsumerInfo(&ci, sub, nullptr, &jerr);
    if (r == NATS_OK) name = ci->Name;
    jsConsumerInfo_Destroy(ci);
    return r;
  });
  if (s == NATS_OK && stream.empty()) s = NATS_NOT_FOUND;
  if (s != NATS_OK) {
    natsSubscription_Unsubscribe(sub);
    return {{}, s == NATS_NOT_FOUND ? to_error(errc::stream_not_found) : error_from(s, jerr)};
  }
  st->next_subject = "$JS.API.CONSUMER.MSG.NEXT." + stream + "." + name;
  natsInbox* inbox = nullptr;
  if (s = natsInbox_Create(&inbox); s != NATS_OK) return {{}, error_from(s)};
  st->inbox = inbox;
  natsInbox_Destroy(inbox);
  auto [pulled, perr] = detail::subscribe_inbox(state_, st->inbox, pulled_capacity);
  if (perr) return {{}, perr};
  st->pulls = detail::subscription_state::core_of(pulled);
  st->pulled = pulled.messages();
  st->pulls_sub = std::move(pulled);
  pull_consumer out;
  out.state_ = std::move(st);
  return {std::move(out), error{}};
}

// --- pull_consumer ---

namespace {

// What a message on a consumer's inbox is (see the top).
enum class answer { message, heartbeat, no_messages, expired, no_responders, failed };

answer answer_of(natsMsg* m, std::string& why) {
  if (natsMsg_GetDataLength(m) > 0) return answer::message;
  if (natsMsg_IsNoResponders(m)) return answer::no_responders;
  const char* status = nullptr;
  if (natsMsgHeader_Get(m, "Status", &status) != NATS_OK || !status) return answer::message;
  std::string_view code(status);
  if (code.starts_with("100")) return answer::heartbeat;
  if (code.starts_with("404")) return answer::no_messages;
  if (code.starts_with("408")) return answer::expired;
  const char* desc = nullptr;
  why = "nats: " + std::string(code);
  if (natsMsgHeader_Get(m, "Description", &desc) == NATS_OK && desc) why += std::string(" ") + desc;
  return answer::failed;
}

// pull fetches up to n messages from c within `slice` (see the top): those queued
// already, then one no_wait request for the rest, and when that found nothing, one request
// that waits. In a goroutine.
natsStatus pull(detail::consumer_state& c, int n, std::chrono::nanoseconds slice, std::vector<msg>& out,
                std::string& why) {
  natsConnection* nc = c.pulls->conn->nc;
  auto take = [&](msg one) {
    answer a = answer_of(message_state::of(one)->m, why);
    if (a == answer::message) {
      message_state::of(one)->jetstream = true;
      out.push_back(std::move(one));
    }
    return a;
  };
  // What came after an earlier fetch gave up (its answer's status messages are ignored).
  while (static_cast<int>(out.size()) < n) {
    auto r = c.pulled.try_recv();
    if (!r) break;
    (void)take(std::move(*r.value));
  }
  if (static_cast<int>(out.size()) == n) return NATS_OK;
  auto deadline = go::now() + slice;
  auto timeout = go::after(slice);
  bool no_wait = n - static_cast<int>(out.size()) > 1;
  for (bool send = true;;) {
    std::int64_t left = detail::millis(std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - go::now()));
    if (deadline <= go::now()) return NATS_TIMEOUT;
    if (send) {
      send = false;
      std::string req = "{\"batch\":" + std::to_string(n - static_cast<int>(out.size()));
      if (no_wait) {
        req += ",\"no_wait\":true}";
      } else {
        std::int64_t expires = left >= 20 ? left - 10 : left;  // ends before our wait does
        req += ",\"expires\":" + std::to_string(expires * 1'000'000) + "}";
      }
      natsStatus s = natsConnection_PublishRequest(nc, c.next_subject.c_str(), c.inbox.c_str(), req.data(),
                                                   static_cast<int>(req.size()));
      if (s != NATS_OK) return s;
      // Writes it now rather than after the flusher's wait: on the event loop from this
      // goroutine, waiting for nothing; else by a flush, which holds a thread until the
      // server's PONG, so one at a time per connection: a request published while another
      // fetch's flush is under way goes with it or, if it came after that flush's write,
      // with libnats's flusher. While disconnected it waits in the reconnect buffer, and
      // the wait below says what happened.
      detail::connection_state& conn = *c.pulls->conn;
      if (conn.on_loop) {
        conn.loop.write_now();
      } else if (!conn.flushing.exchange(true, std::memory_order_acquire)) {
        (void)go::blocking([&] { return natsConnection_FlushTimeout(nc, left); });
        conn.flushing.store(false, std::memory_order_release);
      }
    }
    std::optional<msg> got;
    bool closed = false, expired = false;
    go::select(go::recv_case(c.pulled,
                             [&](std::optional<msg> v) {
                               if (v) got = std::move(v);
                               else closed = true;
                             }),
               go::recv_case(timeout, [&] { expired = true; }));
    if (expired) return NATS_TIMEOUT;
    if (closed) return NATS_CONNECTION_CLOSED;
    switch (take(std::move(*got))) {
      case answer::message:
        if (static_cast<int>(out.size()) == n) return NATS_OK;
        break;
      case answer::heartbeat: break;
      case answer::no_messages:
        if (!out.empty()) return NATS_OK;
        no_wait = false;  // nothing there yet: wait for the first
        send = true;
        break;
      case answer::expired: return out.empty() ? NATS_TIMEOUT : NATS_OK;
      case answer::no_responders: return NATS_NO_RESPONDERS;
      case answer::failed: return NATS_ERR;
    }
  }
}

}  // namespace

std::pair<std::vector<msg>, error> pull_consumer::fetch(const context& ctx, int n) const {
  if (!state_) return {{}, to_error(errc::invalid_subscription)};
  n = std::clamp(n, 1, pulled_capacity);
  detail::consumer_state& c = *state_;
  if (c.fetching.exchange(true, std::memory_order_acquire)) {
    return {{}, make_error("nats: concurrent fetch request not allowed")};
  }
  struct done {
    detail::consumer_state& c;
    ~done() { c.fetching.store(false, std::memory_order_release); }
  } release{c};
  for (;;) {
    if (error err = ctx.err()) return {{}, err};
    auto slice = std::chrono::duration_cast<std::chrono::nanoseconds>(fetch_slice);
    if (auto d = ctx.deadline()) slice = std::min(slice, std::chrono::nanoseconds(*d - go::now()));
    if (slice <= std::chrono::nanoseconds::zero()) continue;  // ctx.err() is set, or is about to be
    std::vector<msg> out;
    std::string why;
    natsStatus s = pull(c, n, slice, out, why);
    if (!out.empty()) return {std::move(out), error{}};
    if (s == NATS_TIMEOUT || s == NATS_OK) continue;
    if (s == NATS_ERR && !why.empty()) return {{}, make_error(why)};
    return {{}, error_from(s)};
  }
}

recv_chan<msg> pull_consumer::messages(const context& ctx, int n) const {
  n = std::max(n, 1);
  auto out = make_chan<msg>(static_cast<std::size_t>(n));
  go::spawn([self = *this, ctx, out, n] {
    const go::detail::context_watch watch(ctx);
    for (;;) {
      auto [batch, err] = self.fetch(ctx, n);
      if (err) break;
      for (std::size_t i = 0; i < batch.size(); ++i) {
        if (!watch.send(out, batch[i])) {
          // ctx is done: what did not fit goes back to the server at once.
          for (; i < batch.size(); ++i) (void)batch[i].nak();
          break;
        }
      }
    }
    self.nak_stragglers();
    out.close();
  });
  return out;
}

void pull_consumer::nak_stragglers() const {
  if (!state_) return;
  // The server answers a pull request until the request expires, which may be just after
  // fetch gave up on it: messages can arrive after the last fetch and wait in the inbox,
  // unacknowledged, for ack_wait. Wait out the last request, then give back what came. No
  // new request is sent: it would take more jobs from the stream only to nak them, and a
  // nak without delay makes them deliverable again at once, to this consumer too.
  go::sleep(fetch_slice);
  detail::consumer_state& c = *state_;
  if (c.fetching.exchange(true, std::memory_order_acquire)) return;
  for (;;) {
    auto r = c.pulled.try_recv();
    if (!r || !r.value) break;
    std::string why;
    if (answer_of(message_state::of(*r.value)->m, why) != answer::message) continue;
    message_state::of(*r.value)->jetstream = true;
    (void)r.value->nak();
  }
  c.fetching.store(false, std::memory_order_release);
}

error pull_consumer::unsubscribe() const {
  if (!state_) return to_error(errc::invalid_subscription);
  (void)natsSubscription_Drain(state_->pulls->sub);
  return error_from(natsSubscription_Drain(state_->core->sub));
}

}  // namespace go::nats
