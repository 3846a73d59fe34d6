// SPDX-License-Identifier: Apache-2.0
// What lives here: the pieces of data-parallel training that are not MPI: which rows of a global batch (or
// which windows of a split) a rank takes, the batch slice itself, and gathering every rank's rows back in
// order. Used by the Trainer when it has a Communicator of more than one rank (Note [Data parallel]).
//
// Note [Data parallel]: every rank holds the same parameters and draws the same global batch (the shuffle
// is a pure function of seed and epoch). Rank r of N takes rows [B r / N, B (r+1) / N) (shares differ by
// at most one row; a rank may get none when B < N). The loss is a mean over the batch, so rank r scales
// the gradient of its own mean loss by B_r / B and the fixed-order sum over ranks (Note [Fixed-order
// reduction]) is the gradient of the global mean: the same update as one process on the same global
// batch, up to the order of additions (float64: ~1e-15 relative per step). The batch loss is summed the
// same way, so the reported losses agree too. The sum happens after backward and before clipping and the
// optimizer step; every rank then takes the same step and the parameters stay identical without a
// broadcast. Evaluation splits the windows the same way and gathers the predictions exactly (a sum with
// zeros), so validation and test figures are computed from the same numbers on every rank.
#pragma once
#include <cstdint>
#include <vector>

#include "io/datasets.h"
#include "train/communicator.h"

namespace unroll {

struct Share {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};
/// Rank `rank` of `size`'s rows of `rows`: [rows rank / size, rows (rank + 1) / size).
Share rank_share(int64_t rows, int rank, int size);

/// Rows [share.begin, share.end) of a batch (x [T, B, 1] -> [T, share rows, 1], y and targets alike).
Batch batch_rows(const Batch& batch, Share share);

/// Every rank passes the values of its share of `rows` rows (`width` values per row, row-major); returns all
/// rows' values in order on every rank, exactly (each rank's values are added to zeros).
std::vector<double> gather_rows(Communicator& comm, const std::vector<double>& mine, int64_t rows, int64_t width);

}  // namespace unroll
