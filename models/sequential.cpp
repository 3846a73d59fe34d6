// SPDX-License-Identifier: Apache-2.0
// What lives here: Activation and Sequential (see sequential.h).
#include "models/sequential.h"

#include "models/linear.h"
#include "ops/ops.h"

namespace unroll {

Activation::Activation(std::string kind) : kind_(std::move(kind)) {
  UNROLL_CHECK(kind_ == "tanh" || kind_ == "sigmoid" || kind_ == "relu" || kind_ == "identity", UsageError,
               "Activation: unknown kind '{}' (hint: tanh, sigmoid, relu or identity)", kind_);
}

Var Activation::forward(Var x) {
  if (kind_ == "tanh") return tanh(x);
  if (kind_ == "sigmoid") return sigmoid(x);
  if (kind_ == "relu") return relu(x);
  return x;
}

Var Sequential::forward(Var x) {
  for (Layer* layer : layers_) x = layer->forward(x);
  return x;
}

std::unique_ptr<Sequential> elman_output_head(int hidden_size, int output_size, Rng& rng, DType dtype) {
  auto head = std::make_unique<Sequential>();
  head->add(std::make_unique<Linear>(hidden_size, output_size, rng, true, dtype));
  head->add(std::make_unique<Activation>("sigmoid"));
  return head;
}

}  // namespace unroll
