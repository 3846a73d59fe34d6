# SPDX-License-Identifier: Apache-2.0
# What lives here: the `unroll` command's man page and bash completion, both generated from the built
# command so they cannot drift from it: help2man over `unroll --help-all` (every subcommand's help on one
# page, plus cmake/unroll.h2m) and `unroll --bash-completion` (apps/cli_docs.h). Installed to
# share/man/man1/unroll.1.gz and share/bash-completion/completions/unroll.
# Installed elsewhere than a system prefix the command finds libunroll.so beside it (../lib...).
if(BUILD_SHARED_LIBS)
  set_target_properties(unroll_cmd PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
endif()

set(UNROLL_MAN_PAGE ${PROJECT_BINARY_DIR}/man/unroll.1)
set(UNROLL_COMPLETION ${PROJECT_BINARY_DIR}/completion/unroll)
find_program(UNROLL_HELP2MAN help2man)
if(NOT UNROLL_HELP2MAN)
  message(WARNING "help2man not found (Debian package help2man, scripts/setup.sh): no man page")
else()
  add_custom_command(OUTPUT ${UNROLL_MAN_PAGE} ${UNROLL_MAN_PAGE}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
    COMMAND ${UNROLL_HELP2MAN} --no-info --section=1 --help-option=--help-all --version-option=--version
            "--name=recurrent neural networks on a tape-based autodiff engine"
            --include=${PROJECT_SOURCE_DIR}/cmake/unroll.h2m --output=${UNROLL_MAN_PAGE} $<TARGET_FILE:unroll_cmd>
    COMMAND gzip -9nkf ${UNROLL_MAN_PAGE}
    DEPENDS unroll_cmd ${PROJECT_SOURCE_DIR}/cmake/unroll.h2m
    COMMENT "Generating the man page unroll.1 (help2man)" VERBATIM)
  install(FILES ${UNROLL_MAN_PAGE}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endif()
add_custom_command(OUTPUT ${UNROLL_COMPLETION}
  COMMAND ${CMAKE_COMMAND} -DCOMMAND=$<TARGET_FILE:unroll_cmd> -DOUTPUT=${UNROLL_COMPLETION}
          -P ${PROJECT_SOURCE_DIR}/cmake/write_completion.cmake
  DEPENDS unroll_cmd ${PROJECT_SOURCE_DIR}/cmake/write_completion.cmake
  COMMENT "Generating the bash completion of unroll" VERBATIM)
add_custom_target(unroll_cli_docs ALL DEPENDS ${UNROLL_COMPLETION} $<$<BOOL:${UNROLL_HELP2MAN}>:${UNROLL_MAN_PAGE}.gz>)
install(FILES ${UNROLL_COMPLETION} DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
