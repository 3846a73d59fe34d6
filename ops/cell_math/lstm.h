// SPDX-License-Identifier: Apache-2.0
// What lives here: the LSTM gate math of one hidden unit (PyTorch gate order i f g o), written once and
// called by both kernels that run it: the gate ops lstm_cell_state / lstm_hidden
// (ops/recurrent_gates.cpp, the graph path of the stock cell) and the step loop of rnn_sequence
// (ops/rnn_step_loop.cpp). Each kernel is a loop over a block of rows that loads a unit's values, calls
// these, and stores what it keeps; the loops differ only in memory layout (the step loop works in place on
// its saved gates, the ops read their inputs and write separate buffers). The functions are pure and
// always inlined into those loops, so each SIMD clone vectorises them (Note [Same bits on every clone] in
// ops/simd.h) and the unused results of a call are dropped by the compiler.
#pragma once
#include "ops/fast_math.h"

namespace unroll::cell_math::lstm {

template <class T>
struct CellState {
  T i, f, g;  // the activated input, forget and candidate gates
  T c;        // the new cell state
};
template <class T>
struct CellStateGrad {
  T da_i, da_f, da_g, dc_prev;
};

// c = f c_prev + i g,  i = s(a_i), f = s(a_f), g = tanh(a_g)
template <class T>
[[gnu::always_inline]] inline CellState<T> cell_state(T a_i, T a_f, T a_g, T c_prev) {
  const T i = act::sigmoid(a_i), f = act::sigmoid(a_f), g = act::tanh(a_g);
  return {i, f, g, f * c_prev + i * g};
}
// da_i = dc g i(1-i);  da_f = dc c_prev f(1-f);  da_g = dc i (1-g^2);  dc_prev = dc f
template <class T>
[[gnu::always_inline]] inline CellStateGrad<T> cell_state_grad(T dc, T i, T f, T g, T c_prev) {
  return {dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g), dc * f};
}

template <class T>
struct Hidden {
  T o, tanh_c, h;
};
template <class T>
struct HiddenGrad {
  T da_o, dc;
};

// h = o tanh(c),  o = s(a_o)
template <class T>
[[gnu::always_inline]] inline Hidden<T> hidden(T a_o, T c) {
  const T o = act::sigmoid(a_o), tanh_c = act::tanh(c);
  return {o, tanh_c, o * tanh_c};
}
// da_o = dh tanh(c) o(1-o);  dc = dh o (1 - tanh(c)^2)
template <class T>
[[gnu::always_inline]] inline HiddenGrad<T> hidden_grad(T dh, T o, T tanh_c) {
  return {dh * tanh_c * o * (1 - o), dh * o * (1 - tanh_c * tanh_c)};
}

}  // namespace unroll::cell_math::lstm
