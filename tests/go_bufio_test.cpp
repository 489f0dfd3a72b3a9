// Ports of Go's bufio tests (bufio/scan_test.go, bufio/bufio_test.go), named after them.
// Go's tests set the scanner's maximum token size through an export for tests; here
// buffer({}, max) does the same.
//
// Not ported: the rune tests (read_rune, unread_rune, write_rune are not provided);
// TestSpace (compares against the unicode tables; TestScanWords covers the spaces used);
// allocation counts; NewReaderSize/NewWriterSize idempotence (a reader wrapping a reader is
// a new reader here); AvailableBuffer; TestNegativeRead (counts are unsigned; a count larger
// than the buffer throws, tested below); iotest.TimeoutReader (no such error here).
#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "go/bufio.hpp"
#include "go/io.hpp"
#include "go/runtime.hpp"
#include "io_fakes.hpp"

namespace {

namespace io = go::io;
namespace bufio = go::bufio;
using gocxx_test::buffer;
using gocxx_test::bytes_of;
using gocxx_test::string_of;
using gocxx_test::string_reader;

constexpr std::size_t small_max_token_size = 256;  // much smaller for quicker tests
constexpr std::size_t min_read_buffer_size = 16;

// Go's slowReader: reads at most max bytes at a time.
template <class R>
struct slow_reader {
  std::size_t max;
  R& r;
  io::result read(std::span<std::byte> p) { return r.read(p.first(std::min(p.size(), max))); }
};
template <class R>
slow_reader(std::size_t, R&) -> slow_reader<R>;

// ---------------------------------------------------------------------------------------
// scan_test.go

const std::vector<std::string> scan_tests = {
    "",
    "a",
    "\xc2\xbc",      // ¼
    "\xe2\x98\xb9",  // ☹
    "\x81",          // UTF-8 error
    "\xef\xbf\xbd",  // correctly encoded U+FFFD
    "abcdefgh",
    "abc def\n\t\tgh    ",
    "abc\xc2\xbc\xe2\x98\xb9\x81\xef\xbf\xbd\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\x82"
    "abc",
};

TEST(GoBufio, ScanByte) {
  for (const auto& test : scan_tests) {
    string_reader r{test};
    bufio::scanner s(r);
    s.split(bufio::scan_bytes);
    std::size_t i = 0;
    for (; s.scan(); i++) {
      auto b = s.bytes();
      ASSERT_EQ(b.size(), 1u);
      EXPECT_EQ(std::to_integer<char>(b[0]), test[i]);
    }
    EXPECT_EQ(i, test.size());
    EXPECT_FALSE(s.err());
  }
}

// The runes of each scan_tests string, as Go's `for _, r := range s` yields them: an invalid
// byte is one U+FFFD.
const std::vector<std::vector<std::string>> scan_tests_runes = {
    {},
    {"a"},
    {"\xc2\xbc"},
    {"\xe2\x98\xb9"},
    {"\xef\xbf\xbd"},
    {"\xef\xbf\xbd"},
    {"a", "b", "c", "d", "e", "f", "g", "h"},
    {"a", "b", "c", " ", "d", "e", "f", "\n", "\t", "\t", "g", "h", " ", " ", " ", " "},
    {"a", "b", "c", "\xc2\xbc", "\xe2\x98\xb9", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xe6\x97\xa5", "\xe6\x9c\xac",
     "\xe8\xaa\x9e", "\xef\xbf\xbd", "a", "b", "c"},
};

TEST(GoBufio, ScanRune) {
  for (std::size_t n = 0; n < scan_tests.size(); n++) {
    string_reader r{scan_tests[n]};
    bufio::scanner s(r);
    s.split(bufio::scan_runes);
    std::vector<std::string> got;
    while (s.scan()) got.push_back(s.text());
    EXPECT_EQ(got, scan_tests_runes[n]) << "#" << n;
    EXPECT_FALSE(s.err());
  }
}

// A rune split across reads is returned whole.
TEST(GoBufio, ScanRuneAcrossReads) {
  string_reader src{"\xe6\x97\xa5\xe6\x9c\xac"};
  slow_reader slow{1, src};
  bufio::scanner s(slow);
  s.split(bufio::scan_runes);
  std::vector<std::string> got;
  while (s.scan()) got.push_back(s.text());
  EXPECT_EQ(got, (std::vector<std::string>{"\xe6\x97\xa5", "\xe6\x9c\xac"}));
}

// Go's strings.Fields for the spaces these tests use: ASCII white space, U+0085, U+00A0.
std::vector<std::string> fields(std::string_view s) {
  std::vector<std::string> out;
  std::string word;
  for (std::size_t i = 0; i < s.size();) {
    std::size_t space = 0;
    if (std::string_view(" \t\n\v\f\r").find(s[i]) != std::string_view::npos) space = 1;
    if (s.substr(i, 2) == "\xc2\x85" || s.substr(i, 2) == "\xc2\xa0") space = 2;
    if (space) {
      if (!word.empty()) out.push_back(std::exchange(word, {}));
      i += space;
    } else {
      word += s[i++];
    }
  }
  if (!word.empty()) out.push_back(word);
  return out;
}

TEST(GoBufio, ScanWords) {
  const std::vector<std::string> word_scan_tests = {
      "", " ", "\n", "a", " a ", "abc def", " abc def ", " abc\tdef\nghi\rjkl\fmno\vpqr\xc2\x85stu\xc2\xa0\n",
  };
  for (const auto& test : word_scan_tests) {
    string_reader r{test};
    bufio::scanner s(r);
    s.split(bufio::scan_words);
    std::vector<std::string> got;
    while (s.scan()) got.push_back(s.text());
    EXPECT_EQ(got, fields(test)) << test;
    EXPECT_FALSE(s.err());
  }
}

// Go's genLine: line lineNum of length n, with "\r\n" every fifth line.
std::string gen_line(int line_num, int n, bool add_newline) {
  std::string buf;
  bool do_cr = line_num % 5 == 0;
  if (do_cr) n--;
  for (int i = 0; i < n - 1; i++) {  // stop early for \n
    char c = static_cast<char>('a' + static_cast<unsigned char>(line_num + i));
    if (c == '\n' || c == '\r') c = 'N';  // don't confuse us
    buf += c;
  }
  if (add_newline) {
    if (do_cr) buf += '\r';
    buf += '\n';
  }
  return buf;
}

// Go's TestScanLongLines and TestScanLineTooLong: lines whose lengths grow to the maximum
// token size (and shrink again unless grow_only), read through a slow_reader of read_size
// bytes; scans them and returns the scanner's error.
go::error scan_long_lines(std::size_t read_size, bool grow_only) {
  constexpr int max = static_cast<int>(small_max_token_size);
  buffer buf;
  int j = 0;
  for (int i = 0; i < 2 * max; i++) {
    buf.write_string(gen_line(i, j, true));
    grow_only || j < max ? j++ : j--;
  }
  slow_reader slow{read_size, buf};
  bufio::scanner s(slow);
  s.split(bufio::scan_lines);
  s.buffer({}, small_max_token_size);
  j = 0;
  for (int line_num = 0; s.scan(); line_num++) {
    std::string line = gen_line(line_num, j, false);
    j < max ? j++ : j--;
    if (s.text() != line) {
      ADD_FAILURE() << "bad line " << line_num;
      break;
    }
  }
  return s.err();
}

TEST(GoBufio, ScanLongLines) {
  go::error err = scan_long_lines(1, false);
  EXPECT_FALSE(err) << err.message();
}

TEST(GoBufio, ScanLineTooLong) {
  go::error err = scan_long_lines(3, true);
  EXPECT_EQ(err, bufio::err_too_long);
  EXPECT_EQ(err.message(), "bufio.Scanner: token too long");
}

void test_no_newline(std::string text, const std::vector<std::string>& lines) {
  string_reader r{std::move(text)};
  slow_reader slow{7, r};
  bufio::scanner s(slow);
  s.split(bufio::scan_lines);
  std::vector<std::string> got;
  while (s.scan()) got.push_back(s.text());
  EXPECT_EQ(got, lines);
  EXPECT_FALSE(s.err());
}

TEST(GoBufio, ScanLineNoNewline) {
  test_no_newline("abcdefghijklmn\nopqrstuvwxyz", {"abcdefghijklmn", "opqrstuvwxyz"});
}

TEST(GoBufio, ScanLineReturnButNoNewline) {
  test_no_newline("abcdefghijklmn\nopqrstuvwxyz\r", {"abcdefghijklmn", "opqrstuvwxyz"});
}

TEST(GoBufio, ScanLineEmptyFinalLine) {
  test_no_newline("abcdefghijklmn\nopqrstuvwxyz\n\n", {"abcdefghijklmn", "opqrstuvwxyz", ""});
}

TEST(GoBufio, ScanLineEmptyFinalLineWithCR) {
  test_no_newline("abcdefghijklmn\nopqrstuvwxyz\n\r", {"abcdefghijklmn", "opqrstuvwxyz", ""});
}

const go::error test_error = go::make_error("testError");

TEST(GoBufio, SplitError) {
  int num_splits = 0;
  constexpr int ok_count = 7;
  const std::string text = "abcdefghijklmnopqrstuvwxyz";
  string_reader r{text};
  slow_reader slow{1, r};
  bufio::scanner s(slow);
  s.split([&](std::span<const std::byte> data, bool at_eof) -> bufio::split_result {
    if (at_eof) throw std::logic_error("didn't get enough data");
    if (num_splits >= ok_count) return {0, std::nullopt, test_error};
    num_splits++;
    return {1, data.first(1), {}};
  });
  int i = 0;
  for (; s.scan(); i++) {
    ASSERT_EQ(s.bytes().size(), 1u);
    EXPECT_EQ(std::to_integer<char>(s.bytes()[0]), text[static_cast<std::size_t>(i)]);
  }
  EXPECT_EQ(i, ok_count);
  EXPECT_EQ(s.err(), test_error);
}

// An error returned by the split function at eof is reported, not swallowed by the eof.
TEST(GoBufio, ErrAtEOF) {
  string_reader r{"1 2 33"};
  bufio::scanner s(r);
  s.split([](std::span<const std::byte> data, bool at_eof) {
    auto out = bufio::scan_words(data, at_eof);
    if (out.token && out.token->size() > 1) {
      EXPECT_TRUE(at_eof) << "not testing EOF";
      out.err = test_error;
    }
    return out;
  });
  while (s.scan()) {
  }
  EXPECT_EQ(s.err(), test_error);
}

TEST(GoBufio, NonEOFWithEmptyRead) {
  struct always_error {
    io::result read(std::span<std::byte>) { return {0, io::err_unexpected_eof}; }
  };
  bufio::scanner s(always_error{});
  EXPECT_FALSE(s.scan());
  EXPECT_EQ(s.err(), io::err_unexpected_eof);
}

struct endless_zeros {
  io::result read(std::span<std::byte>) { return {}; }
};

TEST(GoBufio, BadReader) {
  bufio::scanner s(endless_zeros{});
  EXPECT_FALSE(s.scan());
  EXPECT_EQ(s.err(), io::err_no_progress);
}

TEST(GoBufio, ScanWordsExcessiveWhiteSpace) {
  const std::string word = "ipsum";
  bufio::scanner s(string_reader{std::string(4 * small_max_token_size, ' ') + word});
  s.buffer({}, small_max_token_size);
  s.split(bufio::scan_words);
  ASSERT_TRUE(s.scan()) << s.err().message();
  EXPECT_EQ(s.text(), word);
}

// Go's commaSplit: a comma-separated list; the last element is returned with
// err_final_token, so that a trailing comma yields a final empty token.
bufio::split_result comma_split(std::span<const std::byte> data, bool) {
  for (std::size_t i = 0; i < data.size(); i++) {
    if (data[i] == std::byte{','}) return {static_cast<std::ptrdiff_t>(i + 1), data.first(i), {}};
  }
  return {0, data, bufio::err_final_token};
}

void test_empty_tokens(std::string text, const std::vector<std::string>& values) {
  bufio::scanner s(string_reader{std::move(text)});
  s.split(comma_split);
  std::vector<std::string> got;
  while (s.scan()) got.push_back(s.text());
  EXPECT_EQ(got, values);
  EXPECT_FALSE(s.err());
}

TEST(GoBufio, EmptyTokens) { test_empty_tokens("1,2,3,", {"1", "2", "3", ""}); }

TEST(GoBufio, WithNoEmptyTokens) { test_empty_tokens("1,2,3", {"1", "2", "3"}); }

// err_final_token without a token stops the scan with no token and no error.
TEST(GoBufio, FinalTokenWithoutToken) {
  bufio::scanner s(string_reader{"abc"});
  s.split([](std::span<const std::byte>, bool) {
    return bufio::split_result{0, std::nullopt, bufio::err_final_token};
  });
  EXPECT_FALSE(s.scan());
  EXPECT_FALSE(s.err());
}

// A split function that returns empty tokens at eof without advancing would loop forever;
// the scanner throws (Go panics).
TEST(GoBufio, DontLoopForever) {
  bufio::scanner s(string_reader{"abc"});
  s.split([](std::span<const std::byte> data, bool) -> bufio::split_result {
    if (!data.empty()) return {1, data.first(1), {}};
    return {0, data, {}};
  });
  try {
    for (int count = 0; s.scan(); count++) {
      ASSERT_LE(count, 1000) << "looping";
    }
    FAIL() << "should have thrown";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("empty tokens"), std::string::npos);
  }
}

