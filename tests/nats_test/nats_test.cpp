// gocxx::nats against a real nats-server that each test starts on a free port (JetStream in
// a temporary folder; tests/nats_test/nats_server.hpp). ctest runs each test in its own
// process, so each gets a fresh server. Timings are kept short (ack waits of a few hundred
// ms) so that the whole file runs in a few seconds.
#include "go/nats.hpp"

#include <arpa/inet.h>
#include <nats/nats.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "go/runtime.hpp"
#include "go/select.hpp"
#include "go/sync.hpp"
#include "go/time.hpp"
#include "nats_server.hpp"
#include "tsan_suppressions.hpp"

using namespace std::chrono_literals;
using gocxx_nats_test::nats_server;
namespace nats = go::nats;

namespace {

nats::conn must_connect(const nats_server& s, nats::options o = {}) {
  o.servers = {s.url()};
  auto [nc, err] = nats::connect(o);
  if (err) throw std::runtime_error("connect: " + err.message());
  return nc;
}

// recv_within receives from ch, or gives up after d.
template <class T>
std::optional<T> recv_within(const go::recv_chan<T>& ch, std::chrono::nanoseconds d) {
  std::optional<T> out;
  go::select(go::recv_case(ch, [&](std::optional<T> v) { out = std::move(v); }), go::recv_case(go::after(d)));
  return out;
}

std::chrono::milliseconds since(go::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(go::now() - t);
}

// --- core NATS ---

TEST(Nats, PublishedMessagesArriveOnTheSubscriptionChannelInOrder) {
  nats_server server;
  auto nc = must_connect(server);
  auto [sub, err] = nc.subscribe("greet.*", 16);
  ASSERT_FALSE(err) << err.message();
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(nc.publish("greet.joe", "hello " + std::to_string(i)));
  for (int i = 0; i < 3; ++i) {
    auto m = recv_within(sub.messages(), 5s);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->subject(), "greet.joe");
    EXPECT_EQ(m->data(), "hello " + std::to_string(i));
  }
}

TEST(Nats, QueueGroupGivesEachMessageToOneMember) {
  nats_server server;
  auto nc = must_connect(server);
  auto [a, ea] = nc.queue_subscribe("jobs", "workers", 256);
  auto [b, eb] = nc.queue_subscribe("jobs", "workers", 256);
  ASSERT_FALSE(ea || eb);
  ASSERT_FALSE(nc.flush());
  for (int i = 0; i < 200; ++i) ASSERT_FALSE(nc.publish("jobs", std::to_string(i)));
  ASSERT_FALSE(nc.flush());
  std::set<std::string> seen;
  int from_a = 0, from_b = 0;
  for (int i = 0; i < 200; ++i) {
    std::optional<nats::msg> m;
    go::select(go::recv_case(a.messages(),
                             [&](std::optional<nats::msg> v) {
                               m = v;
                               ++from_a;
                             }),
               go::recv_case(b.messages(),
                             [&](std::optional<nats::msg> v) {
                               m = v;
                               ++from_b;
                             }),
               go::recv_case(go::after(5s)));
    ASSERT_TRUE(m) << "after " << i;
    EXPECT_TRUE(seen.insert(std::string(m->data())).second) << "delivered twice: " << m->data();
  }
  EXPECT_GT(from_a, 0);
  EXPECT_GT(from_b, 0);
  EXPECT_FALSE(recv_within(a.messages(), 50ms));
  EXPECT_FALSE(recv_within(b.messages(), 1ms));
}

// The slow-consumer policy: a full channel drops, counts and reports; it never blocks
// libnats's thread (the publishes after the drops still reach a second subscription).
TEST(Nats, FullChannelDropsCountsAndReportsSlowConsumer) {
  nats_server server;
  auto nc = must_connect(server);
  auto [slow, e1] = nc.subscribe("s", 4);
  auto [fast, e2] = nc.subscribe("s", 1024);
  ASSERT_FALSE(e1 || e2);
  for (int i = 0; i < 50; ++i) ASSERT_FALSE(nc.publish("s", std::to_string(i)));
  ASSERT_FALSE(nc.flush());
  for (int i = 0; i < 50; ++i) {
    auto m = recv_within(fast.messages(), 5s);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->data(), std::to_string(i));
  }
  auto deadline = go::now() + 5s;
  while (slow.dropped() < 46 && go::now() < deadline) go::sleep(1ms);
  EXPECT_EQ(slow.dropped(), 46u);
  EXPECT_EQ(slow.messages().len(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(slow.messages().recv()->data(), std::to_string(i));  // the first four
  auto e = recv_within(nc.events(), 5s);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->what, nats::event::kind::error);
  EXPECT_EQ(e->err, nats::errc::slow_consumer);
  EXPECT_EQ(e->err.message(), "nats: slow consumer, messages dropped");
  EXPECT_FALSE(recv_within(nc.events(), 50ms)) << "reported once per episode, not per message";
}

TEST(Nats, UnsubscribeClosesTheChannelAfterWhatWasDelivered) {
  nats_server server;
  auto nc = must_connect(server);
  auto [sub, err] = nc.subscribe("u", 16);
  ASSERT_FALSE(err);
  ASSERT_FALSE(nc.publish("u", "1"));
  ASSERT_FALSE(nc.flush());
  auto deadline = go::now() + 5s;
  while (sub.messages().len() < 1 && go::now() < deadline) go::sleep(1ms);
  ASSERT_FALSE(sub.unsubscribe());
  int n = 0;
  for (nats::msg m : sub.messages()) {
    EXPECT_EQ(m.data(), "1");
    ++n;
  }
  EXPECT_EQ(n, 1);
}

// Messages are received by goroutines: the receiving code runs on a worker, never on
// libnats's dispatcher thread (whose id we see in no goroutine).
TEST(Nats, SubscribersRunInGoroutinesNotOnLibnatsThreads) {
  nats_server server;
  auto nc = must_connect(server);
  auto [sub, err] = nc.subscribe("g", 16);
  ASSERT_FALSE(err);
  auto ids = go::make_chan<std::uint64_t>(1);
  go::spawn([msgs = sub.messages(), ids] {
    auto m = msgs.recv();
    ids.send(m ? go::this_goroutine::id() : 0);
  });
  ASSERT_FALSE(nc.publish("g", "x"));
  auto id = recv_within(go::recv_chan<std::uint64_t>(ids), 5s);
  ASSERT_TRUE(id);
  EXPECT_NE(*id, 0u);
}

// The entries of a folder of /proc/self: its threads (task) or its descriptors (fd).
int entries(const char* folder) {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(folder)) ++n;
  return n;
}

int thread_count() { return entries("/proc/self/task"); }

// Subscriptions share libnats's one delivery thread (its global delivery pool) rather than
// each starting a thread of its own: 20 subscriptions, each delivering, leave the process
// with about as many threads as before them (the runtime may start one or two workers).
TEST(Nats, SubscriptionsShareOneDeliveryThread) {
  nats_server server;
  auto nc = must_connect(server);
  auto [warm, werr] = nc.subscribe("warm", 4);  // the pool's thread starts with its first subscription
  ASSERT_FALSE(werr);
  ASSERT_FALSE(nc.publish("warm", "x"));
  ASSERT_TRUE(recv_within(warm.messages(), 5s));
  int before = thread_count();
  std::vector<nats::subscription> subs;
  for (int i = 0; i < 20; ++i) {
    auto [sub, err] = nc.subscribe("many." + std::to_string(i), 4);
    ASSERT_FALSE(err);
    subs.push_back(sub);
    ASSERT_FALSE(nc.publish("many." + std::to_string(i), "x"));
  }
  for (auto& sub : subs) ASSERT_TRUE(recv_within(sub.messages(), 5s));
  EXPECT_LT(thread_count() - before, 5) << "a thread per subscription";
}

void serve_echo(const nats::subscription& sub) {
  go::spawn([msgs = sub.messages()] {
    for (nats::msg m : msgs) (void)m.respond("echo " + std::string(m.data()));
  });
}

// An echo responder on a connection of its own (kept while the pair lives).
struct echo_responder {
  nats::conn nc;
  nats::subscription sub;
};

echo_responder start_echo(const nats_server& server) {
  echo_responder r{must_connect(server), {}};
  auto [sub, err] = r.nc.subscribe("svc.echo", 64);
  if (err) throw std::runtime_error("subscribe: " + err.message());
  r.sub = sub;
  serve_echo(sub);
  if (auto ferr = r.nc.flush()) throw std::runtime_error("flush: " + ferr.message());
  return r;
}

TEST(Nats, RequestGetsTheResponderReply) {
  nats_server server;
  auto nc = must_connect(server);
  auto [sub, err] = nc.subscribe("svc.echo", 64);
  ASSERT_FALSE(err);
  serve_echo(sub);
  ASSERT_FALSE(nc.flush());
  auto [ctx, cancel] = go::with_timeout(go::background(), 5s);
  auto [reply, rerr] = nc.request(ctx, "svc.echo", "hi");
  ASSERT_FALSE(rerr) << rerr.message();
  EXPECT_EQ(reply.data(), "echo hi");
  cancel();
}

TEST(Nats, ConcurrentRequestsEachGetTheirOwnReply) {
  nats_server server;
  auto nc = must_connect(server);
  auto [sub, err] = nc.subscribe("svc.echo", 256);
  ASSERT_FALSE(err);
  serve_echo(sub);
  ASSERT_FALSE(nc.flush());
  go::wait_group wg;
  std::atomic<int> right{0};
  for (int i = 0; i < 64; ++i) {
    wg.go([&, i] {
      auto [reply, e] = nc.request("svc.echo", std::to_string(i), 5s);
      if (!e && reply.data() == "echo " + std::to_string(i)) right.fetch_add(1);
    });
  }
  wg.wait();
  EXPECT_EQ(right.load(), 64);
}

