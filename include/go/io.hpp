// I/O: Go's package io, its errors, interfaces and helpers.
//
//   Go                                  gocxx
//   io.EOF                              go::io::eof
//   io.ErrUnexpectedEOF                 go::io::err_unexpected_eof
//   io.ErrClosedPipe                    go::io::err_closed_pipe
//   io.ErrShortWrite                    go::io::err_short_write
//   io.ErrShortBuffer, io.ErrNoProgress go::io::err_short_buffer, go::io::err_no_progress
//   n, err := r.Read(buf)               auto [n, err] = r.read(buf);        (go::io::result)
//   n, err := w.Write(buf)              auto [n, err] = w.write(buf);
//   io.Reader, io.Writer                go::io::reader, go::io::writer      (concepts)
//   n, err := io.ReadFull(r, buf)       auto [n, err] = go::io::read_full(r, buf);
//   io.ReadAtLeast(r, buf, min)         go::io::read_at_least(r, buf, min)
//   written, err := io.Copy(dst, src)   auto [written, err] = go::io::copy(dst, src);
//   io.CopyN(dst, src, n)               go::io::copy_n(dst, src, n)
//   io.CopyBuffer(dst, src, buf)        go::io::copy_buffer(dst, src, buf)
//   io.WriteString(w, s)                go::io::write_string(w, s)
//   io.LimitReader(r, n)                go::io::limit_reader(r, n)          (a limited_reader{r, n})
//   io.MultiWriter(w1, w2)              go::io::multi_writer(w1, w2)
//   io.MultiReader(r1, r2)              go::io::multi_reader(r1, r2)
//   io.Discard                          go::io::discard
//   pr, pw := io.Pipe()                 auto [pr, pw] = go::io::pipe();
//   pw.CloseWithError(err)              pw.close_with_error(err)
//
// Adapters and their readers and writers
// - limit_reader, multi_writer, multi_reader and bufio's types hold what they wrap as the
//   standard library's views do: an lvalue by reference (it must outlive the adapter), an
//   rvalue by value. A go::net::conn or a pipe end is a cheap handle, so either is fine.
// - copy uses src.write_to(dst) if src has it, else dst.read_from(src) if dst has it (Go's
//   io.WriterTo and io.ReaderFrom), else a 32 KiB buffer (smaller for a limited_reader
//   with less left).
//
// Pipes (Go's io.Pipe)
// - pipe() returns the two ends of a synchronous in-memory pipe. Each write blocks until it
//   has satisfied one or more reads that fully consume the written data; the data is copied
//   directly from the write to the reads, with no internal buffering.
// - Reads and writes on a pipe end may be called in parallel with each other and with close;
//   parallel reads, and parallel writes, are served one at a time. Goroutines park; plain
//   OS threads may use a pipe too and block.
// - pipe_reader and pipe_writer are cheap copyable handles (as chan<T> is); the pipe lives
//   while a handle to it does. close_with_error never overwrites the first error and
//   returns nil, as Go's does.
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

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

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
// err_short_buffer means a read required a longer buffer than was provided (Go's
// io.ErrShortBuffer, "short buffer").
extern const go::error err_short_buffer;
// err_no_progress is returned by some clients of a reader when many calls to read have
// returned no data and no error (Go's io.ErrNoProgress, "multiple Read calls return no
// data or error"); it usually means a broken reader.
extern const go::error err_no_progress;

namespace detail {
// What copy returns when a writer reports more bytes than it was given ("invalid write result").
extern const go::error err_invalid_write;
}  // namespace detail

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

// read_at_least reads from r into buf until it has read at least min bytes (Go's
// io.ReadAtLeast). It returns the number of bytes copied and an error if fewer bytes were
// read: eof only if no bytes were read, err_unexpected_eof if eof came after fewer than
// min bytes. If min > buf.size() it returns err_short_buffer. On return, n >= min if and
// only if err is nil; an error met after reading at least min bytes is dropped.
template <reader R>
result read_at_least(R&& r, std::span<std::byte> buf, std::size_t min) {
  if (buf.size() < min) return {0, err_short_buffer};
  result out;
  while (out.n < min && !out.err) {
    auto [nn, err] = r.read(buf.subspan(out.n));
    out.n += nn;
    out.err = std::move(err);
  }
  if (out.n >= min) {
    out.err = {};
  } else if (out.n > 0 && out.err == eof) {
    out.err = err_unexpected_eof;
  }
  return out;
}

// read_full reads exactly buf.size() bytes from r into buf (Go's io.ReadFull): the error is
// eof only if no bytes were read, err_unexpected_eof if eof came after some but not all.
// On return, n == buf.size() if and only if err is nil.
template <reader R>
result read_full(R&& r, std::span<std::byte> buf) {
  return read_at_least(r, buf, buf.size());
}

// limited_reader reads from r but limits the data returned to n bytes (Go's
// io.LimitedReader{R, N}); each read updates n to what is left, and read returns eof when
// n <= 0 or when r does.
template <class R>
struct limited_reader {
  R r;
  std::int64_t n;

