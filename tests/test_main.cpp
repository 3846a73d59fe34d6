// SPDX-License-Identifier: Apache-2.0
// What lives here: the doctest main for the unroll_tests executable.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