TEST(Nats, RequestWithoutResponderIsNoResponders) {
  nats_server server;
  auto nc = must_connect(server);
  auto start = go::now();
  auto [reply, err] = nc.request("nobody.home", "x", 5s);
  EXPECT_EQ(err, nats::errc::no_responders);
  EXPECT_EQ(err.message(), "nats: no responders available for request");
  EXPECT_LT(since(start), 2s);
}

TEST(Nats, RequestPastItsDeadlineIsDeadlineExceeded) {
  nats_server server;
  auto nc = must_connect(server);
  auto [sub, err] = nc.subscribe("svc.silent", 16);  // a responder that never answers
  ASSERT_FALSE(err);
  ASSERT_FALSE(nc.flush());
  // start is taken before the deadline is set, so the time between them (tens of ms under
  // ThreadSanitizer) cannot make the request look early.
  auto start = go::now();
  auto [ctx, cancel] = go::with_timeout(go::background(), 150ms);
  auto [reply, rerr] = nc.request(ctx, "svc.silent", "x");
  EXPECT_EQ(rerr, go::errc::deadline_exceeded);
  EXPECT_EQ(rerr.message(), "context deadline exceeded");
  EXPECT_GE(since(start), 140ms);
  EXPECT_LT(since(start), 2s);
  cancel();
  auto [r2, terr] = nc.request("svc.silent", "x", 100ms);
  EXPECT_EQ(terr, nats::errc::timeout);
  EXPECT_EQ(terr.message(), "nats: timeout");
  EXPECT_TRUE(terr.is(std::errc::timed_out));
}

TEST(Nats, RequestEndsWhenItsContextIsCancelled) {
  nats_server server;
  auto nc = must_connect(server);
  auto [sub, err] = nc.subscribe("svc.silent", 16);
  ASSERT_FALSE(err);
  auto [ctx, cancel] = go::with_cancel(go::background());
  go::spawn([cancel = cancel] {
    go::sleep(50ms);
    cancel();
  });
  auto [reply, rerr] = nc.request(ctx, "svc.silent", "x");
  EXPECT_EQ(rerr, go::errc::canceled);
}

// held_delivery_thread holds up libnats's delivery thread (one for the process) with a raw
// libnats connection whose subscription's handler waits until the object goes; held() says
// whether the handler runs. raw() is the connection, for a test's own raw subscriptions.
class held_delivery_thread {
 public:
  explicit held_delivery_thread(const nats_server& server) {
    std::string url = server.url();
    natsOptions* o = nullptr;
    if (natsOptions_Create(&o) != NATS_OK) return;
    bool ok = natsOptions_SetURL(o, url.c_str()) == NATS_OK &&
              natsOptions_UseGlobalMessageDelivery(o, true) == NATS_OK && natsConnection_Connect(&raw_, o) == NATS_OK;
    natsOptions_Destroy(o);
    if (!ok || natsConnection_Subscribe(&blocker_, raw_, "block", hold, this) != NATS_OK ||
        natsConnection_PublishString(raw_, "block", "x") != NATS_OK || natsConnection_Flush(raw_) != NATS_OK) {
      return;
    }
    for (int i = 0; i < 5000 && !entered_; ++i) std::this_thread::sleep_for(1ms);
  }
  held_delivery_thread(const held_delivery_thread&) = delete;
  held_delivery_thread& operator=(const held_delivery_thread&) = delete;
  ~held_delivery_thread() {
    release();
    // The delivery thread runs on after the connection's destruction: hold must be done
    // with this object first.
    while (entered_ && !left_) std::this_thread::sleep_for(1ms);
    if (blocker_) natsSubscription_Destroy(blocker_);
    if (raw_) natsConnection_Destroy(raw_);
  }
  bool held() const { return entered_; }
  void release() { open_ = true; }
  natsConnection* raw() const { return raw_; }

 private:
  static void hold(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
    auto* self = static_cast<held_delivery_thread*>(closure);
    self->entered_ = true;
    while (!self->open_) std::this_thread::sleep_for(1ms);
    natsMsg_Destroy(m);
    self->left_ = true;  // the last touch of self
  }
  natsConnection* raw_ = nullptr;
  natsSubscription* blocker_ = nullptr;
  std::atomic<bool> entered_{false}, open_{false}, left_{false};
};

// A request's reply does not wait for libnats's delivery thread: with that thread held up,
// a request still gets its reply, which the connection's reading side hands to the request
// (state.hpp). The responder is a raw synchronous subscription served by a plain thread, so
// it does not need the delivery thread either.
TEST(Nats, RequestRepliesDoNotWaitForTheDeliveryThread) {
#ifndef GOCXX_NATS_HAVE_MSG_FILTER
  GTEST_SKIP() << "this libnats exports no message filter: replies go through its delivery thread";
#endif
  nats_server server;
  held_delivery_thread gate(server);
  ASSERT_TRUE(gate.held()) << "the delivery thread never ran the holding handler";
  natsConnection* raw = gate.raw();
  natsSubscription* echo = nullptr;
  ASSERT_EQ(natsConnection_SubscribeSync(&echo, raw, "svc.echo"), NATS_OK);
  ASSERT_EQ(natsConnection_Flush(raw), NATS_OK);
  std::thread responder([&] {
    natsMsg* m = nullptr;
    if (natsSubscription_NextMsg(&m, echo, 10000) != NATS_OK) return;
    natsConnection_PublishString(raw, natsMsg_GetReply(m), "pong");
    natsConnection_Flush(raw);
    natsMsg_Destroy(m);
  });
  auto nc = must_connect(server);
  auto [reply, err] = nc.request("svc.echo", "ping", 5s);
  gate.release();
  responder.join();
  EXPECT_FALSE(err) << err.message();
  EXPECT_EQ(reply.data(), "pong");
  natsSubscription_Destroy(echo);
}

// A subscription's messages do not wait for libnats's delivery thread either: with that
// thread held up, a subscription on a literal subject gets what is published to it, handed
// over by the reading side of its connection (state.hpp), on the event loop (send_asap)
// and on libnats's reader thread alike.
TEST(Nats, SubscriptionMessagesDoNotWaitForTheDeliveryThread) {
#ifndef GOCXX_NATS_HAVE_MSG_FILTER
  GTEST_SKIP() << "this libnats exports no message filter: messages go through its delivery thread";
#endif
  nats_server server;
  held_delivery_thread gate(server);
  ASSERT_TRUE(gate.held()) << "the delivery thread never ran the holding handler";
  for (bool asap : {true, false}) {
    auto nc = must_connect(server, {.send_asap = asap});
    auto [sub, err] = nc.subscribe("direct", 16);
    ASSERT_FALSE(err);
    ASSERT_FALSE(nc.flush());
    for (int i = 0; i < 10; ++i) ASSERT_FALSE(nc.publish("direct", std::to_string(i)));
    int got = 0;
    for (; got < 10; ++got) {
      auto m = recv_within(sub.messages(), 5s);
      if (!m) break;
      EXPECT_EQ(m->data(), std::to_string(got));
    }
    EXPECT_EQ(got, 10) << "messages waited for the delivery thread, send_asap " << asap;
  }
}

// Messages that their receivers drop are freed by the side that reads their connection, so
// that its allocations and the frees meet in one thread's cache (src/nats/message_pool.hpp):
// a first batch, dropped on the test's thread, is freed there while a second batch is read;
// a third, given back just before the connection closes, is freed with it (LeakSanitizer
// checks that), on the event loop (send_asap) and on libnats's reader thread alike. Each
// connection has a subject of its own (AQueueSubscriberOnTheEventLoopGetsEveryMessage says
// why).
TEST(Nats, DroppedMessagesAreFreedByTheReadingSide) {
  nats_server server;
  for (bool asap : {false, true}) {
    const std::string subject = asap ? "pooled.asap" : "pooled";
    auto nc = must_connect(server, {.send_asap = asap});
    auto [sub, err] = nc.queue_subscribe(subject, "workers", 2048);
    ASSERT_FALSE(err);
    ASSERT_FALSE(nc.flush());
    auto messages = sub.messages();
    auto exchange = [&](int n) {
      for (int i = 0; i < n; ++i) ASSERT_FALSE(nc.publish(subject, "x"));
      for (int i = 0; i < n; ++i) ASSERT_TRUE(recv_within(messages, 5s)) << "message " << i << " of " << n;
    };
    std::uint64_t before = go::nats::detail::returned_messages_freed();
    exchange(1000);
    exchange(300);
    EXPECT_GE(go::nats::detail::returned_messages_freed() - before, 1000u) << "send_asap " << asap;
    exchange(100);
  }
}

// A queue subscriber on the event loop (send_asap) gets every message that its connection
// publishes, in round after round on new connections: the goroutine that reads a connection
// never stops while the server still sends. Each round has a subject of its own: the server
// drops a closed connection's subscriptions only once it has seen the close, so a new member
// of the same queue group could meanwhile share its messages with the last round's (on
// libnats's reader thread as well), and they would never arrive.
TEST(Nats, AQueueSubscriberOnTheEventLoopGetsEveryMessage) {
#ifndef GOCXX_NATS_HAVE_CONN_RETAIN
  GTEST_SKIP() << "this libnats exports no natsConn_retain: no connection uses the event loop";
#endif
  nats_server server;
  constexpr int rounds = 50, n = 1000;
  for (int r = 0; r < rounds; ++r) {
    const std::string subject = "loop.q." + std::to_string(r);
    auto nc = must_connect(server, {.send_asap = true});
    auto [sub, err] = nc.queue_subscribe(subject, "workers", 2048);
    ASSERT_FALSE(err);
    ASSERT_FALSE(nc.flush());
    auto messages = sub.messages();
    for (int i = 0; i < n; ++i) ASSERT_FALSE(nc.publish(subject, "x"));
    int got = 0;
    for (auto deadline = go::now() + 10s; got < n && go::now() < deadline; ++got) {
      if (!recv_within(messages, deadline - go::now())) break;
    }
    ASSERT_EQ(got, n) << "round " << r << ": " << got << " of " << n << " messages arrived within 10 s";
  }
}

