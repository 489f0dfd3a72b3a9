// The profiles over HTTP (go/pprof_http.hpp): the least of HTTP/1.1 that `go tool pprof`
// and a browser need, and Go's net/http/pprof handlers on top.
//
// One request per connection, in the connection's goroutine:
// 1. Read the head (request line and headers, up to the blank line) under a read deadline of
//    head_timeout from the accept, at most max_head bytes of it. A body is never read: GET
//    and HEAD have none that matters, and the connection closes after the answer.
// 2. Parse it: "METHOD SP target SP HTTP/1.x", then "name: value" lines. The target is a path
//    with an optional query; the query's values are percent-decoded, the path is matched as
//    sent (the handlers' paths need no decoding).
// 3. Answer with status, Content-Type, Content-Length and "Connection: close", the body under
//    a write deadline of write_timeout.
// 4. Close the write side, read and drop what the client still sends (for at most
//    linger_timeout, at most max_linger bytes), then close: closing a socket with unread
//    bytes sends a reset, which may destroy the answer before the client reads it (a head
//    over the limit, a body). Go's server lingers the same way (closeWriteAndWait).
// A handler that runs for a while (profile, trace) sleeps in its goroutine; nothing else
// waits for it.
#include "go/pprof_http.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <map>
#include <sstream>
#include <string>

#include "go/go.hpp"
#include "go/pprof.hpp"
#include "go/time.hpp"
#include "go/trace.hpp"

namespace go::pprof {

namespace {

using namespace std::chrono_literals;

constexpr std::size_t max_head = 8 << 10;
constexpr auto head_timeout = 10s;
constexpr auto write_timeout = 60s;
constexpr auto linger_timeout = 1s;
constexpr std::size_t max_linger = 256 << 10;

struct request {
  std::string method;
  std::string path;
  std::map<std::string, std::string> query;
};

struct response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::string disposition;  // Content-Disposition, for the binary profiles
};

const char* status_text(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    default: return "Internal Server Error";
  }
}

response error_response(int status, std::string message) {
  response r;
  r.status = status;
  r.body = std::move(message) + "\n";
  return r;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding of a query component ('+' is a space); false if an escape is malformed.
bool unescape(std::string_view s, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] != '%') {
      out += s[i];
    } else {
      if (i + 2 >= s.size()) return false;
      int hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    }
  }
  return true;
}

// Parses the head (without its blank line); false: not a request (400).
bool parse_head(std::string_view head, request& req) {
  std::size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) return false;
  req.method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (req.method.empty() || target.empty() || target[0] != '/') return false;
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return false;
  for (std::string_view rest = eol == std::string_view::npos ? "" : head.substr(eol + 2); !rest.empty();) {
    std::size_t end = rest.find("\r\n");
    std::string_view header = rest.substr(0, end);
    std::size_t colon = header.find(':');
    if (colon == 0 || colon == std::string_view::npos || header.substr(0, colon).find(' ') != std::string_view::npos) {
      return false;
    }
    rest = end == std::string_view::npos ? "" : rest.substr(end + 2);
  }
  std::size_t q = target.find('?');
  req.path = target.substr(0, q);
  if (q == std::string_view::npos) return true;
  for (std::string_view query = target.substr(q + 1); !query.empty();) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
    if (pair.empty()) continue;
    std::size_t eq = pair.find('=');
    std::string key, value;
    if (!unescape(pair.substr(0, eq), key)) return false;
    if (eq != std::string_view::npos && !unescape(pair.substr(eq + 1), value)) return false;
    req.query.emplace(std::move(key), std::move(value));  // the first of a repeated key, as Go's Get
  }
  return true;
}

