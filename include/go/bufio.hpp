// Buffered I/O: Go's package bufio over any go::io reader or writer.
//
//   Go                                  gocxx
//   br := bufio.NewReader(r)            go::bufio::reader br(r);
//   bufio.NewReaderSize(r, n)           go::bufio::reader br(r, n);
//   line, err := br.ReadString('\n')    auto [line, err] = br.read_string('\n');    (std::string)
//   b, err := br.ReadBytes('\n')        auto [b, err] = br.read_bytes('\n');        (std::vector<std::byte>)
//   s, err := br.ReadSlice('\n')        auto [s, err] = br.read_slice('\n');        (span into the buffer)
//   line, isPrefix, err := br.ReadLine()    auto [line, is_prefix, err] = br.read_line();
//   c, err := br.ReadByte()             auto [c, err] = br.read_byte();             (std::byte)
//   br.UnreadByte()                     br.unread_byte()
//   b, err := br.Peek(n)                auto [b, err] = br.peek(n);
//   br.Discard(n), br.Buffered()        br.discard(n), br.buffered()
//   bw := bufio.NewWriter(w)            go::bufio::writer bw(w);
//   bw.Write(p), bw.WriteString(s)      bw.write(p), bw.write_string(s)
//   bw.WriteByte(c), bw.Flush()         bw.write_byte(c), bw.flush()
//   bw.Buffered(), bw.Available()       bw.buffered(), bw.available()
//   sc := bufio.NewScanner(r)           go::bufio::scanner sc(r);
//   for sc.Scan() { sc.Text() }         while (sc.scan()) { sc.text(); }         (or sc.bytes())
//   sc.Err()                            sc.err()
//   sc.Split(bufio.ScanWords)           sc.split(go::bufio::scan_words);     (scan_lines, scan_bytes, scan_runes)
//   sc.Buffer(buf, max)                 sc.buffer(buf, max);
//
// Guarantees (Go's bufio)
// - reader, writer and scanner wrap any go::io::reader or writer. They hold it as io's
//   adapters do: an lvalue by reference (it must outlive them), an rvalue by value. They are
//   not safe for concurrent use: one goroutine at a time, as in Go.
// - A reader's buffer is at least 16 bytes (default 4096). read_slice, read_line and peek
//   return spans into the buffer, valid until the next read. read_line, read_slice and
//   peek return err_buffer_full when the buffer fills first.
// - A writer keeps its first write error: every later write and flush returns it. The
//   destructor does not flush; call flush, as in Go.
// - A scanner stops at end of input or at the first error; err() is nil at end of input.
//   Tokens longer than the maximum (64 KiB by default, see buffer) stop it with
//   err_too_long, "bufio.Scanner: token too long". scan_lines drops a trailing "\r" and
//   returns a last line that has no newline.
// - Errors are Go's: err_buffer_full ("bufio: buffer full"), err_negative_count ("bufio:
//   negative count"), err_invalid_unread_byte ("bufio: invalid use of UnreadByte"), and the
//   scanner's err_too_long, err_negative_advance, err_advance_too_far, err_bad_read_count,
//   err_final_token. Go's panics (a split function that returns too many empty tokens,
//   split or buffer called after scan) throw std::logic_error with Go's message.
// - Not ported: runes (read_rune, unread_rune, write_rune), NewReadWriter, AvailableBuffer.
//
// Example:
//   go::bufio::scanner sc(conn);                 // conn: a go::net::conn
//   go::bufio::writer out(conn);
//   while (sc.scan()) {
//     out.write_string(sc.text() + "\n");
//     if (auto err = out.flush()) return err;
//   }
//   return sc.err();
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "go/errors.hpp"
#include "go/io.hpp"

