// SPDX-License-Identifier: Apache-2.0
// What lives here: the vector metrics of train/metrics.h.
#include "train/metrics.h"

#include <cmath>

#include "graph/check.h"

namespace unroll {

namespace {
void check_pair(const std::vector<double>& p, const std::vector<double>& t, const char* name) {
  UNROLL_CHECK(p.size() == t.size(), ShapeError, "{}: {} predictions but {} targets (hint: one prediction per window)",
               name, p.size(), t.size());
  UNROLL_CHECK(!p.empty(), UsageError, "{}: no values (hint: the evaluated split has no window)", name);
}
}  // namespace

double rmse(const std::vector<double>& prediction, const std::vector<double>& target) {
  check_pair(prediction, target, "rmse");
  double sum = 0;
  for (size_t i = 0; i < prediction.size(); ++i) sum += (prediction[i] - target[i]) * (prediction[i] - target[i]);
  return std::sqrt(sum / static_cast<double>(prediction.size()));
}

double mae(const std::vector<double>& prediction, const std::vector<double>& target) {
  check_pair(prediction, target, "mae");
  double sum = 0;
  for (size_t i = 0; i < prediction.size(); ++i) sum += std::abs(prediction[i] - target[i]);
  return sum / static_cast<double>(prediction.size());
}

}  // namespace unroll
