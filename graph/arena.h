// What lives here: Arena, the bump allocator behind every value and gradient the tape records.
// reset() rewinds it; after a reset that needed several chunks it coalesces them into one chunk of the
// high-water size, so a training loop reaches a steady state with no allocation at all.
#pragma once
#include <cstddef>
#include <memory>
#include <vector>

namespace unroll {

class Arena {
 public:
  static constexpr size_t kAlignment = 64;
  explicit Arena(size_t initial_chunk_bytes = 1 << 20) : min_chunk_(initial_chunk_bytes) {}

  void* allocate(size_t bytes);  // 64-byte aligned; never returns nullptr
  void reset();

  size_t reserved_bytes() const;  // total bytes held in chunks
  size_t used_bytes() const { return used_; }
  size_t chunk_count() const { return chunks_.size(); }

 private:
  struct Chunk {
    std::unique_ptr<std::byte[], void (*)(void*)> memory{nullptr, nullptr};
    size_t size = 0;
  };
  void add_chunk(size_t at_least);

  std::vector<Chunk> chunks_;
  size_t current_ = 0;  // index of the chunk being filled
  size_t offset_ = 0;   // bytes used in chunks_[current_]
  size_t used_ = 0;     // bytes handed out since reset (including alignment padding)
  size_t min_chunk_;
};

}  // namespace unroll
