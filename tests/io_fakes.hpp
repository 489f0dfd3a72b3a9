// Readers and writers for the io and bufio tests: Go's bytes.Buffer and strings.Reader
// cut down to what the tests use.
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "go/io.hpp"

namespace gocxx_test {

namespace io = go::io;

inline std::span<const std::byte> bytes_of(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}
inline std::string string_of(std::span<const std::byte> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

// buffer is Go's bytes.Buffer without ReadFrom and WriteTo: the io_test.go Buffer.
struct buffer {
  std::string data;
  std::size_t off = 0;

  io::result write(std::span<const std::byte> p) {
    data.append(reinterpret_cast<const char*>(p.data()), p.size());
    return {p.size(), {}};
  }
  io::result read(std::span<std::byte> p) {
    if (off == data.size()) {
      data.clear();
      off = 0;
      if (p.empty()) return {};
      return {0, io::eof};
    }
    std::size_t n = std::min(p.size(), data.size() - off);
    std::copy_n(reinterpret_cast<const std::byte*>(data.data()) + off, n, p.data());
    off += n;
    return {n, {}};
  }
  void write_string(std::string_view s) { data.append(s); }
  std::string string() const { return data.substr(off); }
};

// strings.NewReader.
struct string_reader {
  std::string s;
  std::size_t off = 0;
  io::result read(std::span<std::byte> p) {
    if (off >= s.size()) return {0, io::eof};
    std::size_t n = std::min(p.size(), s.size() - off);
    std::copy_n(reinterpret_cast<const std::byte*>(s.data()) + off, n, p.data());
    off += n;
    return {n, {}};
  }
};

}  // namespace gocxx_test