TEST(GoBufio, BlankLines) {
  bufio::scanner s(string_reader{std::string(1000, '\n')});
  int count = 0;
  for (; s.scan(); count++) {
    ASSERT_LE(count, 2000) << "looping";
  }
  EXPECT_EQ(count, 1000);
  EXPECT_FALSE(s.err());
}

TEST(GoBufio, EmptyLinesOK) {
  int c = 10000;
  bufio::scanner s(string_reader{std::string(10000, '\n')});
  s.split([&c](std::span<const std::byte> data, bool) -> bufio::split_result {
    if (c > 0) {
      c--;
      return {1, data.first(1), {}};
    }
    return {};
  });
  while (s.scan()) {
  }
  EXPECT_FALSE(s.err());
  EXPECT_EQ(c, 0);
}

TEST(GoBufio, HugeBuffer) {
  const std::string text(2 * bufio::max_scan_token_size, 'x');
  bufio::scanner s(string_reader{text + "\n"});
  std::vector<std::byte> initial(100);
  s.buffer(initial, 3 * bufio::max_scan_token_size);
  int tokens = 0;
  while (s.scan()) {
    EXPECT_EQ(s.text(), text);
    tokens++;
  }
  EXPECT_EQ(tokens, 1);
  EXPECT_FALSE(s.err());
}