namespace go::bufio {

// err_invalid_unread_byte: unread_byte without a byte to unread ("bufio: invalid use of UnreadByte").
extern const go::error err_invalid_unread_byte;
// err_buffer_full: the buffer filled before the delimiter or count was reached ("bufio: buffer full").
extern const go::error err_buffer_full;
// err_negative_count: peek or discard of a negative count ("bufio: negative count").
extern const go::error err_negative_count;
// err_too_long: a token longer than the scanner's maximum ("bufio.Scanner: token too long").
extern const go::error err_too_long;
// err_negative_advance: "bufio.Scanner: SplitFunc returns negative advance count".
extern const go::error err_negative_advance;
// err_advance_too_far: "bufio.Scanner: SplitFunc returns advance count beyond input".
extern const go::error err_advance_too_far;
// err_bad_read_count: "bufio.Scanner: Read returned impossible count".
extern const go::error err_bad_read_count;
// err_final_token is a special value a split function returns to say that the token it
// returns is the last one and scanning should stop after it (Go's ErrFinalToken, "final
// token"). The scanner's err() is nil afterwards.
extern const go::error err_final_token;

// max_scan_token_size is the scanner's default maximum token size (Go's MaxScanTokenSize).
inline constexpr std::size_t max_scan_token_size = 64 * 1024;

// What read_slice and peek return: a span into the reader's buffer, valid until the next read.
struct bytes_result {
  std::span<const std::byte> bytes;
  go::error err;
};
// What read_line returns: Go's (line []byte, isPrefix bool, err error).
struct line_result {
  std::span<const std::byte> line;
  bool is_prefix = false;
  go::error err;
};
struct byte_result {
  std::byte c{};
  go::error err;
};
struct string_result {
  std::string s;
  go::error err;
};
struct vector_result {
  std::vector<std::byte> bytes;
  go::error err;
};

namespace detail {

inline constexpr std::size_t default_buf_size = 4096;
inline constexpr std::size_t min_read_buffer_size = 16;
inline constexpr int max_consecutive_empty_reads = 100;

// held<T> holds what an adapter wraps: a pointer for an lvalue reference type (so that
// reset can rebind it), the value otherwise.
template <class T>
class held {
 public:
  explicit held(T&& v) : v_(std::forward<T>(v)) {}
  std::remove_reference_t<T>& get() noexcept { return v_; }
  void reset(T&& v) { v_ = std::forward<T>(v); }

 private:
  T v_;
};
template <class T>
class held<T&> {
 public:
  explicit held(T& v) noexcept : p_(&v) {}
  T& get() noexcept { return *p_; }
  void reset(T& v) noexcept { p_ = &v; }

 private:
  T* p_;
};

[[noreturn]] void throw_impossible_count();

}  // namespace detail

// reader adds buffering to a go::io reader (Go's bufio.Reader). See the top of this file.
template <class R>
class reader {
 public:
  // reader(rd, size) wraps rd with a buffer of size bytes (at least 16; Go's NewReaderSize).
  explicit reader(R&& rd, std::size_t size = detail::default_buf_size)
      : buf_(std::max(size, detail::min_read_buffer_size)), rd_(std::forward<R>(rd)) {}

  // size returns the size of the buffer in bytes.
  std::size_t size() const noexcept { return buf_.size(); }

  // reset discards any buffered data and error and makes the reader read from rd.
  void reset(R&& rd) {
    rd_.reset(std::forward<R>(rd));
    r_ = w_ = 0;
    err_ = {};
    last_byte_ = -1;
  }

  // buffered returns the number of bytes that can be read from the buffer.
  std::size_t buffered() const noexcept { return w_ - r_; }

  // peek returns the next n bytes without advancing the reader. If it returns fewer than n
  // bytes, it also returns an error explaining why; err_buffer_full if n is larger than the
  // buffer. The bytes stay valid until the next read.
  bytes_result peek(std::ptrdiff_t n) {
    if (n < 0) return {{}, err_negative_count};
    auto want = static_cast<std::size_t>(n);
    last_byte_ = -1;
    while (w_ - r_ < want && w_ - r_ < buf_.size() && !err_) fill();
    if (want > buf_.size()) return {view(r_, w_), err_buffer_full};
    go::error err;
    if (std::size_t avail = w_ - r_; avail < want) {
      want = avail;
      err = read_err();
      if (!err) err = err_buffer_full;
    }
    return {view(r_, r_ + want), std::move(err)};
  }