// On the event loop (send_asap), while more than the loop's bound is unsent a publish waits,
// as one without the loop blocks in its write: a server that reads nothing makes publishes
// wait instead of the write buffer growing without bound, and they all go out once it reads.
TEST(Nats, PublishesWaitWhileTheServerReadsNothing) {
#ifndef GOCXX_NATS_HAVE_CONN_RETAIN
  GTEST_SKIP() << "this libnats exports no natsConn_retain: no connection uses the event loop";
#endif
  nats_server server;
  auto nc = must_connect(server, {.send_asap = true});
  ASSERT_FALSE(nc.flush());
  const std::string big(64 * 1024, 'x');
  constexpr int n = 512;  // 32 MiB, more than the two ends' socket buffers hold
  std::atomic<int> published{0};
  std::atomic<bool> failed{false};
  server.pause();
  go::spawn([&, nc] {
    for (int i = 0; i < n; ++i) {
      if (nc.publish("big", big)) {
        failed = true;
        return;
      }
      published.fetch_add(1);
    }
  });
  go::sleep(1s);
  EXPECT_LT(published.load(), n) << "every publish returned while the server read nothing";
  EXPECT_LE(nc.buffered(), 2 << 20) << "the write buffer grew while the server read nothing";
  server.resume();
  for (auto deadline = go::now() + 30s; published.load() < n && !failed && go::now() < deadline;) go::sleep(10ms);
  EXPECT_FALSE(failed.load());
  EXPECT_EQ(published.load(), n);
  EXPECT_FALSE(nc.flush());
}

// Subscriptions whose subjects overlap on one connection each get every message once, in
// order: two on one literal subject, and a wildcard one made while messages flow to a
// literal one (messages taken by the reader before it, libnats's delivery thread after).
TEST(Nats, OverlappingSubscriptionsGetEveryMessageOnceInOrder) {
  nats_server server;
  for (bool asap : {true, false}) {
    auto nc = must_connect(server, {.send_asap = asap});
    auto [first, e1] = nc.subscribe("ov.a", 256);
    ASSERT_FALSE(e1);
    ASSERT_FALSE(nc.flush());
    for (int i = 0; i < 50; ++i) ASSERT_FALSE(nc.publish("ov.a", std::to_string(i)));
    auto [second, e2] = nc.subscribe("ov.a", 256);
    ASSERT_FALSE(e2);
    auto [wild, e3] = nc.subscribe("ov.*", 256);
    ASSERT_FALSE(e3);
    ASSERT_FALSE(nc.flush());
    for (int i = 50; i < 100; ++i) ASSERT_FALSE(nc.publish("ov.a", std::to_string(i)));
    ASSERT_FALSE(nc.flush());
    for (int i = 0; i < 100; ++i) {
      auto m = recv_within(first.messages(), 5s);
      ASSERT_TRUE(m) << "message " << i << " never came, send_asap " << asap;
      EXPECT_EQ(m->data(), std::to_string(i));
    }
    for (auto* s : {&second, &wild}) {
      for (int i = 50; i < 100; ++i) {
        auto m = recv_within(s->messages(), 5s);
        ASSERT_TRUE(m) << "message " << i << " never came, send_asap " << asap;
        EXPECT_EQ(m->data(), std::to_string(i));
      }
    }
    go::sleep(50ms);
    for (auto* s : {&first, &second, &wild}) EXPECT_FALSE(s->messages().try_recv()) << "a message came twice";
  }
}

// A subscription that matches the request multiplexer's inbox too (">" here) still gets the
// replies the server sends it: the reader thread takes replies only while no subscription
// of the connection could match them (state.hpp).
TEST(Nats, ASubscriptionOnEverySubjectStillGetsTheReplies) {
  nats_server server;
  auto echo = start_echo(server);
  auto nc = must_connect(server);
  auto [all, aerr] = nc.subscribe(">", 64);
  ASSERT_FALSE(aerr);
  ASSERT_FALSE(nc.flush());
  for (int i = 0; i < 3; ++i) {
    auto [reply, rerr] = nc.request("svc.echo", "hi", 5s);
    ASSERT_FALSE(rerr) << rerr.message();
    EXPECT_EQ(reply.data(), "echo hi");
  }
  // ">" gets the 3 requests (nc's own publishes) and the 3 replies.
  int replies = 0;
  for (int i = 0; i < 6; ++i) {
    auto m = recv_within(all.messages(), 5s);
    ASSERT_TRUE(m) << "message " << i << " never came";
    if (m->data() == "echo hi") ++replies;
  }
  EXPECT_EQ(replies, 3);
}

// A waiting request holds its thread only while few others do (max_procs() per connection,
// state.hpp): 64 requests waiting at once for a responder that never answers leave the
// process with about as many threads as before them, and all end when cancelled.
TEST(Nats, ManyWaitingRequestsDoNotHoldAThreadEach) {
  nats_server server;
  auto nc = must_connect(server);
  auto [sub, err] = nc.subscribe("svc.silent", 128);
  ASSERT_FALSE(err);
  (void)nc.request("svc.none", "warm", 5s);  // no responders, at once: the multiplexer exists now
  int before = thread_count();
  auto [ctx, cancel] = go::with_cancel(go::background());
  go::wait_group wg;
  std::atomic<int> cancelled{0};
  for (int i = 0; i < 64; ++i) {
    wg.go([&, ctx = ctx] {
      if (nc.request(ctx, "svc.silent", "x").second == go::errc::canceled) cancelled.fetch_add(1);
    });
  }
  for (int i = 0; i < 64; ++i) ASSERT_TRUE(recv_within(sub.messages(), 5s)) << "request " << i << " never came";
  int during = thread_count();
  cancel();
  wg.wait();
  EXPECT_EQ(cancelled.load(), 64);
  EXPECT_LT(during - before, 16) << "a thread per waiting request";
}

// Each connection's socket is read and written by goroutines woken by our netpoller
// (libnats's event-loop mode), not by a libnats reader thread of its own: 8 connections with
// send_asap (which starts no flusher thread either), each getting the reply to a request,
// leave the process with about as many threads as before them (the runtime may start a
// worker or two).
TEST(Nats, ConnectionsStartNoReaderThread) {
#ifndef GOCXX_NATS_HAVE_CONN_RETAIN
  GTEST_SKIP() << "this libnats exports no natsConn_retain: no connection uses the event loop";
#endif
  nats_server server;
  auto echo = start_echo(server);
  auto warm = must_connect(server, {.send_asap = true});
  ASSERT_FALSE(warm.request("svc.echo", "warm", 5s).second);
  int before = thread_count();
  std::vector<nats::conn> conns;
  for (int i = 0; i < 8; ++i) {
    conns.push_back(must_connect(server, {.send_asap = true}));
    auto [reply, err] = conns.back().request("svc.echo", "x", 5s);
    ASSERT_FALSE(err) << err.message();
    EXPECT_EQ(reply.data(), "echo x");
  }
  EXPECT_LT(thread_count() - before, 4) << "a thread per connection";
}

// With one processor, a goroutine's calls that wait inside libnats for the server (flush,
// JetStream's API requests and publish, fetch, ack_sync) on a connection on the event loop
// (send_asap) hand the processor over, and the goroutine that reads the socket answers
// them; requests wait as goroutines beside them.
TEST(Nats, CallsThatWaitForTheServerWorkOnOneProcessor) {
#ifndef GOCXX_NATS_HAVE_CONN_RETAIN
  GTEST_SKIP() << "this libnats exports no natsConn_retain: no connection uses the event loop";
#endif
  int was = go::set_max_procs(1);
  struct restore {
    int n;
    ~restore() { go::set_max_procs(n); }
  } restore_procs{was};
  nats_server server;
  auto echo = start_echo(server);
  go::wait_group wg;
  wg.go([&] {
    auto nc = must_connect(server, {.send_asap = true});
    EXPECT_FALSE(nc.flush());
    for (int i = 0; i < 20; ++i) {
      auto [reply, err] = nc.request("svc.echo", std::to_string(i), 5s);
      ASSERT_FALSE(err) << err.message();
      EXPECT_EQ(reply.data(), "echo " + std::to_string(i));
    }
    auto [js, jerr] = nc.jetstream();
    ASSERT_FALSE(jerr) << jerr.message();
    ASSERT_FALSE(js.add_stream({.name = "ONE", .subjects = {"one.>"}, .work_queue = true}));
    for (int i = 0; i < 5; ++i) ASSERT_FALSE(js.publish("one.a", std::to_string(i)));
    auto [c, cerr] = js.pull_subscribe("one.>", {.durable = "w"});
    ASSERT_FALSE(cerr) << cerr.message();
    std::size_t got = 0;
    for (int tries = 0; got < 5 && tries < 50; ++tries) {
      auto [ctx, cancel] = go::with_timeout(go::background(), 1s);
      auto [batch, ferr] = c.fetch(ctx, 5);
      cancel();
      for (auto& m : batch) EXPECT_FALSE(m.ack_sync());
      got += batch.size();
    }
    EXPECT_EQ(got, 5u);
    nc.close();
  });
  wg.wait();
}