// The query's integer `key`, or `fallback` if absent; nullopt if it is not a number.
std::optional<long> query_int(const request& req, const std::string& key, long fallback) {
  auto it = req.query.find(key);
  if (it == req.query.end() || it->second.empty()) return fallback;
  long v = 0;
  const std::string& s = it->second;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

response serve_profile(const request& req, const std::string& name) {
  std::optional<profile> p = lookup(name);
  if (!p) return error_response(404, "Unknown profile");
  std::optional<long> debug = query_int(req, "debug", 0);
  if (!debug) return error_response(400, "bad debug");
  std::ostringstream out;
  p->write_to(out, static_cast<int>(*debug));
  response r;
  r.body = std::move(out).str();
  if (*debug == 0) {
    r.content_type = "application/octet-stream";
    r.disposition = "attachment; filename=\"" + name + "\"";
  }
  return r;
}

// For /profile and /trace: how long to record, Go's "seconds" parameter.
std::optional<std::chrono::seconds> query_seconds(const request& req, long fallback) {
  std::optional<long> s = query_int(req, "seconds", fallback);
  if (!s || *s <= 0) return std::nullopt;
  return std::chrono::seconds(*s);
}

// Records for the query's seconds (default_seconds if absent) between start(out) and
// stop(), then answers with what was written; `what` names it in Go's error message.
response record_for(const request& req, long default_seconds, const char* what, void (*start)(std::ostream&),
                    void (*stop)(), const char* content_type) {
  std::optional<std::chrono::seconds> d = query_seconds(req, default_seconds);
  if (!d) return error_response(400, "bad seconds");
  std::ostringstream out;
  try {
    start(out);
  } catch (const std::exception& e) {
    return error_response(500, std::string("Could not enable ") + what + ": " + e.what());
  }
  go::sleep(*d);
  stop();
  response r;
  r.content_type = content_type;
  r.disposition = "attachment; filename=\"" + std::string(req.path.substr(req.path.rfind('/') + 1)) + "\"";
  r.body = std::move(out).str();
  return r;
}

response serve_cmdline() {
  std::string all;
  int fd = ::open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) all.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
  }
  if (!all.empty() && all.back() == '\0') all.pop_back();  // Go joins the arguments with NULs
  response r;
  r.body = std::move(all);
  return r;
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&#34;"; break;
      default: out += c;
    }
  }
  return out;
}

struct index_entry {
  std::string name;
  std::string href;
  int count;
  const char* about;
};

response serve_index() {
  std::vector<index_entry> entries;
  for (const profile& p : profiles()) {
    const char* about = p.name() == "goroutine" ? "Stack traces of all current goroutines."
                        : p.name() == "block"   ? "Stack traces that led to blocking on synchronization primitives."
                                                : "Stack traces of holders of contended mutexes.";
    entries.push_back({p.name(), p.name() + "?debug=1", p.count(), about});
  }
  entries.push_back({"cmdline", "cmdline", -1, "The command line invocation of the current program."});
  entries.push_back(
      {"profile", "profile?seconds=30", -1, "CPU profile; ?seconds=N sets its length. Open it with go tool pprof."});
  entries.push_back({"trace", "trace?seconds=1", -1, "An execution trace; ?seconds=N sets its length."});
  std::string body =
      "<html>\n<head>\n<title>/debug/pprof/</title>\n</head>\n<body>\n/debug/pprof/\n<br>\n"
      "<p>Set debug=1 as a query parameter to export in legacy text format</p>\n<br>\n"
      "Types of profiles available:\n<table>\n<thead><td>Count</td><td>Profile</td></thead>\n";
  for (const index_entry& e : entries) {
    body += "<tr><td>" + (e.count >= 0 ? std::to_string(e.count) : std::string()) + "</td><td><a href=\"" +
            html_escape(e.href) + "\">" + html_escape(e.name) + "</a></td></tr>\n";
  }
  body += "</table>\n<br>\n<p>Profile Descriptions:</p>\n<ul>\n";
  for (const index_entry& e : entries)
    body += "<li><div class=profile-name>" + e.name + ": </div> " + e.about + "</li>\n";
  body += "</ul>\n</body>\n</html>\n";
  response r;
  r.content_type = "text/html; charset=utf-8";
  r.body = std::move(body);
  return r;
}