  // discard skips the next n bytes and returns how many it skipped; if that is fewer than
  // n, also an error.
  io::result discard(std::ptrdiff_t n) {
    if (n < 0) return {0, err_negative_count};
    if (n == 0) return {};
    last_byte_ = -1;
    auto remain = static_cast<std::size_t>(n);
    for (;;) {
      std::size_t skip = buffered();
      if (skip == 0) {
        fill();
        skip = buffered();
      }
      skip = std::min(skip, remain);
      r_ += skip;
      remain -= skip;
      if (remain == 0) return {static_cast<std::size_t>(n), {}};
      if (err_) return {static_cast<std::size_t>(n) - remain, read_err()};
    }
  }

  // read reads data into p and returns how many bytes it read: at most one read of the
  // underlying reader, so n may be less than p.size(). At end of input n is 0 and err eof.
  io::result read(std::span<std::byte> p) {
    if (p.empty()) {
      if (buffered() > 0) return {};
      return {0, read_err()};
    }
    if (r_ == w_) {
      if (err_) return {0, read_err()};
      if (p.size() >= buf_.size()) {
        // Large read, empty buffer: read directly into p to avoid a copy.
        auto [n, err] = rd_.get().read(p);
        check(n, p.size());
        err_ = std::move(err);
        if (n > 0) last_byte_ = std::to_integer<int>(p[n - 1]);
        return {n, read_err()};
      }
      r_ = w_ = 0;
      auto [n, err] = rd_.get().read(std::span(buf_));
      check(n, buf_.size());
      err_ = std::move(err);
      if (n == 0) return {0, read_err()};
      w_ += n;
    }
    std::size_t n = std::min(p.size(), w_ - r_);
    std::copy_n(buf_.data() + r_, n, p.data());
    r_ += n;
    last_byte_ = std::to_integer<int>(buf_[r_ - 1]);
    return {n, {}};
  }

  // read_byte reads and returns a single byte, or an error if none is available.
  byte_result read_byte() {
    while (r_ == w_) {
      if (err_) return {std::byte{}, read_err()};
      fill();
    }
    std::byte c = buf_[r_++];
    last_byte_ = std::to_integer<int>(c);
    return {c, {}};
  }

  // unread_byte unreads the last byte. Only the most recently read byte can be unread;
  // otherwise it returns err_invalid_unread_byte.
  go::error unread_byte() {
    if (last_byte_ < 0 || (r_ == 0 && w_ > 0)) return err_invalid_unread_byte;
    if (r_ > 0) {
      --r_;
    } else {
      w_ = 1;  // r_ == w_ == 0
    }
    buf_[r_] = static_cast<std::byte>(last_byte_);
    last_byte_ = -1;
    return {};
  }

  // read_slice reads until the first delim and returns a span of the buffer up to and
  // including it, valid until the next read. If it meets an error first, it returns the
  // data read before the error and the error (often eof); err_buffer_full if the buffer
  // fills without a delim. It returns a nil error if and only if the line ends in delim.
  // Prefer read_bytes or read_string.
  bytes_result read_slice(char delim) {
    bytes_result out;
    std::size_t s = 0;  // where to search from: what was searched before is not rescanned
    for (;;) {
      auto begin = buf_.begin() + static_cast<std::ptrdiff_t>(r_ + s),
           end = buf_.begin() + static_cast<std::ptrdiff_t>(w_);
      if (auto it = std::find(begin, end, static_cast<std::byte>(delim)); it != end) {
        std::size_t i = static_cast<std::size_t>(it - buf_.begin());
        out.bytes = view(r_, i + 1);
        r_ = i + 1;
        break;
      }
      if (err_) {
        out.bytes = view(r_, w_);
        r_ = w_;
        out.err = read_err();
        break;
      }
      if (buffered() >= buf_.size()) {
        r_ = w_;
        out.bytes = view(0, buf_.size());
        out.err = err_buffer_full;
        break;
      }
      s = w_ - r_;
      fill();
    }
    if (!out.bytes.empty()) last_byte_ = std::to_integer<int>(out.bytes.back());
    return out;
  }