std::vector<int> thread_ids() {
  std::vector<int> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    out.push_back(std::stoi(e.path().filename().string()));
  }
  return out;
}

long voluntary_switches(int tid) {
  std::ifstream status("/proc/self/task/" + std::to_string(tid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("voluntary_ctxt_switches:")) return std::stol(line.substr(line.find(':') + 1));
  }
  return 0;
}

// Messages are freed by whoever drops the last msg, not by libnats's garbage-collector
// thread, which natsMsg_Destroy wakes for each message that finds it waiting (state.hpp).
// That thread starts, with libnats's timer and callback threads, when libnats is first
// opened; opened here from a thread of our own, their ids are the threads that appear. Over
// 200 requests (two messages dropped each: the request at the responder, the reply here)
// those threads sleep and wake far fewer times than once per message.
TEST(Nats, DroppedMessagesDoNotWakeLibnatsThreads) {
#ifndef GOCXX_NATS_HAVE_MSG_FREE
  GTEST_SKIP() << "this libnats exports no natsMsg_free: its garbage collector frees messages";
#endif
  std::vector<int> lib;
  std::thread([&] {
    auto before = thread_ids();
    if (nats_Open(-1) != NATS_OK) return;
    for (int tid : thread_ids()) {
      if (std::find(before.begin(), before.end(), tid) == before.end()) lib.push_back(tid);
    }
  }).join();
  if (lib.empty()) GTEST_SKIP() << "libnats was opened before this test (ctest runs each test in its own process)";
  nats_server server;
  auto echo = start_echo(server);
  auto nc = must_connect(server);
  ASSERT_FALSE(nc.request("svc.echo", "warm", 5s).second);
  auto switches = [&] {
    long n = 0;
    for (int tid : lib) n += voluntary_switches(tid);
    return n;
  };
  long before = switches();
  for (int i = 0; i < 200; ++i) {
    auto [reply, rerr] = nc.request("svc.echo", "x", 5s);
    ASSERT_FALSE(rerr) << rerr.message();
  }
  EXPECT_LT(switches() - before, 100) << "libnats's threads woke for the messages dropped";
}

TEST(Nats, InvalidSubjectsAreRejected) {
  nats_server server;
  auto nc = must_connect(server);
  for (const char* bad : {""}) {
    auto perr = nc.publish(bad, "x");
    EXPECT_EQ(perr, nats::errc::invalid_subject) << perr.message();
    EXPECT_EQ(perr.message(), "nats: invalid subject");
    auto [sub, serr] = nc.subscribe(bad);
    EXPECT_EQ(serr, nats::errc::invalid_subject) << serr.message();
    auto [m, rerr] = nc.request(bad, "x", 1s);
    EXPECT_EQ(rerr, nats::errc::invalid_subject) << rerr.message();
  }
}

TEST(Nats, ConnectingToNoServerFailsQuickly) {
  int port = gocxx_nats_test::free_port();
  auto start = go::now();
  auto [nc, err] = nats::connect({.servers = {"nats://127.0.0.1:" + std::to_string(port)}});
  EXPECT_EQ(err, nats::errc::no_servers);
  EXPECT_EQ(err.message(), "nats: no servers available for connection");
  EXPECT_LT(since(start), 3s);
  EXPECT_EQ(nc.publish("x", "y"), nats::errc::connection_closed);
}

TEST(Nats, WrongCredentialsAreAnAuthorizationViolation) {
  nats_server server({"--user", "alice", "--pass", "secret"});
  auto [bad, err] = nats::connect({.servers = {server.url()}, .user = "alice", .password = "wrong"});
  EXPECT_EQ(err, nats::errc::authorization) << err.message();
  EXPECT_EQ(err.message(), "nats: authorization violation");
  auto [good, gerr] = nats::connect({.servers = {server.url()}, .user = "alice", .password = "secret"});
  EXPECT_FALSE(gerr) << gerr.message();
}

TEST(Nats, TokenAuthentication) {
  nats_server server({"--auth", "t0ken"});
  auto [bad, err] = nats::connect({.servers = {server.url()}, .token = "nope"});
  EXPECT_EQ(err, nats::errc::authorization) << err.message();
  auto [good, gerr] = nats::connect({.servers = {server.url()}, .token = "t0ken"});
  EXPECT_FALSE(gerr) << gerr.message();
}

TEST(Nats, DrainDeliversWhatWasSentThenCloses) {
  nats_server server;
  auto nc = must_connect(server);
  auto [sub, err] = nc.subscribe("d", 128);
  ASSERT_FALSE(err);
  ASSERT_FALSE(nc.flush());  // the server has the subscription
  auto pub = must_connect(server);
  for (int i = 0; i < 100; ++i) ASSERT_FALSE(pub.publish("d", std::to_string(i)));
  ASSERT_FALSE(pub.flush());
  ASSERT_FALSE(nc.drain(5s));
  EXPECT_TRUE(nc.is_closed());
  int n = 0;
  for (nats::msg m : sub.messages()) EXPECT_EQ(m.data(), std::to_string(n++));
  EXPECT_EQ(n, 100);
  std::vector<nats::event::kind> kinds;
  for (const nats::event& e : nc.events()) kinds.push_back(e.what);
  ASSERT_FALSE(kinds.empty());
  EXPECT_EQ(kinds.back(), nats::event::kind::closed);
}

TEST(Nats, CloseEndsSubscriptionsAndTheEventChannel) {
  nats_server server;
  auto nc = must_connect(server);
  auto [sub, err] = nc.subscribe("c", 16);
  ASSERT_FALSE(err);
  nc.close();
  nc.close();  // idempotent
  EXPECT_FALSE(recv_within(sub.messages(), 5s).has_value());
  EXPECT_EQ(sub.messages().try_recv().status, go::chan_status::closed);
  // libnats reports the disconnection first, as nats.go does.
  std::vector<nats::event::kind> kinds;
  for (const nats::event& e : nc.events()) kinds.push_back(e.what);
  EXPECT_EQ(kinds, (std::vector{nats::event::kind::disconnected, nats::event::kind::closed}));
  EXPECT_EQ(nc.publish("c", "x"), nats::errc::connection_closed);
}

// --- send_asap ---

// raw_subscriber subscribes to a subject over a plain socket, speaking the NATS protocol
// itself, so that nothing of libnats stands between the publisher and what arrives.
class raw_subscriber {
 public:
  raw_subscriber(int port, const std::string& subject) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("raw connect");
    std::string hello = "CONNECT {\"verbose\":false}\r\nSUB " + subject + " 1\r\nPING\r\n";
    if (::write(fd_, hello.data(), hello.size()) != static_cast<ssize_t>(hello.size()))
      throw std::runtime_error("raw write");
    if (!read_until("PONG\r\n")) throw std::runtime_error("raw subscriber: no PONG");  // the server has the SUB
  }
  raw_subscriber(const raw_subscriber&) = delete;
  raw_subscriber& operator=(const raw_subscriber&) = delete;
  ~raw_subscriber() { ::close(fd_); }

  // read_until reads until what has arrived contains text, consumes up to its end, and says
  // whether it came (false after 5 s: a failure, not a threshold).
  bool read_until(const std::string& text) {
    for (;;) {
      if (auto at = in_.find(text); at != std::string::npos) {
        in_.erase(0, at + text.size());
        return true;
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 5000) != 1) return false;
      char buf[4096];
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) return false;
      in_.append(buf, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_;
  std::string in_;
};

// With send_asap a publish leaves the client before publish returns: nothing is left in its
// write buffer, and the raw subscriber receives every message though nothing flushes. By
// default a publish waits in the write buffer for libnats's flusher thread, which sends it
// a little later (still without a flush call). The observable is the order of events, not
// a duration: the default's flusher would have to run between publish's return and the
// buffered() that follows it, every one of 20 times, for the default's check to fail.
TEST(Nats, SendAsapWritesEachPublishBeforeItReturns) {
  nats_server server;
  raw_subscriber raw(server.port(), "asap");
  auto asap = must_connect(server, {.send_asap = true});
  for (int i = 0; i < 20; ++i) {
    std::string data = "asap " + std::to_string(i);
    ASSERT_FALSE(asap.publish("asap", data));
    EXPECT_EQ(asap.buffered(), 0) << "publish " << i << " returned with its bytes still in the buffer";
    ASSERT_TRUE(raw.read_until(data + "\r\n")) << "publish " << i << " never arrived";
  }

  auto buffered = must_connect(server);
  int held = 0;
  for (int i = 0; i < 20; ++i) {
    std::string data = "buffered " + std::to_string(i);
    ASSERT_FALSE(buffered.publish("asap", data));
    if (buffered.buffered() > 0) ++held;
    ASSERT_TRUE(raw.read_until(data + "\r\n")) << "the flusher never sent publish " << i;
  }
  EXPECT_GT(held, 0) << "without send_asap, no publish waited for the flusher";
}

// --- TLS ---