  result read(std::span<std::byte> p) {
    if (n <= 0) return {0, eof};
    if (static_cast<std::int64_t>(p.size()) > n) p = p.first(static_cast<std::size_t>(n));
    result out = r.read(p);
    n -= static_cast<std::int64_t>(out.n);
    return out;
  }
};

// limit_reader returns a reader that reads from r but stops with eof after n bytes (Go's
// io.LimitReader). An lvalue r is held by reference, an rvalue by value.
template <reader R>
limited_reader<R> limit_reader(R&& r, std::int64_t n) {
  return limited_reader<R>{std::forward<R>(r), n};
}

namespace detail {
template <class T>
struct is_limited_reader : std::false_type {};
template <class R>
struct is_limited_reader<limited_reader<R>> : std::true_type {};

template <class S, class D>
concept writer_to = requires(S& s, D& d) {
  { s.write_to(d) } -> std::convertible_to<result>;
};
template <class D, class S>
concept reader_from = requires(D& d, S& s) {
  { d.read_from(s) } -> std::convertible_to<result>;
};

// The loop of copy_buffer, Go's copyBuffer without the WriterTo and ReaderFrom callouts.
template <class W, class R>
result copy_loop(W& dst, R& src, std::span<std::byte> buf) {
  result out;
  for (;;) {
    auto [nr, er] = src.read(buf);
    if (nr > 0) {
      auto [nw, ew] = dst.write(std::span<const std::byte>(buf.first(nr)));
      if (nr < nw) {
        nw = 0;
        if (!ew) ew = err_invalid_write;
      }
      out.n += nw;
      if (ew) {
        out.err = std::move(ew);
        break;
      }
      if (nr != nw) {
        out.err = err_short_write;
        break;
      }
    }
    if (er) {
      if (er != eof) out.err = std::move(er);
      break;
    }
  }
  return out;
}
}  // namespace detail

// copy copies from src to dst until src reaches eof or an error occurs (Go's io.Copy). It
// returns the number of bytes copied and the first error met. A successful copy returns a
// nil error, not eof: copy reads until eof, so eof is no error to report. See the top for
// write_to and read_from.
template <writer W, reader R>
result copy(W&& dst, R&& src) {
  if constexpr (detail::writer_to<std::remove_reference_t<R>, std::remove_reference_t<W>>) {
    return src.write_to(dst);
  } else if constexpr (detail::reader_from<std::remove_reference_t<W>, std::remove_reference_t<R>>) {
    return dst.read_from(src);
  } else {
    std::size_t size = 32 * 1024;
    if constexpr (detail::is_limited_reader<std::remove_cvref_t<R>>::value) {
      if (static_cast<std::int64_t>(size) > src.n) size = src.n < 1 ? 1 : static_cast<std::size_t>(src.n);
    }
    auto buf = std::make_unique_for_overwrite<std::byte[]>(size);
    return detail::copy_loop(dst, src, std::span<std::byte>(buf.get(), size));
  }
}

// copy_buffer is copy staging through buf instead of allocating a buffer (Go's
// io.CopyBuffer); buf is not used when src has write_to or dst has read_from. An empty buf
// throws std::invalid_argument (Go panics: "empty buffer in CopyBuffer").
template <writer W, reader R>
result copy_buffer(W&& dst, R&& src, std::span<std::byte> buf) {
  if (buf.empty()) throw std::invalid_argument("empty buffer in CopyBuffer");
  if constexpr (detail::writer_to<std::remove_reference_t<R>, std::remove_reference_t<W>>) {
    return src.write_to(dst);
  } else if constexpr (detail::reader_from<std::remove_reference_t<W>, std::remove_reference_t<R>>) {
    return dst.read_from(src);
  } else {
    return detail::copy_loop(dst, src, buf);
  }
}

// copy_n copies n bytes (or until an error) from src to dst (Go's io.CopyN). It returns the
// number of bytes copied and the earliest error met; on return, written == n if and only if
// err is nil (eof if src ended early). A negative n copies nothing.
template <writer W, reader R>
result copy_n(W&& dst, R&& src, std::int64_t n) {
  result out = copy(dst, limit_reader(src, n));
  if (static_cast<std::int64_t>(out.n) == n) return {out.n, {}};
  if (static_cast<std::int64_t>(out.n) < n && !out.err) out.err = eof;  // src stopped early
  return out;
}

// write_string writes s to w (Go's io.WriteString): with w.write_string(s) if w has it,
// else with one call of w.write.
template <writer W>
result write_string(W&& w, std::string_view s) {
  if constexpr (requires {
                  { w.write_string(s) } -> std::convertible_to<result>;
                }) {
    return w.write_string(s);
  } else {
    return w.write(std::as_bytes(std::span<const char>(s.data(), s.size())));
  }
}

// discard_writer is the type of discard, a writer on which every write succeeds without
// doing anything (Go's io.Discard).
struct discard_writer {
  result write(std::span<const std::byte> p) const noexcept { return {p.size(), {}}; }
  result write_string(std::string_view s) const noexcept { return {s.size(), {}}; }
};
inline constexpr discard_writer discard{};

