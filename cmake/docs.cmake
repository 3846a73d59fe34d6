# SPDX-License-Identifier: Apache-2.0
# What lives here: the API reference. `cmake --build build --target docs` runs Doxygen (Debian package
# doxygen) over the public headers, which are unroll.h and the headers it includes, and writes HTML to
# build/docs/html/index.html. Any Doxygen warning fails the target (.ci/run builds it).
find_package(Doxygen QUIET)
if(NOT DOXYGEN_FOUND)
  return()
endif()
file(STRINGS ${PROJECT_SOURCE_DIR}/unroll.h umbrella_includes REGEX "^#include \"")
set(UNROLL_DOC_INPUT "${PROJECT_SOURCE_DIR}/docs/api.md \\\n  ${PROJECT_SOURCE_DIR}/unroll.h")
foreach(line IN LISTS umbrella_includes)
  string(REGEX REPLACE "^#include \"([^\"]+)\".*" "\\1" header "${line}")
  if(EXISTS ${PROJECT_SOURCE_DIR}/${header})
    string(APPEND UNROLL_DOC_INPUT " \\\n  ${PROJECT_SOURCE_DIR}/${header}")
  else()  # generated (graph/version.h)
    string(APPEND UNROLL_DOC_INPUT " \\\n  ${UNROLL_GENERATED_DIR}/${header}")
  endif()
endforeach()
configure_file(${PROJECT_SOURCE_DIR}/cmake/Doxyfile.in ${PROJECT_BINARY_DIR}/Doxyfile @ONLY)
add_custom_target(docs COMMAND Doxygen::doxygen ${PROJECT_BINARY_DIR}/Doxyfile
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
  COMMENT "API reference: ${PROJECT_BINARY_DIR}/docs/html/index.html" VERBATIM)
