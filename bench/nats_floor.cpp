// The floor of request/reply with libnats alone, no gocxx: what bench/nats_compare.sh's
// reqrep would measure if gocxx::nats added nothing to libnats. Usage, as nats_peer's:
// nats_floor URL reqrep N: N sequential natsConnection_Request calls of 128 bytes (libnats's own response
// multiplexer: reader thread, the inbox subscription's delivery, a condition variable the
// requesting thread waits on) to an echo responder on another connection, served by a plain
// thread blocked in natsSubscription_NextMsg (reader thread, condition variable); both
// connections send_asap. Prints the median and p99 round trip as nats_peer does.
#include <nats/nats.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

natsConnection* must_connect(const char* url) {
  natsOptions* o = nullptr;
  natsConnection* nc = nullptr;
  if (natsOptions_Create(&o) != NATS_OK || natsOptions_SetURL(o, url) != NATS_OK ||
      natsOptions_SetSendAsap(o, true) != NATS_OK || natsConnection_Connect(&nc, o) != NATS_OK) {
    std::fprintf(stderr, "connect: %s\n", nats_GetLastError(nullptr));
    std::exit(1);
  }
  natsOptions_Destroy(o);
  return nc;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 || std::string(argv[2]) != "reqrep") {
    std::fprintf(stderr, "usage: %s URL reqrep N\n", argv[0]);
    return 2;
  }
  const char* url = argv[1];
  int n = std::atoi(argv[3]);
  natsConnection* srv = must_connect(url);
  natsSubscription* sub = nullptr;
  if (natsConnection_SubscribeSync(&sub, srv, "bench.echo") != NATS_OK || natsConnection_Flush(srv) != NATS_OK) {
    return 1;
  }
  std::thread responder([&] {
    for (int i = 0; i < n; ++i) {
      natsMsg* m = nullptr;
      if (natsSubscription_NextMsg(&m, sub, 5000) != NATS_OK) return;
      natsConnection_Publish(srv, natsMsg_GetReply(m), natsMsg_GetData(m), natsMsg_GetDataLength(m));
      natsMsg_Destroy(m);
    }
  });
  natsConnection* cli = must_connect(url);
  std::string data(128, 'x');
  std::vector<double> lat;
  lat.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto t = std::chrono::steady_clock::now();
    natsMsg* reply = nullptr;
    if (natsConnection_Request(&reply, cli, "bench.echo", data.data(), static_cast<int>(data.size()), 5000) !=
        NATS_OK) {
      std::fprintf(stderr, "request: %s\n", nats_GetLastError(nullptr));
      std::exit(1);
    }
    natsMsg_Destroy(reply);
    lat.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t).count());
  }
  responder.join();
  std::sort(lat.begin(), lat.end());
  std::printf("libnats reqrep %d median %.1f us p99 %.1f us\n", n, lat[lat.size() / 2], lat[lat.size() * 99 / 100]);
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(cli);
  natsConnection_Destroy(srv);
  nats_Close();
  return 0;
}
