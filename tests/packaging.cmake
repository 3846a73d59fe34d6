# SPDX-License-Identifier: Apache-2.0
# What lives here: CTest registrations of the packaging (cmake/): every source file has its SPDX license
# line; `unroll --version` is the CMake project version; the man page and bash completion cover every
# subcommand and option; the .deb holds what it should and a consumer project and the examples build and
# run against the unpacked package alone (tests/install_consumer.sh --deb).
add_test(NAME spdx_headers_present
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -DBINARY_DIR=${PROJECT_BINARY_DIR}
          -P ${CMAKE_CURRENT_SOURCE_DIR}/cmake/check_spdx_headers.cmake)
if(TARGET unroll_cmd)
  string(REPLACE "." "\\." version_regex "${PROJECT_VERSION}")
  add_test(NAME cli_version_is_project_version COMMAND unroll_cmd --version)
  set_tests_properties(cli_version_is_project_version PROPERTIES PASS_REGULAR_EXPRESSION "^unroll ${version_regex}\n$")
  # What the command prints about itself that it cannot write (a full disk) is an error, not a silent exit 0.
  add_test(NAME cli_docs_output_write_error
    COMMAND bash -c "err=$('$<TARGET_FILE:unroll_cmd>' --bash-completion 2>&1 >/dev/full); rc=$?; echo \"$err\"; [ $rc -eq 2 ] && [ \"$err\" = 'unroll: cannot write to standard output' ]")
  add_test(NAME man_page_and_completion_cover_the_cli
    COMMAND ${CMAKE_COMMAND} -DCOMMAND=$<TARGET_FILE:unroll_cmd> -DMAN_PAGE=${UNROLL_MAN_PAGE}
            -DCOMPLETION=${UNROLL_COMPLETION} -P ${CMAKE_CURRENT_SOURCE_DIR}/cmake/check_cli_docs.cmake)
  if(BUILD_SHARED_LIBS)
    add_test(NAME deb_package_consumers
      COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/install_consumer.sh --deb ${PROJECT_VERSION} ${PROJECT_BINARY_DIR}
              ${PROJECT_SOURCE_DIR})
  endif()
endif()
