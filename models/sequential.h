// SPDX-License-Identifier: Apache-2.0
// What lives here: Sequential, a chain of Layers named "0", "1", ... (so a parameter path reads
// "head/0/weight"), and Activation, a parameter-free layer (tanh, sigmoid, relu) for heads such as the
// Elman output y_t = sigmoid(W_yh h_t + b_y) = Sequential{Linear(H, O), Activation("sigmoid")}.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "graph/rng.h"
#include "models/layer.h"

namespace unroll {

class Activation : public Layer {
 public:
  explicit Activation(std::string kind);  // "tanh" | "sigmoid" | "relu" | "identity"
  Var forward(Var x) override;
  const std::string& kind() const { return kind_; }

 private:
  std::string kind_;
};

class Sequential : public Layer {
 public:
  Sequential() = default;

  template <class L>
  L& add(std::unique_ptr<L> layer) {
    L& ref = *layer;
    layers_.push_back(&ref);
    register_module(std::to_string(layers_.size() - 1), std::move(layer));
    return ref;
  }
  Var forward(Var x) override;
  size_t size() const { return layers_.size(); }
  Layer& operator[](size_t i) { return *layers_.at(i); }

 private:
  std::vector<Layer*> layers_;  // owned as children
};

// The seed lecture's Elman output y_t = sigmoid(W_yh h_t + b_y): Sequential{Linear(hidden, outputs),
// Activation("sigmoid")}, parameters "0/weight" [outputs, hidden] and "0/bias" [outputs].
std::unique_ptr<Sequential> elman_output_head(int hidden_size, int output_size, Rng& rng, DType dtype = DType::f32);

}  // namespace unroll
