// SPDX-License-Identifier: Apache-2.0
// What lives here: the gate math of one hidden unit of the GRU in its linear-before-reset form (PyTorch's
// and oneDNN's lbr_gru, gate order r z n), written once and called by both kernels that run it: the
// op gru_lbr_update (ops/recurrent_gates.cpp, the graph path of the stock cell) and the step loop of
// rnn_sequence (ops/rnn_step_loop.cpp). As in ops/cell_math/lstm.h: pure, always inlined into each
// kernel's loop over a block of rows, so every SIMD clone vectorises it (Note [Same bits on every clone]
// in ops/simd.h). The Cho form (models/cells.cpp) is composed of ordinary ops and has no kernel here.
#pragma once
#include "ops/fast_math.h"

namespace unroll::cell_math::gru_lbr {

template <class T>
struct Update {
  T r, z, n;  // the activated reset, update and candidate gates
  T h;        // the new hidden state
};
template <class T>
struct UpdateGrad {
  T da_r, da_z, da_n;  // the gate pre-activation gradients: the x projection's, and the h projection's r, z
  T dh_n;              // the h projection's n block: da_n r
  T dh_prev;           // the direct path through z: dh z
};

// h = (1-z) n + z h_prev,  n = tanh(x_n + r h_n),  r = s(x_r + h_r),  z = s(x_z + h_z)
// (x_*: the input projection W_i* x + b_i*, h_*: the hidden projection W_h* h_prev + b_h*)
template <class T>
[[gnu::always_inline]] inline Update<T> update(T x_r, T x_z, T x_n, T h_r, T h_z, T h_n, T h_prev) {
  const T r = act::sigmoid(x_r + h_r);
  const T z = act::sigmoid(x_z + h_z);
  const T n = act::tanh(x_n + r * h_n);
  return {r, z, n, (1 - z) * n + z * h_prev};
}
// da_n = dh (1-z)(1-n^2);  da_r = da_n h_n r(1-r);  da_z = dh (h_prev - n) z(1-z);  dh_n = da_n r;
// dh_prev = dh z
template <class T>
[[gnu::always_inline]] inline UpdateGrad<T> update_grad(T dh, T r, T z, T n, T h_n, T h_prev) {
  const T da_n = dh * (1 - z) * (1 - n * n);
  const T da_r = da_n * h_n * r * (1 - r);
  const T da_z = dh * (h_prev - n) * z * (1 - z);
  return {da_r, da_z, da_n, da_n * r, dh * z};
}

}  // namespace unroll::cell_math::gru_lbr
