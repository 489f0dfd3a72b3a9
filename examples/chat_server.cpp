// Chat server (The Go Programming Language, section 8.10): one goroutine per client reads
// its lines, a writer goroutine per client sends it what it is told, and one broadcaster
// goroutine owns the set of clients, fed by three channels: arrivals, departures and
// messages. No mutex: only the broadcaster touches the set. Two clients in the same program,
// alice and bob, take turns so that the output is always the same.
#include <cstdio>
#include <string>
#include <vector>

#include "go/bufio.hpp"
#include "go/go.hpp"
#include "go/io.hpp"
#include "go/net.hpp"

namespace {

using client = go::chan<std::string>;  // a client's outgoing messages

struct message {
  client from;  // not sent back to its author
  std::string text;
};

struct chat {
  go::chan<client> entering = go::make_chan<client>();
  go::chan<client> leaving = go::make_chan<client>();
  go::chan<message> messages = go::make_chan<message>();
  go::chan<void> quit = go::make_chan<void>();
};

void broadcaster(chat room) {
  std::vector<client> clients;
  for (;;) {
    bool done = go::select(go::recv_case(room.messages,
                                         [&](std::optional<message> m) {
                                           for (const client& c : clients) {
                                             if (c != m->from) c.send(m->text);
                                           }
                                         }),
                           go::recv_case(room.entering, [&](std::optional<client> c) { clients.push_back(*c); }),
                           go::recv_case(room.leaving,
                                         [&](std::optional<client> c) {
                                           std::erase(clients, *c);
                                           c->close();  // ends the client's writer
                                         }),
                           go::recv_case(room.quit, [] { return true; }));
    if (done) return;
  }
}

// handle_conn serves one client: its first line is its name, every later line a message.
void handle_conn(go::net::conn c, chat room) {
  client out = go::make_chan<std::string>(16);
  go::wait_group writer;
  writer.go([c, out] {
    for (const std::string& text : out) (void)go::io::write_string(c, text + "\n");
  });
  go::bufio::scanner input(c);
  if (input.scan()) {
    std::string who = input.text();
    out.send("welcome, " + who);
    room.entering.send(out);
    room.messages.send({out, who + " has arrived"});
    while (input.scan()) room.messages.send({out, who + ": " + input.text()});
    room.leaving.send(out);
    room.messages.send({out, who + " has left"});
  } else {
    out.close();
  }
  writer.wait();
  (void)c.close();
}

// A chat client: a connection and a reader of the lines the server sends it.
struct person {
  std::string name;
  go::net::conn c;
  go::bufio::reader<go::net::conn&> lines{c};

  void say(const std::string& text) { (void)go::io::write_string(c, text + "\n"); }
  void hear() {
    auto [line, err] = lines.read_string('\n');
    if (err) {
      std::printf("%s: %s\n", name.c_str(), err.message().c_str());
      return;
    }
    std::printf("%-5s hears: %s", name.c_str(), line.c_str());
  }
};

}  // namespace

void example_chat_server() {
  auto [ln, err] = go::net::listen("tcp", "127.0.0.1:0");
  if (err) {
    std::printf("listen: %s\n", err.message().c_str());
    return;
  }
  chat room;
  go::wait_group wg;
  wg.go([room] { broadcaster(room); });
  go::wait_group conns;
  conns.go([ln = ln, room, &conns] {
    for (;;) {
      auto [c, err] = ln.accept();
      if (err) return;
      conns.go([c = c, room] { handle_conn(c, room); });
    }
  });

  auto [ca, err_a] = go::net::dial("tcp", ln.addr().string());
  auto [cb, err_b] = go::net::dial("tcp", ln.addr().string());
  if (err_a || err_b) {
    std::printf("dial: %s\n", (err_a ? err_a : err_b).message().c_str());
  } else {
    person alice{"alice", ca}, bob{"bob", cb};
    alice.say("alice");
    alice.hear();  // welcome, alice
    bob.say("bob");
    bob.hear();    // welcome, bob
    alice.hear();  // bob has arrived
    alice.say("hello bob");
    bob.hear();
    bob.say("hi alice, bye");
    alice.hear();
    (void)bob.c.close();
    alice.hear();  // bob has left
  }
  (void)ca.close();
  (void)cb.close();
  (void)ln.close();
  conns.wait();
  room.quit.close();
  wg.wait();
}

#ifndef GOCXX_TOUR
int main() { go::run(example_chat_server); }
#endif
