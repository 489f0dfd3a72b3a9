# Installs gocxx from BUILD_DIR into a scratch prefix under WORK_DIR, then builds main.cpp
# against it with the compiler CXX and runs it. MODE says how the consumer finds the package:
#   cmake       a separate CMake project (this folder's CMakeLists.txt) with find_package(gocxx)
#   pkg-config  one compiler command with `PKG_CONFIG --cflags --libs gocxx`; LIBDIR is the
#               library folder under the prefix, where gocxx.pc lies in pkgconfig/
# A cross build also passes TOOLCHAIN (its toolchain file, for the consumer's CMake project)
# and EMULATOR (the command that runs the consumer, arguments separated by spaces).
set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "install failed")
endif()

if(MODE STREQUAL "cmake")
  set(toolchain)
  if(TOOLCHAIN)
    set(toolchain -DCMAKE_TOOLCHAIN_FILE=${TOOLCHAIN})
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build -DCMAKE_PREFIX_PATH=${prefix}
                          -DCMAKE_CXX_COMPILER=${CXX} ${toolchain} RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "configuring the consumer with ${CXX} failed")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build RESULT_VARIABLE rc)
  set(consumer ${WORK_DIR}/build/consumer)
elseif(MODE STREQUAL "pkg-config")
  # Only the scratch prefix's gocxx.pc may be found, not one installed on the machine.
  set(ENV{PKG_CONFIG_LIBDIR} ${prefix}/${LIBDIR}/pkgconfig)
  execute_process(COMMAND ${PKG_CONFIG} --cflags --libs gocxx OUTPUT_VARIABLE flags
                  OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "${PKG_CONFIG} --cflags --libs gocxx failed")
  endif()
  message(STATUS "pkg-config --cflags --libs gocxx: ${flags}")
  separate_arguments(flags UNIX_COMMAND "${flags}")
  set(consumer ${WORK_DIR}/consumer)
  file(MAKE_DIRECTORY ${WORK_DIR})
  execute_process(COMMAND ${CXX} -std=c++20 ${SOURCE_DIR}/main.cpp -o ${consumer} ${flags} RESULT_VARIABLE rc)
else()
  message(FATAL_ERROR "MODE must be cmake or pkg-config")
endif()
if(rc)
  message(FATAL_ERROR "building the consumer with ${CXX} failed")
endif()

separate_arguments(emulator UNIX_COMMAND "${EMULATOR}")
execute_process(COMMAND ${emulator} ${consumer} RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "the consumer failed: ${rc}")
endif()