// A buffer large enough for every token is used as it is: the tokens point into it.
TEST(GoBufio, BufferIsUsedWhenLargeEnough) {
  std::array<std::byte, 64> mine;
  bufio::scanner s(string_reader{"one\ntwo\n"});
  s.buffer(mine, mine.size());
  ASSERT_TRUE(s.scan());
  EXPECT_EQ(s.bytes().data(), mine.data());
  EXPECT_THROW(s.buffer(mine, 10), std::logic_error);
  EXPECT_THROW(s.split(bufio::scan_words), std::logic_error);
}

// A reader that reports more bytes than it was given stops the scan with err_bad_read_count.
TEST(GoBufio, LargeReader) {
  struct large_reader {
    io::result read(std::span<std::byte> p) { return {p.size() + 1, {}}; }
  };
  bufio::scanner s(large_reader{});
  while (s.scan()) {
  }
  EXPECT_EQ(s.err(), bufio::err_bad_read_count);
}

TEST(GoBufio, SplitAdvanceErrors) {
  bufio::scanner negative(string_reader{"abc"});
  negative.split([](std::span<const std::byte>, bool) { return bufio::split_result{-1, std::nullopt, {}}; });
  EXPECT_FALSE(negative.scan());
  EXPECT_EQ(negative.err(), bufio::err_negative_advance);
  bufio::scanner too_far(string_reader{"abc"});
  too_far.split([](std::span<const std::byte> data, bool) {
    return bufio::split_result{static_cast<std::ptrdiff_t>(data.size() + 1), std::nullopt, {}};
  });
  EXPECT_FALSE(too_far.scan());
  EXPECT_EQ(too_far.err(), bufio::err_advance_too_far);
}

// ---------------------------------------------------------------------------------------
// bufio_test.go: reader

// Go's rot13Reader.
template <class R>
struct rot13_reader {
  R& r;
  io::result read(std::span<std::byte> p) {
    io::result out = r.read(p);
    for (std::size_t i = 0; i < out.n; i++) {
      auto c = std::to_integer<unsigned char>(p[i]) | 0x20;  // lowercase byte
      if ('a' <= c && c <= 'm') {
        p[i] = std::byte(std::to_integer<unsigned char>(p[i]) + 13);
      } else if ('n' <= c && c <= 'z') {
        p[i] = std::byte(std::to_integer<unsigned char>(p[i]) - 13);
      }
    }
    return out;
  }
};

template <class B>
std::string read_bytes(B& buf) {
  std::string out;
  for (;;) {
    auto [c, err] = buf.read_byte();
    if (err == io::eof) break;
    EXPECT_FALSE(err) << err.message();
    if (err) break;
    out += std::to_integer<char>(c);
  }
  return out;
}

TEST(GoBufio, ReaderSimple) {
  const std::string data = "hello world";
  bufio::reader b(string_reader{data});
  EXPECT_EQ(read_bytes(b), "hello world");

  string_reader src{data};
  bufio::reader b13(rot13_reader<string_reader>{src});
  EXPECT_EQ(read_bytes(b13), "uryyb jbeyq");
}

