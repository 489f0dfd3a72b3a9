// JetStream over libnats: streams, durable pull consumers, fetch, acknowledgements.
// Every JetStream API call is a request to the server that blocks its thread inside
// libnats, so each runs in go::blocking. src/nats/state.hpp has the ownership rules.
#include <nats/nats.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "go/nats.hpp"
#include "go/patterns.hpp"
#include "go/runtime.hpp"
#include "go/time.hpp"
#include "nats/state.hpp"

namespace go::nats {

using detail::error_from;
using detail::message_state;

namespace {

// A fetch in flight cannot be interrupted; fetch waits in slices of at most this long and
// checks ctx between them, which bounds how late it notices cancellation.
constexpr std::chrono::milliseconds fetch_slice{100};

jsCtx* js_of(const std::shared_ptr<void>& js) { return static_cast<jsCtx*>(js.get()); }

}  // namespace

// --- msg: acknowledgements ---

namespace {
template <class F>
error ack_with(const std::shared_ptr<message_state>& s, F f) {
  if (!s) return to_error(errc::invalid_argument);
  if (!s->sub) return to_error(errc::not_jetstream_message);
  return error_from(f(s->m));
}
}  // namespace

error msg::ack() const {
  return ack_with(state_, [](natsMsg* m) { return natsMsg_Ack(m, nullptr); });
}
error msg::ack_sync() const {
  return ack_with(state_, [](natsMsg* m) {
    jsErrCode jerr = static_cast<jsErrCode>(0);
    return go::blocking([&] { return natsMsg_AckSync(m, nullptr, &jerr); });
  });
}
error msg::nak() const {
  return ack_with(state_, [](natsMsg* m) { return natsMsg_Nak(m, nullptr); });
}
error msg::nak(std::chrono::nanoseconds delay) const {
  return ack_with(state_, [&](natsMsg* m) { return natsMsg_NakWithDelay(m, detail::millis(delay), nullptr); });
}
error msg::term() const {
  return ack_with(state_, [](natsMsg* m) { return natsMsg_Term(m, nullptr); });
}
error msg::in_progress() const {
  return ack_with(state_, [](natsMsg* m) { return natsMsg_InProgress(m, nullptr); });
}

std::uint64_t msg::num_delivered() const {
  if (!state_ || !state_->sub) return 0;
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
  return {std::move(out), {}};
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
  pull_consumer out;
  out.state_ = std::make_shared<detail::consumer_state>();
  out.state_->core = std::make_shared<detail::subscription_core>();
  out.state_->core->conn = state_;
  out.state_->core->sub = sub;
  out.state_->core->js = js_;
  return {std::move(out), {}};
}

// --- pull_consumer ---

std::pair<std::vector<msg>, error> pull_consumer::fetch(const context& ctx, int n) const {
  if (!state_) return {{}, to_error(errc::invalid_subscription)};
  n = std::max(n, 1);
  natsSubscription* sub = state_->core->sub;
  for (;;) {
    if (error err = ctx.err()) return {{}, err};
    auto slice = std::chrono::duration_cast<std::chrono::nanoseconds>(fetch_slice);
    if (auto d = ctx.deadline()) slice = std::min(slice, std::chrono::nanoseconds(*d - go::now()));
    if (slice <= std::chrono::nanoseconds::zero()) continue;  // ctx.err() is set, or is about to be
    natsMsgList list{};
    jsErrCode jerr = static_cast<jsErrCode>(0);
    std::int64_t ms = detail::millis(slice);
    natsStatus s = go::blocking([&] { return natsSubscription_Fetch(&list, sub, n, ms, &jerr); });
    if (s == NATS_TIMEOUT) continue;
    if (s != NATS_OK) return {{}, error_from(s, jerr)};
    std::vector<msg> out;
    out.reserve(static_cast<std::size_t>(list.Count));
    for (int i = 0; i < list.Count; ++i) {
      out.push_back(message_state::make(list.Msgs[i], state_->core, nullptr));
      list.Msgs[i] = nullptr;  // now owned by out
    }
    natsMsgList_Destroy(&list);
    if (!out.empty()) return {std::move(out), {}};
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
    self.nak_stragglers(n);
    out.close();
  });
  return out;
}

void pull_consumer::nak_stragglers(int n) const {
  if (!state_) return;
  // The server answers a pull request until the request expires, which may be just after
  // fetch gave up on it: messages can arrive after the last fetch and wait in libnats's
  // queue, unacknowledged, for ack_wait. Wait out the last request, then take what came
  // (a no-wait request returns what is queued, and at most n more) and give it back.
  go::sleep(fetch_slice);
  natsSubscription* sub = state_->core->sub;
  for (;;) {
    jsFetchRequest req;
    jsFetchRequest_Init(&req);
    req.Batch = n;
    req.NoWait = true;
    natsMsgList list{};
    natsStatus s = go::blocking([&] { return natsSubscription_FetchRequest(&list, sub, &req); });
    if (s != NATS_OK || list.Count == 0) {
      natsMsgList_Destroy(&list);
      return;
    }
    for (int i = 0; i < list.Count; ++i) natsMsg_Nak(list.Msgs[i], nullptr);
    natsMsgList_Destroy(&list);
  }
}

error pull_consumer::unsubscribe() const {
  if (!state_) return to_error(errc::invalid_subscription);
  return error_from(natsSubscription_Drain(state_->core->sub));
}

}  // namespace go::nats
