// SPDX-License-Identifier: Apache-2.0
// What lives here: the Arena bump allocator on its own (alignment, overflow into new chunks, coalescing
// on reset) and its promise about memory: a coalescing reset gives the old chunks' pages back to the
// operating system before the next pass fills the new chunk (Note [Arena memory comes from mmap]).
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "test_helpers.h"
#include "unroll.h"

using namespace unroll;

TEST_CASE("arena: aligned allocations, overflow into new chunks, one coalesced chunk after reset") {
  Arena arena(4096);
  std::vector<std::byte*> blocks;
  for (size_t bytes : {1, 63, 64, 65, 4000, 5000, 100, 20000, 7}) {
    auto* p = static_cast<std::byte*>(arena.allocate(bytes));
    CHECK(reinterpret_cast<uintptr_t>(p) % Arena::kAlignment == 0);
    std::memset(p, 0xab, bytes);  // writable over its whole length (ASan/valgrind would object otherwise)
    blocks.push_back(p);
  }
  CHECK(arena.chunk_count() > 1);  // 5000 and 20000 bytes did not fit a 4 KiB chunk
  const size_t high_water = arena.used_bytes();
  CHECK(high_water >= 1 + 63 + 64 + 65 + 4000 + 5000 + 100 + 20000 + 7);

  arena.reset();
  CHECK(arena.chunk_count() == 1);
  CHECK(arena.used_bytes() == 0);
  CHECK(arena.reserved_bytes() >= high_water);
  const size_t reserved = arena.reserved_bytes();
  // The same pass again fits the coalesced chunk: no growth, one chunk.
  for (size_t bytes : {1, 63, 64, 65, 4000, 5000, 100, 20000, 7}) std::memset(arena.allocate(bytes), 0xcd, bytes);
  arena.reset();
  CHECK(arena.chunk_count() == 1);
  CHECK(arena.reserved_bytes() == reserved);
}

namespace {
// Pages of [p, p + bytes) that are mapped AND resident in RAM (mincore); unmapped pages count as 0.
size_t resident_pages(const void* p, size_t bytes) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = reinterpret_cast<uintptr_t>(p) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + bytes + page - 1) / page * page;
  size_t resident = 0;
  for (uintptr_t a = begin; a < end; a += page) {
    unsigned char in_core = 0;
    if (::mincore(reinterpret_cast<void*>(a), page, &in_core) == 0 && (in_core & 1)) ++resident;
  }
  return resident;
}
}  // namespace

TEST_CASE("arena: a coalescing reset returns the old chunks' pages, so peak memory is one tape, not two") {
  // Put the C allocator in the state a real program is in (unroll bench: large tensors allocated and
  // freed before training): glibc's dynamic mmap threshold has risen, so 1 MiB blocks come from its
  // heap, where a freed block stays resident. An arena on malloc'd chunks then held the last pass's
  // chunks (freed, still resident) while the next pass filled the coalesced chunk: twice the tape.
  { const Tensor large = Tensor::empty({int64_t{4} << 20}, DType::f32); }  // 16 MiB, allocated and freed

  Tape tape;
  const Tensor big = Tensor::zeros({1 << 18}, DType::f32);  // 1 MiB per recorded value
  std::vector<Tensor> kept;                                  // small long-lived tensors between the values
  std::vector<const void*> values;
  Var x = tape.leaf(big, true);
  for (int i = 0; i < 24; ++i) {
    x = affine(x, 1.0, 1.0);  // writes (so touches) every page of its 1 MiB value
    values.push_back(x.value().raw());
    kept.push_back(Tensor::zeros({1 << 12}, DType::f32));
  }
  CHECK(x.value().at(12345) == 24.0f);
  size_t resident_before = 0;
  for (const void* v : values) resident_before += resident_pages(v, big.nbytes());
  REQUIRE(resident_before > 0);  // the check below can see resident pages
  REQUIRE(tape.arena().chunk_count() > 1);

  tape.reset();  // coalesces 24+ chunks into one
  CHECK(tape.arena().chunk_count() == 1);
  size_t resident_after = 0;
  for (const void* v : values) resident_after += resident_pages(v, big.nbytes());
  INFO("pages of the last pass's values still resident after reset: ", resident_after, " of ", resident_before);
  CHECK(resident_after == 0);

  // The next pass runs in the new chunk and gives the same values.
  Var y = tape.leaf(big, true);
  for (int i = 0; i < 24; ++i) y = affine(y, 1.0, 1.0);
  CHECK(y.value().at(12345) == 24.0f);
  CHECK(tape.arena().chunk_count() == 1);
}