// Go's iotest.OneByteReader, HalfReader and DataErrReader.
template <class R>
struct one_byte_reader {
  R r;
  io::result read(std::span<std::byte> p) { return r.read(p.first(std::min<std::size_t>(p.size(), 1))); }
};
template <class R>
struct half_reader {
  R r;
  io::result read(std::span<std::byte> p) { return r.read(p.first((p.size() + 1) / 2)); }
};
// Returns the final data together with eof rather than in a separate call.
template <class R>
struct data_err_reader {
  // A constructor, not aggregate initialization: g++ 12 at -O3 takes the latter's string
  // for uninitialized (-Wmaybe-uninitialized).
  explicit data_err_reader(R inner) : r(std::move(inner)) {}
  R r;
  std::vector<std::byte> unread{};
  std::vector<std::byte> data = std::vector<std::byte>(1024);
  io::result read(std::span<std::byte> p) {
    for (;;) {  // loop because the first call needs two reads: one to get data and a second to look for an error
      if (unread.empty()) {
        auto [n1, err1] = r.read(data);
        unread.assign(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n1));
        if (err1) {
          std::size_t n = std::min(p.size(), unread.size());
          std::copy_n(unread.begin(), n, p.begin());
          unread.erase(unread.begin(), unread.begin() + static_cast<std::ptrdiff_t>(n));
          return {n, err1};
        }
      }
      std::size_t n = std::min(p.size(), unread.size());
      std::copy_n(unread.begin(), n, p.begin());
      unread.erase(unread.begin(), unread.begin() + static_cast<std::ptrdiff_t>(n));
      if (n > 0) return {n, {}};
    }
  }
};

template <class B>
std::string read_lines(B& b) {
  std::string s;
  for (;;) {
    auto [s1, err] = b.read_string('\n');
    if (err == io::eof) {
      s += s1;
      break;
    }
    EXPECT_FALSE(err) << err.message();
    if (err) break;
    s += s1;
  }
  return s;
}

template <class B>
std::string reads(B& buf, std::size_t m) {
  std::array<std::byte, 1000> b;
  std::size_t nb = 0;
  for (;;) {
    auto [n, err] = buf.read(std::span(b).subspan(nb, m));
    nb += n;
    if (err == io::eof) break;
  }
  return string_of(std::span(b).first(nb));
}

template <class B>
std::string run_bufreader(int which, B& b) {
  constexpr std::size_t sizes[] = {1, 2, 3, 4, 5, 7};
  if (which < 6) return reads(b, sizes[which]);
  if (which == 6) return read_bytes(b);
  return read_lines(b);
}

template <class R>
std::string read_with(int bufreader, std::size_t bufsize, R rd) {
  bufio::reader b(std::move(rd), bufsize);
  return run_bufreader(bufreader, b);
}

// Every text through every reader shape, read with every method and buffer size.
TEST(GoBufio, Reader) {
  std::array<std::string, 31> texts;
  std::string str, all;
  for (std::size_t i = 0; i + 1 < texts.size(); i++) {
    texts[i] = str + "\n";
    all += texts[i];
    str += static_cast<char>('a' + i % 26);
  }
  texts.back() = all;
  constexpr std::size_t bufsizes[] = {0, min_read_buffer_size, 23, 32, 46, 64, 93, 128, 1024, 4096};
  for (const auto& text : texts) {
    for (int j = 0; j < 8; j++) {
      for (std::size_t bufsize : bufsizes) {
        EXPECT_EQ(read_with(j, bufsize, string_reader{text}), text) << "full " << j << " " << bufsize;
        EXPECT_EQ(read_with(j, bufsize, one_byte_reader<string_reader>{{text}}), text)
            << "byte " << j << " " << bufsize;
        EXPECT_EQ(read_with(j, bufsize, half_reader<string_reader>{{text}}), text) << "half " << j << " " << bufsize;
        EXPECT_EQ(read_with(j, bufsize, data_err_reader<string_reader>(string_reader{text})), text)
            << "data+err " << j << " " << bufsize;
      }
    }
  }
}

TEST(GoBufio, ZeroReader) {
  bufio::reader r(endless_zeros{});
  EXPECT_EQ(r.read_byte().err, io::err_no_progress);
}

TEST(GoBufio, NoUnreadByteAfterPeek) {
  bufio::reader br(string_reader{"example"});
  (void)br.read_byte();
  (void)br.peek(1);
  EXPECT_EQ(br.unread_byte(), bufio::err_invalid_unread_byte);
}

TEST(GoBufio, NoUnreadByteAfterDiscard) {
  bufio::reader br(string_reader{"example"});
  (void)br.read_byte();
  (void)br.discard(1);
  EXPECT_EQ(br.unread_byte(), bufio::err_invalid_unread_byte);
}

TEST(GoBufio, NoUnreadByteAfterWriteTo) {
  bufio::reader br(string_reader{"example"});
  (void)br.read_byte();
  buffer sink;
  (void)br.write_to(sink);
  EXPECT_EQ(br.unread_byte(), bufio::err_invalid_unread_byte);
}

TEST(GoBufio, UnreadByte) {
  const std::string want = "Hello, world";
  string_reader src{want};
  bufio::reader r(src);
  std::string got;
  // Normal execution.
  for (;;) {
    auto [b1, err] = r.read_byte();
    if (err) {
      ASSERT_EQ(err, io::eof);
      break;
    }
    got += std::to_integer<char>(b1);
    // Put it back and read it again.
    ASSERT_FALSE(r.unread_byte());
    auto [b2, err2] = r.read_byte();
    ASSERT_FALSE(err2);
    EXPECT_EQ(b1, b2);
  }
  EXPECT_EQ(got, want);
}

TEST(GoBufio, UnreadByteMultiple) {
  const std::string data = "Hello, world";
  for (std::size_t n = 0; n <= data.size(); n++) {
    bufio::reader r(string_reader{data});
    // Read n bytes.
    for (std::size_t i = 0; i < n; i++) {
      auto [b, err] = r.read_byte();
      ASSERT_FALSE(err);
      ASSERT_EQ(std::to_integer<char>(b), data[i]);
    }
    // Unread one byte if there is one.
    if (n > 0) {
      EXPECT_FALSE(r.unread_byte()) << n;
    }
    // A second unread fails.
    EXPECT_EQ(r.unread_byte(), bufio::err_invalid_unread_byte) << n;
  }
}

