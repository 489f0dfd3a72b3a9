// Addresses: formatting, Go's SplitHostPort and JoinHostPort, network names, and resolution
// (getaddrinfo inside go::blocking, so a slow DNS server stalls no processor).
#include "net/addr.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <mutex>

#include "go/runtime.hpp"
#include "poll/errors.hpp"

namespace go::net {

addr::addr(std::string_view network, const sockaddr* sa, socklen_t len) noexcept {
  static constexpr const char* names[] = {"tcp", "udp", "unix", "unixgram", "unixpacket", "ip"};
  network_ = "";
  for (const char* n : names) {
    if (network == n) network_ = n;
  }
  if (len > sizeof sa_) len = sizeof sa_;
  std::memcpy(&sa_, sa, len);
  len_ = len;
}

namespace {

// An IPv4-mapped IPv6 address prints as IPv4, as Go's IP.String does.
bool v4_mapped(const sockaddr_in6* s) noexcept { return IN6_IS_ADDR_V4MAPPED(&s->sin6_addr); }

}  // namespace

std::string addr::ip() const {
  char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2] = "";
  if (sa_.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&sa_)->sin_addr, buf, sizeof buf);
  } else if (sa_.ss_family == AF_INET6) {
    const auto* s = reinterpret_cast<const sockaddr_in6*>(&sa_);
    if (v4_mapped(s)) {
      inet_ntop(AF_INET, &s->sin6_addr.s6_addr[12], buf, sizeof buf);
    } else {
      inet_ntop(AF_INET6, &s->sin6_addr, buf, sizeof buf);
      char zone[IF_NAMESIZE];
      if (s->sin6_scope_id != 0 && if_indextoname(s->sin6_scope_id, zone)) {
        std::strcat(buf, "%");
        std::strcat(buf, zone);
      }
    }
  }
  return buf;
}

int addr::port() const noexcept {
  if (sa_.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&sa_)->sin_port);
  if (sa_.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&sa_)->sin6_port);
  return 0;
}

std::string addr::string() const {
  if (len_ == 0) return "<nil>";
  if (sa_.ss_family == AF_UNIX) {
    const auto* s = reinterpret_cast<const sockaddr_un*>(&sa_);
    std::size_t n = len_ > offsetof(sockaddr_un, sun_path) ? len_ - offsetof(sockaddr_un, sun_path) : 0;
    if (n == 0) return "";
    if (s->sun_path[0] == '\0') {  // abstract: appended, since "@" + std::string trips g++ 12's -Wrestrict at -O3
      std::string abstract = "@";
      abstract.append(s->sun_path + 1, n - 1);
      return abstract;
    }
    return std::string(s->sun_path, strnlen(s->sun_path, n));
  }
  return join_host_port(ip(), std::to_string(port()));
}

bool operator==(const addr& a, const addr& b) noexcept {
  return std::string_view(a.network_) == b.network_ && a.len_ == b.len_ && std::memcmp(&a.sa_, &b.sa_, a.len_) == 0;
}

addr_error::addr_error(std::string err, std::string address)
    : std::invalid_argument("address " + address + ": " + err), err_(std::move(err)), addr_(std::move(address)) {}

}  // namespace go::net

namespace go::detail {

go::error make_addr_error(const char* why, std::string_view address) {
  return go::error(std::make_exception_ptr(net::addr_error(why, std::string(address))));
}

}  // namespace go::detail

namespace go::net {

using detail::make_addr_error;

host_port split_host_port(std::string_view hp) {
  const char* missing_port = "missing port in address";
  const char* too_many_colons = "too many colons in address";
  std::size_t i = hp.rfind(':');
  if (i == std::string_view::npos) return {{}, {}, make_addr_error(missing_port, hp)};
  std::size_t j = 0, k = 0;
  std::string_view host;
  if (hp[0] == '[') {
    std::size_t end = hp.find(']');
    if (end == std::string_view::npos) return {{}, {}, make_addr_error("missing ']' in address", hp)};
    if (end + 1 == hp.size()) return {{}, {}, make_addr_error(missing_port, hp)};
    if (end + 1 != i) return {{}, {}, make_addr_error(hp[end + 1] == ':' ? too_many_colons : missing_port, hp)};
    host = hp.substr(1, end - 1);
    j = 1;
    k = end + 1;
  } else {
    host = hp.substr(0, i);
    if (host.find(':') != std::string_view::npos) return {{}, {}, make_addr_error(too_many_colons, hp)};
  }
  if (hp.find('[', j) != std::string_view::npos) return {{}, {}, make_addr_error("unexpected '[' in address", hp)};
  if (hp.find(']', k) != std::string_view::npos) return {{}, {}, make_addr_error("unexpected ']' in address", hp)};
  return {std::string(host), std::string(hp.substr(i + 1)), {}};
}

std::string join_host_port(std::string_view host, std::string_view port) {
  std::string s;
  if (host.find(':') != std::string_view::npos) {
    s.reserve(host.size() + port.size() + 3);
    s += '[';
    s += host;
    s += "]:";
  } else {
    s.reserve(host.size() + port.size() + 1);
    s += host;
    s += ':';
  }
  s += port;
  return s;
}

}  // namespace go::net

