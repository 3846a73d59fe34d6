// SPDX-License-Identifier: Apache-2.0
// What lives here: Layer, a Module with one input and one output (Linear, Dropout, Activation, Sequential),
// the interface a Sequential container chains.
#pragma once
#include "graph/tape.h"
#include "models/module.h"

namespace unroll {

class Layer : public Module {
 public:
  // Records the layer on x's tape; parameters join that tape via Tape::param.
  virtual Var forward(Var x) = 0;
};

}  // namespace unroll
