// SPDX-License-Identifier: Apache-2.0
// What lives here: scalar losses: mean squared error and cross-entropy with integer class targets
// (computed through a stable log-softmax; the softmax is kept for backward).
#include <algorithm>
#include <cmath>

#include "ops/fast_math.h"
#include "ops/op.h"
#include "ops/ops.h"
#include "ops/simd.h"

namespace unroll {

namespace {

// p[k] = exp(z[k] - max) for one row of logits: float32 on ops/fast_math.h's exp, which vectorises (the
// same bits on every clone, Note [Same bits on every clone]); float64 keeps libm, the reference.
UNROLL_SIMD_CLONES void exp_shifted(const float* __restrict z, float max, float* __restrict p, int64_t n) {
  for (int64_t k = 0; k < n; ++k) p[k] = fast::exp(z[k] - max);
}
void exp_shifted(const double* z, double max, double* p, int64_t n) {
  for (int64_t k = 0; k < n; ++k) p[k] = std::exp(z[k] - max);
}

// L = mean((p - t)^2);  dp += dL * 2 (p - t) / n,  dt -= dL * 2 (p - t) / n
void mse_backward(BackwardContext& c) {
  dispatch_dtype(c.out().dtype(), [&]<class T>() {
    const T* p = c.in(0).data<T>();
    const T* t = c.in(1).data<T>();
    const int64_t n = c.in(0).numel();
    const T scale = c.dout().data<T>()[0] * T(2) / static_cast<T>(n);
    if (c.needs(0)) {
      T* dp = c.din(0).data<T>();
      for (int64_t i = 0; i < n; ++i) dp[i] += scale * (p[i] - t[i]);
    }
    if (c.needs(1)) {
      T* dt = c.din(1).data<T>();
      for (int64_t i = 0; i < n; ++i) dt[i] -= scale * (p[i] - t[i]);
    }
  });
}

// L = -mean_r log_softmax(z_r)[t_r];  dz_r += dL * (softmax(z_r) - onehot(t_r)) / N
void cross_entropy_backward(BackwardContext& c) {
  const auto* targets = static_cast<const int64_t*>(c.attrs().ptr);
  const int64_t rows = c.in(0).shape()[0], classes = c.in(0).shape()[1];
  dispatch_dtype(c.out().dtype(), [&]<class T>() {
    const T* prob = c.aux().data<T>();
    const T scale = c.dout().data<T>()[0] / static_cast<T>(rows);
    T* dz = c.din(0).data<T>();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < classes; ++k)
        dz[r * classes + k] += scale * (prob[r * classes + k] - (k == targets[r] ? T(1) : T(0)));
  });
}

}  // namespace

Var mse(Var prediction, Var target) {
  check_same_tape("mse", prediction, target);
  check_same_dtype("mse", prediction, target);
  UNROLL_CHECK(prediction.shape() == target.shape(), ShapeError,
               "mse: prediction shape {} does not match target shape {} (hint: reshape one; mse does not broadcast)",
               prediction.shape().str(), target.shape().str());
  const int64_t n = prediction.value().numel();
  UNROLL_CHECK(n > 0, ShapeError, "mse: empty prediction of shape {}", prediction.shape().str());
  Tensor y = prediction.tape().alloc(Shape{}, prediction.dtype());
  dispatch_dtype(y.dtype(), [&]<class T>() {
    const T* p = prediction.value().data<T>();
    const T* t = target.value().data<T>();
    T total = 0;
    for (int64_t i = 0; i < n; ++i) total += (p[i] - t[i]) * (p[i] - t[i]);
    y.data<T>()[0] = total / static_cast<T>(n);
  });
  return record_op(OpKind::mse, {prediction, target}, y, &mse_backward);
}

Var cross_entropy(Var logits, const std::vector<int64_t>& targets) {
  check_rank("cross_entropy", logits, 2, "the logits");
  const int64_t rows = logits.shape()[0], classes = logits.shape()[1];
  UNROLL_CHECK(static_cast<int64_t>(targets.size()) == rows && rows > 0, ShapeError,
               "cross_entropy: {} targets for logits of shape {} (hint: one class index per row)", targets.size(),
               logits.shape().str());
  for (size_t r = 0; r < targets.size(); ++r)
    UNROLL_CHECK(targets[r] >= 0 && targets[r] < classes, ShapeError,
                 "cross_entropy: target {} at row {} is not a class index in [0, {})", targets[r], r, classes);
  Tape& tape = logits.tape();
  auto* stored = static_cast<int64_t*>(tape.alloc_bytes(targets.size() * sizeof(int64_t)));
  std::copy(targets.begin(), targets.end(), stored);
  Tensor prob = tape.alloc(logits.shape(), logits.dtype());
  Tensor y = tape.alloc(Shape{}, logits.dtype());
  dispatch_dtype(y.dtype(), [&]<class T>() {
    const T* z = logits.value().data<T>();
    T total_loss = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const T* row = z + r * classes;
      T* p = prob.data<T>() + r * classes;
      const T max = *std::max_element(row, row + classes);
      exp_shifted(row, max, p, classes);  // one exp per element, then p = e / sum(e)
      T total = 0;
      for (int64_t k = 0; k < classes; ++k) total += p[k];
      for (int64_t k = 0; k < classes; ++k) p[k] /= total;
      total_loss -= row[targets[r]] - max - std::log(total);
    }
    y.data<T>()[0] = total_loss / static_cast<T>(rows);
  });
  OpAttrs attrs;
  attrs.ptr = stored;
  return record_op(OpKind::cross_entropy, {logits}, y, &cross_entropy_backward, attrs, prob);
}

}  // namespace unroll