// tls_files makes a throwaway CA, a server certificate it signs (for 127.0.0.1 and
// localhost) and a second, unrelated CA, with openssl, in a temporary folder; a nats-server
// configuration whose tls{} block serves that certificate; and removes them at the end.
// available() is false, and why() says why, when openssl is not installed.
class tls_files {
 public:
  tls_files() {
    char tmpl[] = "/tmp/gocxx-nats-tls-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    if (std::system("command -v openssl >/dev/null 2>&1") != 0) {
      why_ = "openssl not installed (tools/apt-install openssl): TLS not tested";
      return;
    }
    auto ec_key = [](const std::string& key) {
      return " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + key;
    };
    std::string d = dir_ + "/";
    run("openssl req -x509 -days 1 -subj /CN=gocxx-test-ca" + ec_key(d + "ca.key") + " -out " + d + "ca.pem");
    run("openssl req -x509 -days 1 -subj /CN=gocxx-other-ca" + ec_key(d + "other.key") + " -out " + d + "other.pem");
    run("openssl req -subj /CN=localhost" + ec_key(d + "server.key") + " -out " + d + "server.csr");
    write(d + "ext.cnf", "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
    run("openssl x509 -req -days 1 -in " + d + "server.csr -CA " + d + "ca.pem -CAkey " + d +
        "ca.key -CAcreateserial -out " + d + "server.pem -extfile " + d + "ext.cnf");
    write(d + "server.conf", "tls {\n  cert_file: \"" + d + "server.pem\"\n  key_file: \"" + d + "server.key\"\n}\n");
  }
  tls_files(const tls_files&) = delete;
  tls_files& operator=(const tls_files&) = delete;
  ~tls_files() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  bool available() const { return why_.empty(); }
  const std::string& why() const { return why_; }
  std::string ca() const { return dir_ + "/ca.pem"; }
  std::string other_ca() const { return dir_ + "/other.pem"; }
  std::string server_config() const { return dir_ + "/server.conf"; }

 private:
  static void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }
  static void run(const std::string& command) {
    if (std::system((command + " >/dev/null 2>&1").c_str()) != 0) throw std::runtime_error("failed: " + command);
  }
  std::string dir_, why_;
};

TEST(NatsTls, ConnectsWithTheServersCAAndCarriesMessages) {
  tls_files tls;
  if (!tls.available()) GTEST_SKIP() << tls.why();
  nats_server server({"-c", tls.server_config()});
  auto [nc, err] = nats::connect({.servers = {server.url()}, .secure = true, .ca_file = tls.ca()});
  ASSERT_FALSE(err) << err.message();
  auto [sub, serr] = nc.subscribe("tls.x", 4);
  ASSERT_FALSE(serr);
  ASSERT_FALSE(nc.publish("tls.x", "secret"));
  auto m = recv_within(sub.messages(), 5s);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->data(), "secret");
}

// A server that requires TLS gets it from a client that did not ask for it (libnats upgrades
// the connection as nats.go does); the certificate is still verified.
TEST(NatsTls, AServerRequiringTlsGetsItWithoutSecure) {
  tls_files tls;
  if (!tls.available()) GTEST_SKIP() << tls.why();
  nats_server server({"-c", tls.server_config()});
  auto [nc, err] = nats::connect({.servers = {server.url()}, .ca_file = tls.ca()});
  ASSERT_FALSE(err) << err.message();
  EXPECT_FALSE(nc.flush());
  auto [plain, perr] = nats::connect({.servers = {server.url()}});
  ASSERT_TRUE(perr);
  EXPECT_TRUE(perr.message().starts_with("nats: TLS: SSL handshake error: ")) << perr.message();
}

// A server whose certificate the client's CA did not sign: connect fails, saying why in
// OpenSSL's words (libnats's status alone reads "SSL Error").
TEST(NatsTls, AServerSignedByAnotherCAIsRefusedSayingWhy) {
  tls_files tls;
  if (!tls.available()) GTEST_SKIP() << tls.why();
  nats_server server({"-c", tls.server_config()});
  auto [nc, err] = nats::connect({.servers = {server.url()}, .secure = true, .ca_file = tls.other_ca()});
  ASSERT_TRUE(err);
  EXPECT_TRUE(err.message().starts_with("nats: TLS: SSL handshake error: ")) << err.message();
  EXPECT_NE(err.message().find("unable to get local issuer certificate"), std::string::npos) << err.message();
  EXPECT_EQ(nc.publish("x", "y"), nats::errc::connection_closed);
}

TEST(NatsTls, ASecureClientRefusesAPlainServer) {
  nats_server server;
  auto [nc, err] = nats::connect({.servers = {server.url()}, .secure = true});
  ASSERT_TRUE(err);
  EXPECT_EQ(err.message(), "nats: Secure Connection not available");
}

// --- JetStream ---

struct jet {
  nats::conn nc;
  nats::jetstream js;
};

jet work_queue(const nats_server& server, const std::string& stream = "JOBS") {
  jet j{must_connect(server), {}};
  auto [js, err] = j.nc.jetstream();
  if (err) throw std::runtime_error(err.message());
  j.js = js;
  if (auto e = j.js.add_stream({.name = stream, .subjects = {"jobs.>"}})) throw std::runtime_error(e.message());
  return j;
}

nats::pull_consumer must_pull(const jet& j, nats::consumer_config cfg) {
  auto [c, err] = j.js.pull_subscribe("jobs.>", cfg);
  if (err) throw std::runtime_error("pull_subscribe: " + err.message());
  return c;
}

std::vector<nats::msg> fetch_within(const nats::pull_consumer& c, int n, std::chrono::nanoseconds d) {
  auto [ctx, cancel] = go::with_timeout(go::background(), d);
  auto [msgs, err] = c.fetch(ctx, n);
  cancel();
  return msgs;
}

// fetch_one fetches one message, or an empty msg after d.
nats::msg fetch_one(const nats::pull_consumer& c, std::chrono::nanoseconds d) {
  auto msgs = fetch_within(c, 1, d);
  return msgs.empty() ? nats::msg() : msgs[0];
}

// one_job publishes the job "job" to a new work queue and fetches it once through a
// consumer configured as cfg.
struct one_job {
  jet j;
  nats::pull_consumer c;
  nats::msg first;
};
one_job start_one_job(const nats_server& server, nats::consumer_config cfg) {
  one_job o{work_queue(server), {}, {}};
  if (auto err = o.j.js.publish("jobs.a", "job")) throw std::runtime_error(err.message());
  o.c = must_pull(o.j, std::move(cfg));
  o.first = fetch_one(o.c, 5s);
  if (!o.first || o.first.data() != "job") throw std::runtime_error("the job was not fetched");
  return o;
}

TEST(NatsJetStream, WorkQueueRemovesAckedMessages) {
  nats_server server;
  auto j = work_queue(server);
  for (int i = 0; i < 5; ++i) ASSERT_FALSE(j.js.publish("jobs.a", std::to_string(i)));
  auto [info, ierr] = j.js.stream_info("JOBS");
  ASSERT_FALSE(ierr);
  EXPECT_EQ(info.messages, 5u);
  auto c = must_pull(j, {.durable = "w"});
  std::vector<nats::msg> got;
  while (got.size() < 5) {
    auto batch = fetch_within(c, 10, 5s);
    ASSERT_FALSE(batch.empty());
    got.insert(got.end(), batch.begin(), batch.end());
  }
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(got[i].data(), std::to_string(i));
    EXPECT_EQ(got[i].num_delivered(), 1u);
    EXPECT_FALSE(got[i].ack_sync());
  }
  auto [after, aerr] = j.js.stream_info("JOBS");
  ASSERT_FALSE(aerr);
  EXPECT_EQ(after.messages, 0u);
}

TEST(NatsJetStream, AddStreamBindsToAnExistingStream) {
  nats_server server;
  auto j = work_queue(server);
  EXPECT_FALSE(j.js.add_stream({.name = "JOBS", .subjects = {"jobs.>"}}));
  auto [info, err] = j.js.stream_info("NOPE");
  EXPECT_EQ(err, nats::errc::stream_not_found) << err.message();
  EXPECT_EQ(err.message(), "nats: stream not found");
}

TEST(NatsJetStream, FetchHonoursTheContextDeadline) {
  nats_server server;
  auto j = work_queue(server);
  auto c = must_pull(j, {.durable = "w"});
  auto start = go::now();
  auto [ctx, cancel] = go::with_timeout(go::background(), 250ms);
  auto [msgs, err] = c.fetch(ctx, 1);
  EXPECT_TRUE(msgs.empty());
  EXPECT_EQ(err, go::errc::deadline_exceeded);
  EXPECT_GE(since(start), 200ms);
  EXPECT_LT(since(start), 1s);
  cancel();
}

// A fetch waits for the server's answers on a channel, not in a blocked thread: 32 fetches
// waiting on an empty stream hold far fewer than 32 threads.
TEST(NatsJetStream, ManyWaitingFetchesDoNotHoldAThreadEach) {
  nats_server server;
  auto j = work_queue(server);
  std::vector<nats::pull_consumer> consumers;
  for (int i = 0; i < 32; ++i) consumers.push_back(must_pull(j, {.durable = "w"}));
  (void)fetch_within(consumers[0], 1, 50ms);  // the connection's threads exist now
  int before = thread_count();
  auto [ctx, cancel] = go::with_cancel(go::background());
  go::wait_group wg;
  std::atomic<int> cancelled{0};
  for (const auto& c : consumers) {
    wg.go([&, c, ctx = ctx] {
      if (c.fetch(ctx, 1).second == go::errc::canceled) cancelled.fetch_add(1);
    });
  }
  go::sleep(300ms);
  int during = thread_count();
  cancel();
  wg.wait();
  EXPECT_EQ(cancelled.load(), 32);
  EXPECT_LT(during - before, 16) << "a thread per waiting fetch";
}

