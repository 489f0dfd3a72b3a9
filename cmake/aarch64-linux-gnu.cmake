# Cross-building for 64-bit ARM Linux with Debian's cross compiler (g++-aarch64-linux-gnu),
# and running what was built under QEMU's user-mode emulator (qemu-user-static) where no
# aarch64 machine is at hand: ctest and gtest_discover_tests run each test binary through
# CMAKE_CROSSCOMPILING_EMULATOR. tools/arm64-test does the whole run:
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
#         -DCMAKE_PREFIX_PATH=<GoogleTest built for aarch64>
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(GOCXX_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${GOCXX_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${GOCXX_CROSS_TRIPLE}-g++)
set(CMAKE_ASM_COMPILER ${GOCXX_CROSS_TRIPLE}-gcc)

# The target's libraries and headers: Debian's cross packages install them here.
set(GOCXX_CROSS_SYSROOT /usr/${GOCXX_CROSS_TRIPLE})
list(APPEND CMAKE_FIND_ROOT_PATH ${GOCXX_CROSS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
# Packages built for the target outside the sysroot (GoogleTest) come from CMAKE_PREFIX_PATH.
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# The emulator: qemu-aarch64-static through cmake/aarch64-qemu-run, which lets a test binary
# re-execute itself (GoogleTest's death tests) under the emulator.
set(CMAKE_CROSSCOMPILING_EMULATOR ${CMAKE_CURRENT_LIST_DIR}/aarch64-qemu-run)
