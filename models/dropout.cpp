// SPDX-License-Identifier: Apache-2.0
// What lives here: Dropout (see dropout.h).
#include "models/dropout.h"

#include "ops/ops.h"

namespace unroll {

Dropout::Dropout(double p, Rng& rng) : p_(p), rng_(rng) {
  UNROLL_CHECK(p >= 0.0 && p < 1.0, UsageError, "Dropout: probability {} is outside [0, 1)", p);
}

Var Dropout::forward(Var x) { return dropout(x, p_, rng_, training()); }

}  // namespace unroll
