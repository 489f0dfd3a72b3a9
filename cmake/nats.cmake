# gocxx::nats (include/go/nats.hpp, src/nats): our channels and worker pool over NATS through
# its official C client, libnats. Optional: built only where pkg-config finds libnats
# (Debian: libnats-dev), so that the core library stays free of dependencies. Its tests
# (tests/nats_test/) start a nats-server of their own (Debian: nats-server).
# A cross build (tools/arm64-test) would find the host's libnats: leave the bridge out there.
if(CMAKE_CROSSCOMPILING)
  message(STATUS "cross-compiling: skipping gocxx::nats (libnats is the host's)")
  return()
endif()
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(GOCXX_LIBNATS QUIET IMPORTED_TARGET libnats)
endif()
if(NOT GOCXX_LIBNATS_FOUND)
  message(STATUS "libnats not found: skipping gocxx::nats, its tests, example and benchmark "
                 "(apt-get install libnats-dev nats-server to build them)")
  return()
endif()
message(STATUS "libnats ${GOCXX_LIBNATS_VERSION} found: building gocxx::nats")

file(GLOB GOCXX_NATS_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/../src/nats/*.cpp)
add_library(gocxx_nats ${GOCXX_NATS_SOURCES})
add_library(gocxx::nats ALIAS gocxx_nats)
target_link_libraries(gocxx_nats PUBLIC gocxx::gocxx PRIVATE PkgConfig::GOCXX_LIBNATS)
target_include_directories(gocxx_nats PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_compile_options(gocxx_nats PRIVATE ${GOCXX_WARNINGS})
# libnats's per-connection message filter, which the request multiplexer uses to take
# replies on the reader thread (src/nats/state.hpp): exported by libnats but declared only
# in its private headers, so looked for by linking against it; without it replies go
# through libnats's delivery thread.
include(CheckCXXSourceCompiles)
set(CMAKE_REQUIRED_LIBRARIES PkgConfig::GOCXX_LIBNATS)
check_cxx_source_compiles([[
#include <nats/nats.h>
extern "C" void natsConn_setFilterWithClosure(natsConnection*, void (*)(natsConnection*, natsMsg**, void*), void*);
int main() { natsConn_setFilterWithClosure(nullptr, nullptr, nullptr); }
]] GOCXX_NATS_HAVE_MSG_FILTER)
if(GOCXX_NATS_HAVE_MSG_FILTER)
  target_compile_definitions(gocxx_nats PRIVATE GOCXX_NATS_HAVE_MSG_FILTER)
endif()
# natsMsg_free, which frees a message where natsMsg_Destroy would wake libnats's
# garbage-collector thread to free it (src/nats/state.hpp): exported, privately declared.
check_cxx_source_compiles([[
extern "C" void natsMsg_free(void*);
int main() { natsMsg_free(nullptr); }
]] GOCXX_NATS_HAVE_MSG_FREE)
if(GOCXX_NATS_HAVE_MSG_FREE)
  target_compile_definitions(gocxx_nats PRIVATE GOCXX_NATS_HAVE_MSG_FREE)
endif()
# natsConn_retain and natsConn_release, with which the event loop's goroutines keep a
# connection alive until they return (src/nats/event_loop.cpp): exported, privately
# declared; without them send_asap connections keep libnats's reader thread.
check_cxx_source_compiles([[
#include <nats/nats.h>
extern "C" void natsConn_retain(natsConnection*);
extern "C" void natsConn_release(natsConnection*);
int main() { natsConn_retain(nullptr); natsConn_release(nullptr); }
]] GOCXX_NATS_HAVE_CONN_RETAIN)
if(GOCXX_NATS_HAVE_CONN_RETAIN)
  target_compile_definitions(gocxx_nats PRIVATE GOCXX_NATS_HAVE_CONN_RETAIN)
endif()
unset(CMAKE_REQUIRED_LIBRARIES)

# The nats-server the tests and the example start; the tests fail, saying so, without it.
find_program(GOCXX_NATS_SERVER NAMES nats-server)
if(NOT GOCXX_NATS_SERVER)
  message(STATUS "nats-server not found: the gocxx::nats tests will fail (apt-get install nats-server)")
  set(GOCXX_NATS_SERVER nats-server)
endif()

if(GOCXX_BUILD_EXAMPLES)
  add_executable(example_nats_worker_pool ${PROJECT_SOURCE_DIR}/examples/nats_worker_pool.cpp)
  set_target_properties(example_nats_worker_pool PROPERTIES OUTPUT_NAME nats_worker_pool
    RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/examples)
  target_link_libraries(example_nats_worker_pool PRIVATE gocxx::nats)
  target_compile_options(example_nats_worker_pool PRIVATE ${GOCXX_WARNINGS})
  target_compile_definitions(example_nats_worker_pool PRIVATE GOCXX_NATS_SERVER="${GOCXX_NATS_SERVER}")
  # It starts its nats-server with the tests' helper.
  target_include_directories(example_nats_worker_pool PRIVATE ${PROJECT_SOURCE_DIR}/tests/nats_test)
endif()

if(GOCXX_BUILD_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
  # The worker process of the SIGKILL test.
  add_executable(gocxx_nats_test_worker ${PROJECT_SOURCE_DIR}/tests/nats_test/nats_worker.cpp)
  target_link_libraries(gocxx_nats_test_worker PRIVATE gocxx::nats)
  target_compile_options(gocxx_nats_test_worker PRIVATE ${GOCXX_WARNINGS})
  add_executable(gocxx_nats_tests ${PROJECT_SOURCE_DIR}/tests/nats_test/nats_test.cpp)
  # Some tests use libnats directly, to hold up its delivery thread.
  target_link_libraries(gocxx_nats_tests PRIVATE gocxx::nats PkgConfig::GOCXX_LIBNATS GTest::gtest GTest::gtest_main)
  target_compile_options(gocxx_nats_tests PRIVATE ${GOCXX_WARNINGS})
  target_compile_definitions(gocxx_nats_tests PRIVATE GOCXX_NATS_SERVER="${GOCXX_NATS_SERVER}"
    GOCXX_NATS_TEST_WORKER="$<TARGET_FILE:gocxx_nats_test_worker>")
  add_dependencies(gocxx_nats_tests gocxx_nats_test_worker)
  # The tests of what needs libnats's privately declared functions skip without them.
  foreach(have GOCXX_NATS_HAVE_MSG_FILTER GOCXX_NATS_HAVE_MSG_FREE GOCXX_NATS_HAVE_CONN_RETAIN)
    if(${have})
      target_compile_definitions(gocxx_nats_tests PRIVATE ${have})
    endif()
  endforeach()
  gtest_discover_tests(gocxx_nats_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 60 LABELS nats)
endif()

if(GOCXX_BUILD_BENCH)
  # The gocxx side of bench/nats_compare.sh (the Go side: bench/peers/nats).
  add_executable(nats_peer ${PROJECT_SOURCE_DIR}/bench/nats_peer.cpp)
  target_link_libraries(nats_peer PRIVATE gocxx::nats)
  target_compile_options(nats_peer PRIVATE ${GOCXX_WARNINGS})
  # Request/reply with libnats alone: the floor under nats_peer's reqrep (docs/nats.md).
  add_executable(nats_floor ${PROJECT_SOURCE_DIR}/bench/nats_floor.cpp)
  target_link_libraries(nats_floor PRIVATE PkgConfig::GOCXX_LIBNATS Threads::Threads)
  target_compile_options(nats_floor PRIVATE ${GOCXX_WARNINGS})
endif()
