// SPDX-License-Identifier: Apache-2.0
// What lives here: the Huber loss as a composite of recorded ops (relu, square, affine, mean), so it needs
// no op kind of its own and its gradient comes from theirs:
//   r = p - t,  a = |r| = relu(r) + relu(-r),  m = min(a, delta) = a - relu(a - delta)
//   L = mean(0.5 m^2 + delta (a - m))          (= 0.5 r^2 for |r| <= delta, delta (|r| - delta/2) beyond)
//   dL/dp = clamp(r, -delta, delta) / n        (dL/dt = -dL/dp)
// A robust training loss: a target far from the prediction (an isolated glitch) pulls with at most delta
// instead of its full residual. Evaluation and model selection stay RMSE/MSE (train/trainer.h).
#pragma once
#include "graph/tape.h"

namespace unroll {

// prediction and target of the same shape; delta > 0 (UsageError otherwise), in the targets' units.
Var huber_loss(Var prediction, Var target, double delta);

}  // namespace unroll
