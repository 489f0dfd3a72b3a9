// Ports of Go's io tests (io/io_test.go, io/pipe_test.go, io/multi_test.go), named after
// them, plus the sentinels' messages and pipes used from plain threads.
//
// Where Go's test only compares the copied text, the port also checks that the callout it
// is about (write_to, read_from) ran, so that it fails if copy stops using it.
//
// Not ported: TeeReader, SectionReader, OffsetWriter, NopCloser (not provided); the
// allocation counts of Pipe and MultiWriter (Go's escape analysis); the multi_reader
// flattening tests (multi_reader is a fixed tuple, nothing to flatten).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "go/chan.hpp"
#include "go/io.hpp"
#include "go/runtime.hpp"
#include "go/time.hpp"
#include "io_fakes.hpp"

namespace {

using namespace std::chrono_literals;
namespace io = go::io;
using gocxx_test::buffer;
using gocxx_test::bytes_of;
using gocxx_test::string_of;
using gocxx_test::string_reader;

// A buffer with ReadFrom (Go's bytes.Buffer as a destination).
struct read_from_buffer : buffer {
  bool read_from_called = false;
  template <io::reader R>
  io::result read_from(R&& r) {
    read_from_called = true;
    io::result out;
    std::array<std::byte, 7> chunk;
    for (;;) {
      auto [n, err] = r.read(chunk);
      write(std::span(chunk).first(n));
      out.n += n;
      if (err == io::eof) return out;
      if (err) return {out.n, err};
    }
  }
};

// A buffer with WriteTo (Go's bytes.Buffer as a source; writeToChecker).
struct write_to_buffer : buffer {
  bool write_to_called = false;
  template <io::writer W>
  io::result write_to(W&& w) {
    write_to_called = true;
    auto rest = bytes_of(data).subspan(off);
    off = data.size();
    return w.write(rest);
  }
};

// A source with both, for TestCopyPriority.
struct write_to_and_read_from_buffer : write_to_buffer {
  bool read_from_called = false;
  template <io::reader R>
  io::result read_from(R&&) {
    read_from_called = true;
    return {};
  }
};

static_assert(io::reader<buffer> && io::writer<buffer>);
static_assert(io::reader<io::pipe_reader> && io::writer<io::pipe_writer>);
static_assert(!io::writer<io::pipe_reader> && !io::reader<io::pipe_writer>);
static_assert(io::writer<const io::discard_writer>);

TEST(GoIo, SentinelsHaveGosMessagesAndCompareByIdentity) {
  EXPECT_EQ(io::eof.message(), "EOF");
  EXPECT_EQ(io::err_unexpected_eof.message(), "unexpected EOF");
  EXPECT_EQ(io::err_closed_pipe.message(), "io: read/write on closed pipe");
  EXPECT_EQ(io::err_short_write.message(), "short write");
  EXPECT_EQ(io::err_short_buffer.message(), "short buffer");
  EXPECT_EQ(io::err_no_progress.message(), "multiple Read calls return no data or error");
  go::error copy = io::eof;
  EXPECT_EQ(copy, io::eof);
  EXPECT_NE(copy, io::err_unexpected_eof);
  EXPECT_NE(go::make_error("EOF"), io::eof);  // the same text is another error
  EXPECT_TRUE(go::wrap_error(io::eof, "read").is(io::eof));
  EXPECT_NE(go::wrap_error(io::eof, "read"), io::eof);
}

TEST(GoIo, Copy) {
  buffer rb, wb;
  rb.write_string("hello, world.");
  auto [n, err] = io::copy(wb, rb);
  EXPECT_FALSE(err);
  EXPECT_EQ(n, 13u);
  EXPECT_EQ(wb.string(), "hello, world.");
}

TEST(GoIo, CopyNegative) {
  buffer rb, wb;
  rb.write_string("hello");
  (void)io::copy(wb, io::limited_reader<buffer&>{rb, -1});
  EXPECT_EQ(wb.string(), "");
  (void)io::copy_n(wb, rb, -1);
  EXPECT_EQ(wb.string(), "");
}

TEST(GoIo, CopyBuffer) {
  buffer rb, wb;
  rb.write_string("hello, world.");
  std::array<std::byte, 1> tiny;  // tiny buffer to keep it honest
  EXPECT_FALSE(io::copy_buffer(wb, rb, tiny).err);
  EXPECT_EQ(wb.string(), "hello, world.");
}

// Go's CopyBuffer panics on a non-nil empty buffer; here, throws.
TEST(GoIo, CopyBufferEmptyThrows) {
  buffer rb, wb;
  EXPECT_THROW((void)io::copy_buffer(wb, rb, std::span<std::byte>()), std::invalid_argument);
}

TEST(GoIo, CopyReadFrom) {
  buffer rb;
  read_from_buffer wb;
  rb.write_string("hello, world.");
  (void)io::copy(wb, rb);
  EXPECT_EQ(wb.string(), "hello, world.");
  EXPECT_TRUE(wb.read_from_called);
}

TEST(GoIo, CopyWriteTo) {
  write_to_buffer rb;
  buffer wb;
  rb.write_string("hello, world.");
  (void)io::copy(wb, rb);
  EXPECT_EQ(wb.string(), "hello, world.");
  EXPECT_TRUE(rb.write_to_called);
}

// write_to is preferred to read_from when both are there: it can issue one large write.
TEST(GoIo, CopyPriority) {
  write_to_and_read_from_buffer rb;
  read_from_buffer wb;
  rb.write_string("hello, world.");
  (void)io::copy(wb, rb);
  EXPECT_EQ(wb.string(), "hello, world.");
  EXPECT_TRUE(rb.write_to_called);
  EXPECT_FALSE(wb.read_from_called);
}

// When a read returns bytes and an error and the write of them fails too, the write's
// error is returned: it is the one that prevented progress.
TEST(GoIo, CopyReadErrWriteErr) {
  const go::error er = go::make_error("readError"), ew = go::make_error("writeError");
  struct zero_err_reader {
    go::error err;
    io::result read(std::span<std::byte> p) {
      p[0] = std::byte{0};
      return {1, err};
    }
  } r{er};
  struct err_writer {
    go::error err;
    io::result write(std::span<const std::byte>) { return {0, err}; }
  } w{ew};
  auto [n, err] = io::copy(w, r);
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(err, ew);
}

TEST(GoIo, CopyShortWriteWithoutError) {
  struct half_writer {
    io::result write(std::span<const std::byte> p) { return {p.size() / 2, {}}; }
  } w;
  string_reader r{"hello, world"};
  auto [n, err] = io::copy(w, r);
  EXPECT_EQ(n, 6u);
  EXPECT_EQ(err, io::err_short_write);
}

TEST(GoIo, CopyN) {
  buffer rb, wb;
  rb.write_string("hello, world.");
  (void)io::copy_n(wb, rb, 5);
  EXPECT_EQ(wb.string(), "hello");
}

TEST(GoIo, CopyNReadFrom) {
  buffer rb;
  read_from_buffer wb;
  rb.write_string("hello");
  (void)io::copy_n(wb, rb, 5);
  EXPECT_EQ(wb.string(), "hello");
  EXPECT_TRUE(wb.read_from_called);
}

TEST(GoIo, CopyNWriteTo) {
  write_to_buffer rb;
  buffer wb;
  rb.write_string("hello, world.");
  (void)io::copy_n(wb, rb, 5);
  EXPECT_EQ(wb.string(), "hello");
}

// The eof behaviour is the same whether or not the destination has read_from.
TEST(GoIo, CopyNEOF) {
  struct wanted_and_err_reader {
    io::result read(std::span<std::byte> p) { return {p.size(), go::make_error("wantedAndErrReader error")}; }
  };
  buffer plain;
  read_from_buffer b;
  {
    auto [n, err] = io::copy_n(plain, string_reader{"foo"}, 3);
    EXPECT_EQ(n, 3u);
    EXPECT_FALSE(err);
  }
  {
    auto [n, err] = io::copy_n(plain, string_reader{"foo"}, 4);
    EXPECT_EQ(n, 3u);
    EXPECT_EQ(err, io::eof);
  }
  {
    auto [n, err] = io::copy_n(b, string_reader{"foo"}, 3);
    EXPECT_EQ(n, 3u);
    EXPECT_FALSE(err);
  }
  {
    auto [n, err] = io::copy_n(b, string_reader{"foo"}, 4);
    EXPECT_EQ(n, 3u);
    EXPECT_EQ(err, io::eof);
  }
  {
    auto [n, err] = io::copy_n(b, wanted_and_err_reader{}, 5);
    EXPECT_EQ(n, 5u);
    EXPECT_FALSE(err);
  }
  {
    auto [n, err] = io::copy_n(plain, wanted_and_err_reader{}, 5);
    EXPECT_EQ(n, 5u);
    EXPECT_FALSE(err);
  }
}

// Go's dataAndErrorBuffer: a buffer whose read returns n > 0 with err when it empties.
struct data_and_error_buffer : buffer {
  go::error err;
  io::result read(std::span<std::byte> p) {
    io::result out = buffer::read(p);
    if (out.n > 0 && off == data.size() && !out.err) out.err = err;
    return out;
  }
};

template <class RW>
void test_read_at_least(RW& rb, go::error data_err) {
  (void)rb.write(bytes_of("0123"));
  std::array<std::byte, 2> buf;
  {
    auto [n, err] = io::read_at_least(rb, buf, 2);
    EXPECT_FALSE(err) << err.message();
    EXPECT_EQ(n, 2u);
  }
  {
    auto [n, err] = io::read_at_least(rb, buf, 4);
    EXPECT_EQ(err, io::err_short_buffer);
    EXPECT_EQ(n, 0u);
  }
  {
    auto [n, err] = io::read_at_least(rb, buf, 1);
    EXPECT_FALSE(err) << err.message();
    EXPECT_EQ(n, 2u);
  }
  {
    auto [n, err] = io::read_at_least(rb, buf, 2);
    EXPECT_EQ(err, io::eof);
    EXPECT_EQ(n, 0u);
  }
  (void)rb.write(bytes_of("4"));
  {
    auto [n, err] = io::read_at_least(rb, buf, 2);
    go::error want = io::err_unexpected_eof;
    if (data_err && data_err != io::eof) want = data_err;
    EXPECT_EQ(err, want) << err.message();
    EXPECT_EQ(n, 1u);
  }
}

TEST(GoIo, ReadAtLeast) {
  buffer rb;
  test_read_at_least(rb, {});
}

TEST(GoIo, ReadAtLeastWithDataAndEOF) {
  data_and_error_buffer rb;
  rb.err = io::eof;
  test_read_at_least(rb, rb.err);
}

TEST(GoIo, ReadAtLeastWithDataAndError) {
  data_and_error_buffer rb;
  rb.err = go::make_error("fake error");
  test_read_at_least(rb, rb.err);
}

TEST(GoIo, ReadFull) {
  string_reader r{"hello"};
  std::array<std::byte, 3> buf;
  auto [n, err] = io::read_full(r, buf);
  EXPECT_EQ(n, 3u);
  EXPECT_FALSE(err);
  EXPECT_EQ(string_of(buf), "hel");
  auto [n2, err2] = io::read_full(r, buf);
  EXPECT_EQ(n2, 2u);
  EXPECT_EQ(err2, io::err_unexpected_eof);
  auto [n3, err3] = io::read_full(r, buf);
  EXPECT_EQ(n3, 0u);
  EXPECT_EQ(err3, io::eof);
}

TEST(GoIo, LimitReaderStopsWithEOF) {
  string_reader src{"hello, world"};
  auto lr = io::limit_reader(src, 5);
  buffer out;
  auto [n, err] = io::copy(out, lr);
  EXPECT_EQ(n, 5u);
  EXPECT_FALSE(err);
  EXPECT_EQ(lr.n, 0);
  EXPECT_EQ(out.string(), "hello");
  EXPECT_EQ(src.off, 5u);  // an lvalue is read through, not copied
}

TEST(GoIo, WriteStringUsesWriteString) {
  struct string_writer {
    std::string got;
    bool called = false;
    io::result write(std::span<const std::byte> p) {
      got += string_of(p);
      return {p.size(), {}};
    }
    io::result write_string(std::string_view s) {
      called = true;
      got += s;
      return {s.size(), {}};
    }
  } sw;
  EXPECT_EQ(io::write_string(sw, "abc").n, 3u);
  EXPECT_TRUE(sw.called);
  buffer b;
  EXPECT_EQ(io::write_string(b, "xyz").n, 3u);
  EXPECT_EQ(b.string(), "xyz");
}

TEST(GoIo, Discard) {
  string_reader r{std::string(100000, 'x')};
  auto [n, err] = io::copy(io::discard, r);
  EXPECT_EQ(n, 100000u);
  EXPECT_FALSE(err);
}

// multi_test.go TestMultiWriter and TestMultiWriterError.
TEST(GoIo, MultiWriter) {
  buffer a, b;
  auto mw = io::multi_writer(a, b);
  auto [n, err] = io::write_string(mw, "Hello, multi writer");
  EXPECT_EQ(n, 19u);
  EXPECT_FALSE(err);
  EXPECT_EQ(a.string(), "Hello, multi writer");
  EXPECT_EQ(b.string(), "Hello, multi writer");
}

TEST(GoIo, MultiWriterError) {
  const go::error boom = go::make_error("boom");
  struct failing {
    go::error err;
    io::result write(std::span<const std::byte>) { return {0, err}; }
  };
  struct must_not_run {
    io::result write(std::span<const std::byte>) {
      ADD_FAILURE() << "write after an error";
      return {};
    }
  };
  auto mw = io::multi_writer(failing{boom}, must_not_run{});
  auto [n, err] = io::write_string(mw, "x");
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(err, boom);
}

// multi_test.go TestMultiReader: the readers are read in turn and eof comes once, after
// the last one.
TEST(GoIo, MultiReader) {
  auto mr = io::multi_reader(string_reader{"foo "}, string_reader{""}, string_reader{"bar baz"});
  std::array<std::byte, 3> buf;
  std::string got;
  std::vector<std::size_t> sizes;
  for (;;) {
    auto [n, err] = mr.read(buf);
    got += string_of(std::span(buf).first(n));
    sizes.push_back(n);
    if (err == io::eof) break;
    ASSERT_FALSE(err) << err.message();
  }
  EXPECT_EQ(got, "foo bar baz");
  EXPECT_EQ(sizes, (std::vector<std::size_t>{3, 1, 3, 3, 1, 0}));
}

// multi_test.go TestMultiReaderSingleByteWithEOF and TestMultiReaderFinalEOF: eof with the
// last bytes of the last reader is passed on.
TEST(GoIo, MultiReaderFinalEOF) {
  auto mr = io::multi_reader(data_and_error_buffer{{"foo", 0}, io::eof});
  std::array<std::byte, 4> buf;
  auto [n, err] = mr.read(buf);
  EXPECT_EQ(n, 3u);
  EXPECT_EQ(err, io::eof);
}

// ---------------------------------------------------------------------------------------
// pipe_test.go

void check_write(const io::pipe_writer& w, std::string_view data, go::chan<int> c) {
  auto [n, err] = w.write(bytes_of(data));
  EXPECT_FALSE(err) << err.message();
  EXPECT_EQ(n, data.size());
  c.send(0);
}

// A single read/write pair.
TEST(GoIo, Pipe1) {
  go::run([] {
    auto c = go::make_chan<int>();
    auto [r, w] = io::pipe();
    std::array<std::byte, 64> buf;
    go::spawn(check_write, w, "hello, world", c);
    auto [n, err] = r.read(buf);
    EXPECT_FALSE(err);
    EXPECT_EQ(string_of(std::span(buf).first(n)), "hello, world");
    c.recv();
    (void)r.close();
    (void)w.close();
  });
}

// A sequence of read/write pairs.
TEST(GoIo, Pipe2) {
  go::run([] {
    auto c = go::make_chan<std::size_t>();
    auto [r, w] = io::pipe();
    go::spawn([r = r, c] {
      std::array<std::byte, 64> buf;
      for (;;) {
        auto [n, err] = r.read(buf);
        if (err == io::eof) {
          c.send(0);
          break;
        }
        EXPECT_FALSE(err) << err.message();
        c.send(n);
      }
    });
    std::array<std::byte, 64> buf{};
    for (std::size_t i = 0; i < 5; i++) {
      auto p = std::span(buf).first(5 + i * 10);
      auto [n, err] = w.write(p);
      EXPECT_EQ(n, p.size());
      EXPECT_FALSE(err);
      EXPECT_EQ(c.recv().value(), n);
    }
    (void)w.close();
    EXPECT_EQ(c.recv().value(), 0u);
  });
}

// A large write that needs several reads.
TEST(GoIo, Pipe3) {
  go::run([] {
    auto c = go::make_chan<io::result>();
    auto [r, w] = io::pipe();
    std::array<std::byte, 128> wdat;
    for (std::size_t i = 0; i < wdat.size(); i++) wdat[i] = std::byte(i);
    go::spawn([w = w, &wdat, c] {
      io::result res = w.write(wdat);
      (void)w.close();
      c.send(res);
    });
    std::array<std::byte, 1024> rdat;
    std::size_t tot = 0;
    for (std::size_t n = 1; n <= 256; n *= 2) {
      auto [nn, err] = r.read(std::span(rdat).subspan(tot, n));
      ASSERT_TRUE(!err || err == io::eof) << err.message();
      // Only the final two reads are short: 1 byte, then 0.
      std::size_t expect = n == 128 ? 1 : n == 256 ? 0 : n;
      if (n == 256) {
        ASSERT_EQ(err, io::eof);
      }
      ASSERT_EQ(nn, expect) << "read " << n;
      tot += nn;
    }
    auto pr = c.recv().value();
    EXPECT_EQ(pr.n, 128u);
    EXPECT_FALSE(pr.err);
    EXPECT_EQ(tot, 128u);
    for (std::size_t i = 0; i < 128; i++) {
      EXPECT_EQ(rdat[i], std::byte(i));
    }
  });
}

struct pipe_test {
  bool async;
  go::error err;
  bool close_with_error;
};

std::vector<pipe_test> pipe_tests() {
  return {{true, {}, false},  {true, {}, true},  {true, io::err_short_write, true},
          {false, {}, false}, {false, {}, true}, {false, io::err_short_write, true}};
}

template <class Closer>
void delay_close(Closer cl, go::chan<int> ch, pipe_test tt) {
  go::sleep(1ms);
  go::error err = tt.close_with_error ? cl.close_with_error(tt.err) : cl.close();
  EXPECT_FALSE(err);
  ch.send(0);
}

// Read after and before the writer closes.
TEST(GoIo, PipeReadClose) {
  go::run([] {
    for (const auto& tt : pipe_tests()) {
      auto c = go::make_chan<int>(1);
      auto [r, w] = io::pipe();
      if (tt.async) {
        go::spawn(delay_close<io::pipe_writer>, w, c, tt);
      } else {
        delay_close(w, c, tt);
      }
      std::array<std::byte, 64> buf;
      auto [n, err] = r.read(buf);
      c.recv();
      go::error want = tt.err ? tt.err : io::eof;
      EXPECT_EQ(err, want) << err.message();
      EXPECT_EQ(n, 0u);
      EXPECT_FALSE(r.close());
    }
  });
}

// Close on the read side during a read.
TEST(GoIo, PipeReadClose2) {
  go::run([] {
    auto c = go::make_chan<int>(1);
    auto [r, w] = io::pipe();
    go::spawn(delay_close<io::pipe_reader>, r, c, pipe_test{});
    std::array<std::byte, 64> buf;
    auto [n, err] = r.read(buf);
    c.recv();
    EXPECT_EQ(n, 0u);
    EXPECT_EQ(err, io::err_closed_pipe);
  });
}

// Write after and before the reader closes.
TEST(GoIo, PipeWriteClose) {
  go::run([] {
    for (const auto& tt : pipe_tests()) {
      auto c = go::make_chan<int>(1);
      auto [r, w] = io::pipe();
      if (tt.async) {
        go::spawn(delay_close<io::pipe_reader>, r, c, tt);
      } else {
        delay_close(r, c, tt);
      }
      auto [n, err] = io::write_string(w, "hello, world");
      c.recv();
      go::error expect = tt.err ? tt.err : io::err_closed_pipe;
      EXPECT_EQ(err, expect) << err.message();
      EXPECT_EQ(n, 0u);
      EXPECT_FALSE(w.close());
    }
  });
}

// Close on the write side during a write.
TEST(GoIo, PipeWriteClose2) {
  go::run([] {
    auto c = go::make_chan<int>(1);
    auto [r, w] = io::pipe();
    go::spawn(delay_close<io::pipe_writer>, w, c, pipe_test{});
    std::array<std::byte, 64> buf{};
    auto [n, err] = w.write(buf);
    c.recv();
    EXPECT_EQ(n, 0u);
    EXPECT_EQ(err, io::err_closed_pipe);
  });
}

// An empty write is matched with a read (which returns 0 bytes) and does not hang; Go's
// TestWriteEmpty and TestWriteNil (nil and empty slices are one case here).
TEST(GoIo, WriteEmpty) {
  go::run([] {
    auto [r, w] = io::pipe();
    go::spawn([w = w] {
      auto [n, err] = w.write({});
      EXPECT_EQ(n, 0u);
      EXPECT_FALSE(err);
      (void)w.close();
    });
    std::array<std::byte, 2> b;
    auto [n, err] = io::read_full(r, b);
    EXPECT_EQ(n, 0u);
    EXPECT_EQ(err, io::eof);
    (void)r.close();
  });
}

TEST(GoIo, WriteAfterWriterClose) {
  go::run([] {
    auto [r, w] = io::pipe();
    auto done = go::make_chan<void>();
    go::error write_err;
    go::spawn([w = w, done, &write_err] {
      auto [n, err] = w.write(bytes_of("hello"));
      EXPECT_FALSE(err) << err.message();
      (void)w.close();
      write_err = w.write(bytes_of("world")).err;
      done.send();
    });
    std::array<std::byte, 100> buf;
    auto [n, err] = io::read_full(r, buf);
    ASSERT_TRUE(!err || err == io::err_unexpected_eof) << err.message();
    std::string result = string_of(std::span(buf).first(n));
    done.recv();
    EXPECT_EQ(result, "hello");
    EXPECT_EQ(write_err, io::err_closed_pipe);
    (void)r.close();
  });
}

// The first close's error stays.
TEST(GoIo, PipeCloseError) {
  const go::error test_error1 = go::make_error("test error 1"), test_error2 = go::make_error("test error 2");
  {
    auto [r, w] = io::pipe();
    (void)r.close_with_error(test_error1);
    EXPECT_EQ(w.write({}).err, test_error1);
    (void)r.close_with_error(test_error2);
    EXPECT_EQ(w.write({}).err, test_error1);
  }
  {
    auto [r, w] = io::pipe();
    (void)w.close_with_error(test_error1);
    EXPECT_EQ(r.read({}).err, test_error1);
    (void)w.close_with_error(test_error2);
    EXPECT_EQ(r.read({}).err, test_error1);
  }
}

constexpr std::string_view concurrent_input = "0123456789abcdef";
constexpr std::size_t concurrent_count = 8, read_size = 2;

// Each write is fully gated: when several reads are needed for one write, its bytes still
// appear together in the output.
TEST(GoIo, PipeConcurrentWrite) {
  go::run([] {
    auto [r, w] = io::pipe();
    for (std::size_t i = 0; i < concurrent_count; i++) {
      go::spawn([w = w] {
        go::sleep(1ms);  // raise the chance of a race
        auto [n, err] = w.write(bytes_of(concurrent_input));
        EXPECT_EQ(n, concurrent_input.size());
        EXPECT_FALSE(err);
      });
    }
    std::vector<std::byte> buf(concurrent_count * concurrent_input.size());
    for (std::size_t i = 0; i < buf.size(); i += read_size) {
      auto [n, err] = r.read(std::span(buf).subspan(i, read_size));
      EXPECT_EQ(n, read_size);
      EXPECT_FALSE(err);
    }
    std::string want;
    for (std::size_t i = 0; i < concurrent_count; i++) want += concurrent_input;
    EXPECT_EQ(string_of(buf), want);
  });
}

std::string sort_in_groups(std::string s, std::size_t n) {
  std::vector<std::string> groups;
  for (std::size_t i = 0; i < s.size(); i += n) groups.push_back(s.substr(i, n));
  std::sort(groups.begin(), groups.end());
  std::string out;
  for (auto& g : groups) out += g;
  return out;
}

// Reads are independent: the output is a permutation of the input in read_size groups.
TEST(GoIo, PipeConcurrentRead) {
  go::run([] {
    auto [r, w] = io::pipe();
    const std::size_t readers = concurrent_count * concurrent_input.size() / read_size;
    auto c = go::make_chan<std::string>(readers);
    for (std::size_t i = 0; i < readers; i++) {
      go::spawn([r = r, c] {
        go::sleep(1ms);  // raise the chance of a race
        std::array<std::byte, read_size> buf;
        auto [n, err] = r.read(buf);
        EXPECT_EQ(n, read_size);
        EXPECT_FALSE(err);
        c.send(string_of(std::span(buf).first(n)));
      });
    }
    std::string want;
    for (std::size_t i = 0; i < concurrent_count; i++) {
      auto [n, err] = w.write(bytes_of(concurrent_input));
      EXPECT_EQ(n, concurrent_input.size());
      EXPECT_FALSE(err);
      want += concurrent_input;
    }
    std::string got;
    for (std::size_t i = 0; i < readers; i++) got += c.recv().value();
    EXPECT_EQ(sort_in_groups(got, read_size), sort_in_groups(want, read_size));
  });
}

// A pipe between a plain OS thread and a goroutine, and between two threads: the blocked
// side blocks its thread, and close wakes it.
TEST(GoIo, PipeWorksFromPlainThreads) {
  auto [r, w] = io::pipe();
  std::thread writer([w = w] {
    for (int i = 0; i < 100; i++) (void)io::write_string(w, "line\n");
    (void)w.close();
  });
  buffer out;
  auto [n, err] = io::copy(out, r);
  writer.join();
  EXPECT_EQ(n, 500u);
  EXPECT_FALSE(err);

  auto [r2, w2] = io::pipe();
  std::thread blocked([r2 = r2] {
    std::array<std::byte, 8> buf;
    EXPECT_EQ(r2.read(buf).err, io::err_closed_pipe);
  });
  (void)r2.close();
  blocked.join();
  (void)w2;
}

// io::copy through a pipe from goroutines, to and from a plain thread.
TEST(GoIo, CopyThroughPipeBetweenGoroutines) {
  go::run([] {
    auto [r, w] = io::pipe();
    std::string big(100000, 'x');
    for (std::size_t i = 0; i < big.size(); i++) big[i] = static_cast<char>('a' + i % 26);
    go::spawn([w = w, &big] {
      string_reader src{big};
      auto [n, err] = io::copy(w, src);
      EXPECT_EQ(n, big.size());
      EXPECT_FALSE(err);
      (void)w.close();
    });
    buffer out;
    auto [n, err] = io::copy(out, r);
    EXPECT_EQ(n, big.size());
    EXPECT_FALSE(err);
    EXPECT_EQ(out.string(), big);
  });
}

}  // namespace
