// profile.proto writer and the gzip framing around it (profile_proto.hpp has the format).
//
// Field numbers are profile.proto's; every message is built bottom-up into a string, so each
// length-delimited field knows its length when it is written. String index 0 is "", as the
// format requires; location and function ids start at 1 (0 means none).
#include "runtime/profile_proto.hpp"

#include <array>
#include <map>
#include <ostream>
#include <tuple>

#include "runtime/symbolize.hpp"

namespace go::detail {

namespace {

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_key(std::string& out, int field, int wire_type) {
  put_varint(out, static_cast<std::uint64_t>(field) << 3 | static_cast<std::uint64_t>(wire_type));
}

void put_int(std::string& out, int field, std::uint64_t v) {
  if (v == 0) return;  // proto3: a default is not written
  put_key(out, field, 0);
  put_varint(out, v);
}

void put_bytes(std::string& out, int field, const std::string& bytes) {
  put_key(out, field, 2);
  put_varint(out, bytes.size());
  out += bytes;
}

void put_packed(std::string& out, int field, const std::vector<std::uint64_t>& vs) {
  if (vs.empty()) return;
  std::string body;
  for (std::uint64_t v : vs) put_varint(body, v);
  put_bytes(out, field, body);
}

struct string_table {
  std::vector<std::string> strings{""};
  std::map<std::string, std::uint64_t> index{{"", 0}};
  std::uint64_t of(const std::string& s) {
    auto [it, added] = index.emplace(s, strings.size());
    if (added) strings.push_back(s);
    return it->second;
  }
};

std::string value_type(string_table& st, const std::pair<std::string, std::string>& t) {
  std::string m;
  put_int(m, 1, st.of(t.first));
  put_int(m, 2, st.of(t.second));
  return m;
}

}  // namespace

std::string profile_builder::encode() const {
  std::vector<std::uintptr_t> calls;
  for (const profile_sample& s : samples) {
    for (std::uintptr_t ret : s.pcs) calls.push_back(ret - 1);
  }
  symbolize_all(std::move(calls));

  string_table st;
  std::string out, functions, locations;
  std::map<std::pair<std::string, std::string>, std::uint64_t> function_ids;
  // A location is a call address with the lines kept of it: all of them, or the user's only.
  std::map<std::tuple<std::uintptr_t, bool, std::string>, std::uint64_t> location_ids;

  auto function_id = [&](const std::string& name, const std::string& file) {
    auto [it, added] = function_ids.emplace(std::pair{name, file}, function_ids.size() + 1);
    if (added) {
      std::string f;
      put_int(f, 1, it->second);
      put_int(f, 2, st.of(name));
      put_int(f, 3, st.of(name));
      put_int(f, 4, st.of(file));
      put_bytes(functions, 5, f);
    }
    return it->second;
  };
  // Returns 0 when no line of the call is kept.
  auto location_id = [&](std::uintptr_t call, bool user_only, const std::string& leaf) -> std::uint64_t {
    auto key = std::tuple{call, user_only, leaf};
    if (auto it = location_ids.find(key); it != location_ids.end()) return it->second;
    std::string lines;
    if (!leaf.empty()) {
      std::string l;
      put_int(l, 1, function_id(leaf, ""));
      put_bytes(lines, 4, l);
    } else {
      for (const code_frame& f : frames_at(call)) {
        if (user_only && f.runtime) continue;
        std::string l;
        put_int(l, 1, function_id(f.function, f.file));
        put_int(l, 2, f.line);
        put_bytes(lines, 4, l);
      }
    }
    std::uint64_t id = 0;
    if (!lines.empty()) {
      id = location_ids.size() + 1;
      std::string loc;
      put_int(loc, 1, id);
      put_int(loc, 2, 1);  // the one mapping
      put_int(loc, 3, call);
      loc += lines;
      put_bytes(locations, 4, loc);
    }
    location_ids.emplace(key, id);
    return id;
  };

  for (const auto& t : sample_types) put_bytes(out, 1, value_type(st, t));
  for (const profile_sample& s : samples) {
    bool any_user = false;
    for (std::uintptr_t ret : s.pcs) {
      for (const code_frame& f : frames_at(ret - 1)) any_user = any_user || !f.runtime;
    }
    std::vector<std::uint64_t> ids;
    if (!s.leaf.empty()) ids.push_back(location_id(0, false, s.leaf));
    for (std::uintptr_t ret : s.pcs) {
      if (std::uint64_t id = location_id(ret - 1, any_user, "")) ids.push_back(id);
    }
    std::vector<std::uint64_t> values;
    for (std::int64_t v : s.values) values.push_back(static_cast<std::uint64_t>(v));
    std::string m;
    put_packed(m, 1, ids);
    // Values are packed even when 0: one per sample type.
    std::string body;
    for (std::uint64_t v : values) put_varint(body, v);
    put_bytes(m, 2, body);
    for (const auto& [key, value] : s.labels) {
      std::string l;
      put_int(l, 1, st.of(key));
      put_int(l, 2, st.of(value));
      put_bytes(m, 3, l);
    }
    put_bytes(out, 2, m);
  }
  // One mapping over all addresses, its functions already named: pprof symbolizes nothing.
  std::string mapping;
  put_int(mapping, 1, 1);
  put_int(mapping, 3, ~std::uint64_t{0});
  put_int(mapping, 5, st.of(self_exe()));
  for (int field : {7, 8, 9, 10}) put_int(mapping, field, 1);  // has functions, files, lines, inlines
  put_bytes(out, 3, mapping);
  out += locations;
  out += functions;
  put_int(out, 9, static_cast<std::uint64_t>(time_nanos));
  put_int(out, 10, static_cast<std::uint64_t>(duration_nanos));
  put_bytes(out, 11, value_type(st, period_type));
  put_int(out, 12, static_cast<std::uint64_t>(period));
  for (const std::string& s : st.strings) put_bytes(out, 6, s);
  return out;
}

void profile_builder::write(std::ostream& out) const {
  std::string gz = gzip_stored(encode());
  out.write(gz.data(), static_cast<std::streamsize>(gz.size()));
}

std::string gzip_stored(const std::string& data) {
  static const std::array<std::uint32_t, 256> crc_table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t crc = 0xffffffffu;
  for (unsigned char c : data) crc = crc_table[(crc ^ c) & 0xff] ^ (crc >> 8);
  crc ^= 0xffffffffu;
  auto put32 = [](std::string& s, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>(v >> (8 * i)));
  };
  // Header: magic, deflate, no flags, no time, no extra flags, unknown OS.
  std::string out = {'\x1f', '\x8b', '\x08', '\0', '\0', '\0', '\0', '\0', '\0', '\xff'};
  std::size_t at = 0;
  do {
    std::size_t n = std::min<std::size_t>(data.size() - at, 65535);
    bool last = at + n == data.size();
    out.push_back(last ? '\x01' : '\x00');  // BFINAL, BTYPE 00 (stored), padded to the byte
    out.push_back(static_cast<char>(n & 0xff));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(~n & 0xff));
    out.push_back(static_cast<char>((~n >> 8) & 0xff));
    out.append(data, at, n);
    at += n;
  } while (at < data.size());
  put32(out, crc);
  put32(out, static_cast<std::uint32_t>(data.size()));
  return out;
}

}  // namespace go::detail