  // read_line is a low-level line-reading primitive; most callers should use
  // read_string('\n') or a scanner. It returns a line without its "\n" or "\r\n". If the
  // line is too long for the buffer, is_prefix is set and the rest comes in later calls.
  // It returns either a non-empty line or an error, never both; the text after the last
  // newline is returned as a line with a nil error, eof comes next.
  line_result read_line() {
    auto [line, err] = read_slice('\n');
    if (err == err_buffer_full) {
      // Handle the case where "\r\n" straddles the buffer.
      if (!line.empty() && line.back() == std::byte{'\r'}) {
        --r_;  // r_ > 0: the buffer is full and line ends at w_
        line = line.first(line.size() - 1);
      }
      return {line, true, {}};
    }
    if (line.empty()) return {line, false, std::move(err)};
    if (line.back() == std::byte{'\n'}) {
      std::size_t drop = line.size() > 1 && line[line.size() - 2] == std::byte{'\r'} ? 2 : 1;
      line = line.first(line.size() - drop);
    }
    return {line, false, {}};
  }

  // read_bytes reads until the first delim and returns the data up to and including it. If
  // it meets an error first, it returns the data read before the error and the error
  // (often eof). It returns a nil error if and only if the data ends in delim.
  vector_result read_bytes(char delim) {
    vector_result out;
    out.err =
        collect(delim, [&](std::span<const std::byte> b) { out.bytes.insert(out.bytes.end(), b.begin(), b.end()); });
    return out;
  }

  // read_string is read_bytes returning a std::string (Go's ReadString).
  string_result read_string(char delim) {
    string_result out;
    out.err = collect(
        delim, [&](std::span<const std::byte> b) { out.s.append(reinterpret_cast<const char*>(b.data()), b.size()); });
    return out;
  }

  // write_to writes the buffered data and then everything the underlying reader yields
  // until eof to w (Go's WriterTo, so io::copy uses it). It returns the bytes written and
  // the first error other than eof.
  template <io::writer W>
  io::result write_to(W&& w) {
    last_byte_ = -1;
    io::result out;
    if (r_ < w_) {
      out = write_buf(w);
      if (out.err) return out;
    }
    if constexpr (io::detail::writer_to<std::remove_reference_t<R>, std::remove_reference_t<W>>) {
      auto [m, err] = rd_.get().write_to(w);
      return {out.n + m, std::move(err)};
    } else if constexpr (io::detail::reader_from<std::remove_reference_t<W>, std::remove_reference_t<R>>) {
      auto [m, err] = w.read_from(rd_.get());
      return {out.n + m, std::move(err)};
    } else {
      if (w_ - r_ < buf_.size()) fill();
      while (r_ < w_) {
        auto [m, err] = write_buf(w);
        out.n += m;
        if (err) return {out.n, std::move(err)};
        fill();
      }
      if (err_ == io::eof) err_ = {};
      out.err = read_err();
      return out;
    }
  }

 private:
  std::span<const std::byte> view(std::size_t from, std::size_t to) const noexcept {
    return std::span<const std::byte>(buf_).subspan(from, to - from);
  }

  static void check(std::size_t n, std::size_t max) {
    if (n > max) detail::throw_impossible_count();
  }

  // fill reads a new chunk into the buffer, after moving what is buffered to its start.
  // Precondition: the buffer is not full.
  void fill() {
    if (r_ > 0) {
      std::copy(buf_.begin() + static_cast<std::ptrdiff_t>(r_), buf_.begin() + static_cast<std::ptrdiff_t>(w_),
                buf_.begin());
      w_ -= r_;
      r_ = 0;
    }
    for (int i = detail::max_consecutive_empty_reads; i > 0; --i) {
      auto [n, err] = rd_.get().read(std::span(buf_).subspan(w_));
      check(n, buf_.size() - w_);
      w_ += n;
      if (err) {
        err_ = std::move(err);
        return;
      }
      if (n > 0) return;
    }
    err_ = io::err_no_progress;
  }

  go::error read_err() { return std::exchange(err_, {}); }

