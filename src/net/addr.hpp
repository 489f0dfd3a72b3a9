// Networks and addresses for go::net (Go's net/ipsock.go, lookup.go): the internal interface
// between addr.cpp (parsing, resolution) and net.cpp (sockets).
#pragma once

#include <netdb.h>
#include <sys/socket.h>

#include <atomic>
#include <string>
#include <string_view>
#include <vector>

#include "go/net.hpp"

namespace go::detail {

// A parsed network name: "tcp4" is family AF_INET, type SOCK_STREAM, base "tcp".
struct network_kind {
  const char* base = "";   // "tcp", "udp", "unix", "unixgram", "unixpacket": addr's network()
  int family = AF_UNSPEC;  // AF_INET or AF_INET6 for the 4 and 6 variants, AF_UNIX for unix
  int sotype = 0;
  bool ok = false;
};

network_kind parse_network(std::string_view network) noexcept;

// resolve turns address into the socket addresses to try, in order. `listening`: an empty
// host means every local address (else the local system). Errors: addr_error, dns_error.
// Given name_to_look_up, a host that is a name is not looked up: resolve stores it there and
// returns nothing, for a caller that looks it up elsewhere (a stackless dial, net.cpp).
struct resolved {
  std::vector<net::addr> addrs;
  go::error err;
};
resolved resolve(const network_kind& k, std::string_view address, bool listening,
                 std::string* name_to_look_up = nullptr);

// lookup_name is what resolve calls to look a name up, inside go::blocking: getaddrinfo.
// Tests put a stand-in there (a lookup that waits for them); nothing else does.
using lookup_func = int (*)(const char* host, const char* service, const addrinfo* hints, addrinfo** res);
extern std::atomic<lookup_func> lookup_name;

}  // namespace go::detail
