// SPDX-License-Identifier: Apache-2.0
// What lives here: a heap allocation counter for tests/alloc_count/test_alloc_free.cpp. The executable
// replaces operator new/delete and glibc's malloc family (forwarding to __libc_malloc and friends), so
// every allocation of any thread, in our code, libstdc++, oneDNN or libgomp, passes through count().
// Only allocations while armed() count. With UNROLL_ALLOC_TRACE=1 in the environment each counted
// allocation also prints its call stack to stderr (resolve the +0x offsets with addr2line -f -C -e).
// Replacing malloc conflicts with AddressSanitizer: tests/alloc.cmake builds this only without it.
#pragma once
#include <atomic>
#include <cstdint>

namespace unroll::alloc_count {

struct Counter {
  std::atomic<int64_t> allocations{0};
  std::atomic<bool> armed{false};
  bool trace = false;  // read once before arming
};
Counter& counter();

// Counts the allocations made while `body` runs (on any thread).
template <class Body>
int64_t count_allocations(const Body& body) {
  Counter& c = counter();
  c.allocations = 0;
  c.armed = true;
  body();
  c.armed = false;
  return c.allocations.load();
}

}  // namespace unroll::alloc_count
