// SPDX-License-Identifier: Apache-2.0
// What lives here: the gate math of one hidden unit of the Elman RNN cell (rnn_tanh, rnn_relu), called by
// the step loop of rnn_sequence (ops/rnn_step_loop.cpp), its only kernel: the graph path composes the
// cell from ordinary ops (linear, tanh/relu). Pure and always inlined into the loop, as in
// ops/cell_math/lstm.h.
#pragma once
#include "ops/fast_math.h"

namespace unroll::cell_math::elman {

// h = tanh(a) or max(a, 0),  a = gx + gh
template <bool kRelu, class T>
[[gnu::always_inline]] inline T hidden(T a) {
  return kRelu ? (a > 0 ? a : T(0)) : act::tanh(a);
}
// da = dh (1 - h^2), or dh [h > 0]
template <bool kRelu, class T>
[[gnu::always_inline]] inline T hidden_grad(T dh, T h) {
  return kRelu ? (h > 0 ? dh : T(0)) : dh * (1 - h * h);
}

}  // namespace unroll::cell_math::elman