namespace go::detail {

using net::addr_error;
using net::dns_error;
using net::host_port;
using net::join_host_port;
using net::split_host_port;

network_kind parse_network(std::string_view n) noexcept {
  if (n == "tcp") return {"tcp", AF_UNSPEC, SOCK_STREAM, true};
  if (n == "tcp4") return {"tcp", AF_INET, SOCK_STREAM, true};
  if (n == "tcp6") return {"tcp", AF_INET6, SOCK_STREAM, true};
  if (n == "udp") return {"udp", AF_UNSPEC, SOCK_DGRAM, true};
  if (n == "udp4") return {"udp", AF_INET, SOCK_DGRAM, true};
  if (n == "udp6") return {"udp", AF_INET6, SOCK_DGRAM, true};
  if (n == "unix") return {"unix", AF_UNIX, SOCK_STREAM, true};
  if (n == "unixgram") return {"unixgram", AF_UNIX, SOCK_DGRAM, true};
  if (n == "unixpacket") return {"unixpacket", AF_UNIX, SOCK_SEQPACKET, true};
  return {};
}

namespace {

bool ipv6_available() noexcept {
  static const bool yes = [] {
    int s = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return false;
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    bool ok = ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(s);
    return ok;
  }();
  return yes;
}

net::addr make_ip_addr(const char* base, int family, const void* ip, std::uint16_t port, std::uint32_t scope = 0) {
  if (family == AF_INET) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    std::memcpy(&a.sin_addr, ip, sizeof a.sin_addr);
    return net::addr(base, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  a.sin6_scope_id = scope;
  std::memcpy(&a.sin6_addr, ip, sizeof a.sin6_addr);
  return net::addr(base, reinterpret_cast<sockaddr*>(&a), sizeof a);
}

resolved resolve_unix(const network_kind& k, std::string_view path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) return {{}, std::error_code(EINVAL, std::system_category())};
  std::memcpy(a.sun_path, path.data(), path.size());
  if (!path.empty() && path[0] == '@') a.sun_path[0] = '\0';  // Linux's abstract namespace
  auto len =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (path.empty() || path[0] == '@' ? 0 : 1));
  return {{net::addr(k.base, reinterpret_cast<sockaddr*>(&a), len)}, {}};
}

// parse_port is Go's port parsing: a decimal number up to 65535, or a service name.
bool parse_port(const network_kind& k, const std::string& port, std::uint16_t* out, go::error* err) {
  if (port.empty()) return *out = 0, true;
  unsigned v = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
  if (end == port.data() + port.size() && ec == std::errc()) {
    if (v > 65535) return *err = make_addr_error("invalid port", port), false;
    return *out = static_cast<std::uint16_t>(v), true;
  }
  servent se, *result = nullptr;
  char buf[1024];
  getservbyname_r(port.c_str(), k.sotype == SOCK_DGRAM ? "udp" : "tcp", &se, buf, sizeof buf, &result);
  if (!result) {
    *err = go::error(std::make_exception_ptr(dns_error("unknown port", std::string(k.base) + "/" + port, true)));
    return false;
  }
  return *out = ntohs(static_cast<std::uint16_t>(result->s_port)), true;
}

}  // namespace

std::atomic<lookup_func> lookup_name{&getaddrinfo};

