# SPDX-License-Identifier: Apache-2.0
# Fails naming every project source file without an SPDX license line (SPDX-License-Identifier:
# Apache-2.0) in its first lines. Project sources: *.cpp *.h *.py *.sh *.cmake *.in CMakeLists.txt and
# .ci/run, outside data/ (own notices), tests/fixtures/ and tests/fuzz/seeds/ (data), build trees and
# .git. With -DLIST_MISSING=ON it prints those files on stdout instead (scripts/spdx_headers.sh adds the
# line to them), so the script and this check select the same files.
# Usage: cmake -DSOURCE_DIR=... [-DBINARY_DIR=...] [-DLIST_MISSING=ON] -P check_spdx_headers.cmake
set(patterns *.cpp *.h *.py *.sh *.cmake *.in CMakeLists.txt)
list(TRANSFORM patterns PREPEND ${SOURCE_DIR}/)
file(GLOB_RECURSE candidates ${patterns})
list(APPEND candidates ${SOURCE_DIR}/.ci/run)
set(missing "")
foreach(file IN LISTS candidates)
  file(RELATIVE_PATH name ${SOURCE_DIR} ${file})
  if(name MATCHES "^(\\.git|data|tests/fixtures|tests/fuzz/seeds|build[^/]*|out|runs)/" OR name MATCHES "__pycache__/")
    continue()
  endif()
  if(BINARY_DIR)
    cmake_path(IS_PREFIX BINARY_DIR ${file} in_build_tree)
    if(in_build_tree)
      continue()
    endif()
  endif()
  file(STRINGS ${file} head LIMIT_COUNT 3)
  if(NOT head MATCHES "SPDX-License-Identifier: Apache-2\\.0")
    list(APPEND missing ${name})
  endif()
endforeach()
list(SORT missing)
if(LIST_MISSING)
  foreach(name IN LISTS missing)
    execute_process(COMMAND ${CMAKE_COMMAND} -E echo ${name})
  endforeach()
elseif(missing)
  list(LENGTH missing count)
  list(JOIN missing "\n  " names)
  message(FATAL_ERROR "${count} source files lack the line 'SPDX-License-Identifier: Apache-2.0' "
                      "(add it with scripts/spdx_headers.sh):\n  ${names}")
else()
  message(STATUS "every source file has its SPDX license line")
endif()
