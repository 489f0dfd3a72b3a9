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
//   msg -> message_state -> subscription_core (none for a reply)
//
// The socket: a connection with send_asap runs in libnats's event-loop mode on our
// netpoller (event_loop.cpp): two goroutines per attached socket read and write it, so it
// has no libnats reader thread; libnats still runs its delivery, timer, callback and
// garbage-collector threads. A connection without send_asap has libnats's reader and
// flusher threads, and "the reading side" below is its reader thread.
//
// libnats's callbacks get raw pointers to sinks, which hold only what a callback touches:
// - event_sink (connection events): freed by the closed callback, libnats's last call on a
//   connection; a connect that fails makes no call, and connect frees it then.
// - subscription_sink (a subscription's channel): its callbacks' reference is dropped after
//   libnats's on-complete callback, which runs once the subscription is closed and its
//   handler has returned for the last time, so no handler can run on a freed sink; a route
//   (below) holds another reference until the subscription's last handle goes.
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
// The filter: where libnats exports its message filter (GOCXX_NATS_HAVE_MSG_FILTER), the
// reading side of a connection calls the connection's filter with every message it has
// parsed, before libnats routes it, holding none of libnats's locks; a message the filter
// takes skips libnats's delivery thread, and reaches its receiving goroutine from the
// goroutine (or thread) that read it. The filter cannot see which subscription a message is for, only
// its subject, so it takes a message only where the subject says:
// - Replies to requests: the request multiplexer's subscription on "<inbox>.*" exists so
//   that the server sends the replies; the filter hands each reply whose token has a waiting
//   request to it (reply_slot), while no subscription of ours could match the inbox too
//   (`overlap`: a subject beginning with ">", "*" or "_INBOX").
// - Routes: a subscription on a literal subject that no other subscription of ours has
//   (and not an inbox of libnats's) is routed: the filter offers its messages to its sink
//   as on_message would. The members of one queue group on a literal subject share a route:
//   the server sends each message of the group to one of them, and the filter gives it to
//   one of them in turn, which is what the group asks. Any subscription of ours with a
//   wildcard turns routing off for the connection, and a subscription on a routed subject
//   that cannot share its route turns that subject's route off, for good: a message is
//   then taken only if the routed subscriptions are its only possible recipients, and once
//   a subscription's messages go through libnats they never come back, so what the filter
//   delivered earlier stays ahead of them (the order of a subscription's messages is kept).
//   unsubscribe and drain take a subscription out of its route first.

// Messages are freed by destroy_message: a received natsMsg that natsMsg_Destroy frees is
// handed to libnats's garbage-collector thread instead, which it wakes for each message that
// finds it waiting (every reply of a request/reply exchange, for one). Where libnats exports
// natsMsg_free (GOCXX_NATS_HAVE_MSG_FREE), the function that thread would call,
// destroy_message calls it; else natsMsg_Destroy. A subscription's message (up to
// message_pool::max_returned_bytes of data) lives in a block of its connection's
// message_pool, and the thread that drops the last msg gives the block back with the
// natsMsg in it; the reading side frees it (message_pool.hpp says why). Replies, and
// messages made while another thread makes one on the same connection, are freed on the
// thread that drops the last msg.
//
// Locks: connection_state::mu guards the request multiplexer's table and the routes. The
// response subscription's handler and the filter take it, and so do request() and
// subscribe; no libnats call is made with it held except natsConnection_Subscribe at the
// first request (libnats never calls a handler inline from Subscribe), so libnats's own
// locks are never taken inside ours while a libnats thread holds one of its locks and waits
// for ours. A sink's mu is taken alone (offer, on-complete). The reading goroutine calls the
// filter holding none of libnats's locks; libnats calls the event loop's callbacks with its
// connection lock held, and they take only an attachment's mu, never ours above.
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
#include "nats/message_pool.hpp"

namespace go::detail {
struct poll_desc;
}

namespace go::nats::detail {

// destroy_message frees a message that libnats handed over (see the top).
void destroy_message(natsMsg* m) noexcept;

// error_from converts a libnats status into a go::error (nil for NATS_OK).
error error_from(natsStatus s, jsErrCode js = static_cast<jsErrCode>(0));

// millis converts a duration into libnats's milliseconds, at least 1 for a positive one.
std::int64_t millis(std::chrono::nanoseconds d) noexcept;

// A connection's events. The closed callback closes both channels, and a subscription's
// slow-consumer error can come after it (a message its reader had already taken): post
// drops an event once the channels are closed instead of sending on a closed channel.
struct event_sink {
  chan<event> events;
  chan<void> closed;

  // post try_sends e unless the connection has closed (any thread).
  void post(event e);
  // close posts the closed event and closes both channels (the closed callback).
  void close();

