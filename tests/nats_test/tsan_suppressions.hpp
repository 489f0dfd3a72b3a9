// ThreadSanitizer suppressions for the gocxx::nats test programs, compiled into them
// (__tsan_default_suppressions) so that they apply however the tests are run.
//
// thread:natsThread_Create - libnats (not instrumented) joins a connection's threads from
// its own garbage-collector thread some time after the connection is destroyed, and
// tearing down a connection goes through goroutines here (state.hpp: sinks are freed off
// libnats's threads). A test process that exits right after its test can end before that,
// and TSan reports those threads as leaked. Only thread-leak reports whose thread libnats
// created are suppressed; races are not.
//
// called_from_lib:libssl.so.3, libcrypto.so.3 - OpenSSL is not instrumented either, so TSan
// sees the pthread and libc calls it makes but not its own atomics and reference counts:
// the TLS tests failed about one run in three with races wholly inside it (a lock freed by
// CRYPTO_THREAD_lock_free on a libnats thread after the test thread's
// CRYPTO_THREAD_write_lock; libssl's memcpy into a record buffer that libnats's flusher
// write()s). No gocxx code is on either side; the interceptors OpenSSL calls are ignored.
#pragma once

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
extern "C" const char* __tsan_default_suppressions() {
  return "thread:natsThread_Create\n"
         "called_from_lib:libssl.so.3\n"
         "called_from_lib:libcrypto.so.3\n";
}
#endif
#endif
