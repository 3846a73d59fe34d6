// SPDX-License-Identifier: Apache-2.0
// What lives here: Linear (see linear.h).
#include "models/linear.h"

#include <cmath>

#include "models/init.h"
#include "ops/ops.h"

namespace unroll {

Linear::Linear(int in_features, int out_features, Rng& rng, bool bias, DType dtype)
    : in_(in_features), out_(out_features) {
  UNROLL_CHECK(in_features > 0 && out_features > 0, UsageError,
               "Linear: sizes must be positive, got in_features {} and out_features {}", in_features, out_features);
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  Tensor w = Tensor::empty(Shape{out_features, in_features}, dtype);
  init::uniform(w, -bound, bound, rng);
  weight_ = &register_parameter("weight", w);
  if (bias) {
    Tensor b = Tensor::empty(Shape{out_features}, dtype);
    init::uniform(b, -bound, bound, rng);
    bias_ = &register_parameter("bias", b);
  }
}

Var Linear::forward(Var x) {
  UNROLL_CHECK(x.shape().rank() >= 1 && x.shape()[x.shape().rank() - 1] == in_, ShapeError,
               "Linear: input shape {} does not end in in_features {} (weight shape {}; hint: the last axis is the "
               "feature axis)",
               x.shape().str(), in_, weight_->value.shape().str());
  Tape& tape = x.tape();
  const Var w = tape.param(*weight_);
  return bias_ ? linear(x, w, tape.param(*bias_)) : linear(x, w);
}

}  // namespace unroll