resolved resolve(const network_kind& k, std::string_view address, bool listening, std::string* name_to_look_up) {
  if (k.family == AF_UNIX) return resolve_unix(k, address);
  host_port hp = split_host_port(address);
  if (hp.err) return {{}, hp.err};
  std::uint16_t port;
  go::error err;
  if (!parse_port(k, hp.port, &port, &err)) return {{}, err};
  const std::string& host = hp.host;
  resolved out;
  if (host.empty()) {
    // Listening: every address (dual-stack "::" where IPv6 works). Dialing: this system.
    bool v6 = k.family == AF_INET6 || (k.family == AF_UNSPEC && listening && ipv6_available());
    if (v6) {
      in6_addr ip = listening ? in6addr_any : in6addr_loopback;
      out.addrs.push_back(make_ip_addr(k.base, AF_INET6, &ip, port));
    } else {
      in_addr ip{htonl(listening ? INADDR_ANY : INADDR_LOOPBACK)};
      out.addrs.push_back(make_ip_addr(k.base, AF_INET, &ip, port));
    }
    return out;
  }
  // An IP literal needs no lookup.
  in_addr ip4;
  if (inet_pton(AF_INET, host.c_str(), &ip4) == 1) {
    if (k.family == AF_INET6) return {{}, make_addr_error("no suitable address found", host)};
    out.addrs.push_back(make_ip_addr(k.base, AF_INET, &ip4, port));
    return out;
  }
  std::string ip6s = host;
  std::uint32_t scope = 0;
  if (std::size_t pct = ip6s.find('%'); pct != std::string::npos) {
    scope = if_nametoindex(ip6s.c_str() + pct + 1);
    if (scope == 0) {
      unsigned v = 0;
      auto [end, ec] = std::from_chars(ip6s.data() + pct + 1, ip6s.data() + ip6s.size(), v);
      if (ec == std::errc() && end == ip6s.data() + ip6s.size()) scope = v;
    }
    ip6s.resize(pct);
  }
  in6_addr ip6;
  if (inet_pton(AF_INET6, ip6s.c_str(), &ip6) == 1) {
    if (k.family == AF_INET) return {{}, make_addr_error("no suitable address found", host)};
    out.addrs.push_back(make_ip_addr(k.base, AF_INET6, &ip6, port, scope));
    return out;
  }
  // A name: getaddrinfo may block on the network.
  if (name_to_look_up) {
    *name_to_look_up = host;
    return out;
  }
  addrinfo hints{};
  hints.ai_family = k.family;
  hints.ai_socktype = k.sotype;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* res = nullptr;
  int rc =
      go::blocking([&] { return lookup_name.load(std::memory_order_relaxed)(host.c_str(), nullptr, &hints, &res); });
  if (rc != 0) {
    bool not_found = rc == EAI_NONAME || rc == EAI_NODATA;
    std::string why = not_found ? "no such host" : gai_strerror(rc);
    if (!not_found && !why.empty() && why[0] >= 'A' && why[0] <= 'Z') why[0] = static_cast<char>(why[0] - 'A' + 'a');
    return {{}, go::error(std::make_exception_ptr(dns_error(why, host, not_found)))};
  }
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET) {
      out.addrs.push_back(make_ip_addr(k.base, AF_INET, &reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr, port));
    } else if (ai->ai_family == AF_INET6) {
      const auto* s = reinterpret_cast<sockaddr_in6*>(ai->ai_addr);
      out.addrs.push_back(make_ip_addr(k.base, AF_INET6, &s->sin6_addr, port, s->sin6_scope_id));
    }
  }
  freeaddrinfo(res);
  if (listening && k.family == AF_UNSPEC) {
    // Listen on one address, an IPv4 one if there is one (Go's favoriteAddrFamily).
    for (auto& a : out.addrs) {
      if (a.sockaddr_ptr()->sa_family == AF_INET) return {{a}, {}};
    }
  }
  if (out.addrs.empty()) return {{}, make_addr_error("no suitable address found", host)};
  return out;
}

}  // namespace go::detail

namespace go::net {

addr_result resolve_addr(std::string_view network, std::string_view address) {
  detail::network_kind k = detail::parse_network(network);
  if (!k.ok) return {{}, go::error(std::make_exception_ptr(unknown_network_error(std::string(network))))};
  detail::resolved r = detail::resolve(k, address, false);
  if (r.err) return {{}, r.err};
  for (const auto& a : r.addrs) {
    if (a.sockaddr_ptr()->sa_family == AF_INET) return {a, {}};
  }
  return {r.addrs.front(), {}};
}

}  // namespace go::net
