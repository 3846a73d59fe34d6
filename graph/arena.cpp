// What lives here: the Arena bump allocator.
#include "graph/arena.h"

#include <algorithm>
#include <cstdlib>
#include <new>

namespace unroll {

void Arena::add_chunk(size_t at_least) {
  size_t size = min_chunk_;
  while (size < at_least) size *= 2;
  void* p = std::aligned_alloc(kAlignment, size);
  if (p == nullptr) throw std::bad_alloc();
  Chunk c;
  c.memory = std::unique_ptr<std::byte[], void (*)(void*)>(static_cast<std::byte*>(p), [](void* q) { std::free(q); });
  c.size = size;
  chunks_.push_back(std::move(c));
}

void* Arena::allocate(size_t bytes) {
  const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (chunks_.empty()) add_chunk(rounded);
  while (offset_ + rounded > chunks_[current_].size) {
    used_ += chunks_[current_].size - offset_;  // the tail we skip counts as used
    ++current_;
    offset_ = 0;
    if (current_ == chunks_.size()) add_chunk(rounded);
  }
  void* p = chunks_[current_].memory.get() + offset_;
  offset_ += rounded;
  used_ += rounded;
  return p;
}

void Arena::reset() {
  if (chunks_.size() > 1 && current_ > 0) {
    // Coalesce: one chunk large enough for everything the last pass used.
    const size_t high_water = used_;
    chunks_.clear();
    min_chunk_ = std::max(min_chunk_, high_water);
    add_chunk(high_water);
  }
  current_ = 0;
  offset_ = 0;
  used_ = 0;
}

size_t Arena::reserved_bytes() const {
  size_t total = 0;
  for (const auto& c : chunks_) total += c.size;
  return total;
}

}  // namespace unroll
