// SPDX-License-Identifier: Apache-2.0
// What lives here: weight initialisers. Each fills an existing tensor in place from an explicit, seeded Rng
// (never a hidden global), so the same seed gives the same weights on every platform.
//   uniform_recurrent: U(-1/sqrt(hidden), +1/sqrt(hidden)), PyTorch's default for RNN/LSTM/GRU layers
//   xavier_uniform:    U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)
//   orthogonal:        rows (or columns) orthonormal, by Gram-Schmidt on a Gaussian matrix (no LAPACK)
//   lstm_forget_bias:  sets the forget-gate block (rows [H, 2H) in PyTorch's i,f,g,o order) of a bias
#pragma once
#include <cstdint>

#include "graph/rng.h"
#include "graph/tensor.h"

namespace unroll::init {

void uniform(Tensor& t, double lo, double hi, Rng& rng);
void zeros(Tensor& t);
void normal(Tensor& t, double mean, double stddev, Rng& rng);
// U(-1/sqrt(hidden), 1/sqrt(hidden)).
void uniform_recurrent(Tensor& t, int64_t hidden, Rng& rng);
// t is [fan_out, fan_in] (a weight as Linear and the cells store it).
void xavier_uniform(Tensor& t, Rng& rng, double gain = 1.0);
// t is [rows, cols]; with blocks > 1 each of the `blocks` row blocks of rows/blocks rows (a gate's H x H
// recurrent matrix) is made orthogonal on its own, as is usual for w_hh.
void orthogonal(Tensor& t, Rng& rng, double gain = 1.0, int blocks = 1);
// bias is [4*hidden] in LSTM gate order i,f,g,o; its f block is set to value.
void lstm_forget_bias(Tensor& bias, int64_t hidden, double value);

}  // namespace unroll::init
