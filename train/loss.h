// SPDX-License-Identifier: Apache-2.0
// What lives here: training losses (recorded on the tape, differentiable) and evaluation metrics
// (plain numbers on tensors: RMSE, MAE, accuracy). Metrics are computed in double whatever the dtype.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "graph/tape.h"
#include "train/metrics.h"

namespace unroll {

// Mean squared error over all elements; prediction and target have the same shape.
Var mse_loss(Var prediction, Var target);
// Mean cross-entropy of logits [N, C] against class indices in [0, C).
Var cross_entropy_loss(Var logits, const std::vector<int64_t>& targets);

namespace metrics {
// sqrt(mean((p - t)^2)) and mean(|p - t|) over all elements (same shape, not empty; ShapeError otherwise).
double rmse(const Tensor& prediction, const Tensor& target);
double mae(const Tensor& prediction, const Tensor& target);
// The same over vectors: these forward to unroll::rmse / unroll::mae of train/metrics.h (ShapeError when
// the lengths differ, UsageError when empty).
double rmse(const std::vector<double>& prediction, const std::vector<double>& target);
double mae(const std::vector<double>& prediction, const std::vector<double>& target);
// Fraction of rows of logits [N, C] whose arg-max equals the target class.
double accuracy(const Tensor& logits, const std::vector<int64_t>& targets);
}  // namespace metrics

}  // namespace unroll