  // collect reads through read_slice until delim or an error, handing each piece to add.
  template <class Add>
  go::error collect(char delim, Add add) {
    for (;;) {
      auto [frag, err] = read_slice(delim);
      add(frag);
      if (err != err_buffer_full) return err;  // nil: the final fragment
    }
  }

  template <class W>
  io::result write_buf(W& w) {
    auto [n, err] = w.write(std::span<const std::byte>(view(r_, w_)));
    check(n, w_ - r_);
    r_ += n;
    return {n, std::move(err)};
  }

  std::vector<std::byte> buf_;
  detail::held<R> rd_;
  std::size_t r_ = 0, w_ = 0;  // read and write positions in buf_
  go::error err_;              // the underlying reader's error, returned once
  int last_byte_ = -1;         // the last byte read, for unread_byte; -1: none
};

template <class R>
reader(R&&) -> reader<R>;
template <class R>
reader(R&&, std::size_t) -> reader<R>;

// writer adds buffering to a go::io writer (Go's bufio.Writer). After a write error, all
// later writes and flush return it. Call flush when done; the destructor does not.
template <class W>
class writer {
 public:
  // writer(w, size) wraps w with a buffer of size bytes (the default 4096 if 0).
  explicit writer(W&& w, std::size_t size = detail::default_buf_size)
      : buf_(size == 0 ? detail::default_buf_size : size), wr_(std::forward<W>(w)) {}

  std::size_t size() const noexcept { return buf_.size(); }
  // available returns how many bytes are unused in the buffer.
  std::size_t available() const noexcept { return buf_.size() - n_; }
  // buffered returns the number of bytes written into the buffer and not yet flushed.
  std::size_t buffered() const noexcept { return n_; }

  // reset discards unflushed data and any error and makes the writer write to w.
  void reset(W&& w) {
    wr_.reset(std::forward<W>(w));
    err_ = {};
    n_ = 0;
  }

  // flush writes the buffered data to the underlying writer.
  go::error flush() {
    if (err_) return err_;
    if (n_ == 0) return {};
    auto [n, err] = wr_.get().write(std::span<const std::byte>(buf_.data(), n_));
    if (n < n_ && !err) err = io::err_short_write;
    if (err) {
      if (n > 0 && n < n_)
        std::copy(buf_.begin() + static_cast<std::ptrdiff_t>(n), buf_.begin() + static_cast<std::ptrdiff_t>(n_),
                  buf_.begin());
      n_ -= std::min(n, n_);
      err_ = err;
      return err;
    }
    n_ = 0;
    return {};
  }

  // write writes p into the buffer, flushing as it fills; a write larger than the buffer
  // goes straight to the underlying writer when the buffer is empty. If n < p.size(), err
  // says why.
  io::result write(std::span<const std::byte> p) {
    std::size_t nn = 0;
    while (p.size() > available() && !err_) {
      std::size_t n;
      if (buffered() == 0) {
        auto [m, err] = wr_.get().write(p);  // large write, empty buffer: no copy
        n = std::min(m, p.size());
        err_ = std::move(err);
      } else {
        n = append(p);
        (void)flush();  // an error stays in err_
      }
      nn += n;
      p = p.subspan(n);
    }
    if (err_) return {nn, err_};
    nn += append(p);
    return {nn, {}};
  }

  // write_string writes s, as write does.
  io::result write_string(std::string_view s) {
    return write(std::as_bytes(std::span<const char>(s.data(), s.size())));
  }

  // write_byte writes a single byte.
  go::error write_byte(std::byte c) {
    if (err_) return err_;
    if (available() == 0 && flush()) return err_;
    buf_[n_++] = c;
    return {};
  }

