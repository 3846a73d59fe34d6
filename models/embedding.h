// SPDX-License-Identifier: Apache-2.0
// What lives here: Embedding, a lookup table "weight" [num_embeddings, dim] (N(0, 1) init, like PyTorch),
// rows gathered by integer ids; gradients scatter-add into the looked-up rows.
#pragma once
#include <vector>

#include "graph/rng.h"
#include "models/module.h"

namespace unroll {

class Embedding : public Module {
 public:
  Embedding(int num_embeddings, int dim, Rng& rng, DType dtype = DType::f32);

  // ids (any count N, each in [0, num_embeddings)) -> [N, dim]
  Var forward(Tape& tape, const std::vector<int64_t>& ids);

  int num_embeddings() const { return num_; }
  int dim() const { return dim_; }
  Parameter& weight() { return *weight_; }

 private:
  int num_, dim_;
  Parameter* weight_;
};

}  // namespace unroll
