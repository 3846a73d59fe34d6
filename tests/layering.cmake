# SPDX-License-Identifier: Apache-2.0
# What lives here: the layering check (tests/cmake/check_layering.cmake): no folder includes or
# forward-declares from a higher one.
add_test(NAME layering_holds
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -P ${CMAKE_CURRENT_SOURCE_DIR}/cmake/check_layering.cmake)