// unread_byte after read_bytes, read_slice and read_string gives back their last byte.
// (read_line is read_slice's, as in Go's test.)
TEST(GoBufio, UnreadByteOthers) {
  for (int method = 0; method < 3; method++) {
    constexpr int n = 10;
    buffer src;
    for (int i = 0; i < n; i++) src.write_string("abcdefg");
    bufio::reader r(src, min_read_buffer_size);
    auto read_to = [&](char delim, std::string_view want) {
      std::string got;
      go::error err;
      if (method == 0) {
        auto res = r.read_bytes(delim);
        got = string_of(res.bytes), err = res.err;
      } else if (method == 1) {
        auto res = r.read_slice(delim);
        got = string_of(res.bytes), err = res.err;
      } else {
        auto res = r.read_string(delim);
        got = res.s, err = res.err;
      }
      ASSERT_FALSE(err) << method << ": reading to " << delim << ": " << err.message();
      ASSERT_EQ(got, want) << method;
    };
    // Read the data with occasional unread_byte calls.
    for (int i = 0; i < n; i++) {
      read_to('d', "abcd");
      for (int j = 0; j < 3; j++) {
        ASSERT_FALSE(r.unread_byte()) << method;
        read_to('d', "d");
      }
      read_to('g', "efg");
    }
    // All data has been read.
    EXPECT_EQ(r.read_byte().err, io::eof) << method;
  }
}

TEST(GoBufio, BufferFull) {
  const std::string long_string =
      "And now, hello, world! It is the time for all good men to come to the aid of their party";
  bufio::reader buf(string_reader{long_string}, min_read_buffer_size);
  auto [line, err] = buf.read_slice('!');
  EXPECT_EQ(string_of(line), "And now, hello, ");
  EXPECT_EQ(err, bufio::err_buffer_full);
  auto [line2, err2] = buf.read_slice('!');
  EXPECT_EQ(string_of(line2), "world!");
  EXPECT_FALSE(err2);
}

// Go's dataAndEOFReader: all the data and eof in one read.
struct data_and_eof_reader {
  std::string s;
  io::result read(std::span<std::byte> p) {
    std::size_t n = std::min(p.size(), s.size());
    std::copy_n(bytes_of(s).begin(), n, p.begin());
    return {n, io::eof};
  }
};

TEST(GoBufio, Peek) {
  std::array<std::byte, 10> p;
  bufio::reader buf(string_reader{"abcdefghijklmnop"}, min_read_buffer_size);
  auto expect_peek = [&](std::ptrdiff_t n, std::string_view want, go::error want_err) {
    auto [s, err] = buf.peek(n);
    EXPECT_EQ(string_of(s), want) << "peek " << n;
    EXPECT_EQ(err, want_err) << "peek " << n << ": " << err.message();
  };
  expect_peek(1, "a", {});
  expect_peek(4, "abcd", {});
  EXPECT_EQ(buf.peek(-1).err, bufio::err_negative_count);
  expect_peek(32, "abcdefghijklmnop", bufio::err_buffer_full);
  EXPECT_FALSE(buf.read(std::span(p).first(3)).err);
  EXPECT_EQ(string_of(std::span(p).first(3)), "abc");
  expect_peek(1, "d", {});
  expect_peek(2, "de", {});
  EXPECT_FALSE(buf.read(std::span(p).first(3)).err);
  EXPECT_EQ(string_of(std::span(p).first(3)), "def");
  expect_peek(4, "ghij", {});
  EXPECT_FALSE(buf.read(p).err);
  EXPECT_EQ(string_of(p), "ghijklmnop");
  expect_peek(0, "", {});
  EXPECT_EQ(buf.peek(1).err, io::eof);

  bufio::reader buf2(data_and_eof_reader{"abcd"}, 32);
  {
    auto [s, err] = buf2.peek(2);
    EXPECT_EQ(string_of(s), "ab");
    EXPECT_FALSE(err);
  }
  {
    auto [s, err] = buf2.peek(4);
    EXPECT_EQ(string_of(s), "abcd");
    EXPECT_FALSE(err);
  }
  {
    auto [n, err] = buf2.read(std::span(p).first(5));
    EXPECT_EQ(string_of(std::span(p).first(n)), "abcd");
    EXPECT_FALSE(err);
  }
  {
    auto [n, err] = buf2.read(std::span(p).first(1));
    EXPECT_EQ(n, 0u);
    EXPECT_EQ(err, io::eof);
  }
}

const std::string test_output = "0123456789abcdefghijklmnopqrstuvwxy";
const std::string test_input = "012\n345\n678\n9ab\ncde\nfgh\nijk\nlmn\nopq\nrst\nuvw\nxy";
const std::string test_input_rn =
    "012\r\n345\r\n678\r\n9ab\r\ncde\r\nfgh\r\nijk\r\nlmn\r\nopq\r\nrst\r\nuvw\r\nxy\r\n\n\r\n";

// Go's testReader: stride bytes per read, eof with the last ones.
struct stride_reader {
  std::string data;
  std::size_t stride;
  std::size_t off = 0;
  io::result read(std::span<std::byte> buf) {
    std::size_t n = std::min({stride, data.size() - off, buf.size()});
    std::copy_n(bytes_of(data).subspan(off).begin(), n, buf.begin());
    off += n;
    return {n, off == data.size() ? io::eof : go::error{}};
  }
};

void test_read_line(const std::string& input) {
  for (std::size_t stride = 1; stride < 2; stride++) {
    std::size_t done = 0;
    bufio::reader l(stride_reader{input, stride}, input.size() + 1);
    for (;;) {
      auto [line, is_prefix, err] = l.read_line();
      EXPECT_FALSE(!line.empty() && err) << "read_line returned both data and error";
      EXPECT_FALSE(is_prefix);
      if (err) {
        ASSERT_EQ(err, io::eof) << err.message();
        break;
      }
      EXPECT_EQ(string_of(line), test_output.substr(done, line.size()));
      done += line.size();
    }
    EXPECT_EQ(done, test_output.size());
  }
}

TEST(GoBufio, ReadLine) {
  test_read_line(test_input);
  test_read_line(test_input_rn);
}

