// SPDX-License-Identifier: Apache-2.0
// What lives here: the public op API. Each function checks shapes/dtypes (throwing ShapeError/DTypeError
// that name the op and both shapes), computes the forward value, and records a tape node whose backward
// accumulates into the inputs' gradients. Implementations: one file per family in ops/.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "graph/rng.h"
#include "graph/tape.h"
#include "ops/cell_program.h"

namespace unroll {

class WeightPacks;  // ops/weight_packs.h

// ---- elementwise.cpp: NumPy-broadcasting binary ops and simple unary ops ----
Var add(Var a, Var b);
Var sub(Var a, Var b);
Var mul(Var a, Var b);
Var div(Var a, Var b);
Var affine(Var x, double scale, double shift);  ///< scale * x + shift
Var neg(Var x);
Var exp(Var x);
Var log(Var x);
Var square(Var x);
Var sqrt(Var x);

// ---- activations.cpp ----
Var tanh(Var x);
Var sigmoid(Var x);
Var relu(Var x);
Var softmax(Var x, int axis = -1);
Var log_softmax(Var x, int axis = -1);

// ---- matmul.cpp (float32 on oneDNN, float64 on reference kernels) ----
Var matmul(Var a, Var b);          ///< [M,K] x [K,N] -> [M,N]
Var batched_matmul(Var a, Var b);  ///< [B,M,K] x [B,K,N] -> [B,M,N]
Var linear(Var x, Var weight);     ///< x [..., I], weight [O, I] -> [..., O] = x W^T
Var linear(Var x, Var weight, Var bias);  ///< + bias [O]
/// linear() with float32 products on the packed copies in `packs` (null: plain), for a weight every step of
/// a sequence shares; the same values (Note [Packed weights] in ops/weight_packs.h).
Var linear_packed(Var x, WeightPacks* packs, Var weight);
Var linear_packed(Var x, WeightPacks* packs, Var weight, Var bias);

// ---- reduce.cpp ----
inline constexpr int kAllAxes = 1 << 30;  ///< internal marker: reduce over every element
Var sum(Var x);  ///< all elements -> scalar
Var sum(Var x, int axis, bool keepdim = false);
Var mean(Var x);
Var mean(Var x, int axis, bool keepdim = false);

// ---- shape_ops.cpp ----
Var reshape(Var x, const Shape& shape);  ///< same number of elements; a view, no copy
Var transpose(Var x);                    ///< 2-D
Var concat(const std::vector<Var>& xs, int axis);
Var slice(Var x, int axis, int64_t start, int64_t length);
Var select(Var x, int64_t index);  ///< x[index] along axis 0, that axis dropped: [N, ...] -> [...] (rank >= 2)
std::vector<Var> split(Var x, int axis, const std::vector<int64_t>& sizes);
std::vector<Var> chunk(Var x, int axis, int pieces);              ///< equal pieces
Var gather_rows(Var table, const std::vector<int64_t>& indices);  ///< table [V, D] -> [N, D]

// ---- loss.cpp: scalar losses, averaged over elements / rows ----
Var mse(Var prediction, Var target);
Var cross_entropy(Var logits, const std::vector<int64_t>& targets);  ///< logits [N, C], targets in [0, C)

// ---- dropout.cpp: inverted dropout; identity when !training or p == 0 ----
Var dropout(Var x, double p, Rng& rng, bool training);

// ---- recurrent_gates.cpp: gate ops, the pointwise gate math of the stock cells in one op each (the matmuls stay separate ops).
// gates [B, 4H] are pre-activations in PyTorch's order i, f, g, o; c_prev, c [B, H].
Var lstm_cell_state(Var gates, Var c_prev);  ///< c = sigmoid(f) * c_prev + sigmoid(i) * tanh(g)
Var lstm_hidden(Var gates, Var c);           ///< h = sigmoid(o) * tanh(c)
/// x_proj = W_ih x + b_ih, h_proj = W_hh h + b_hh, both [B, 3H] in order r, z, n; h_prev [B, H]:
/// r = s(x_r + h_r), z = s(x_z + h_z), n = tanh(x_n + r * h_n), h = (1 - z) * n + z * h_prev
Var gru_lbr_update(Var x_proj, Var h_proj, Var h_prev);

// ---- rnn_sequence.cpp: a whole stock-cell layer (one direction) as one op. float32 runs oneDNN's fused
// lstm / lbr_gru / vanilla_rnn primitive, float64 a reference loop of the same formulas (models/cells.h).
// x [T, B, I], h0 [B, H], c0 [B, H] (LSTM; pass Var() for the others), parameters as Note [Cell layout]
// (w_ih [G*H, I], w_hh [G*H, H], b_ih, b_hh [G*H], PyTorch's gate order). reverse: runs t = T-1 .. 0.
// Returns [T, B, H] (h at every t), and for LSTM [T+1, B, H] whose last row is the final c.
enum class RnnKind : uint8_t { lstm, gru_lbr, rnn_tanh, rnn_relu };
const char* rnn_kind_name(RnnKind kind);  ///< "lstm", "gru_lbr", "rnn_tanh", "rnn_relu"
int rnn_gate_count(RnnKind kind);          ///< G: lstm 4 (i f g o), gru_lbr 3 (r z n), rnn 1
/// engine (float32 only; float64 always runs the step loop): the step loop of Note [Step loop] on oneDNN
/// GEMMs (it saves a quarter of what the primitive saves per step), or oneDNN's fused primitive.
enum class RnnEngine : uint8_t { primitive, step_loop };
/// lengths: empty (every sequence has length T) or B values in [1, T]. Row b's state is then held past
/// t = lengths[b]-1 (reverse: it stays h0, c0 until then), so the output rows there are the held state,
/// not zeros, and the final states are each sequence's own (Note [Masked step loop] in
/// ops/rnn_step_loop.cpp). A masked batch always runs the step loop: oneDNN's primitive cannot mask.
Var rnn_sequence(RnnKind kind, Var x, Var h0, Var c0, Var w_ih, Var w_hh, Var b_ih, Var b_hh, bool reverse,
                 RnnEngine engine = RnnEngine::step_loop, std::span<const int64_t> lengths = {});

// ---- cell_program_sequence.cpp: a whole layer (one direction) of any cell program (Note [Cell program]
// in ops/cell_program.h) as one op, on the engine of Note [Program step loop]. x [T, B, I], states0: the
// program's S initial states [B, H] (h first), parameters as Note [Cell layout] for its G gate blocks,
// params: its vector parameters [H] in param_names order. `program` must outlive the tape's backward.
// Returns [T + S - 1, B, H]: h at every t, then the final states 1 .. S-1.
Var cell_program_sequence(const CellProgram& program, Var x, const std::vector<Var>& states0, Var w_ih, Var w_hh,
                          Var b_ih, Var b_hh, const std::vector<Var>& params, bool reverse);

// ---- detach: a leaf sharing x's value that no gradient flows through (truncated BPTT) ----
inline Var detach(Var x) { return x.tape().leaf(x.value(), false); }

// ---- operators ----
inline Var operator+(Var a, Var b) { return add(a, b); }
inline Var operator-(Var a, Var b) { return sub(a, b); }
inline Var operator*(Var a, Var b) { return mul(a, b); }
inline Var operator/(Var a, Var b) { return div(a, b); }
inline Var operator-(Var a) { return neg(a); }
inline Var operator+(Var a, double s) { return affine(a, 1.0, s); }
inline Var operator+(double s, Var a) { return affine(a, 1.0, s); }
inline Var operator-(Var a, double s) { return affine(a, 1.0, -s); }
inline Var operator-(double s, Var a) { return affine(a, -1.0, s); }
inline Var operator*(Var a, double s) { return affine(a, s, 0.0); }
inline Var operator*(double s, Var a) { return affine(a, s, 0.0); }
inline Var operator/(Var a, double s) { return affine(a, 1.0 / s, 0.0); }

}  // namespace unroll
