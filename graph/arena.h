// SPDX-License-Identifier: Apache-2.0
// What lives here: Arena, the bump allocator behind every value and gradient the tape records.
// reset() rewinds it; after a reset that needed several chunks it coalesces them into one chunk of the
// high-water size, so a training loop reaches a steady state with no allocation at all.
//
// Note [Arena memory comes from mmap]: chunks are mapped and unmapped with mmap/munmap directly, not
// taken from malloc. When reset() coalesces, it unmaps the old chunks BEFORE mapping the new one, so
// their pages go back to the operating system at once and the new chunk's pages become resident only
// as the next pass touches them: peak RSS is one tape's high water. (malloc may keep freed chunks in its
// heap, resident, while the new chunk fills, so peak RSS would count the tape twice.) tests/test_arena.cpp
// checks that the old chunks' pages are gone.
#pragma once
#include <cstddef>
#include <memory>
#include <vector>

namespace unroll {

class Arena {
 public:
  static constexpr size_t kAlignment = 64;
  explicit Arena(size_t initial_chunk_bytes = 1 << 20) : min_chunk_(initial_chunk_bytes) {}

  void* allocate(size_t bytes);  // 64-byte aligned; never returns nullptr (throws std::bad_alloc)
  void reset();

  size_t reserved_bytes() const;  // total bytes held in chunks (mapped; resident only once touched)
  size_t used_bytes() const { return used_; }  // handed out since reset (64-byte rounded sizes)
  size_t chunk_count() const { return chunks_.size(); }

 private:
  struct Unmap {
    size_t size;
    void operator()(std::byte* p) const;
  };
  struct Chunk {
    std::unique_ptr<std::byte, Unmap> memory;
    size_t size;
  };
  void add_chunk(size_t at_least);

  std::vector<Chunk> chunks_;
  size_t current_ = 0;  // index of the chunk being filled
  size_t offset_ = 0;   // bytes used in chunks_[current_]
  size_t used_ = 0;     // bytes handed out since reset, including alignment padding (not skipped chunk tails)
  size_t min_chunk_;
};

}  // namespace unroll
