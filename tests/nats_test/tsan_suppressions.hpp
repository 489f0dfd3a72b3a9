// ThreadSanitizer suppressions for the gocxx::nats test programs, compiled into them
// (__tsan_default_suppressions) so that they apply however the tests are run.
//
// thread:natsThread_Create - libnats (not instrumented) joins a connection's threads from
// its own garbage-collector thread some time after the connection is destroyed, and
// tearing down a connection goes through goroutines here (state.hpp: sinks are freed off
// libnats's threads). A test process that exits right after its test can end before that,
// and TSan reports those threads as leaked. Only thread-leak reports whose thread libnats
// created are suppressed; races are not.
#pragma once

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
extern "C" const char* __tsan_default_suppressions() { return "thread:natsThread_Create\n"; }
#endif
#endif