TEST(GoBufio, LineTooLong) {
  std::string data;
  for (std::size_t i = 0; i < min_read_buffer_size * 5 / 2; i++) data += static_cast<char>('0' + i % 10);
  bufio::reader l(string_reader{data}, min_read_buffer_size);
  std::string_view rest = data;
  {
    auto [line, is_prefix, err] = l.read_line();
    EXPECT_TRUE(is_prefix);
    EXPECT_EQ(string_of(line), rest.substr(0, min_read_buffer_size));
    EXPECT_FALSE(err);
    rest.remove_prefix(line.size());
  }
  {
    auto [line, is_prefix, err] = l.read_line();
    EXPECT_TRUE(is_prefix);
    EXPECT_EQ(string_of(line), rest.substr(0, min_read_buffer_size));
    EXPECT_FALSE(err);
    rest.remove_prefix(line.size());
  }
  {
    auto [line, is_prefix, err] = l.read_line();
    EXPECT_FALSE(is_prefix);
    EXPECT_EQ(string_of(line), rest.substr(0, min_read_buffer_size / 2));
    EXPECT_FALSE(err);
  }
  {
    auto [line, is_prefix, err] = l.read_line();
    EXPECT_FALSE(is_prefix);
    EXPECT_TRUE(err);
  }
}

TEST(GoBufio, ReadAfterLines) {
  const std::string line1 = "this is line1";
  const std::string rest_data = "this is line2\nthis is line 3\n";
  bufio::reader l(string_reader{line1 + "\n" + rest_data}, line1.size() + rest_data.size() / 2);
  auto [line, is_prefix, err] = l.read_line();
  EXPECT_FALSE(is_prefix);
  EXPECT_FALSE(err);
  EXPECT_EQ(string_of(line), line1);
  buffer outbuf;
  auto [n, err2] = io::copy(outbuf, l);
  EXPECT_EQ(n, rest_data.size());
  EXPECT_FALSE(err2);
  EXPECT_EQ(outbuf.string(), rest_data);
}

TEST(GoBufio, ReadEmptyBuffer) {
  bufio::reader l(buffer{}, min_read_buffer_size);
  EXPECT_EQ(l.read_line().err, io::eof);
}

TEST(GoBufio, LinesAfterRead) {
  bufio::reader l(string_reader{"foo"}, min_read_buffer_size);
  buffer all;
  EXPECT_FALSE(io::copy(all, l).err);
  EXPECT_EQ(l.read_line().err, io::eof);
}

TEST(GoBufio, ReadLineNonNilLineOrError) {
  bufio::reader r(string_reader{"line 1\n"});
  for (int i = 0; i < 2; i++) {
    auto [l, is_prefix, err] = r.read_line();
    EXPECT_FALSE(!l.empty() && err) << "line " << i + 1;
  }
}

struct read_line_result {
  std::string line;
  bool is_prefix;
  go::error err;
};

void test_read_line_newlines(const std::string& input, const std::vector<read_line_result>& expect) {
  bufio::reader b(string_reader{input}, min_read_buffer_size);
  for (std::size_t i = 0; i < expect.size(); i++) {
    auto [line, is_prefix, err] = b.read_line();
    ASSERT_EQ(string_of(line), expect[i].line) << input << " call " << i;
    ASSERT_EQ(is_prefix, expect[i].is_prefix) << input << " call " << i;
    ASSERT_EQ(err, expect[i].err) << input << " call " << i;
  }
}

// "\r\n" split by the buffer's end is still one line ending.
TEST(GoBufio, ReadLineNewlines) {
  test_read_line_newlines("012345678901234\r\n012345678901234\r\n", {
                                                                        {"012345678901234", true, {}},
                                                                        {"", false, {}},
                                                                        {"012345678901234", true, {}},
                                                                        {"", false, {}},
                                                                        {"", false, io::eof},
                                                                    });
  test_read_line_newlines("0123456789012345\r012345678901234\r", {
                                                                     {"0123456789012345", true, {}},
                                                                     {"\r012345678901234", true, {}},
                                                                     {"\r", false, {}},
                                                                     {"", false, io::eof},
                                                                 });
}

std::string create_test_input(std::size_t n) {
  std::string input(n, '\0');
  for (std::size_t i = 0; i < n; i++) {
    input[i] = static_cast<char>(i % 251);
    if (i % 101 == 0) input[i] = static_cast<char>(input[i] ^ static_cast<char>(i / 101));
  }
  return input;
}

TEST(GoBufio, ReaderWriteTo) {
  const std::string input = create_test_input(8192);
  bufio::reader r(one_byte_reader<string_reader>{{input}});  // no write_to below it
  buffer w;
  auto [n, err] = io::copy(w, r);  // io::copy uses r.write_to
  EXPECT_FALSE(err);
  EXPECT_EQ(n, input.size());
  EXPECT_EQ(w.string(), input);
}

TEST(GoBufio, ReaderWriteToErrors) {
  const go::error write_err = go::make_error("write error");
  struct failing_writer {
    go::error err;
    io::result write(std::span<const std::byte>) { return {0, err}; }
  };
  const go::error read_err = go::make_error("read error");
  struct failing_reader {
    go::error err;
    io::result read(std::span<std::byte>) { return {0, err}; }
  };
  {
    bufio::reader r(string_reader{"abc"});
    EXPECT_EQ(r.write_to(failing_writer{write_err}).err, write_err);
  }
  {
    bufio::reader r(failing_reader{read_err});
    buffer sink;
    EXPECT_EQ(r.write_to(sink).err, read_err);
  }
}

// Go's scriptedReader with one step: 5 bytes, then an error.
struct five_then_error {
  go::error err;
  bool done = false;
  io::result read(std::span<std::byte> p) {
    if (done || p.size() < 5) throw std::logic_error("unexpected read");
    done = true;
    std::fill_n(p.begin(), 5, std::byte{'x'});
    return {5, err};
  }
};

// A reader that must not be read.
struct no_reads {
  io::result read(std::span<std::byte>) { throw std::logic_error("unexpected read"); }
};

template <class R>
void test_discard(std::string_view name, R rd, std::size_t peek_size, std::ptrdiff_t n, std::size_t want,
                  go::error want_err, std::size_t want_buffered) {
  bufio::reader br(std::move(rd), min_read_buffer_size);
  if (peek_size > 0) {
    auto [peeked, err] = br.peek(static_cast<std::ptrdiff_t>(peek_size));
    ASSERT_FALSE(err) << name;
    ASSERT_EQ(peeked.size(), peek_size) << name;
  }
  auto [discarded, err] = br.discard(n);
  EXPECT_EQ(discarded, want) << name;
  EXPECT_EQ(err, want_err) << name << ": " << err.message();
  EXPECT_EQ(br.buffered(), want_buffered) << name;
}

