// The objects behind go::nats's handles, and who owns what across libnats's threads.
//
// Ownership (an arrow is a std::shared_ptr)
//   conn ------------------------------> connection_state (natsConnection; closed and
//                                         destroyed with the last reference)
//   subscription -> subscription_state -> subscription_core -> connection_state
//                    (unsubscribes when    (retires its natsSubscription to the
//                     the last handle       connection with the last reference: a
//                     goes)                 message acknowledges through its
//                                           natsSubscription, so messages hold it)
//   msg -> message_state -> subscription_core (or, for a reply, connection_state)
//
// libnats's callbacks get raw pointers to sinks, which hold only what a callback touches:
// - event_sink (connection events): freed by the closed callback, libnats's last call on a
//   connection; a connect that fails makes no call, and connect frees it then.
// - subscription_sink (a subscription's channel): freed after libnats's on-complete
//   callback, which runs once the subscription is closed and its handler has returned for
//   the last time, so no handler can run on a freed sink.
// A sink may hold the last reference to messages and so to a natsSubscription or a
// natsConnection, whose destruction must not run on a libnats thread (it would destroy the
// object whose thread it is on, or join that thread): sinks are freed in a goroutine.
//
// A natsSubscription is destroyed only after its connection is closed (connection_state's
// destructor). libnats 3.4's read loop looks a subscription up under its table lock, drops
// the lock and then uses the subscription without holding a reference to it (fixed in
// libnats 3.10, nats.c#638): natsSubscription_Destroy on a subscription the server is still
// sending to (a pull consumer whose last pull request is outstanding, a late reply to the
// request multiplexer) can free it under the read loop, which then writes to freed memory.
// natsConnection_Destroy joins the read loop, so destroying subscriptions after it is safe.
// A retired subscription is unsubscribed or a pull consumer's (which nothing sends to
// without a pull request), and costs its natsSubscription until the connection closes.
//
// Locks: connection_state::mu guards the request multiplexer's table. The response
// subscription's handler takes it, and so does request(); no libnats call is made with it
// held except natsConnection_Subscribe at the first request (libnats never calls a handler
// inline from Subscribe), so libnats's own locks are never taken inside ours while a
// libnats thread holds one of its locks and waits for ours.
#pragma once

#include <nats/nats.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "go/chan.hpp"
#include "go/nats.hpp"

namespace go::nats::detail {

// error_from converts a libnats status into a go::error (nil for NATS_OK).
error error_from(natsStatus s, jsErrCode js = static_cast<jsErrCode>(0));

// millis converts a duration into libnats's milliseconds, at least 1 for a positive one.
std::int64_t millis(std::chrono::nanoseconds d) noexcept;

struct event_sink {
  chan<event> events;
  chan<void> closed;  // closed by the closed callback
};

struct connection_state {
  natsConnection* nc = nullptr;
  std::shared_ptr<event_sink> sink;

  // The request multiplexer (nats.go's respMux): one subscription on "<inbox>.*"; each
  // request waits on its own one-value channel, registered under its token.
  std::mutex mu;
  std::string inbox;                                   // guarded by mu; empty until the first request
  natsSubscription* responses = nullptr;               // guarded by mu
  std::uint64_t next_token = 0;                        // guarded by mu
  std::unordered_map<std::string, chan<msg>> waiting;  // guarded by mu
  std::vector<natsSubscription*> retired;              // guarded by mu; destroyed after nc

  // retire hands over a subscription to destroy once nc is closed (see the top).
  void retire(natsSubscription* sub) {
    std::lock_guard lock(mu);
    retired.push_back(sub);
  }

  ~connection_state();
  static conn handle(std::shared_ptr<connection_state> c) {
    conn out;
    out.state_ = std::move(c);
    return out;
  }
};

struct subscription_core {
  natsSubscription* sub = nullptr;
  std::shared_ptr<connection_state> conn;
  std::shared_ptr<void> js;  // the jsCtx of a pull consumer, which libnats uses to acknowledge
  std::atomic<std::uint64_t> dropped{0};
  ~subscription_core() {
    if (!sub) return;
    if (conn) conn->retire(sub);
    else natsSubscription_Destroy(sub);
  }
};

struct subscription_state {
  std::shared_ptr<subscription_core> core;
  static subscription make(std::shared_ptr<subscription_core> core, recv_chan<msg> messages) {
    subscription out;
    out.state_ = std::make_shared<subscription_state>();
    out.state_->core = std::move(core);
    out.messages_ = std::move(messages);
    return out;
  }
  ~subscription_state() {
    if (core && core->sub) natsSubscription_Unsubscribe(core->sub);
  }
};

struct message_state {
  natsMsg* m = nullptr;
  std::shared_ptr<subscription_core> sub;  // for a subscription's message
  std::shared_ptr<connection_state> conn;  // for respond
  ~message_state() {
    if (m) natsMsg_Destroy(m);
  }
  static msg make(natsMsg* m, std::shared_ptr<subscription_core> sub, std::shared_ptr<connection_state> conn) {
    auto s = std::make_shared<message_state>();
    s->m = m;
    s->sub = std::move(sub);
    s->conn = std::move(conn);
    return msg(std::move(s));
  }
  static message_state* of(const msg& m) noexcept { return m.state_.get(); }
};

struct consumer_state {
  std::shared_ptr<subscription_core> core;
};

}  // namespace go::nats::detail
