// SPDX-License-Identifier: Apache-2.0
// What lives here: the plain forecast metrics over vectors (RMSE, MAE) and the Score pair they make. One
// implementation: metrics::rmse / metrics::mae of train/loss.h and the baselines of train/baselines.h use it.
#pragma once
#include <vector>

namespace unroll {

// sqrt(mean((p - t)^2)) and mean(|p - t|); ShapeError when lengths differ, UsageError when empty.
double rmse(const std::vector<double>& prediction, const std::vector<double>& target);
double mae(const std::vector<double>& prediction, const std::vector<double>& target);

struct Score {
  double rmse = 0, mae = 0;
};

}  // namespace unroll