TEST(GoBufio, ReaderDiscard) {
  const std::string alphabet = "abcdefghijklmnopqrstuvwxyz";
  const go::error five_err = go::make_error("5-then-error");
  test_discard("normal case", string_reader{alphabet}, 16, 6, 6, {}, 10);
  test_discard("discard causing read", string_reader{alphabet}, 0, 6, 6, {}, 10);
  test_discard("discard all without peek", string_reader{alphabet}, 0, 26, 26, {}, 0);
  test_discard("discard more than end", string_reader{alphabet}, 0, 27, 26, io::eof, 0);
  test_discard("fill error, discard less", five_then_error{five_err}, 0, 4, 4, {}, 1);
  test_discard("fill error, discard equal", five_then_error{five_err}, 0, 5, 5, {}, 0);
  test_discard("fill error, discard more", five_then_error{five_err}, 0, 6, 5, five_err, 0);
  test_discard("discard zero", no_reads{}, 0, 0, 0, {}, 0);
  test_discard("discard negative", no_reads{}, 0, -1, 0, bufio::err_negative_count, 0);
}

TEST(GoBufio, ReaderSize) {
  EXPECT_EQ(bufio::reader(string_reader{}).size(), 4096u);
  EXPECT_EQ(bufio::reader(string_reader{}, 1234).size(), 1234u);
  EXPECT_EQ(bufio::reader(string_reader{}, 1).size(), min_read_buffer_size);
}

TEST(GoBufio, ReaderReset) {
  string_reader foo{"foo"}, bar{"bar"};
  bufio::reader r(foo);
  std::array<std::byte, 3> buf;
  (void)r.read(buf);
  EXPECT_EQ(string_of(buf), "foo");
  r.reset(bar);
  buffer all;
  (void)io::copy(all, r);
  EXPECT_EQ(all.string(), "bar");
}

TEST(GoBufio, ReaderClearError) {
  struct error_then_good_reader {
    int nread = 0;
    io::result read(std::span<std::byte>) {
      nread++;
      if (nread == 1) return {0, io::err_unexpected_eof};
      return {1, {}};
    }
  } src;
  bufio::reader r(src);
  std::array<std::byte, 1> buf;
  EXPECT_EQ(r.read(buf).err, io::err_unexpected_eof);  // the error is returned once
  EXPECT_EQ(r.read(buf).n, 1u);
  EXPECT_EQ(src.nread, 2);
}

// Reads of an empty span return 0 and nil while data is buffered, and the pending error
// once it is not.
TEST(GoBufio, ReadZero) {
  for (std::size_t size : {std::size_t{100}, std::size_t{2}}) {
    bufio::reader r(data_and_eof_reader{"abc"}, size < min_read_buffer_size ? min_read_buffer_size : size);
    std::array<std::byte, 4> buf;
    auto [n, err] = r.read(std::span(buf).first(2));
    EXPECT_EQ(n, 2u);
    EXPECT_FALSE(err);
    EXPECT_EQ(r.read({}).n, 0u);
    EXPECT_FALSE(r.read({}).err);
    EXPECT_EQ(r.read(buf).n, 1u);
    EXPECT_EQ(r.read({}).err, io::eof);
  }
}

// A count larger than the span given is a broken reader: the reader throws rather than
// read past its buffer.
TEST(GoBufio, ImpossibleReadCountThrows) {
  struct large_reader {
    io::result read(std::span<std::byte> p) { return {p.size() + 1, {}}; }
  };
  bufio::reader r(large_reader{});
  EXPECT_THROW((void)r.read_byte(), std::logic_error);
}

TEST(GoBufio, PartialReadEOF) {
  const std::string src = "0123456789";
  string_reader source{src};
  bufio::reader r(source, min_read_buffer_size);
  auto [peeked, err] = r.peek(3);
  EXPECT_EQ(string_of(peeked), "012");
  EXPECT_FALSE(err);
  std::array<std::byte, 5> dest;
  auto [n, err2] = io::read_full(r, dest);
  EXPECT_EQ(string_of(std::span(dest).first(n)), "01234");
  EXPECT_FALSE(err2);
  std::array<std::byte, 10> rest;
  auto [n2, err3] = r.read(rest);
  EXPECT_EQ(string_of(std::span(rest).first(n2)), "56789");
  EXPECT_FALSE(err3);
  EXPECT_EQ(r.read(rest).err, io::eof);
}

TEST(GoBufio, ReadStringAndBytesAcrossFullBuffers) {
  std::string line(100, 'x');
  bufio::reader r(string_reader{line + "\n" + "tail"}, min_read_buffer_size);
  auto [s, err] = r.read_string('\n');
  EXPECT_EQ(s, line + "\n");
  EXPECT_FALSE(err);
  auto [b, err2] = r.read_bytes('\n');
  EXPECT_EQ(string_of(b), "tail");
  EXPECT_EQ(err2, io::eof);
}

// ---------------------------------------------------------------------------------------
// bufio_test.go: writer

TEST(GoBufio, Writer) {
  std::array<std::byte, 8192> data;
  for (std::size_t i = 0; i < data.size(); i++) data[i] = std::byte(' ' + i % ('~' - ' '));
  constexpr std::size_t bufsizes[] = {0, min_read_buffer_size, 23, 32, 46, 64, 93, 128, 1024, 4096};
  for (std::size_t nwrite : bufsizes) {
    for (std::size_t bs : bufsizes) {
      buffer w;
      bufio::writer buf(w, bs);
      auto [n, e1] = buf.write(std::span(data).first(nwrite));
      ASSERT_FALSE(e1);
      ASSERT_EQ(n, nwrite);
      EXPECT_FALSE(buf.flush());
      EXPECT_EQ(w.string(), string_of(std::span(data).first(nwrite))) << nwrite << " " << bs;
    }
  }
}

// Go's errorWriterTest: writes n/m of what it is given and returns err.
struct error_writer_test {
  std::size_t n, m;
  go::error err, expect;
  io::result write(std::span<const std::byte> p) const { return {p.size() * n / m, err}; }
};