  // read_from reads r until eof into the buffer, flushing as it fills (Go's ReaderFrom, so
  // io::copy uses it). When the buffer is empty and the underlying writer has read_from,
  // it hands r to it. It returns the bytes read and the first error other than eof.
  template <io::reader Src>
  io::result read_from(Src&& r) {
    if (err_) return {0, err_};
    io::result out;
    go::error err;
    for (;;) {
      if (available() == 0) {
        if (auto e = flush()) return {out.n, e};
      }
      if constexpr (io::detail::reader_from<std::remove_reference_t<W>, std::remove_reference_t<Src>>) {
        if (buffered() == 0) {
          auto [m, e] = wr_.get().read_from(r);
          err_ = e;
          return {out.n + m, std::move(e)};
        }
      }
      int empty = 0;
      std::size_t m = 0;
      for (; empty < detail::max_consecutive_empty_reads; ++empty) {
        auto [got, e] = r.read(std::span(buf_).subspan(n_));
        if (got > buf_.size() - n_) detail::throw_impossible_count();
        m = got;
        err = std::move(e);
        if (m != 0 || err) break;
      }
      if (empty == detail::max_consecutive_empty_reads) return {out.n, io::err_no_progress};
      n_ += m;
      out.n += m;
      if (err) break;
    }
    if (err == io::eof) {
      // If the buffer is full, flush now: the caller may not call flush after copy.
      err = available() == 0 ? flush() : go::error{};
    }
    out.err = std::move(err);
    return out;
  }

 private:
  std::size_t append(std::span<const std::byte> p) {
    std::size_t n = std::min(p.size(), available());
    std::copy_n(p.data(), n, buf_.data() + n_);
    n_ += n;
    return n;
  }

  go::error err_;
  std::vector<std::byte> buf_;
  std::size_t n_ = 0;  // bytes buffered
  detail::held<W> wr_;
};

template <class W>
writer(W&&) -> writer<W>;
template <class W>
writer(W&&, std::size_t) -> writer<W>;

// split_result is what a split function returns (Go's (advance int, token []byte, err
// error)): advance the input by advance bytes; return *token as the next token if token
// holds one (an empty token is a token); err stops the scan (err_final_token: after this
// token).
struct split_result {
  std::ptrdiff_t advance = 0;
  std::optional<std::span<const std::byte>> token;
  go::error err;
};

// split_func is the signature of a function that splits input into tokens (Go's
// SplitFunc). data is the unprocessed input; at_eof says no more will come. Returning
// {0, nullopt, nil} asks for more data: the scanner reads more and calls it again with a
// longer data, or with at_eof. It is never called with empty data unless at_eof. The
// token may point into data.
using split_func = std::function<split_result(std::span<const std::byte> data, bool at_eof)>;

// scan_lines returns each line of text with its "\n" and an optional "\r" before it removed;
// the last line is returned even without a newline, and an empty last line is not.
split_result scan_lines(std::span<const std::byte> data, bool at_eof);
// scan_words returns each space-separated word (unicode.IsSpace), without the spaces; never
// an empty word.
split_result scan_words(std::span<const std::byte> data, bool at_eof);
// scan_bytes returns each byte as a token.
split_result scan_bytes(std::span<const std::byte> data, bool at_eof);
// scan_runes returns each UTF-8 encoded rune as a token; an encoding error becomes U+FFFD
// ("\xef\xbf\xbd"), consuming one byte.
split_result scan_runes(std::span<const std::byte> data, bool at_eof);

// scanner reads input split into tokens: lines by default (Go's bufio.Scanner). See the top.
template <class R>
class scanner {
 public:
  explicit scanner(R&& r) : r_(std::forward<R>(r)) {}

