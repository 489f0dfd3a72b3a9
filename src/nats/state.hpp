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
// Replies to requests: the request multiplexer's subscription on "<inbox>.*" exists so that
// the server sends the replies, but where libnats exports its message filter
// (GOCXX_NATS_HAVE_MSG_FILTER) the connection's filter, which libnats's reader thread calls
// with every message before routing it, takes each reply whose token has a waiting request
// and hands it over there (reply_slot), one thread hand-off fewer than through the delivery
// thread; a request whose thread waits for the reply is then woken by the reader thread
// directly, with no worker to wake for a goroutine. The filter cannot see which subscription a message is for, so it takes replies only while no
// subscription of ours could match the inbox too (`overlap`: a subject beginning with ">",
// "*" or "_INBOX"); it then never takes a message meant for another subscription.
//
// Messages are freed by destroy_message on the thread that drops the last msg: a received
// natsMsg that natsMsg_Destroy frees is handed to libnats's garbage-collector thread instead,
// which it wakes for each message that finds it waiting (every reply of a request/reply
// exchange, for one). Where libnats exports natsMsg_free (GOCXX_NATS_HAVE_MSG_FREE), the
// function that thread would call, destroy_message calls it; else natsMsg_Destroy.
//
// Locks: connection_state::mu guards the request multiplexer's table. The response
// subscription's handler and the filter take it, and so does request(); no libnats call is
// made with it held except natsConnection_Subscribe at the first request (libnats never
// calls a handler inline from Subscribe), so libnats's own locks are never taken inside ours
// while a libnats thread holds one of its locks and waits for ours. The reader thread calls
// the filter holding none of libnats's locks.
#pragma once

#include <nats/nats.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "go/chan.hpp"
#include "go/nats.hpp"

namespace go::nats::detail {

// destroy_message frees a message that libnats handed over (see the top).
void destroy_message(natsMsg* m) noexcept;

// error_from converts a libnats status into a go::error (nil for NATS_OK).
error error_from(natsStatus s, jsErrCode js = static_cast<jsErrCode>(0));

// millis converts a duration into libnats's milliseconds, at least 1 for a positive one.
std::int64_t millis(std::chrono::nanoseconds d) noexcept;

struct event_sink {
  chan<event> events;
  chan<void> closed;  // closed by the closed callback
};

// Where a request waits for its reply. Up to max_procs() requests of a connection at once
// wait with their thread blocked (inside go::blocking) on `cv`, which the thread that
// delivers the reply (libnats's reader thread through the filter) wakes directly; more would
// hold a thread each, so the others wait as goroutines on `ch`, which that thread readies.
struct reply_slot {
  std::mutex mu;
  std::condition_variable cv;
  chan<msg> ch;          // set (capacity 1) for a request waiting as a goroutine
  natsMsg* m = nullptr;  // guarded by mu: the reply, for a request waiting on cv
  bool done = false;     // guarded by mu: a reply came, or the request's context ended
};

struct connection_state {
  natsConnection* nc = nullptr;
  std::shared_ptr<event_sink> sink;

  // The request multiplexer (nats.go's respMux): one subscription on "<inbox>.*"; each
  // request waits on its own reply_slot, registered under its token.
  std::mutex mu;
  std::string inbox;                      // guarded by mu; empty until the first request
  std::atomic<bool> has_inbox{false};     // inbox is set, and never changes again
  natsSubscription* responses = nullptr;  // guarded by mu
  std::uint64_t next_token = 0;           // guarded by mu
  int blocked = 0;                        // guarded by mu: requests waiting on a reply_slot's cv
  std::unordered_map<std::string, std::shared_ptr<reply_slot>> waiting;  // guarded by mu
  std::vector<natsSubscription*> retired;                                // guarded by mu; destroyed after nc
  // A subscription of ours may match the inbox: the filter leaves replies to libnats.
  std::atomic<bool> overlap{false};

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
  static std::shared_ptr<subscription_core> core_of(const subscription& s) { return s.state_->core; }
  ~subscription_state() {
    if (core && core->sub) natsSubscription_Unsubscribe(core->sub);
  }
};

struct message_state {
  natsMsg* m = nullptr;
  std::shared_ptr<subscription_core> sub;  // for a subscription's message
  std::shared_ptr<connection_state> conn;  // for respond
  bool jetstream = false;                  // fetched from a pull consumer: it can be acknowledged
  std::atomic<bool> acked{false};          // acked, naked or termed: later acknowledgements do nothing
  ~message_state() {
    if (m) destroy_message(m);
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

// subscribe_inbox is conn::subscribe for an inbox of our own ("_INBOX.<nuid>", from
// natsInbox_Create), which cannot match the request multiplexer's: the filter keeps taking
// replies (conn::subscribe leaves them to libnats for any subject that may match).
std::pair<subscription, error> subscribe_inbox(const std::shared_ptr<connection_state>& c, std::string_view inbox,
                                               std::size_t capacity);

// A durable pull consumer. libnats's pull subscription (`core`) creates or binds the
// consumer and is not fetched from: fetch sends the pull requests itself, with `inbox` as
// their reply subject, and receives the server's answers from `pulled`, the channel of
// `pulls_sub`, an ordinary subscription on it (src/nats/jetstream.cpp says why).
struct consumer_state {
  std::shared_ptr<subscription_core> core;
  subscription pulls_sub;
  std::shared_ptr<subscription_core> pulls;  // pulls_sub's
  recv_chan<msg> pulled;
  std::string inbox;
  std::string next_subject;  // "$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>"
  std::atomic<bool> fetching{false};
};

}  // namespace go::nats::detail
