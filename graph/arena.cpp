// SPDX-License-Identifier: Apache-2.0
// What lives here: the Arena bump allocator, on chunks mapped with mmap (Note [Arena memory comes from
// mmap] in arena.h).
#include "graph/arena.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <new>

namespace unroll {

void Arena::Unmap::operator()(std::byte* p) const { ::munmap(p, size); }

void Arena::add_chunk(size_t at_least) {
  // Each new chunk is at least as large as all earlier ones together, so a pass needs O(log) chunks
  // (mappings); the part a pass does not reach is never touched, so it costs address space, not RAM.
  size_t size = std::max(min_chunk_, reserved_bytes());
  while (size < at_least) size *= 2;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  size = (size + page - 1) / page * page;  // page-aligned, hence kAlignment-aligned
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  chunks_.push_back(Chunk{std::unique_ptr<std::byte, Unmap>(static_cast<std::byte*>(p), Unmap{size}), size});
}

void* Arena::allocate(size_t bytes) {
  const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (chunks_.empty()) add_chunk(rounded);
  while (offset_ + rounded > chunks_[current_].size) {
    // The tail we skip is never touched, so never resident; it does not count as used, and one chunk
    // of used_ bytes holds the whole pass (no tails there).
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
    // Coalesce: one chunk large enough for everything the last pass used. The old chunks are unmapped
    // first, so the pass's memory is never held twice (Note [Arena memory comes from mmap]).
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