 private:
  std::mutex mu;
  bool done = false;  // guarded by mu
};

// Where a request waits for its reply: a channel of capacity 1, into which the goroutine
// that reads the connection (event_loop.cpp), through the filter, sends the reply.
struct reply_slot {
  chan<msg> ch = make_chan<msg>(1);
};

// One socket of a connection as libnats's event loop attached it (src/nats/event_loop.cpp):
// a goroutine reads it and one writes it, through our netpoller, until read(remove) or
// detach stops them. Callbacks reach it through a raw pointer; the connection's event_loop
// owns it, and each goroutine holds a reference until it returns.
struct attachment {
  natsConnection* nc = nullptr;         // retained (natsConn_retain) until both goroutines return
  int fd = -1;                          // our duplicate of libnats's socket
  go::detail::poll_desc* pd = nullptr;  // fd's, closed when both goroutines return
  chan<void> kick;                      // capacity 1: wakes the writer
  chan<void> done;                      // closed when both goroutines have returned
  std::mutex mu;                        // serializes stop's eviction with the closing of pd
  std::mutex write_mu;                  // serializes write_once
  std::mutex read_mu;                   // held by the reader across ProcessReadEvent
  bool reading_stopped = false;         // guarded by read_mu: the reader calls it no more
  std::atomic<bool> stopped{false};
  std::atomic<bool> write_wanted{false};  // libnats's write(add) stands
  std::atomic<bool> rest{false};          // a write_once elsewhere left bytes for the writer
  std::atomic<int> live{2};               // goroutines still running

  // write_once calls ProcessWriteEvent if the buffer holds something, and says whether
  // something is left. libnats takes a send(2) of 0 bytes for a closed connection, so no
  // call may find the buffer empty: write_mu keeps another call from emptying it between
  // the check and the call (only ProcessWriteEvent takes bytes out of it).
  bool write_once() noexcept;
  // write_rest_later hands what a write_once left to the writer goroutine.
  void write_rest_later(bool left) noexcept;

  // stop makes both goroutines return (any thread, libnats's lock held or not).
  void stop() noexcept;
  // exit is each goroutine's last act; the last one closes fd and releases nc.
  void exit() noexcept;
};

// The loop a connection gives natsOptions_SetEventLoop: it keeps every attachment (one per
// socket libnats has attached, reconnections included) until the connection is destroyed.
struct event_loop {
  std::mutex mu;
  std::vector<std::shared_ptr<attachment>> attachments;  // guarded by mu
  bool reading_stopped = false;                          // guarded by mu: stop_reading ran

  void add(std::shared_ptr<attachment> a);
  // stop_reading returns once no reader of this loop's attachments, attached now or later,
  // is in ProcessReadEvent or will call it again. A close of ours (Close, Destroy) comes
  // after it: libnats closes the socket under its lock but reads it outside (event_loop.cpp).
  void stop_reading();
  // latest is the attachment of the socket libnats attached last (null before the first).
  std::shared_ptr<attachment> latest();
  // stop_all stops every attachment: for a connect that failed, which makes no detach.
  void stop_all();
  // wait returns once every attachment's goroutines have returned (all stopped first).
  void wait();
  // write_now writes the connection's write buffer from this thread, without a PING or
  // waiting for anything, and leaves what the socket does not take to the writer goroutine.
  void write_now();
  // wait_for_room returns once at most max_unsent bytes of nc's are left unsent
  // (event_loop.cpp), or the socket is detached: a publish on a connection without the loop
  // blocks in its write while the socket is full, and libnats's buffer on the loop would
  // take everything instead.
  void wait_for_room(natsConnection* nc);
};

// use_event_loop makes the connection made with o run on `loop` (event_loop.cpp), setting
// *s to what libnats says, and returns true; false where this libnats lacks what the loop
// needs (GOCXX_NATS_HAVE_CONN_RETAIN): then o is left as it was.
bool use_event_loop(natsOptions* o, event_loop* loop, natsStatus* s);

void begin_write_through() noexcept;
void end_write_through() noexcept;

struct subscription_core;

// What a subscription's deliveries touch (see the top for its lifetime): libnats's delivery
// thread (on_message) and, for a routed subscription, the goroutine that reads the
// connection (the filter) offer messages; mu orders both with the channel's close.
struct subscription_sink {
  chan<msg> messages;
  std::shared_ptr<subscription_core> core;
  std::shared_ptr<event_sink> events;
  std::mutex mu;
  bool closed = false;  // guarded by mu: messages is closed
  bool slow = false;    // guarded by mu: the last offer dropped its message
};

// offer try_sends m, wrapped in a msg, into the sink's channel, or drops and counts it (the
// slow-consumer policy), reporting the first drop after a delivery.
void offer(subscription_sink& s, natsMsg* m);

// A literal subject's entry in a connection's routes: the one plain subscription of ours
// on it, or the members of one queue group; none, for good, once subscriptions that cannot
// share a route have subscribed to it (then libnats routes its messages).
struct route {
  std::vector<std::shared_ptr<subscription_sink>> members;
  std::string group;     // the members' queue group; empty for a plain subscription
  std::size_t next = 0;  // the member that gets the next message (round robin)
  bool shared = false;
};

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

struct connection_state {
  natsConnection* nc = nullptr;
  std::shared_ptr<event_sink> sink;
  event_loop loop;                    // outlives nc: the destructor destroys nc first
  bool on_loop = false;               // nc runs on loop (with send_asap), else on libnats's reader thread
  std::atomic<bool> flushing{false};  // a fetch's flush is under way (jetstream.cpp's pull)