TEST(GoBufio, WriteErrors) {
  const std::vector<error_writer_test> tests = {
      {0, 1, {}, io::err_short_write},
      {1, 2, {}, io::err_short_write},
      {1, 1, {}, {}},
      {0, 1, io::err_closed_pipe, io::err_closed_pipe},
      {1, 2, io::err_closed_pipe, io::err_closed_pipe},
      {1, 1, io::err_closed_pipe, io::err_closed_pipe},
  };
  for (const auto& w : tests) {
    bufio::writer buf(w);
    auto [n, e] = buf.write(bytes_of("hello world"));
    ASSERT_FALSE(e);
    for (int i = 0; i < 2; i++) {
      EXPECT_EQ(buf.flush(), w.expect) << "flush " << i + 1;  // the error sticks
    }
  }
}

TEST(GoBufio, WriteString) {
  constexpr std::size_t buf_size = 8;
  buffer out;
  bufio::writer b(out, buf_size);
  // Write strings of various sizes to check the buffer's boundaries.
  (void)b.write_string("0");
  (void)b.write_string("123456");
  (void)b.write_string("7890");
  (void)b.write_string("abcdefghijklmnopqrstuvwxy");
  (void)b.write_string("z");
  EXPECT_FALSE(b.flush());
  EXPECT_EQ(out.string(), "01234567890abcdefghijklmnopqrstuvwxyz");
}

TEST(GoBufio, WriteByteBuffersAndFlushes) {
  buffer out;
  bufio::writer b(out, 16);
  for (char c : std::string_view("0123456789abcdefghij")) {
    ASSERT_FALSE(b.write_byte(std::byte(c)));
  }
  EXPECT_EQ(out.string(), "0123456789abcdef");  // the first full buffer went out
  EXPECT_EQ(b.buffered(), 4u);
  EXPECT_EQ(b.available(), 12u);
  EXPECT_FALSE(b.flush());
  EXPECT_EQ(out.string(), "0123456789abcdefghij");
  EXPECT_EQ(b.buffered(), 0u);
}

TEST(GoBufio, WriterSize) {
  buffer out;
  EXPECT_EQ(bufio::writer(out).size(), 4096u);
  EXPECT_EQ(bufio::writer(out, 1234).size(), 1234u);
}

TEST(GoBufio, WriterReset) {
  buffer a, b;
  bufio::writer w(a);
  (void)w.write_string("foo");
  w.reset(b);  // discards "foo"
  (void)w.write_string("bar");
  EXPECT_FALSE(w.flush());
  EXPECT_EQ(a.string(), "");
  EXPECT_EQ(b.string(), "bar");
}

TEST(GoBufio, WriterReadFrom) {
  for (std::size_t size :
       {std::size_t{0}, std::size_t{10}, std::size_t{1023}, std::size_t{1024}, std::size_t{1025}, std::size_t{8192}}) {
    const std::string input = create_test_input(size);
    buffer b;
    bufio::writer w(b);
    auto [n, err] = io::copy(w, one_byte_reader<string_reader>{{input}});  // io::copy uses w.read_from
    EXPECT_FALSE(err);
    EXPECT_EQ(n, input.size());
    EXPECT_FALSE(w.flush());
    EXPECT_EQ(b.string(), input);
  }
}

TEST(GoBufio, WriterReadFromErrors) {
  const go::error read_err = go::make_error("read error");
  struct failing_reader {
    go::error err;
    io::result read(std::span<std::byte>) { return {0, err}; }
  };
  buffer b;
  bufio::writer w(b);
  EXPECT_EQ(w.read_from(failing_reader{read_err}).err, read_err);
}

// A reader that returns nothing many times makes read_from give up with err_no_progress.
TEST(GoBufio, WriterReadFromErrNoProgress) {
  buffer b;
  bufio::writer w(b);
  EXPECT_EQ(w.read_from(endless_zeros{}).err, io::err_no_progress);
}

// read_from into a writer with data buffered first flushes in order.
TEST(GoBufio, WriterReadFromWithBufferedData) {
  constexpr std::size_t buf_size = 16;
  buffer out;
  bufio::writer w(out, buf_size);
  (void)w.write_string("0123");
  auto [n, err] = w.read_from(string_reader{"456789abcdefghijklmnop"});
  EXPECT_FALSE(err);
  EXPECT_EQ(n, 22u);
  EXPECT_FALSE(w.flush());
  EXPECT_EQ(out.string(), "0123456789abcdefghijklmnop");
}

// read_from stops at eof, and flushes a full buffer at eof so that nothing is stranded.
TEST(GoBufio, WriterReadFromUntilEOF) {
  buffer out;
  bufio::writer w(out, 5);
  auto [n, err] = w.read_from(string_reader{"abcde"});
  EXPECT_FALSE(err);
  EXPECT_EQ(n, 5u);
  EXPECT_EQ(out.string(), "abcde");
}

// A write error during read_from is kept by the writer, as after any write.
TEST(GoBufio, WriterReadFromMustSetUnderlyingError) {
  error_writer_test failing{0, 1, io::err_closed_pipe, io::err_closed_pipe};
  bufio::writer w(failing, 4);
  auto [n, err] = w.read_from(string_reader{"0123456789"});
  EXPECT_EQ(err, io::err_closed_pipe);
  EXPECT_EQ(w.flush(), io::err_closed_pipe);
  EXPECT_EQ(w.write_string("x").err, io::err_closed_pipe);
}

// Reading, scanning and writing through a pipe between goroutines: a line protocol.
TEST(GoBufio, ScannerAndWriterOverPipe) {
  go::run([] {
    auto [r, w] = io::pipe();
    go::spawn([w = w] {
      bufio::writer out(w);
      for (int i = 0; i < 1000; i++) (void)out.write_string("line " + std::to_string(i) + "\n");
      EXPECT_FALSE(out.flush());
      (void)w.close();
    });
    bufio::scanner sc(r);
    int i = 0;
    for (; sc.scan(); i++) {
      ASSERT_EQ(sc.text(), "line " + std::to_string(i));
    }
    EXPECT_EQ(i, 1000);
    EXPECT_FALSE(sc.err());
  });
}

}  // namespace
