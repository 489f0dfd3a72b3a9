// go::bufio's sentinel errors and split functions (Go's bufio/scan.go). The split functions
// decode UTF-8 as Go's utf8.DecodeRune does: an invalid or truncated sequence decodes as
// U+FFFD with width 1.
#include "go/bufio.hpp"

#include <cstdint>
#include <string>

namespace go::bufio {

namespace {

enum class code : int {
  invalid_unread_byte = 1,
  buffer_full,
  negative_count,
  too_long,
  negative_advance,
  advance_too_far,
  bad_read_count,
  final_token,
};

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "bufio"; }
  std::string message(int c) const override {
    switch (static_cast<code>(c)) {
      case code::invalid_unread_byte: return "bufio: invalid use of UnreadByte";
      case code::buffer_full: return "bufio: buffer full";
      case code::negative_count: return "bufio: negative count";
      case code::too_long: return "bufio.Scanner: token too long";
      case code::negative_advance: return "bufio.Scanner: SplitFunc returns negative advance count";
      case code::advance_too_far: return "bufio.Scanner: SplitFunc returns advance count beyond input";
      case code::bad_read_count: return "bufio.Scanner: Read returned impossible count";
      case code::final_token: return "final token";
    }
    return "unknown bufio error";
  }
};

const std::error_category& bufio_category() noexcept {
  static const category instance;
  return instance;
}

go::error make(code c) { return std::error_code(static_cast<int>(c), bufio_category()); }

constexpr char32_t rune_error = 0xFFFD;

struct decoded {
  char32_t rune;
  std::size_t width;
};

// decode_rune is Go's utf8.DecodeRune; full reports whether data held a whole sequence
// (Go's utf8.FullRune) when the result is rune_error of width 1.
decoded decode_rune(std::span<const std::byte> data, bool* full = nullptr) {
  if (full) *full = true;
  if (data.empty()) return {rune_error, 0};
  auto b = [&](std::size_t i) { return std::to_integer<std::uint8_t>(data[i]); };
  std::uint8_t c0 = b(0);
  if (c0 < 0x80) return {c0, 1};
  std::size_t need;
  char32_t r;
  std::uint8_t lo = 0x80, hi = 0xBF;
  if (c0 >= 0xC2 && c0 <= 0xDF) {
    need = 2, r = c0 & 0x1F;
  } else if (c0 >= 0xE0 && c0 <= 0xEF) {
    need = 3, r = c0 & 0x0F;
    if (c0 == 0xE0) lo = 0xA0;
    if (c0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (c0 >= 0xF0 && c0 <= 0xF4) {
    need = 4, r = c0 & 0x07;
    if (c0 == 0xF0) lo = 0x90;
    if (c0 == 0xF4) hi = 0x8F;
  } else {
    return {rune_error, 1};
  }
  for (std::size_t i = 1; i < need; ++i) {
    if (i >= data.size()) {
      if (full) *full = false;  // a valid prefix that more bytes could complete
      return {rune_error, 1};
    }
    std::uint8_t c = b(i);
    if (c < (i == 1 ? lo : 0x80) || c > (i == 1 ? hi : 0xBF)) return {rune_error, 1};
    r = (r << 6) | (c & 0x3F);
  }
  return {r, need};
}

// is_space is Go's bufio isSpace, unicode.IsSpace without the table.
bool is_space(char32_t r) {
  if (r <= 0xFF) {
    switch (r) {
      case ' ':
      case '\t':
      case '\n':
      case '\v':
      case '\f':
      case '\r':
      case 0x85:
      case 0xA0: return true;
    }
    return false;
  }
  if (r >= 0x2000 && r <= 0x200A) return true;
  switch (r) {
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000: return true;
  }
  return false;
}

constexpr std::byte error_rune_bytes[] = {std::byte{0xEF}, std::byte{0xBF}, std::byte{0xBD}};

std::span<const std::byte> drop_cr(std::span<const std::byte> data) {
  if (!data.empty() && data.back() == std::byte{'\r'}) return data.first(data.size() - 1);
  return data;
}

}  // namespace

const go::error err_invalid_unread_byte = make(code::invalid_unread_byte);
const go::error err_buffer_full = make(code::buffer_full);
const go::error err_negative_count = make(code::negative_count);
const go::error err_too_long = make(code::too_long);
const go::error err_negative_advance = make(code::negative_advance);
const go::error err_advance_too_far = make(code::advance_too_far);
const go::error err_bad_read_count = make(code::bad_read_count);
const go::error err_final_token = make(code::final_token);

void detail::throw_impossible_count() { throw std::logic_error("bufio: reader returned impossible count"); }

split_result scan_bytes(std::span<const std::byte> data, bool at_eof) {
  if (at_eof && data.empty()) return {};
  return {1, data.first(1), {}};
}

split_result scan_runes(std::span<const std::byte> data, bool at_eof) {
  if (at_eof && data.empty()) return {};
  if (std::to_integer<std::uint8_t>(data[0]) < 0x80) return {1, data.first(1), {}};
  bool full;
  auto [r, width] = decode_rune(data, &full);
  if (width > 1) return {static_cast<std::ptrdiff_t>(width), data.first(width), {}};
  // An error: either an encoding error, or a sequence that more data may complete.
  if (!at_eof && !full) return {};
  (void)r;
  return {1, std::span<const std::byte>(error_rune_bytes), {}};
}

split_result scan_lines(std::span<const std::byte> data, bool at_eof) {
  if (at_eof && data.empty()) return {};
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (data[i] == std::byte{'\n'}) return {static_cast<std::ptrdiff_t>(i + 1), drop_cr(data.first(i)), {}};
  }
  if (at_eof) return {static_cast<std::ptrdiff_t>(data.size()), drop_cr(data), {}};
  return {};  // request more data
}

split_result scan_words(std::span<const std::byte> data, bool at_eof) {
  std::size_t start = 0;
  while (start < data.size()) {
    auto [r, width] = decode_rune(data.subspan(start));
    if (!is_space(r)) break;
    start += width;
  }
  for (std::size_t i = start; i < data.size();) {
    auto [r, width] = decode_rune(data.subspan(i));
    if (is_space(r)) return {static_cast<std::ptrdiff_t>(i + width), data.subspan(start, i - start), {}};
    i += width;
  }
  if (at_eof && data.size() > start) return {static_cast<std::ptrdiff_t>(data.size()), data.subspan(start), {}};
  return {static_cast<std::ptrdiff_t>(start), std::nullopt, {}};
}

}  // namespace go::bufio