  // The request multiplexer (nats.go's respMux): one subscription on "<inbox>.*"; each
  // request waits on its own reply_slot, registered under its token.
  std::mutex mu;
  std::string inbox;                                                     // guarded by mu; empty until the first request
  std::atomic<bool> has_inbox{false};                                    // inbox is set, and never changes again
  natsSubscription* responses = nullptr;                                 // guarded by mu
  std::uint64_t next_token = 0;                                          // guarded by mu
  std::unordered_map<std::string, std::shared_ptr<reply_slot>> waiting;  // guarded by mu
  std::vector<natsSubscription*> retired;                                // guarded by mu; destroyed after nc
  // A subscription of ours may match the inbox: the filter leaves replies to libnats.
  std::atomic<bool> overlap{false};
  // Direct delivery (the top): our subscriptions on literal subjects, by subject; the
  // filter hands a message over itself while no subscription of ours has a wildcard.
  std::unordered_map<std::string, route, string_hash, std::equal_to<>> routes;  // guarded by mu
  std::atomic<bool> has_routes{false};                                          // routes has had an entry
  std::atomic<bool> wildcard{false};  // a subscription of ours has had a wildcard
  // The blocks of its subscriptions' messages, given back to the reading side
  // (message_pool.hpp); destroyed after nc and the loop, with nothing left to read.
  message_pool messages;

  // unroute takes core's subscription out of its route (its last handle went, or it was
  // unsubscribed or drained); a subject whose route was turned off stays with libnats.
  void unroute(const std::string& subject, const subscription_core* core);

  // retire hands over a subscription to destroy once nc is closed (see the top).
  void retire(natsSubscription* sub) {
    std::lock_guard lock(mu);
    retired.push_back(sub);
  }

  // close_with closes nc with close (natsConnection_Close or _Destroy), off the processor
  // (go::blocking). On the loop, what is buffered is flushed first, while the reader still
  // reads the PONG, and then the reader stops (event_loop::stop_reading).
  void close_with(void (*close)(natsConnection*));

  ~connection_state();
  static conn handle(std::shared_ptr<connection_state> c) {
    conn out;
    out.state_ = std::move(c);
    return out;
  }
};

// write_through runs f, a publish of ours on c, so that a write it asks the event loop for
// (with send_asap, every publish; else a full buffer) is made on this thread before it
// returns, as libnats's own loop-less connections write, instead of waking the writer
// goroutine; what the socket does not take at once is left to the writer goroutine.
template <class F>
natsStatus write_through(connection_state& c, F&& f) {
  begin_write_through();
  natsStatus s = f();
  end_write_through();
  if (c.on_loop) c.loop.wait_for_room(c.nc);
  return s;
}

struct subscription_core {
  natsSubscription* sub = nullptr;
  std::shared_ptr<connection_state> conn;
  std::shared_ptr<void> js;  // the jsCtx of a pull consumer, which libnats uses to acknowledge
  std::atomic<std::uint64_t> dropped{0};
  std::string routed;  // the subject of its route in conn->routes, if it has one
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
    if (core && !core->routed.empty()) core->conn->unroute(core->routed, core.get());
    if (core && core->sub) natsSubscription_Unsubscribe(core->sub);
  }
};

struct message_state {
  natsMsg* m = nullptr;
  std::shared_ptr<subscription_core> sub;  // for a subscription's message (not a reply): its connection
  message_block* home = nullptr;           // the pool's block it lives in, if any (message_pool.hpp)
  bool jetstream = false;                  // fetched from a pull consumer: it can be acknowledged
  std::atomic<bool> acked{false};          // acked, naked or termed: later acknowledgements do nothing
  // A pooled message leaves m to its block, which its connection's reading side frees, and
  // sub (the connection's lifeline) to the block's allocator, which gives the block back.
  ~message_state() {
    if (home) {
      home->m = m;
      home->keep = std::move(sub);
    } else if (m) {
      destroy_message(m);
    }
  }
  // make wraps a message that a subscription's sub received, in a block of its connection's
  // pool where no other thread is making one there, else through std::allocator.
  static msg make(natsMsg* m, std::shared_ptr<subscription_core> sub);
  // make_reply wraps a reply to a request (no subscription of the caller's).
  static msg make_reply(natsMsg* m) {
    auto s = std::make_shared<message_state>();
    s->m = m;
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
