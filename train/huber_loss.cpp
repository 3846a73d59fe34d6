// SPDX-License-Identifier: Apache-2.0
// What lives here: huber_loss (see huber_loss.h), composed from relu, square, affine and mean.
#include "train/huber_loss.h"

#include <cmath>

#include "graph/check.h"
#include "ops/ops.h"

namespace unroll {

Var huber_loss(Var prediction, Var target, double delta) {
  UNROLL_CHECK(std::isfinite(delta) && delta > 0, UsageError,
               "huber_loss: delta must be a positive finite number, got {} (hint: delta is in the targets' units, "
               "e.g. 0.02 on a min-max scaled series)",
               delta);
  UNROLL_CHECK(prediction.shape() == target.shape(), ShapeError,
               "huber_loss: prediction shape {} does not match target shape {} (hint: reshape one; the loss does not "
               "broadcast)",
               prediction.shape().str(), target.shape().str());
  const Var r = prediction - target;
  const Var a = relu(r) + relu(-r);   // |r|
  const Var m = a - relu(a - delta);  // min(|r|, delta)
  return mean(0.5 * square(m) + delta * (a - m));
}

}  // namespace unroll
