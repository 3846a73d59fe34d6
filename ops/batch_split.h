// SPDX-License-Identifier: Apache-2.0
// What lives here: the row blocks and the threads of a batch split (Note [Batch split] in
// models/strategies/batch_split.cpp, Note [Graph batch split] in models/strategies/batch_split.cpp; the optimizer cuts its update's
// elements the same way): split_batch cuts B rows into one block per OpenMP thread, for_each_block runs
// block i on thread i and rethrows the first exception.
#pragma once
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <vector>

namespace unroll {

struct RowBlock {
  int64_t begin, rows;
};

// omp_get_max_threads() blocks of B/n rows (the first B % n one row more), at most B; one block inside a
// caller's parallel region.
inline std::vector<RowBlock> split_batch(int64_t batch) {
  const int64_t parts = omp_in_parallel() ? 1 : std::clamp<int64_t>(omp_get_max_threads(), 1, batch);
  std::vector<RowBlock> blocks;
  for (int64_t p = 0, begin = 0; p < parts; ++p) {
    const int64_t rows = batch / parts + (p < batch % parts ? 1 : 0);
    blocks.push_back({begin, rows});
    begin += rows;
  }
  return blocks;
}

// body(i) for every block i, block i on thread i; the first exception any block throws is rethrown here.
template <class Body>
void for_each_block(size_t count, const Body& body) {
  std::vector<std::exception_ptr> errors(count);
#pragma omp parallel for num_threads(static_cast<int>(count)) schedule(static, 1)
  for (size_t i = 0; i < count; ++i) {
    try {
      body(i);
    } catch (...) {
      errors[i] = std::current_exception();
    }
  }
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace unroll
