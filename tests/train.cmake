# SPDX-License-Identifier: Apache-2.0
# What lives here: CTest registrations of the training/CLI area beyond the doctest cases: the end-to-end
# scripts tests/e2e/*.sh, each run as `bash script.sh <unroll binary> <scratch folder> <source folder>`.
if(TARGET unroll_cmd)
  file(GLOB e2e_scripts CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/e2e/*.sh)
  foreach(script IN LISTS e2e_scripts)
    get_filename_component(name ${script} NAME_WE)
    if(name STREQUAL "lib")
      continue()
    endif()
    add_test(NAME e2e_${name}
      COMMAND bash ${script} $<TARGET_FILE:unroll_cmd> ${PROJECT_BINARY_DIR}/e2e/${name} ${PROJECT_SOURCE_DIR})
    set_tests_properties(e2e_${name} PROPERTIES LABELS e2e TIMEOUT 300)
    # A script skips what a sanitizer build cannot do (ASan reserves terabytes of address space: no ulimit -v).
    if(UNROLL_SANITIZE)
      set_property(TEST e2e_${name} APPEND PROPERTY ENVIRONMENT UNROLL_SANITIZED=1)
    endif()
  endforeach()
endif()

# The command line's config parsing as doctest cases (links apps/ through unroll_cli).
if(TARGET unroll_cli)
  add_executable(unroll_cli_tests ${CMAKE_CURRENT_SOURCE_DIR}/e2e/cli_parse_tests.cpp)
  target_link_libraries(unroll_cli_tests PRIVATE unroll_cli doctest::doctest)
  doctest_discover_tests(unroll_cli_tests)
endif()

# tools/unroll_to_torch.py on a trained forecaster, one test per cell kind (tests/torch_export/export.sh).
if(TARGET unroll_cmd)
  foreach(cell IN ITEMS rnn_tanh rnn_relu lstm gru gru_lbr)
    add_test(NAME torch_export_${cell}
      COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/torch_export/export.sh $<TARGET_FILE:unroll_cmd>
              ${PROJECT_BINARY_DIR}/torch_export/${cell} ${PROJECT_SOURCE_DIR} ${cell})
    set_tests_properties(torch_export_${cell} PROPERTIES LABELS e2e TIMEOUT 300)
  endforeach()
endif()
