// SPDX-License-Identifier: Apache-2.0
// What lives here: the primitive engine of rnn_sequence (ops/rnn_engines.h): oneDNN's fused RNN
// primitives through the tape's DnnlContext (lstm, lbr_gru, vanilla_rnn; float32 only). forward_training
// keeps a workspace in the tape's arena and backward reads it; forward_inference, without workspace, runs
// when nothing needs a gradient.
//
// oneDNN's layout (Note [Cell layout] in models/cell.h -> oneDNN): w_ih [G*H, I] row-major is oneDNN's
// ldgoi; LSTM (i f g o) and vanilla RNN need no permutation; oneDNN's GRU gates are (u r o) = our
// (z r n), so blocks 0 and 1 swap. Bias: LSTM/RNN b_ih + b_hh; lbr_gru has 4 blocks
// [b_z, b_r, b_in, b_hn] (sums for z and r; b_hn stays inside r * (W_hn h + b_hn)).
#include <algorithm>
#include <array>
#include <vector>

#include "ops/gemm.h"
#include "ops/pointwise.h"
#include "ops/rnn_engines.h"

namespace unroll::rnn {

namespace {

// oneDNN gate block j holds our block perm[j].
std::array<int64_t, 4> gate_perm(RnnKind kind) {
  return kind == RnnKind::gru_lbr ? std::array<int64_t, 4>{1, 0, 2, 3} : std::array<int64_t, 4>{0, 1, 2, 3};
}

// The weights and bias in oneDNN's order; `storage` keeps permuted copies when the order differs (GRU).
struct DnnlParams {
  std::vector<float> storage;
  const float *w_layer, *w_iter, *bias;
};

DnnlParams dnnl_params(const Dims& d, const float* w_ih, const float* w_hh, const float* b_ih, const float* b_hh) {
  const int64_t H = d.H, G = d.G, Gb = d.gru() ? 4 : G;
  const auto perm = gate_perm(d.kind);
  DnnlParams p;
  const size_t wl = d.gru() ? static_cast<size_t>(G * H * d.I) : 0, wi = d.gru() ? static_cast<size_t>(G * H * H) : 0;
  p.storage.resize(wl + wi + static_cast<size_t>(Gb * H));
  float* bias = p.storage.data() + wl + wi;
  for (int64_t j = 0; j < G; ++j)
    for (int64_t k = 0; k < H; ++k) bias[j * H + k] = b_ih[perm[j] * H + k] + b_hh[perm[j] * H + k];
  if (d.gru()) {  // [b_z, b_r, b_in, b_hn]
    for (int64_t k = 0; k < H; ++k) {
      bias[2 * H + k] = b_ih[2 * H + k];
      bias[3 * H + k] = b_hh[2 * H + k];
    }
    float* wl_p = p.storage.data();
    float* wi_p = wl_p + wl;
    for (int64_t j = 0; j < G; ++j) {
      std::copy(w_ih + perm[j] * H * d.I, w_ih + (perm[j] + 1) * H * d.I, wl_p + j * H * d.I);
      std::copy(w_hh + perm[j] * H * H, w_hh + (perm[j] + 1) * H * H, wi_p + j * H * H);
    }
    p.w_layer = wl_p;
    p.w_iter = wi_p;
  } else {
    p.w_layer = w_ih;
    p.w_iter = w_hh;
  }
  p.bias = bias;
  return p;
}

// Weights: oneDNN block j -> our block perm[j]; bias: both b_ih and b_hh receive the summed blocks, and
// for lbr_gru b_in gets block 2, b_hn block 3.
void add_param_grads(BackwardContext& c, const Dims& d, const RnnGrads& g) {
  const auto perm = gate_perm(d.kind);
  const int64_t H = d.H;
  for (int w = 0; w < 2; ++w) {
    const int input = w == 0 ? kWih : kWhh;
    if (!c.needs(input)) continue;
    const int64_t cols = w == 0 ? d.I : H;
    const float* src = w == 0 ? g.dw_layer : g.dw_iter;
    float* dst = c.din(input).data<float>();
    for (int64_t j = 0; j < d.G; ++j)
      for (int64_t i = 0; i < H * cols; ++i) dst[perm[j] * H * cols + i] += src[j * H * cols + i];
  }
  for (int w = 0; w < 2; ++w) {
    const int input = w == 0 ? kBih : kBhh;
    if (!c.needs(input)) continue;
    float* dst = c.din(input).data<float>();
    for (int64_t j = 0; j < d.G; ++j) {
      const int64_t from = d.gru() && j == 2 && w == 1 ? 3 : j;  // b_hn: oneDNN's 4th block
      for (int64_t k = 0; k < H; ++k) dst[perm[j] * H + k] += g.dbias[from * H + k];
    }
  }
}

}  // namespace

Tensor primitive_forward(Tape& tape, const Dims& d, const Inputs<float>& in, bool inference, float* out) {
  DnnlContext& dnnl = dnnl_context(tape);
  Tensor workspace;
  if (!inference) {
    const size_t ws = dnnl.rnn_workspace_bytes(d.shape());
    workspace = Tensor::view(tape.alloc_bytes(ws), Shape{static_cast<int64_t>((ws + 3) / 4)}, DType::f32);
  }
  const DnnlParams p = dnnl_params(d, in.w_ih, in.w_hh, in.b_ih, in.b_hh);
  dnnl.rnn_forward(d.shape(inference), RnnForwardArgs{.x = in.x, .h0 = in.h0, .c0 = in.c0, .w_layer = p.w_layer,
                                                      .w_iter = p.w_iter, .bias = p.bias, .y = out,
                                                      .c_last = d.lstm() ? out + d.T * d.B * d.H : nullptr,
                                                      .workspace = inference ? nullptr : workspace.raw()});
  return workspace;
}

void primitive_backward(BackwardContext& c, const Dims& d) {
  const int64_t B = d.B, H = d.H;
  const auto in = [&](int i) { return c.in(i).data<float>(); };
  const DnnlParams p = dnnl_params(d, in(kWih), in(kWhh), in(kBih), in(kBhh));
  const float* out = c.out().data<float>();
  const float* dout = c.dout().data<float>();
  const RnnGrads g = dnnl_context(c.tape()).rnn_backward(
      d.shape(), RnnBackwardArgs{.x = in(kX), .h0 = in(kH0), .c0 = d.lstm() ? in(kC0) : nullptr, .w_layer = p.w_layer,
                                 .w_iter = p.w_iter, .bias = p.bias, .y = out,
                                 .c_last = d.lstm() ? out + d.T * B * H : nullptr, .workspace = c.aux().raw(),
                                 .dy = dout, .dc_last = d.lstm() ? dout + d.T * B * H : nullptr});
  const auto accumulate = [&](int input, const float* src, int64_t count) {
    if (c.needs(input)) add_into<float>(c.din(input).data<float>(), src, count);
  };
  accumulate(kX, g.dx, d.T * B * d.I);
  accumulate(kH0, g.dh0, B * H);
  if (d.lstm()) accumulate(kC0, g.dc0, B * H);
  add_param_grads(c, d, g);
}

}  // namespace unroll::rnn
