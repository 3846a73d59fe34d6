# SPDX-License-Identifier: Apache-2.0
# What lives here: the allocation-free check of a training step (tests/alloc_count). Its own executable:
# it replaces malloc and operator new, which AddressSanitizer also replaces, so it is left out of
# sanitizer builds.
if(NOT UNROLL_SANITIZE)
  add_executable(test_alloc_free alloc_count/test_alloc_free.cpp alloc_count/alloc_counter.cpp)
  target_link_libraries(test_alloc_free PRIVATE unroll doctest::doctest OpenMP::OpenMP_CXX)
  target_compile_options(test_alloc_free PRIVATE -fno-builtin-malloc -fno-builtin-free)
  doctest_discover_tests(test_alloc_free PROPERTIES ENVIRONMENT OMP_WAIT_POLICY=PASSIVE)
endif()
