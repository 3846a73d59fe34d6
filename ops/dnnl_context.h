// SPDX-License-Identifier: Apache-2.0
// What lives here: DnnlContext, the oneDNN engine, stream and primitive cache one tape (or several
// tapes on one thread) uses: matmul for gemm() (and GemmRunner, a product other threads may run), and the
// fused RNN primitives (lstm, lbr_gru, vanilla_rnn) behind ops/rnn_sequence.cpp. No globals: it is the
// tape's ExecutionContext (graph/tape.h), made on first float32 use (dnnl_context() in ops/gemm.h), or
// handed to the tape to share. Not thread-safe: give each thread its own (GemmRunners excepted).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "graph/tape.h"
#include "ops/reference_kernels.h"

namespace unroll {

enum class RnnKind : uint8_t;  // ops/ops.h

// One layer and one direction of a stock cell on oneDNN's fused RNN primitive, float32. Every buffer is
// in oneDNN's order and layout (ops/rnn_sequence.cpp converts from Note [Cell layout]): x [T, B, I],
// states [B, H], w_layer [G, H, I] and w_iter [G, H, H] (ldgoi, oneDNN's gate order), bias [Gb, H].
struct RnnShape {
  RnnKind kind;
  bool reverse = false;  // right to left: step T-1 first; outputs stay at their own time index
  int64_t T = 0, B = 0, I = 0, H = 0;
  bool inference = false;  // forward_inference: no workspace, no backward (nothing needs a gradient)
  friend bool operator==(const RnnShape&, const RnnShape&) = default;
};

struct RnnForwardArgs {
  const float *x, *h0, *c0;  // c0: LSTM only
  const float *w_layer, *w_iter, *bias;
  float* y;           // [T, B, H]: h at every time step
  float* c_last;      // [B, H]: the final cell state (LSTM only)
  void* workspace;    // rnn_workspace_bytes(): written here, read by rnn_backward (null for inference)
};

struct RnnBackwardArgs {
  const float *x, *h0, *c0, *w_layer, *w_iter, *bias, *y, *c_last;  // as given to / written by rnn_forward
  const void* workspace;  // from the matching rnn_forward
  const float* dy;        // [T, B, H]
  const float* dc_last;   // [B, H] (LSTM only)
};

// Gradients (overwritten, not accumulated), in the layouts above; they point into the context's
// scratch memory and stay valid until the next rnn_backward on the same shape.
struct RnnGrads {
  const float *dx, *dh0, *dc0, *dw_layer, *dw_iter, *dbias;
};

// The weights (B) of a GEMM that many calls share, copied into the layout oneDNN's matmul prefers for that
// shape (blocked; with plain weights a small-M product repacks them on every call). Made by
// DnnlContext::pack_weights; an independent copy, valid as long as this handle lives.
struct PackedWeights {
  GemmShape shape;
  std::shared_ptr<const void> memory;  // a dnnl::memory
};

// One thread's handle on a product with packed weights: its own oneDNN memory objects and stream, the
// primitive and the packed weights shared. Runners never touch the context that made them, so several
// can run at once, each on its own thread -- inside an OpenMP parallel region oneDNN runs each product
// single-threaded (Note [Batch split] in ops/rnn_step_loop.cpp). Made by DnnlContext::runner.
class GemmRunner {
 public:
  void operator()(const float* a, float* c, const float* bias = nullptr) const;
  struct State;  // defined in ops/dnnl_context.cpp

 private:
  friend class DnnlContext;
  std::shared_ptr<State> state_;
};

class DnnlContext final : public ExecutionContext {
 public:
  DnnlContext();
  ~DnnlContext() override;
  DnnlContext(const DnnlContext&) = delete;
  DnnlContext& operator=(const DnnlContext&) = delete;

  // float32 GEMM on a cached oneDNN matmul primitive (created once per GemmShape).
  void gemm(const GemmShape& shape, const float* a, const float* b, float* c, const float* bias);
  // The same with B packed once (unbatched): for one weight used by many products.
  PackedWeights pack_weights(const GemmShape& shape, const float* b);
  void gemm(const GemmShape& shape, const float* a, const PackedWeights& b, float* c, const float* bias);
  GemmRunner runner(const PackedWeights& b);

  // Fused RNN (see RnnShape): forward_training, then backward with the forward's workspace (or
  // forward_inference alone). Primitives, weight reorders and scratch are created once per RnnShape.
  size_t rnn_workspace_bytes(const RnnShape& shape);
  void rnn_forward(const RnnShape& shape, const RnnForwardArgs& args);
  RnnGrads rnn_backward(const RnnShape& shape, const RnnBackwardArgs& args);

  size_t cached_primitives() const;
  size_t packed_primitives() const;  // of those, matmuls that run on packed weights

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace unroll
