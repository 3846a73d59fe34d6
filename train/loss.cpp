// SPDX-License-Identifier: Apache-2.0
// What lives here: the loss wrappers over ops/loss.cpp and the metric loops (the vector rmse/mae forward
// to train/metrics.h, their one implementation).
#include "train/loss.h"

#include <cmath>

#include "graph/check.h"
#include "train/metrics.h"
#include "ops/ops.h"

namespace unroll {

Var mse_loss(Var prediction, Var target) { return mse(prediction, target); }
Var cross_entropy_loss(Var logits, const std::vector<int64_t>& targets) { return cross_entropy(logits, targets); }

namespace metrics {

namespace {
void check_pair(const char* what, const Tensor& p, const Tensor& t) {
  UNROLL_CHECK(p.shape() == t.shape(), ShapeError,
               "{}: prediction shape {} does not match target shape {} (hint: reshape one)", what, p.shape().str(),
               t.shape().str());
  UNROLL_CHECK(p.numel() > 0, ShapeError, "{}: empty prediction of shape {}", what, p.shape().str());
}
}  // namespace

double rmse(const Tensor& p, const Tensor& t) {
  check_pair("rmse", p, t);
  return rmse(p.to_vector(), t.to_vector());
}
double mae(const Tensor& p, const Tensor& t) {
  check_pair("mae", p, t);
  return mae(p.to_vector(), t.to_vector());
}
// One implementation of the vector metrics: train/metrics.cpp (the baselines use them too).
double rmse(const std::vector<double>& p, const std::vector<double>& t) { return unroll::rmse(p, t); }
double mae(const std::vector<double>& p, const std::vector<double>& t) { return unroll::mae(p, t); }
double accuracy(const Tensor& logits, const std::vector<int64_t>& targets) {
  UNROLL_CHECK(logits.rank() == 2, ShapeError, "accuracy: logits must be [N, C], got shape {}", logits.shape().str());
  const int64_t rows = logits.shape()[0], classes = logits.shape()[1];
  UNROLL_CHECK(static_cast<int64_t>(targets.size()) == rows && rows > 0, ShapeError,
               "accuracy: logits have {} rows but there are {} targets", rows, targets.size());
  int64_t correct = 0;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t best = 0;
    for (int64_t k = 1; k < classes; ++k)
      if (logits.at(r * classes + k) > logits.at(r * classes + best)) best = k;
    correct += best == targets[static_cast<size_t>(r)];
  }
  return static_cast<double>(correct) / static_cast<double>(rows);
}

}  // namespace metrics
}  // namespace unroll
