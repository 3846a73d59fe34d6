// SPDX-License-Identifier: Apache-2.0
// What lives here: the replaced allocation functions behind alloc_counter.h. Each forwards to glibc's
// own entry points (__libc_malloc, __libc_memalign, ...), so nothing but the counting changes.
#include "alloc_counter.h"

#include <execinfo.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <new>

extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t count, size_t size);
void* __libc_realloc(void* p, size_t size);
void __libc_free(void* p);
void* __libc_memalign(size_t alignment, size_t size);
void* __libc_valloc(size_t size);
void* __libc_pvalloc(size_t size);
}

namespace unroll::alloc_count {

Counter& counter() {
  static Counter c;
  return c;
}

namespace {
thread_local bool in_trace = false;  // backtrace() may allocate itself

void count() {
  Counter& c = counter();
  if (!c.armed.load(std::memory_order_relaxed) || in_trace) return;
  c.allocations.fetch_add(1, std::memory_order_relaxed);
  if (!c.trace) return;
  in_trace = true;
  static std::atomic_flag writing = ATOMIC_FLAG_INIT;  // one stack at a time on stderr
  while (writing.test_and_set(std::memory_order_acquire)) {
  }
  void* frames[40];
  const int n = backtrace(frames, 40);
  static const char kSeparator[] = "---- allocation\n";
  (void)!write(2, kSeparator, sizeof kSeparator - 1);
  backtrace_symbols_fd(frames, n, 2);
  writing.clear(std::memory_order_release);
  in_trace = false;
}
}  // namespace

}  // namespace unroll::alloc_count

using unroll::alloc_count::count;

extern "C" {
void* malloc(size_t size) noexcept {
  count();
  return __libc_malloc(size);
}
void* calloc(size_t n, size_t size) noexcept {
  count();
  return __libc_calloc(n, size);
}
void* realloc(void* p, size_t size) noexcept {
  count();
  return __libc_realloc(p, size);
}
void free(void* p) noexcept { __libc_free(p); }
void* memalign(size_t alignment, size_t size) noexcept {
  count();
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(size_t alignment, size_t size) noexcept {
  count();
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, size_t alignment, size_t size) noexcept {
  count();
  if (alignment % sizeof(void*) != 0 || (alignment & (alignment - 1)) != 0) return 22;  // EINVAL
  void* p = __libc_memalign(alignment, size);
  if (!p) return 12;  // ENOMEM
  *out = p;
  return 0;
}
void* valloc(size_t size) noexcept {
  count();
  return __libc_valloc(size);
}
void* pvalloc(size_t size) noexcept {
  count();
  return __libc_pvalloc(size);
}
}

// operator new/delete: through the malloc above (counted there, once).
namespace {
void* checked_malloc(size_t size) {
  if (void* p = malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void* checked_aligned(size_t size, std::align_val_t align) {
  void* p = nullptr;
  const size_t a = std::max(static_cast<size_t>(align), sizeof(void*));
  if (posix_memalign(&p, a, size ? size : 1) != 0) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(size_t size) { return checked_malloc(size); }
void* operator new[](size_t size) { return checked_malloc(size); }
void* operator new(size_t size, const std::nothrow_t&) noexcept { return malloc(size ? size : 1); }
void* operator new[](size_t size, const std::nothrow_t&) noexcept { return malloc(size ? size : 1); }
void* operator new(size_t size, std::align_val_t align) { return checked_aligned(size, align); }
void* operator new[](size_t size, std::align_val_t align) { return checked_aligned(size, align); }
void operator delete(void* p) noexcept { free(p); }
void operator delete[](void* p) noexcept { free(p); }
void operator delete(void* p, size_t) noexcept { free(p); }
void operator delete[](void* p, size_t) noexcept { free(p); }
void operator delete(void* p, std::align_val_t) noexcept { free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { free(p); }
