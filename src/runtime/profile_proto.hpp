// Writing pprof's profile format: profile.proto (github.com/google/pprof, proto/profile.proto),
// gzip-compressed, as Go's runtime/pprof writes it and every pprof tool reads it.
//
// A profile_builder collects samples, each a stack of return addresses with its values and
// string labels; write() symbolizes every address (symbolize.hpp), builds the location,
// function and string tables, and encodes the message by hand (no protobuf library: the
// format is a handful of varint and length-delimited fields). The gzip stream holds stored
// (uncompressed) deflate blocks: valid for every gunzip, without a compressor in the library.
//
// Frames. A sample's addresses are return addresses, innermost first; each stands for its
// call (address - 1) and the calls inlined there, which become the lines of one location,
// innermost first, as profile.proto orders them. The runtime's own frames are left out of a
// stack that has any of the user's, as the goroutine dump leaves them out.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

namespace go::detail {

struct profile_sample {
  std::vector<std::uintptr_t> pcs;   // return addresses, innermost first
  std::vector<std::int64_t> values;  // one per sample type
  std::vector<std::pair<std::string, std::string>> labels;
  std::string leaf;  // a frame named leaf, innermost, when the stack is unknown ("running")
};

struct profile_builder {
  std::vector<std::pair<std::string, std::string>> sample_types;  // (type, unit)
  std::pair<std::string, std::string> period_type;
  std::int64_t period = 1;
  std::int64_t time_nanos = 0;
  std::int64_t duration_nanos = 0;
  std::vector<profile_sample> samples;

  // write encodes the profile and writes it gzip-compressed to out.
  void write(std::ostream& out) const;
  // encode returns the profile.proto message, uncompressed.
  std::string encode() const;
};

// gzip_stored returns data as a gzip member of stored deflate blocks (RFC 1951, 1952).
std::string gzip_stored(const std::string& data);

}  // namespace go::detail