response route(const request& req) {
  constexpr std::string_view prefix = "/debug/pprof/";
  std::string_view path = req.path;
  if (path.substr(0, prefix.size()) != prefix) return error_response(404, "404 page not found");
  std::string name(path.substr(prefix.size()));
  if (name.empty()) return serve_index();
  if (name == "cmdline") return serve_cmdline();
  if (name == "trace") return record_for(req, 1, "tracing", go::trace::start, go::trace::stop, "application/json");
  if (name == "profile") {
    return record_for(req, 30, "CPU profiling", start_cpu_profile, stop_cpu_profile, "application/octet-stream");
  }
  return serve_profile(req, name);
}

void write_all(const go::net::conn& c, std::string_view s) {
  (void)c.write(std::as_bytes(std::span(s.data(), s.size())));  // a client gone: nothing to do
}

void send(const go::net::conn& c, const response& r, bool head_only) {
  std::string head = "HTTP/1.1 " + std::to_string(r.status) + " " + status_text(r.status) + "\r\n";
  head += "Content-Type: " + r.content_type + "\r\n";
  if (!r.disposition.empty()) head += "Content-Disposition: " + r.disposition + "\r\n";
  head += "X-Content-Type-Options: nosniff\r\n";
  head += "Content-Length: " + std::to_string(r.body.size()) + "\r\nConnection: close\r\n\r\n";
  (void)c.set_write_deadline(std::chrono::steady_clock::now() + write_timeout);
  write_all(c, head);
  if (!head_only) write_all(c, r.body);
}

void serve_conn(const go::net::conn& c) {
  (void)c.set_read_deadline(std::chrono::steady_clock::now() + head_timeout);
  std::string head;
  std::size_t end;
  for (;;) {
    end = head.find("\r\n\r\n");
    if (end != std::string::npos) break;
    if (head.size() >= max_head) return send(c, error_response(431, "431 Request Header Fields Too Large"), false);
    char buf[1024];
    std::size_t want = std::min(sizeof buf, max_head + 4 - head.size());  // room for the blank line
    auto [n, err] = c.read(std::as_writable_bytes(std::span(buf, want)));
    head.append(buf, n);
    if (err && head.find("\r\n\r\n") == std::string::npos) {
      // Closed before a whole head, or too slow: a partial request is a bad one.
      if (!head.empty() && !err.is(std::errc::timed_out)) send(c, error_response(400, "400 Bad Request"), false);
      return;
    }
  }
  if (end > max_head) return send(c, error_response(431, "431 Request Header Fields Too Large"), false);
  request req;
  if (!parse_head(std::string_view(head).substr(0, end), req))
    return send(c, error_response(400, "400 Bad Request"), false);
  if (req.method != "GET" && req.method != "HEAD") return send(c, error_response(405, "Method Not Allowed"), false);
  send(c, route(req), req.method == "HEAD");
}

// Step 4 of the top of the file.
void close_lingering(const go::net::conn& c) {
  (void)c.close_write();
  (void)c.set_read_deadline(std::chrono::steady_clock::now() + linger_timeout);
  char buf[4096];
  for (std::size_t dropped = 0; dropped < max_linger;) {
    auto [n, err] = c.read(std::as_writable_bytes(std::span(buf)));
    if (err) break;
    dropped += n;
  }
  (void)c.close();
}

}  // namespace

go::error serve(const go::net::listener& ln) {
  for (;;) {
    go::net::conn_result accepted = ln.accept();
    if (accepted.err) return accepted.err;
    go::spawn([c = accepted.conn] {
      serve_conn(c);
      close_lingering(c);
    });
  }
}

go::net::listener_result listen_and_serve(std::string_view addr) {
  go::net::listener_result r = go::net::listen("tcp", addr);
  if (r.err) return r;
  go::spawn([ln = r.listener] { (void)serve(ln); });
  return r;
}

}  // namespace go::pprof