// libnats 3.4's read loop uses a subscription it looked up without a reference to it
// (state.hpp): destroying a pull consumer's natsSubscription while the server still sends
// the rest of a batch to it freed it under the read loop (heap corruption in one run of
// about 40 of `nats_peer jsq`). Each round drops a consumer whose fetch gave up after 1 ms
// on a batch of 256, so the read loop is still delivering to it; ThreadSanitizer reports
// the read loop locking the freed subscription's mutex.
TEST(NatsJetStream, DroppingAConsumerWhileTheServerSendsToItIsSafe) {
  nats_server server;
  auto j = work_queue(server);
  constexpr int rounds = 100, batch = 256;
  const std::string data(128, 'x');
  for (int i = 0; i < rounds * batch; ++i) ASSERT_FALSE(j.js.publish_async("jobs.a", data));
  ASSERT_FALSE(j.js.publish_async_complete(30s));
  for (int round = 0; round < rounds; ++round) {
    auto c = must_pull(j, {.durable = "w", .max_ack_pending = rounds * batch});
    (void)fetch_within(c, batch, 1ms);
  }
  // The connection still works, and every message is either fetched or still in the stream.
  auto [info, err] = j.js.stream_info("JOBS");
  ASSERT_FALSE(err);
  EXPECT_EQ(info.messages, static_cast<std::uint64_t>(rounds * batch));
}

TEST(NatsJetStream, NakRedeliversAtOnceAndNakWithDelayLater) {
  nats_server server;
  auto job = start_one_job(server, {.durable = "w"});
  ASSERT_FALSE(job.first.nak());
  auto second = fetch_one(job.c, 5s);
  ASSERT_TRUE(second);
  EXPECT_EQ(second.data(), "job");
  EXPECT_EQ(second.num_delivered(), 2u);
  auto naked_at = go::now();
  ASSERT_FALSE(second.nak(400ms));
  EXPECT_FALSE(fetch_one(job.c, 200ms)) << "redelivered before its delay";
  auto third = fetch_one(job.c, 5s);
  ASSERT_TRUE(third);
  EXPECT_GE(since(naked_at), 380ms);
  EXPECT_EQ(third.num_delivered(), 3u);
  EXPECT_FALSE(third.ack_sync());
}

TEST(NatsJetStream, UnackedMessageIsRedeliveredAfterAckWait) {
  nats_server server;
  auto job = start_one_job(server, {.durable = "w", .ack_wait = 300ms});
  auto at = go::now();
  auto again = fetch_one(job.c, 5s);  // not acknowledged: back after ack_wait
  ASSERT_TRUE(again);
  EXPECT_GE(since(at), 250ms);
  EXPECT_EQ(again.num_delivered(), 2u);
  EXPECT_FALSE(again.ack_sync());
}

TEST(NatsJetStream, InProgressPostponesRedelivery) {
  nats_server server;
  auto job = start_one_job(server, {.durable = "w", .ack_wait = 1s});
  for (int i = 0; i < 8; ++i) {  // 1.6 s of work, more than ack_wait; 0.8 s of slack each time
    go::sleep(200ms);
    ASSERT_FALSE(job.first.in_progress());
  }
  EXPECT_FALSE(fetch_one(job.c, 100ms)) << "redelivered while in progress";
  EXPECT_FALSE(job.first.ack_sync());
}

TEST(NatsJetStream, TermStopsRedelivery) {
  nats_server server;
  auto job = start_one_job(server, {.durable = "w", .ack_wait = 200ms});
  ASSERT_FALSE(job.first.term());
  EXPECT_FALSE(fetch_one(job.c, 500ms));
}

TEST(NatsJetStream, MaxDeliverBoundsRedeliveries) {
  nats_server server;
  auto job = start_one_job(server, {.durable = "w", .ack_wait = 200ms, .max_deliver = 2});
  auto second = fetch_one(job.c, 5s);
  ASSERT_TRUE(second);
  EXPECT_EQ(second.num_delivered(), 2u);
  EXPECT_FALSE(fetch_one(job.c, 600ms)) << "delivered a third time";
}

TEST(NatsJetStream, MessagesFetchesIntoAChannelUntilTheContextEnds) {
  nats_server server;
  auto j = work_queue(server);
  for (int i = 0; i < 20; ++i) ASSERT_FALSE(j.js.publish("jobs.a", std::to_string(i)));
  auto c = must_pull(j, {.durable = "w"});
  auto [ctx, cancel] = go::with_cancel(go::background());
  auto msgs = c.messages(ctx, 4);
  EXPECT_EQ(msgs.cap(), 4u);
  for (int i = 0; i < 20; ++i) {
    auto m = recv_within(msgs, 5s);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->data(), std::to_string(i));
    EXPECT_FALSE(m->ack());
  }
  cancel();
  auto deadline = go::now() + 5s;
  while (go::now() < deadline) {
    auto r = recv_within(msgs, 1s);
    if (!r) break;
  }
  EXPECT_EQ(msgs.try_recv().status, go::chan_status::closed);
}

// Cancelled while the stream still holds jobs, messages closes its channel and leaves the
// jobs on the stream: it takes none only to give it back (a nak without delay makes a job
// deliverable again at once, so that would never end), and none is left to wait out its
// ack_wait.
TEST(NatsJetStream, MessagesCancelledWhileJobsRemainClosesAndLeavesThem) {
  nats_server server;
  auto j = work_queue(server);
  for (int i = 0; i < 200; ++i) ASSERT_FALSE(j.js.publish_async("jobs.a", std::to_string(i)));
  ASSERT_FALSE(j.js.publish_async_complete());
  auto c = must_pull(j, {.durable = "w", .ack_wait = 30s});
  auto [ctx, cancel] = go::with_cancel(go::background());
  auto msgs = c.messages(ctx, 8);
  for (int i = 0; i < 5; ++i) {
    auto m = recv_within(msgs, 5s);
    ASSERT_TRUE(m);
    EXPECT_FALSE(m->ack());
  }
  cancel();
  // What is in the channel already is the receiver's to give back.
  bool closed = false;
  for (auto deadline = go::now() + 10s; !closed && go::now() < deadline;) {
    go::select(go::recv_case(msgs,
                             [&](std::optional<nats::msg> m) {
                               if (m) EXPECT_FALSE(m->nak());
                               else closed = true;
                             }),
               go::recv_case(go::after(100ms)));
  }
  ASSERT_TRUE(closed) << "messages did not close its channel after its context ended";
  // Every job left comes to the next fetches well within ack_wait, each once.
  std::set<std::string> rest;
  for (auto deadline = go::now() + 10s; rest.size() < 195 && go::now() < deadline;) {
    for (nats::msg& m : fetch_within(c, 50, 1s)) {
      rest.insert(std::string(m.data()));
      EXPECT_FALSE(m.ack());
    }
  }
  EXPECT_EQ(rest.size(), 195u) << "a job was kept, to come back only after ack_wait";
  // The server applies acknowledgements asynchronously.
  std::uint64_t left = 1;
  for (auto deadline = go::now() + 5s; left > 0 && go::now() < deadline; go::sleep(10ms)) {
    auto [si, serr] = j.js.stream_info("JOBS");
    ASSERT_FALSE(serr);
    left = si.messages;
  }
  EXPECT_EQ(left, 0u);
}

TEST(NatsJetStream, AckOnACoreMessageIsAnError) {
  nats_server server;
  auto nc = must_connect(server);
  auto [sub, err] = nc.subscribe("x", 4);
  ASSERT_FALSE(nc.publish("x", "y"));
  auto m = recv_within(sub.messages(), 5s);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->ack(), nats::errc::not_jetstream_message);
  EXPECT_EQ(m->num_delivered(), 0u);
  EXPECT_EQ(nats::msg().ack(), nats::errc::invalid_argument);
}

// A core message with a reply subject is no JetStream message either: every
// acknowledgement says so and sends nothing (libnats's natsMsg_Ack would follow the
// JetStream side its subscription does not have).
TEST(NatsJetStream, AckOnACoreMessageWithAReplyIsAnError) {
  nats_server server;
  auto nc = must_connect(server);
  auto [sub, err] = nc.subscribe("x", 4);
  ASSERT_FALSE(err);
  auto [acks, aerr] = nc.subscribe("r.>", 4);
  ASSERT_FALSE(aerr);
  ASSERT_FALSE(nc.publish_request("x", "r.1", "y"));
  auto m = recv_within(sub.messages(), 5s);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->ack(), nats::errc::not_jetstream_message);
  EXPECT_EQ(m->nak(), nats::errc::not_jetstream_message);
  EXPECT_EQ(m->nak(1s), nats::errc::not_jetstream_message);
  EXPECT_EQ(m->term(), nats::errc::not_jetstream_message);
  EXPECT_EQ(m->in_progress(), nats::errc::not_jetstream_message);
  EXPECT_EQ(m->ack_sync(), nats::errc::not_jetstream_message);
  ASSERT_FALSE(nc.flush());
  EXPECT_FALSE(acks.messages().try_recv()) << "an acknowledgement was sent";
}

// --- worker_pool ---

void publish_jobs(const jet& j, int n) {
  for (int i = 0; i < n; ++i) {
    if (auto err = j.js.publish_async("jobs.a", std::to_string(i))) throw std::runtime_error(err.message());
  }
  if (auto err = j.js.publish_async_complete()) throw std::runtime_error(err.message());
}

// collect receives the results subject's messages into a map of job -> count.
struct results {
  nats::subscription sub;
  std::map<std::string, int> per_job;
  std::map<std::string, std::string> last;  // job -> its last result
  int total = 0;
  // wait_for receives until n results or d passes.
  void wait_for(int n, std::chrono::nanoseconds d) {
    auto deadline = go::now() + d;
    while (total < n) {
      auto m = recv_within(sub.messages(), deadline - go::now());
      if (!m) return;
      std::string job(m->data().substr(0, m->data().find(' ')));
      ++per_job[job];
      last[job] = std::string(m->data());
      ++total;
    }
  }
};

results subscribe_results(const nats::conn& nc) {
  auto [sub, err] = nc.subscribe("results", 4096);
  if (err) throw std::runtime_error(err.message());
  if (auto e = nc.flush()) throw std::runtime_error(e.message());
  results r;
  r.sub = sub;
  return r;
}

