// I/O: Go's package io, its errors, interfaces and helpers.
//
//   Go                                  gocxx
//   io.EOF                              go::io::eof
//   io.ErrUnexpectedEOF                 go::io::err_unexpected_eof
//   io.ErrClosedPipe                    go::io::err_closed_pipe
//   io.ErrShortWrite                    go::io::err_short_write
//   n, err := r.Read(buf)               auto [n, err] = r.read(buf);        (go::io::result)
//   n, err := w.Write(buf)              auto [n, err] = w.write(buf);
//   io.Reader, io.Writer                go::io::reader, go::io::writer      (concepts)
//
// Errors
// - The sentinels are go::error values that compare equal to every copy of themselves and to
//   nothing else: `err == go::io::eof` and `err.is(go::io::eof)` (which also sees through
//   go::wrap_error) test for them, as Go's `err == io.EOF` and `errors.Is(err, io.EOF)` do.
//   Their messages are Go's: "EOF", "unexpected EOF", "io: read/write on closed pipe",
//   "short write". They are error codes of the "io" category, so returning or copying one
//   never allocates.
// - eof is the error read returns when no more input is available; functions return eof
//   itself, never wrapped, because callers test for it with ==. err_unexpected_eof means
//   that end of input came in the middle of a fixed-size block or data structure.
//
// Example:
//   std::array<std::byte, 512> buf;
//   for (;;) {
//     auto [n, err] = conn.read(buf);
//     consume(std::span(buf).first(n));      // process the n bytes before the error
//     if (err == go::io::eof) break;
//     if (err) return err;
//   }
#pragma once

#include <concepts>
#include <cstddef>
#include <span>
#include <system_error>

#include "go/errors.hpp"

namespace go::io {

// result is what read and write return, Go's (n int, err error): n bytes were transferred,
// then err stopped the operation (nil if it did not). It binds as `auto [n, err] = ...`.
struct result {
  std::size_t n = 0;
  go::error err;
};

// error_category is the category of io's sentinel errors; its name() is "io".
const std::error_category& error_category() noexcept;

// eof is the error read returns when no more input is available (Go's io.EOF, "EOF").
extern const go::error eof;
// err_unexpected_eof means end of input came in the middle of a fixed-size block or data
// structure (Go's io.ErrUnexpectedEOF, "unexpected EOF").
extern const go::error err_unexpected_eof;
// err_closed_pipe is returned by a read or write on a closed pipe (Go's io.ErrClosedPipe,
// "io: read/write on closed pipe").
extern const go::error err_closed_pipe;
// err_short_write means a write accepted fewer bytes than requested but failed to return an
// explicit error (Go's io.ErrShortWrite, "short write").
extern const go::error err_short_write;

// reader is Go's io.Reader: read(p) reads up to p.size() bytes into p and returns how many it
// read (0 <= n <= p.size()) and any error met. It may use all of p as scratch space. When it
// reads n > 0 bytes and then meets an error or end of input, it may return the error with them
// or return it from the next call; callers process the n bytes before looking at the error.
// Returning 0 bytes and nil is discouraged and means nothing happened, not end of input.
template <class R>
concept reader = requires(R& r, std::span<std::byte> p) {
  { r.read(p) } -> std::convertible_to<result>;
};

// writer is Go's io.Writer: write(p) writes p's bytes and returns how many it wrote
// (0 <= n <= p.size()) and the error that stopped it early; it returns an error whenever
// n < p.size(). It does not modify or retain p.
template <class W>
concept writer = requires(W& w, std::span<const std::byte> p) {
  { w.write(p) } -> std::convertible_to<result>;
};

}  // namespace go::io