// multi_writer_t is what multi_writer returns (Go's io.MultiWriter): each write writes to
// every writer in turn, until one of them fails. A writer that returns an error stops the
// write with that error; one that accepts fewer bytes than given stops it with
// err_short_write.
template <class... W>
class multi_writer_t {
 public:
  explicit multi_writer_t(W&&... w) : writers_(std::forward<W>(w)...) {}

  result write(std::span<const std::byte> p) {
    result out{p.size(), {}};
    std::apply([&](auto&... w) { (write_one(w, p, out) && ...); }, writers_);
    return out;
  }

 private:
  template <class One>
  static bool write_one(One& w, std::span<const std::byte> p, result& out) {
    auto [n, err] = w.write(p);
    if (err) {
      out = {n, std::move(err)};
      return false;
    }
    if (n != p.size()) {
      out = {n, err_short_write};
      return false;
    }
    return true;
  }

  std::tuple<W...> writers_;
};

// multi_writer returns a writer that duplicates its writes to all the writers given, like
// the Unix tee(1) command. Lvalues are held by reference, rvalues by value.
template <writer... W>
multi_writer_t<W...> multi_writer(W&&... w) {
  return multi_writer_t<W...>(std::forward<W>(w)...);
}

// multi_reader_t is what multi_reader returns (Go's io.MultiReader): the logical
// concatenation of its readers, read sequentially. Once all have returned eof, read
// returns eof; any other error is returned at once.
template <class... R>
class multi_reader_t {
 public:
  explicit multi_reader_t(R&&... r) : readers_(std::forward<R>(r)...) {}

  result read(std::span<std::byte> p) {
    while (current_ < sizeof...(R)) {
      result out = read_current(p, std::index_sequence_for<R...>{});
      if (out.err == eof) ++current_;
      if (out.n > 0 || out.err != eof) {
        if (out.err == eof && current_ < sizeof...(R)) out.err = {};  // more readers remain
        return out;
      }
    }
    return {0, eof};
  }

 private:
  template <std::size_t... I>
  result read_current(std::span<std::byte> p, std::index_sequence<I...>) {
    result out;
    ((I == current_ ? (out = std::get<I>(readers_).read(p), 0) : 0), ...);
    return out;
  }

  std::tuple<R...> readers_;
  std::size_t current_ = 0;
};

// multi_reader returns a reader that is the logical concatenation of the readers given.
// Lvalues are held by reference, rvalues by value.
template <reader... R>
multi_reader_t<R...> multi_reader(R&&... r) {
  return multi_reader_t<R...>(std::forward<R>(r)...);
}

namespace detail {
struct pipe_state;
}

class pipe_writer;

// pipe_reader is the read half of a pipe (Go's *io.PipeReader). A default-constructed one
// is no pipe: using it is undefined.
class pipe_reader {
 public:
  pipe_reader() noexcept = default;

  // read reads data from the pipe, blocking until a writer arrives or the write end is
  // closed. If the write end is closed with an error, that error is returned; otherwise
  // eof.
  result read(std::span<std::byte> p) const;

  // close closes the reader; later writes to the write half return err_closed_pipe.
  go::error close() const;

  // close_with_error closes the reader; later writes to the write half return err (or
  // err_closed_pipe if err is nil). It never overwrites an earlier error and returns nil.
  go::error close_with_error(go::error err) const;

  friend bool operator==(const pipe_reader&, const pipe_reader&) noexcept = default;

 private:
  friend std::pair<pipe_reader, pipe_writer> pipe();
  explicit pipe_reader(std::shared_ptr<detail::pipe_state> p) noexcept : p_(std::move(p)) {}
  std::shared_ptr<detail::pipe_state> p_;
};

// pipe_writer is the write half of a pipe (Go's *io.PipeWriter). A default-constructed one
// is no pipe: using it is undefined.
class pipe_writer {
 public:
  pipe_writer() noexcept = default;

  // write writes p to the pipe, blocking until one or more readers have consumed all of it
  // or the read end is closed. If the read end is closed with an error, that error is
  // returned; otherwise err_closed_pipe.
  result write(std::span<const std::byte> p) const;

  // close closes the writer; later reads from the read half return no bytes and eof.
  go::error close() const;

  // close_with_error closes the writer; later reads from the read half return no bytes and
  // err, or eof if err is nil. It never overwrites an earlier error and returns nil.
  go::error close_with_error(go::error err) const;

  friend bool operator==(const pipe_writer&, const pipe_writer&) noexcept = default;

 private:
  friend std::pair<pipe_reader, pipe_writer> pipe();
  explicit pipe_writer(std::shared_ptr<detail::pipe_state> p) noexcept : p_(std::move(p)) {}
  std::shared_ptr<detail::pipe_state> p_;
};

// pipe creates a synchronous in-memory pipe (Go's io.Pipe); see the top of this file.
[[nodiscard]] std::pair<pipe_reader, pipe_writer> pipe();

}  // namespace go::io