TEST(NatsWorkerPool, EveryJobIsDoneAndAcknowledgedOnce) {
  nats_server server;
  auto j = work_queue(server);
  auto res = subscribe_results(j.nc);
  publish_jobs(j, 100);
  auto c = must_pull(j, {.durable = "pool"});
  auto [ctx, cancel] = go::with_cancel(go::background());
  nats::worker_pool pool(ctx, c, {.workers = 4, .results_subject = "results"},
                         [](const go::context&, const nats::msg& job) { return std::string(job.data()) + " done"; });
  res.wait_for(100, 10s);
  cancel();
  EXPECT_FALSE(pool.wait());
  EXPECT_EQ(res.total, 100);
  EXPECT_EQ(res.per_job.size(), 100u);
  EXPECT_EQ(pool.stats().acked, 100u);
  auto [info, err] = j.js.stream_info("JOBS");
  EXPECT_EQ(info.messages, 0u);
}

// A job whose handler throws is naked and comes back; its second delivery succeeds.
TEST(NatsWorkerPool, AThrowingHandlerNaksTheJob) {
  nats_server server;
  auto j = work_queue(server);
  auto res = subscribe_results(j.nc);
  publish_jobs(j, 1);
  auto c = must_pull(j, {.durable = "pool"});
  auto [ctx, cancel] = go::with_cancel(go::background());
  nats::worker_pool pool(ctx, c, {.workers = 2, .results_subject = "results"},
                         [](const go::context&, const nats::msg& job) -> std::string {
                           if (job.num_delivered() == 1) throw std::runtime_error("first try fails");
                           return std::string(job.data()) + " " + std::to_string(job.num_delivered());
                         });
  res.wait_for(1, 5s);
  cancel();
  EXPECT_FALSE(pool.wait());
  EXPECT_EQ(res.total, 1);
  EXPECT_EQ(pool.stats().naked, 1u);
  EXPECT_EQ(pool.stats().acked, 1u);
}

// Cancellation loses nothing: jobs in hand finish and are acknowledged, jobs fetched but not
// started are naked, and a second pool then does exactly the rest.
TEST(NatsWorkerPool, CancellationFinishesOrNaksEveryJobInHand) {
  nats_server server;
  auto j = work_queue(server);
  auto res = subscribe_results(j.nc);
  publish_jobs(j, 60);
  // A job the first pool kept without acking or naking it would come back only after
  // ack_wait, 30 s: far longer than the second pool is given.
  auto c = must_pull(j, {.durable = "pool", .ack_wait = 30s});
  auto slow = [](const go::context&, const nats::msg& job) {
    go::sleep(20ms);
    return std::string(job.data());
  };
  auto [ctx, cancel] = go::with_cancel(go::background());
  auto first = std::make_unique<nats::worker_pool>(
      ctx, c, nats::worker_pool_options{.workers = 4, .results_subject = "results"}, slow);
  res.wait_for(10, 10s);
  cancel();
  EXPECT_FALSE(first->wait());
  auto done_first = first->stats();
  EXPECT_GE(done_first.acked, 10u);
  EXPECT_LT(done_first.acked, 60u);
  EXPECT_EQ(done_first.failed, 0u);
  auto [info, ierr] = j.js.stream_info("JOBS");
  EXPECT_EQ(info.messages, 60u - done_first.acked);

  auto [ctx2, cancel2] = go::with_cancel(go::background());
  nats::worker_pool second(ctx2, c, {.workers = 4, .results_subject = "results"}, slow);
  res.wait_for(60, 10s);  // fails if a job waits for its ack_wait
  cancel2();
  EXPECT_FALSE(second.wait());
  EXPECT_EQ(res.total, 60);
  EXPECT_EQ(res.per_job.size(), 60u) << "a job was done twice";
  EXPECT_EQ(done_first.acked + second.stats().acked, 60u);
}

