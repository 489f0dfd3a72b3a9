# Installs gocxx from BUILD_DIR into a scratch prefix under WORK_DIR, then builds main.cpp
# against it with the compiler CXX and runs it. MODE says how the consumer finds the package:
#   cmake       a separate CMake project (this folder's CMakeLists.txt) with find_package(gocxx)
set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "install failed")
endif()

if(MODE STREQUAL "cmake")
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build -DCMAKE_PREFIX_PATH=${prefix}
                          -DCMAKE_CXX_COMPILER=${CXX} RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "configuring the consumer with ${CXX} failed")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build RESULT_VARIABLE rc)
  set(consumer ${WORK_DIR}/build/consumer)
else()
  message(FATAL_ERROR "MODE must be cmake")
endif()
if(rc)
  message(FATAL_ERROR "building the consumer with ${CXX} failed")
endif()

execute_process(COMMAND ${consumer} RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "the consumer failed: ${rc}")
endif()
