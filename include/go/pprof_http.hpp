// The profiles over HTTP (Go's net/http/pprof): a small HTTP/1.1 server on a go::net
// listener that answers `go tool pprof http://host:port/debug/pprof/goroutine` and the like.
//
//   Go                                              gocxx
//   import _ "net/http/pprof"                       go::pprof::serve(ln)  (or listen_and_serve)
//   http.ListenAndServe("localhost:6060", nil)      auto [ln, err] = go::pprof::listen_and_serve("localhost:6060");
//
// Paths (Go's):
//   /debug/pprof/                    the index: every profile, with its count and a link
//   /debug/pprof/goroutine           profile.proto, gzip'd; ?debug=1 the text form, ?debug=2
//                                    the goroutine dump
//   /debug/pprof/block, /mutex       profile.proto; ?debug=1 the text form
//   /debug/pprof/profile?seconds=N   a CPU profile of the next N seconds (default 30)
//   /debug/pprof/trace?seconds=N     the execution trace of the next N seconds (default 1), in
//                                    go/trace.hpp's format (Chrome trace event JSON)
//   /debug/pprof/cmdline             the command line, its arguments separated by NUL bytes
// Another name under /debug/pprof/ is 404 "Unknown profile", as in Go; any other path 404.
//
// The server. Each connection is served by a goroutine of its own and carries one request
// (the response says "Connection: close"): a GET (or HEAD) whose request line and headers
// fit in 8 KiB (else 431) and arrive within 10 s of the connection (else the connection is
// closed without an answer); anything that does not parse as HTTP/1.x is 400, another method
// 405. A response has Content-Type and Content-Length and must be taken by the client within
// 60 s. A CPU profile or trace already running (another request's, or the program's own)
// makes /profile or /trace answer 500 with the reason, as Go's handlers do.
//
// Costs: nothing until a request comes; then the profile's own cost (go/pprof.hpp,
// go/trace.hpp). Anyone who can connect can read the program's stacks and command line:
// listen on localhost or behind access control, as with Go's.
//
// Example:
//   auto [ln, err] = go::pprof::listen_and_serve("127.0.0.1:6060");
//   // $ go tool pprof -top http://127.0.0.1:6060/debug/pprof/goroutine
//   // $ go tool pprof http://127.0.0.1:6060/debug/pprof/profile?seconds=5
#pragma once

#include <string_view>

#include "go/errors.hpp"
#include "go/net.hpp"

namespace go::pprof {

// serve accepts connections on ln and answers each, in a goroutine of its own, until ln is
// closed or accept fails otherwise; it returns that error (err_closed after ln.close()).
// Connections being served when it returns are served to their end.
go::error serve(const go::net::listener& ln);

// listen_and_serve listens on the TCP address addr ("127.0.0.1:6060"; port 0 picks one) and
// serves it in a new goroutine; close the listener to stop. Returns the listener, or the
// error of listen.
[[nodiscard]] go::net::listener_result listen_and_serve(std::string_view addr);

}  // namespace go::pprof