// The fault test: three worker processes share a durable consumer; one is killed
// with SIGKILL in the middle of a job. Its job comes back after ack_wait and another worker
// does it; every job is done, each exactly once, and the stream ends empty (every job
// acknowledged).
TEST(NatsWorkerPool, KilledWorkerLosesNoJob) {
  nats_server server;
  auto j = work_queue(server);
  auto res = subscribe_results(j.nc);
  auto [started, serr] = j.nc.subscribe("started.victim", 256);
  ASSERT_FALSE(serr);
  ASSERT_FALSE(j.nc.flush());
  constexpr int jobs = 60;
  publish_jobs(j, jobs);
  auto spawn_worker = [&](const std::string& name, const std::string& job_ms) {
    std::string bin = GOCXX_NATS_TEST_WORKER, url = server.url();
    std::vector<std::string> args = {bin, url, name, job_ms, "1000"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    return pid;
  };
  pid_t victim = spawn_worker("victim", "60000");  // a job takes it a minute
  auto in_hand = recv_within(started.messages(), 10s);
  ::kill(victim, SIGKILL);  // in the middle of that job
  ::waitpid(victim, nullptr, 0);
  ASSERT_TRUE(in_hand) << "the victim never started a job";
  pid_t others[] = {spawn_worker("w1", "30"), spawn_worker("w2", "30")};
  res.wait_for(jobs, 20s);
  // A worker acknowledges a job after it publishes the result, and the server applies
  // acknowledgements asynchronously: wait for the last ones before stopping the workers
  // (SIGTERM ends a worker at once, an acknowledgement in flight with it).
  std::uint64_t left = 1;
  for (auto deadline = go::now() + 10s; left > 0 && go::now() < deadline; go::sleep(10ms)) {
    auto [si, serr] = j.js.stream_info("JOBS");
    if (serr) {
      ADD_FAILURE() << "stream_info: " << serr.message();
      break;
    }
    left = si.messages;
  }
  for (pid_t p : others) {
    ::kill(p, SIGTERM);
    ::waitpid(p, nullptr, 0);
  }
  EXPECT_EQ(res.per_job.size(), static_cast<std::size_t>(jobs)) << "jobs lost";
  for (auto& [job, n] : res.per_job) EXPECT_EQ(n, 1) << "job " << job << " completed " << n << " times";
  // The job in the victim's hands: done by another worker, on its second delivery
  // ("<job> <worker> <deliveries>").
  std::string redone = res.last[std::string(in_hand->data())];
  EXPECT_EQ(redone.find(" victim "), std::string::npos) << redone;
  EXPECT_GE(std::stoi(redone.substr(redone.rfind(' ') + 1)), 2) << redone;
  EXPECT_EQ(left, 0u) << "jobs left unacknowledged";
}

// --- worker_pool over a core NATS queue group ---

nats::subscription must_queue_subscribe(const nats::conn& nc, std::size_t capacity = 1024) {
  auto [sub, err] = nc.queue_subscribe("tasks", "workers", capacity);
  if (err) throw std::runtime_error(err.message());
  if (auto e = nc.flush()) throw std::runtime_error(e.message());
  return sub;
}

// Two pools (two processes' worth: a connection each) in one queue group share a run's jobs:
// each job is done by exactly one of them, and a job sent as a request gets its result as
// the reply.
TEST(NatsWorkerPool, QueueGroupPoolsDoEveryJobOnce) {
  nats_server server;
  auto nc = must_connect(server);
  auto res = subscribe_results(nc);
  auto na = must_connect(server), nb = must_connect(server);
  auto [ctx, cancel] = go::with_cancel(go::background());
  auto echo = [](const go::context&, const nats::msg& job) { return std::string(job.data()) + " done"; };
  nats::worker_pool a(ctx, must_queue_subscribe(na), {.workers = 4, .results_subject = "results"}, echo);
  nats::worker_pool b(ctx, must_queue_subscribe(nb), {.workers = 4, .results_subject = "results"}, echo);
  constexpr int jobs = 200;
  for (int i = 0; i < jobs; ++i) ASSERT_FALSE(nc.publish("tasks", std::to_string(i)));
  res.wait_for(jobs, 10s);
  auto [reply, rerr] = nc.request("tasks", "asked", 5s);
  ASSERT_FALSE(rerr) << rerr.message();
  EXPECT_EQ(reply.data(), "asked done");
  cancel();
  EXPECT_FALSE(a.wait());
  EXPECT_FALSE(b.wait());
  EXPECT_EQ(res.per_job.size(), static_cast<std::size_t>(jobs)) << "jobs lost";
  for (auto& [job, n] : res.per_job) EXPECT_EQ(n, 1) << "job " << job << " done " << n << " times";
  EXPECT_FALSE(recv_within(res.sub.messages(), 50ms)) << "a result too many (the request's went to its reply)";
  EXPECT_GT(a.stats().acked, 0u);
  EXPECT_GT(b.stats().acked, 0u);
  EXPECT_EQ(a.stats().acked + b.stats().acked, static_cast<std::uint64_t>(jobs) + 1);
}

// Cancellation stops the pool taking jobs, not doing them: the jobs the server gave it
// before (those in the channel, not started, included) are all done, and the group's later
// jobs go to the other member, none to the cancelled one's drained subscription.
TEST(NatsWorkerPool, QueueGroupCancellationFinishesTheJobsInHand) {
  nats_server server;
  auto nc = must_connect(server);
  auto res = subscribe_results(nc);
  auto slow = [](const go::context&, const nats::msg& job) {
    go::sleep(20ms);
    return std::string(job.data());
  };
  auto na = must_connect(server);
  auto [ctx, cancel] = go::with_cancel(go::background());
  nats::worker_pool a(ctx, must_queue_subscribe(na), {.workers = 4, .results_subject = "results"}, slow);
  constexpr int first = 40, later = 20;
  for (int i = 0; i < first; ++i) ASSERT_FALSE(nc.publish("tasks", std::to_string(i)));
  ASSERT_FALSE(nc.flush());  // the server has given all of them to a, its group's only member
  res.wait_for(4, 10s);
  cancel();  // a has 4 in hand and the rest waiting in its channel
  EXPECT_FALSE(a.wait());
  EXPECT_EQ(a.stats().acked, static_cast<std::uint64_t>(first));
  res.wait_for(first, 1s);
  EXPECT_EQ(res.total, first);

  auto nb = must_connect(server);
  auto [ctx2, cancel2] = go::with_cancel(go::background());
  nats::worker_pool b(ctx2, must_queue_subscribe(nb), {.workers = 4, .results_subject = "results"}, slow);
  for (int i = first; i < first + later; ++i) ASSERT_FALSE(nc.publish("tasks", std::to_string(i)));
  res.wait_for(first + later, 10s);
  cancel2();
  EXPECT_FALSE(b.wait());
  EXPECT_EQ(b.stats().acked, static_cast<std::uint64_t>(later)) << "a job went to the cancelled pool";
  EXPECT_EQ(res.per_job.size(), static_cast<std::size_t>(first + later));
  EXPECT_EQ(res.total, first + later);
}

// A throwing handler over a queue group drops its job (core NATS cannot redeliver it) and
// counts it as failed; the pool goes on.
TEST(NatsWorkerPool, QueueGroupThrowingHandlerCountsTheJobFailed) {
  nats_server server;
  auto nc = must_connect(server);
  auto res = subscribe_results(nc);
  auto [ctx, cancel] = go::with_cancel(go::background());
  nats::worker_pool pool(ctx, must_queue_subscribe(nc), {.workers = 2, .results_subject = "results"},
                         [](const go::context&, const nats::msg& job) -> std::string {
                           if (job.data() == "bad") throw std::runtime_error("bad job");
                           return std::string(job.data());
                         });
  ASSERT_FALSE(nc.publish("tasks", "bad"));
  ASSERT_FALSE(nc.publish("tasks", "good"));
  res.wait_for(1, 5s);
  cancel();
  EXPECT_FALSE(pool.wait());
  EXPECT_EQ(res.total, 1);
  EXPECT_EQ(res.per_job.count("good"), 1u);
  EXPECT_EQ(pool.stats().failed, 1u);
  EXPECT_EQ(pool.stats().acked, 1u);
}

// --- faults: the server restarted ---

// expect_event receives events until one of kind k (or fails after 10 s).
void expect_event(const nats::conn& nc, nats::event::kind k) {
  auto deadline = go::now() + 10s;
  while (go::now() < deadline) {
    auto e = recv_within(nc.events(), deadline - go::now());
    ASSERT_TRUE(e) << "no event " << static_cast<int>(k);
    if (e->what == k) return;
  }
  FAIL() << "no event " << static_cast<int>(k);
}

TEST(NatsFaults, ServerRestartReconnectsDeliversBufferedPublishesAndResumesConsumers) {
  nats_server server;
  nats::options o{.reconnect_wait = 50ms, .reconnect_buffer_bytes = 64 * 1024};
  o.max_reconnect = -1;
  auto nc = must_connect(server, o);
  auto [js, jerr] = nc.jetstream();
  ASSERT_FALSE(jerr);
  ASSERT_FALSE(js.add_stream({.name = "JOBS", .subjects = {"jobs.>"}}));
  for (int i = 0; i < 5; ++i) ASSERT_FALSE(js.publish("jobs.a", std::to_string(i)));
  auto [c, cerr] = js.pull_subscribe("jobs.>", {.durable = "w"});
  ASSERT_FALSE(cerr);
  auto [sub, serr] = nc.subscribe("r", 64);
  ASSERT_FALSE(serr);
  ASSERT_FALSE(nc.flush());

  // SIGKILL: a server stopped with SIGTERM keeps accepting for a moment while it shuts
  // down, and the client may reconnect to it in that moment.
  server.crash();
  expect_event(nc, nats::event::kind::disconnected);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(nc.publish("r", std::to_string(i))) << "not buffered";
  // Beyond the reconnect buffer (64 KiB here): a clear error. libnats moves what was
  // published into that buffer in the background, so the limit shows at the publish after
  // the one that crosses it.
  go::error over;
  for (int i = 0; i < 3 && !over; ++i) over = nc.publish("r", std::string(100 * 1024, 'x'));
  EXPECT_EQ(over, nats::errc::reconnect_buffer_exceeded) << over.message();
  EXPECT_EQ(over.message(), "nats: outbound buffer limit exceeded");

  server.start();  // same port, same JetStream folder
  expect_event(nc, nats::event::kind::reconnected);
  for (int i = 0; i < 10; ++i) {
    auto m = recv_within(sub.messages(), 5s);
    ASSERT_TRUE(m) << "buffered publish " << i << " lost";
    EXPECT_EQ(m->data(), std::to_string(i));
  }
  std::vector<nats::msg> jobs;
  while (jobs.size() < 5) {
    auto batch = fetch_within(c, 5, 5s);
    ASSERT_FALSE(batch.empty()) << "the consumer did not resume";
    for (auto& m : batch) {
      EXPECT_FALSE(m.ack_sync());
      jobs.push_back(m);
    }
  }
  for (int i = 0; i < 5; ++i) EXPECT_EQ(jobs[i].data(), std::to_string(i));
}

int fd_count() { return entries("/proc/self/fd"); }

// A connection on the event loop (send_asap) survives a server restart: libnats takes the
// old socket off the loop (its goroutines return, and our duplicate of it is closed) and
// attaches the new one; what was published meanwhile arrives, the subscription and a
// request work again, and the process holds no more descriptors than before the crash.
TEST(NatsFaults, ServerRestartReattachesAConnectionOnTheEventLoop) {
#ifndef GOCXX_NATS_HAVE_CONN_RETAIN
  GTEST_SKIP() << "this libnats exports no natsConn_retain: no connection uses the event loop";
#endif
  nats_server server;
  nats::options o{.reconnect_wait = 50ms};
  o.max_reconnect = -1;
  o.send_asap = true;
  auto nc = must_connect(server, o);
  auto [sub, serr] = nc.subscribe("r", 64);
  ASSERT_FALSE(serr);
  auto [svc, verr] = nc.subscribe("svc.echo", 64);
  ASSERT_FALSE(verr);
  serve_echo(svc);
  ASSERT_FALSE(nc.flush());
  int fds = fd_count();

  server.crash();
  expect_event(nc, nats::event::kind::disconnected);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(nc.publish("r", std::to_string(i))) << "not buffered";
  server.start();
  expect_event(nc, nats::event::kind::reconnected);
  for (int i = 0; i < 10; ++i) {
    auto m = recv_within(sub.messages(), 5s);
    ASSERT_TRUE(m) << "buffered publish " << i << " lost";
    EXPECT_EQ(m->data(), std::to_string(i));
  }
  auto [reply, rerr] = nc.request("svc.echo", "again", 5s);
  ASSERT_FALSE(rerr) << rerr.message();
  EXPECT_EQ(reply.data(), "echo again");
  for (int i = 0; i < 500 && fd_count() > fds; ++i) go::sleep(10ms);
  EXPECT_LE(fd_count(), fds) << "the old socket's duplicate is still open";
}

// A connection on the event loop closes while messages arrive, by close() and by its last
// handle going: libnats closes its socket under its lock but the loop's reading goroutine
// reads it outside that lock, so the reader leaves for good before the close (ThreadSanitizer
// reports the close racing the read otherwise; without it, a read could take another file's
// bytes once the descriptor number is reused). Each close returns, the subscription's channel
// closes, and no descriptor is left open.
TEST(Nats, ClosingAConnectionOnTheEventLoopWhileMessagesArrive) {
#ifndef GOCXX_NATS_HAVE_CONN_RETAIN
  GTEST_SKIP() << "this libnats exports no natsConn_retain: no connection uses the event loop";
#endif
  nats_server server;
  auto publisher = must_connect(server);
  std::atomic<bool> stop{false};
  go::wait_group flooding;
  flooding.add(1);
  go::spawn([&, publisher] {
    for (int i = 1; !stop.load(std::memory_order_relaxed); ++i) {
      (void)publisher.publish("flood", "x");
      if (i % 64 == 0) go::yield();
    }
    flooding.done();
  });
  int fds = 0;  // after the first round, which starts the netpoller
  constexpr int rounds = 40;
  for (int r = 0; r < rounds; ++r) {
    if (r == 1) fds = fd_count();
    go::recv_chan<nats::msg> messages;
    {
      auto nc = must_connect(server, {.send_asap = true});
      auto [sub, err] = nc.subscribe("flood", 256);
      ASSERT_FALSE(err);
      messages = sub.messages();
      ASSERT_TRUE(recv_within(messages, 5s)) << "round " << r << ": no message arrived";
      if (r % 2 == 0) {
        nc.close();
        EXPECT_TRUE(nc.is_closed()) << "round " << r;
      }
    }
    bool closed = false;
    for (auto deadline = go::now() + 10s; !closed && go::now() < deadline;) {
      go::select(go::recv_case(messages, [&](std::optional<nats::msg> m) { closed = !m; }),
                 go::recv_case(go::after(deadline - go::now())));
    }
    ASSERT_TRUE(closed) << "round " << r << ": the subscription's channel is still open 10 s after the close";
  }
  stop = true;
  flooding.wait();
  for (int i = 0; i < 500 && fd_count() > fds; ++i) go::sleep(10ms);
  EXPECT_LE(fd_count(), fds) << "a closed connection's socket or its duplicate is still open";
}

}  // namespace