  // scan advances to the next token, then available through bytes() or text(). It
  // returns false when the scan stops, at end of input or an error; err() tells which.
  bool scan() {
    if (done_) return false;
    scan_called_ = true;
    for (;;) {
      if (end_ > start_ || err_) {
        auto [advance, token, err] = split_(data().subspan(start_, end_ - start_), static_cast<bool>(err_));
        if (err) {
          if (err == err_final_token) {
            token_ = token.value_or(std::span<const std::byte>());
            done_ = true;
            // A nil token with err_final_token stops the scan without a token.
            return token.has_value();
          }
          set_err(err);
          return false;
        }
        if (!move_start(advance)) return false;
        if (token) {
          token_ = *token;
          if (!err_ || advance > 0) {
            empties_ = 0;
          } else if (++empties_ > detail::max_consecutive_empty_reads) {
            // Returning tokens without advancing at eof would loop forever.
            throw std::logic_error("bufio.Scan: too many empty tokens without progressing");
          }
          return true;
        }
      }
      if (err_) {
        start_ = end_ = 0;
        return false;
      }
      auto buf = data();
      // Shift the data to the start of the buffer when it is full or half consumed.
      if (start_ > 0 && (end_ == buf.size() || start_ > buf.size() / 2)) {
        std::copy(buf.begin() + static_cast<std::ptrdiff_t>(start_), buf.begin() + static_cast<std::ptrdiff_t>(end_),
                  buf.begin());
        end_ -= start_;
        start_ = 0;
      }
      if (end_ == buf.size()) {
        if (buf.size() >= max_token_size_) {
          set_err(err_too_long);
          return false;
        }
        std::size_t size = buf.empty() ? start_buf_size : buf.size() * 2;
        size = std::min(size, max_token_size_);
        auto grown = std::make_unique_for_overwrite<std::byte[]>(size);
        std::copy(buf.begin() + static_cast<std::ptrdiff_t>(start_), buf.begin() + static_cast<std::ptrdiff_t>(end_),
                  grown.get());
        owned_ = std::move(grown);
        buf_ = std::span<std::byte>(owned_.get(), size);
        end_ -= start_;
        start_ = 0;
        buf = buf_;
      }
      // Read until data comes, an error, or too many empty reads.
      for (int loop = 0;;) {
        auto [n, err] = r_.get().read(buf.subspan(end_));
        if (n > buf.size() - end_) {
          set_err(err_bad_read_count);
          break;
        }
        end_ += n;
        if (err) {
          set_err(err);
          break;
        }
        if (n > 0) {
          empties_ = 0;
          break;
        }
        if (++loop > detail::max_consecutive_empty_reads) {
          set_err(io::err_no_progress);
          break;
        }
      }
    }
  }

  // bytes returns the most recent token; it stays valid until the next scan.
  std::span<const std::byte> bytes() const noexcept { return token_; }
  // text returns a copy of the most recent token as a string.
  std::string text() const { return std::string(reinterpret_cast<const char*>(token_.data()), token_.size()); }

  // err returns the first error other than eof that stopped the scan; nil at end of input.
  go::error err() const {
    if (err_ == io::eof) return {};
    return err_;
  }

  // buffer sets the buffer to start with and the maximum buffer size scan may allocate:
  // the longest token is max(max, buf.size()). buf must outlive the scanner's use of it.
  // Throws std::logic_error if called after scan.
  void buffer(std::span<std::byte> buf, std::size_t max) {
    if (scan_called_) throw std::logic_error("Buffer called after Scan");
    buf_ = buf;
    owned_.reset();
    max_token_size_ = max;
  }

  // split sets the split function (scan_lines by default). Throws std::logic_error if
  // called after scan.
  void split(split_func f) {
    if (scan_called_) throw std::logic_error("Split called after Scan");
    split_ = std::move(f);
  }

 private:
  static constexpr std::size_t start_buf_size = 4096;

  std::span<std::byte> data() const noexcept { return buf_; }

  bool move_start(std::ptrdiff_t n) {
    if (n < 0) {
      set_err(err_negative_advance);
      return false;
    }
    if (static_cast<std::size_t>(n) > end_ - start_) {
      set_err(err_advance_too_far);
      return false;
    }
    start_ += static_cast<std::size_t>(n);
    return true;
  }

  void set_err(const go::error& err) {
    if (!err_ || err_ == io::eof) err_ = err;
  }

  detail::held<R> r_;
  split_func split_ = scan_lines;
  std::size_t max_token_size_ = max_scan_token_size;
  std::span<const std::byte> token_;
  std::span<std::byte> buf_;            // the buffer passed to split: buffer()'s or owned_
  std::unique_ptr<std::byte[]> owned_;  // the buffer scan allocated, if any
  std::size_t start_ = 0, end_ = 0;     // the unprocessed data in buf_
  go::error err_;                       // sticky
  int empties_ = 0;                     // successive empty tokens at eof
  bool scan_called_ = false;
  bool done_ = false;
};

template <class R>
scanner(R&&) -> scanner<R>;

}  // namespace go::bufio
