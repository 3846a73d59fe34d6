// SPDX-License-Identifier: Apache-2.0
// What lives here: rank shares, batch slices and the exact gather of train/data_parallel.h.
#include "train/data_parallel.h"

#include <algorithm>

#include "graph/check.h"

namespace unroll {

Share rank_share(int64_t rows, int rank, int size) {
  UNROLL_CHECK(size > 0 && rank >= 0 && rank < size, UsageError, "rank_share: rank {} of {}", rank, size);
  return {rows * rank / size, rows * (rank + 1) / size};
}

Batch batch_rows(const Batch& batch, Share share) {
  const int64_t rows = batch.size(), t_steps = batch.x.shape()[0], n = share.size();
  UNROLL_CHECK(share.begin >= 0 && share.end <= rows && n >= 0, UsageError, "batch_rows: rows [{}, {}) of a batch of {}",
               share.begin, share.end, rows);
  Batch out;
  out.x = Tensor::empty({t_steps, n, 1}, batch.x.dtype());
  out.y = Tensor::empty({n, 1}, batch.y.dtype());
  out.targets.assign(batch.targets.begin() + share.begin, batch.targets.begin() + share.end);
  dispatch_dtype(batch.x.dtype(), [&]<class T>() {
    const T* x = batch.x.data<T>();
    const T* y = batch.y.data<T>();
    T* ox = out.x.data<T>();
    T* oy = out.y.data<T>();
    for (int64_t t = 0; t < t_steps; ++t)
      std::copy(x + t * rows + share.begin, x + t * rows + share.end, ox + t * n);  // x [T, B, 1]
    std::copy(y + share.begin, y + share.end, oy);
    return 0;
  });
  return out;
}

std::vector<double> gather_rows(Communicator& comm, const std::vector<double>& mine, int64_t rows, int64_t width) {
  const Share share = rank_share(rows, comm.rank(), comm.size());
  UNROLL_CHECK(static_cast<int64_t>(mine.size()) == share.size() * width, UsageError,
               "gather_rows: rank {} has {} values for {} rows of width {}", comm.rank(), mine.size(), share.size(),
               width);
  std::vector<double> all(static_cast<size_t>(rows * width), 0.0);
  std::copy(mine.begin(), mine.end(), all.begin() + share.begin * width);
  comm.allreduce_sum(std::span<double>(all));
  return all;
}

}  // namespace unroll
