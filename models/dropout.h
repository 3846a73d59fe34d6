// SPDX-License-Identifier: Apache-2.0
// What lives here: Dropout, the module form of ops' inverted dropout: active in training mode only. It
// draws its masks from an Rng the caller owns and passes in (explicit and seeded, never hidden).
#pragma once
#include "graph/rng.h"
#include "models/layer.h"

namespace unroll {

class Dropout : public Layer {
 public:
  Dropout(double p, Rng& rng);  // p in [0, 1); rng must outlive the module
  Var forward(Var x) override;  // identity in eval mode or when p == 0
  double p() const { return p_; }

 private:
  double p_;
  Rng& rng_;
};

}  // namespace unroll
