// SPDX-License-Identifier: Apache-2.0
// What lives here: Linear, y = x W^T + b, with parameters "weight" [out, in] and "bias" [out] (PyTorch's
// layout and names), initialised like PyTorch's nn.Linear: U(-1/sqrt(in), 1/sqrt(in)).
#pragma once
#include "graph/rng.h"
#include "models/layer.h"

namespace unroll {

class Linear : public Layer {
 public:
  Linear(int in_features, int out_features, Rng& rng, bool bias = true, DType dtype = DType::f32);

  Var forward(Var x) override;  // x [..., in] -> [..., out]

  int in_features() const { return in_; }
  int out_features() const { return out_; }
  bool has_bias() const { return bias_ != nullptr; }
  Parameter& weight() { return *weight_; }
  Parameter* bias() { return bias_; }

 private:
  int in_, out_;
  Parameter* weight_;
  Parameter* bias_ = nullptr;
};

}  // namespace unroll
