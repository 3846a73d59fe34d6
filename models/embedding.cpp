// SPDX-License-Identifier: Apache-2.0
// What lives here: Embedding (see embedding.h).
#include "models/embedding.h"

#include "models/init.h"
#include "ops/ops.h"

namespace unroll {

Embedding::Embedding(int num_embeddings, int dim, Rng& rng, DType dtype) : num_(num_embeddings), dim_(dim) {
  UNROLL_CHECK(num_embeddings > 0 && dim > 0, UsageError,
               "Embedding: sizes must be positive, got num_embeddings {} and dim {}", num_embeddings, dim);
  Tensor w = Tensor::empty(Shape{num_embeddings, dim}, dtype);
  init::normal(w, 0.0, 1.0, rng);
  weight_ = &register_parameter("weight", w);
}

Var Embedding::forward(Tape& tape, const std::vector<int64_t>& ids) {
  return gather_rows(tape.param(*weight_), ids);  // gather_rows names any out-of-range id
}

}  // namespace unroll
