# SPDX-License-Identifier: Apache-2.0
# Fails when a doctest case name cannot be run by name from CTest: doctest_discover_tests splits names at
# ';', so such a case would be registered under a truncated filter that matches nothing and "passes".
# Usage: cmake -DTEST_BINARY=... -P check_test_names.cmake
execute_process(COMMAND ${TEST_BINARY} --list-test-cases --no-version=true OUTPUT_VARIABLE listing RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "could not list test cases of ${TEST_BINARY}")
endif()
string(FIND "${listing}" ";" semicolon)
if(NOT semicolon EQUAL -1)
  string(REPLACE ";" "<SEMICOLON>" shown "${listing}")
  message(FATAL_ERROR "a test case name contains ';', which CTest cannot select (rename it):\n${shown}")
endif()
message(STATUS "all test case names are selectable")
