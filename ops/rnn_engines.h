// SPDX-License-Identifier: Apache-2.0
// What lives here: the two engines behind rnn_sequence (ops/rnn_sequence.cpp), internal to ops/: the step
// loop (ops/rnn_step_loop.cpp, Note [Step loop]; float64 always, float32 by default) and oneDNN's fused RNN
// primitive (ops/rnn_primitive.cpp, float32 only), with the sizes and input order they share.
#pragma once
#include <cstdint>

#include "graph/tape.h"
#include "ops/dnnl_context.h"
#include "ops/op.h"
#include "ops/ops.h"

namespace unroll::rnn {

// The op's input order (kC0: LSTM only); a masked op records its lengths last (lengths_input).
enum Input { kX = 0, kH0, kWih, kWhh, kBih, kBhh, kC0 };

struct Dims {
  RnnKind kind;
  bool reverse;
  int64_t T, B, I, H, G;
  const int64_t* lengths = nullptr;  // [B], Note [Masked step loop]; null: every row has length T
  bool lstm() const { return kind == RnnKind::lstm; }
  bool gru() const { return kind == RnnKind::gru_lbr; }
  int64_t time(int64_t k) const { return reverse ? T - 1 - k : k; }  // the k-th step processed
  RnnShape shape(bool inference = false) const { return RnnShape{kind, reverse, T, B, I, H, inference}; }
};

inline int lengths_input(RnnKind kind) { return kind == RnnKind::lstm ? kC0 + 1 : kC0; }

inline Dims dims_of(RnnKind kind, bool reverse, const Shape& x, const Shape& w_hh) {
  return Dims{kind, reverse, x[0], x[1], x[2], w_hh[1], rnn_gate_count(kind)};
}

// The op's inputs as arrays (c0: null unless LSTM).
template <class T>
struct Inputs {
  const T *x, *h0, *c0, *w_ih, *w_hh, *b_ih, *b_hh;
};

// ---- the step loop (ops/rnn_step_loop.cpp), T = float or double; the only engine that masks ----
int64_t step_loop_aux_elements(const Dims& d);  // the saved activations (Note [Step loop])

// out [T (+1 for LSTM's final c), B, H]; aux [step_loop_aux_elements(d)].
template <class T>
void step_loop_forward(Tape& tape, const Dims& d, const Inputs<T>& in, T* out, T* aux);

// Where step_loop_backward adds each input's gradient (null: not needed).
template <class T>
struct Grads {
  T *dx, *dh0, *dc0, *dw_ih, *dw_hh, *db_ih, *db_hh;
};

// BPTT over the saved activations, which it overwrites (the caller passes a copy when they must stay);
// the gradients are ADDED to g.
template <class T>
void step_loop_backward(Tape& tape, const Dims& d, const Inputs<T>& in, const T* out, T* aux, const T* dout,
                        const Grads<T>& g);

// ---- oneDNN's fused RNN primitive (ops/rnn_primitive.cpp), float32 ----
// Runs forward_training with its workspace in a tape allocation returned as aux, or forward_inference
// (no workspace, aux left empty) when `inference`.
Tensor primitive_forward(Tape& tape, const Dims& d, const Inputs<float>& in, bool inference, float* out);
// Adds the gradients of every input that needs one.
void primitive_backward(BackwardContext& c, const Dims& d);

}  // namespace unroll::rnn
