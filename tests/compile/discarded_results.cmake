# Compiles SOURCE (discarded_results.cpp) with CXX, syntax only, and checks that the compiler
# warns of a discarded result on exactly the lines marked `// discarded`. INCLUDE is the
# folder of the public headers.
cmake_minimum_required(VERSION 3.25)
get_filename_component(name ${SOURCE} NAME)
file(STRINGS ${SOURCE} lines)
set(expected "")
set(number 0)
foreach(line IN LISTS lines)
  math(EXPR number "${number} + 1")
  if(line MATCHES "// discarded$")
    list(APPEND expected ${number})
  endif()
endforeach()

execute_process(COMMAND ${CXX} -std=c++20 -fsyntax-only -Wall -Wunused-result -I${INCLUDE} ${SOURCE}
                RESULT_VARIABLE rc ERROR_VARIABLE diagnostics)
if(rc)
  message(FATAL_ERROR "${name} does not compile:\n${diagnostics}")
endif()
string(REGEX MATCHALL "${name}:[0-9]+:[0-9]+: warning: [^\n]*" warnings "${diagnostics}")
set(warned "")
foreach(warning IN LISTS warnings)
  string(REGEX REPLACE "^${name}:([0-9]+):.*" "\\1" number "${warning}")
  list(APPEND warned ${number})
endforeach()
list(REMOVE_DUPLICATES warned)

set(missing ${expected})
list(REMOVE_ITEM missing ${warned})
set(unexpected ${warned})
list(REMOVE_ITEM unexpected ${expected})
if(missing OR unexpected)
  message(FATAL_ERROR "no warning on the discarded results of lines ${missing}; "
                      "a warning on lines ${unexpected} (not marked)\n${diagnostics}")
endif()
list(LENGTH expected count)
message(STATUS "${count} discarded results warned of, and nothing else")
