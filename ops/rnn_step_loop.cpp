// SPDX-License-Identifier: Apache-2.0
// What lives here: the step-loop engine of rnn_sequence (ops/rnn_engines.h): our own loop over the steps
// -- one GEMM for the input projection of all steps, one small GEMM per step on weights packed once, the
// gate math of ops/cell_math/ in vectorised loops over each thread's block of rows, and the weight
// gradients as single GEMMs over all steps. float64 always runs it (the finite-difference test checks it);
// float32 with oneDNN's GEMMs, by default.
//
// Note [Step loop]: aux keeps, per step, what backward needs and nothing else:
//   gates [T, B, G*H]: the input projection gx of all steps (one GEMM; lstm and rnn fold b_hh into it and
//     each step's GEMM adds h W_hh^T onto its rows), overwritten in each step by the gate activations
//     (lstm i f g o, gru r z n; rnn keeps the pre-activations), and in backward by the gate pre-activation
//     gradients da -- so the weight and input gradients are single GEMMs over all T*B rows;
//   kept [T, B, H]: lstm c; gru gh_n = W_hn h + b_hn, replaced in backward by da_n r; rnn: nothing.
// With h (the output) that is what BPTT needs, less than oneDNN's workspace for the same layer. Backward
// overwrites aux only in the tape's last backward (Note [Consumed activations] in graph/grad_memory.h); otherwise
// rnn_sequence gives it a copy of the gates.
//
// Note [Batch split]: the rows of a batch never meet in the recurrence -- row b of h_t depends on row b
// of h_{t-1} alone -- so with n OpenMP threads each thread runs the whole recurrence, every step, on its
// own block of about B/n rows: its own small product per step (oneDNN runs a product single-threaded
// inside a parallel region) and its own gate math, with no barrier between steps. One shared product
// per step instead costs a fork and join of both threads at every step and leaves the second thread
// idle through the gate loops. The products over all steps (input projection, weight and input
// gradients) stay single multithreaded GEMMs. Bits: the gate math of a row is the same whatever the
// split; a product on fewer rows may round differently, so bits are reproducible for the same thread
// count (docs/reliability.md). Inside a caller's parallel region the loop runs as one block. The blocks
// and the threads come from ops/batch_split.h; models/recurrent.cpp splits a custom cell's graph the same
// way (Note [Graph batch split]).
//
// Note [Masked step loop]: with lengths, row b is inside its sequence at step t when t < lengths[b]. Such a
// step runs as above; a step past the end HOLDS the row's state: its h row (and lstm's c row in kept) is a
// copy of the previous step's, so reverse holds the initial state until t = lengths[b]-1 and begins at
// the sequence's own last element, and forward carries the state at lengths[b]-1 to t = T-1, where the
// final states are read as without lengths. The outputs are that state sequence; the caller zeroes them
// past each end (models/strategies/fused_sequence.cpp, as the graph path's h * keep, Note [Variable
// lengths] in models/recurrent.h). Backward of a held step: no gate gradient (its da rows are zero, so
// nothing reaches x_t or the weights) and dh_{t-1} = dh_t + dy_t, dc_{t-1} = dc_t -- the gradient of
// the copy. Steps are split into runs of consecutive rows that are all inside or all past (for_each_run),
// so the kernels below run unchanged on the rows inside, and a step where every row of a block is inside
// is one run, as without lengths. The products still run over every row of a block (a held row's product
// is discarded) -- the batch's rows are not reordered.
#include <algorithm>
#include <type_traits>
#include <vector>

#include "ops/batch_split.h"
#include "ops/cell_math/elman.h"
#include "ops/cell_math/gru_lbr.h"
#include "ops/cell_math/lstm.h"
#include "ops/gemm.h"
#include "ops/pointwise.h"
#include "ops/rnn_engines.h"
#include "ops/simd.h"
#include "ops/step_products.h"

namespace unroll::rnn {

namespace {

namespace lstm = cell_math::lstm;
namespace gru_lbr = cell_math::gru_lbr;
namespace elman = cell_math::elman;

size_t n(int64_t v) { return static_cast<size_t>(v); }

// Note [Masked step loop]: inside(row, rows) on each run of consecutive rows of [b0, b0 + nb) inside their
// sequence at step t, held(row, rows) on each run past its end; one inside() call without lengths.
template <class Inside, class Held>
void for_each_run(const Dims& d, int64_t t, int64_t b0, int64_t nb, const Inside& inside, const Held& held) {
  if (d.lengths == nullptr) return inside(b0, nb);
  for (int64_t r = b0, end = b0 + nb; r < end;) {
    const bool in = t < d.lengths[r];
    int64_t e = r + 1;
    while (e < end && (t < d.lengths[e]) == in) ++e;
    if (in)
      inside(r, e - r);
    else
      held(r, e - r);
    r = e;
  }
}

// ---- the gate math of one step over a block of rows, in place on the step's gates ----

// c = f c_prev + i g, h = o tanh(c)   (gates: the pre-activations a = gx + gh in, i f g o out)
template <class T>
UNROLL_SIMD_CLONES void lstm_step(T* __restrict gates, const T* __restrict c_prev, T* __restrict c, T* __restrict h,
                                  int64_t batch, int64_t hidden) {
  for (int64_t b = 0; b < batch; ++b) {
    T* a = gates + b * 4 * hidden;
    const int64_t r = b * hidden;
    for (int64_t k = 0; k < hidden; ++k) {
      const lstm::CellState<T> s = lstm::cell_state(a[k], a[hidden + k], a[2 * hidden + k], c_prev[r + k]);
      const lstm::Hidden<T> o = lstm::hidden(a[3 * hidden + k], s.c);
      a[k] = s.i;
      a[hidden + k] = s.f;
      a[2 * hidden + k] = s.g;
      a[3 * hidden + k] = o.o;
      c[r + k] = s.c;
      h[r + k] = o.h;
    }
  }
}

// dh = dy + dh_next;  dc = dc_next + dh o (1 - tanh(c)^2);  da = the lstm grads;  dc_next <- dc f
// (gates: activations in, da out)
template <class T>
UNROLL_SIMD_CLONES void lstm_step_backward(T* __restrict gates, const T* __restrict c, const T* __restrict c_prev,
                                           const T* __restrict dy, const T* __restrict dh_next,
                                           T* __restrict dc_next, int64_t batch, int64_t hidden) {
  for (int64_t b = 0; b < batch; ++b) {
    T* a = gates + b * 4 * hidden;
    const int64_t r = b * hidden;
    for (int64_t k = 0; k < hidden; ++k) {
      const T i = a[k], f = a[hidden + k], g = a[2 * hidden + k], o = a[3 * hidden + k];
      const T dh = dy[r + k] + dh_next[r + k];
      const lstm::HiddenGrad<T> hg = lstm::hidden_grad(dh, o, act::tanh(c[r + k]));
      const lstm::CellStateGrad<T> cg = lstm::cell_state_grad(dc_next[r + k] + hg.dc, i, f, g, c_prev[r + k]);
      a[k] = cg.da_i;
      a[hidden + k] = cg.da_f;
      a[2 * hidden + k] = cg.da_g;
      a[3 * hidden + k] = hg.da_o;
      dc_next[r + k] = cg.dc_prev;
    }
  }
}

// h = (1-z) n + z h_prev   (gates: gx in, r z n out; gh_n kept for backward)
template <class T>
UNROLL_SIMD_CLONES void gru_step(T* __restrict gates, const T* __restrict gh, const T* __restrict h_prev,
                                 T* __restrict gh_n, T* __restrict h, int64_t batch, int64_t hidden) {
  for (int64_t b = 0; b < batch; ++b) {
    T* a = gates + b * 3 * hidden;
    const T* p = gh + b * 3 * hidden;
    const int64_t r = b * hidden;
    for (int64_t k = 0; k < hidden; ++k) {
      const gru_lbr::Update<T> s = gru_lbr::update(a[k], a[hidden + k], a[2 * hidden + k], p[k], p[hidden + k],
                                                   p[2 * hidden + k], h_prev[r + k]);
      a[k] = s.r;
      a[hidden + k] = s.z;
      a[2 * hidden + k] = s.n;
      gh_n[r + k] = p[2 * hidden + k];
      h[r + k] = s.h;
    }
  }
}

// dh = dy + dh_next;  gates <- [da_r da_z da_n] (W_ih's);  gh_n <- da_n r;  dgh <- [da_r da_z da_n r]
// (W_hh's);  carry <- dh z
template <class T>
UNROLL_SIMD_CLONES void gru_step_backward(T* __restrict gates, T* __restrict gh_n, const T* __restrict h_prev,
                                          const T* __restrict dy, const T* __restrict dh_next, T* __restrict dgh,
                                          T* __restrict carry, int64_t batch, int64_t hidden) {
  for (int64_t b = 0; b < batch; ++b) {
    T* a = gates + b * 3 * hidden;
    T* ah = dgh + b * 3 * hidden;
    const int64_t r = b * hidden;
    for (int64_t k = 0; k < hidden; ++k) {
      const T dh = dy[r + k] + dh_next[r + k];
      const gru_lbr::UpdateGrad<T> gr =
          gru_lbr::update_grad(dh, a[k], a[hidden + k], a[2 * hidden + k], gh_n[r + k], h_prev[r + k]);
      a[k] = ah[k] = gr.da_r;
      a[hidden + k] = ah[hidden + k] = gr.da_z;
      a[2 * hidden + k] = gr.da_n;
      gh_n[r + k] = ah[2 * hidden + k] = gr.dh_n;
      carry[r + k] = gr.dh_prev;
    }
  }
}

// h = tanh(a) or max(a, 0)   (gates: the pre-activations a = gx + gh, kept)
template <bool kRelu, class T>
UNROLL_SIMD_CLONES void rnn_step(const T* __restrict gates, T* __restrict h, int64_t count) {
  for (int64_t i = 0; i < count; ++i) h[i] = elman::hidden<kRelu>(gates[i]);
}

// dh = dy + dh_next;  da = dh (1 - h^2), or dh [h > 0]   (gates <- da)
template <bool kRelu, class T>
UNROLL_SIMD_CLONES void rnn_step_backward(T* __restrict gates, const T* __restrict h, const T* __restrict dy,
                                          const T* __restrict dh_next, int64_t count) {
  for (int64_t i = 0; i < count; ++i) gates[i] = elman::hidden_grad<kRelu>(dy[i] + dh_next[i], h[i]);
}

int64_t kept_width(const Dims& d) { return d.lstm() || d.gru() ? d.H : 0; }

// The per-step state of backward, one row block's view: dh and dc flow from step t to t-1.
template <class T>
struct BackwardState {
  // [B, H], lstm [B, H], gru or masked [B, H] (dh_{t-1} beside da_h W_hh), gru [B, G*H]
  std::vector<T> dh_next, dc_next, carry, dgh;
  // Bias gradients: each row's gate gradients are summed over the steps right after the step writes them,
  // while they are in cache, then the rows are summed in order (so the split does not change the bits):
  // row_sums [B, G*H] of da (b_ih's; lstm, rnn: b_hh's too) and, gru, row_sums_hn [B, H] of da_n r (b_hn's).
  std::vector<T> row_sums, row_sums_hn;
};

// Runs backward through every step for each row block (Note [Batch split]): the gate gradients over the
// saved gates, dh_{t-1} = da_h W_hh (+ dh z), and the per-row bias sums.
template <class T>
void recurrence_backward(Tape& tape, const Dims& d, const Inputs<T>& in, const T* out, T* aux, const T* dout,
                         BackwardState<T>& s) {
  const int64_t B = d.B, H = d.H, GH = d.G * H;
  T* gates = aux;
  T* kept = aux + d.T * B * GH;
  const bool bias_sums = !s.row_sums.empty();
  const std::vector<RowBlock> row_blocks = split_batch(B);
  const StepProducts<T> back_to_hidden(tape, {.n = H, .k = GH}, in.w_hh, row_blocks);
  for_each_block(row_blocks.size(), [&](size_t i) {  // Note [Batch split]: this block's rows, every step
    const int64_t b0 = row_blocks[i].begin, nb = row_blocks[i].rows;
    T* dh = s.dh_next.data();  // [B, H]: dh_next, dc_next, carry of every row; this block touches its own
    T* dc = s.dc_next.data();
    T* carry = s.carry.data();
    T* dgh = s.dgh.data();
    for (int64_t k = d.T - 1; k >= 0; --k) {
      const int64_t t = d.time(k), tp = k > 0 ? d.time(k - 1) : -1;
      const T* h_prev = tp >= 0 ? out + tp * B * H : in.h0;  // [B, H]
      const T* c_prev = tp >= 0 ? kept + tp * B * H : in.c0;  // lstm
      T* a = gates + t * B * GH;
      T* kept_t = kept + t * B * H;
      const T* dy = dout + t * B * H;
      const auto inside = [&](int64_t r, int64_t m) {
        if (d.lstm())
          lstm_step_backward<T>(a + r * GH, kept_t + r * H, c_prev + r * H, dy + r * H, dh + r * H, dc + r * H, m, H);
        else if (d.gru())
          gru_step_backward<T>(a + r * GH, kept_t + r * H, h_prev + r * H, dy + r * H, dh + r * H, dgh + r * GH,
                               carry + r * H, m, H);
        else if (d.kind == RnnKind::rnn_relu)
          rnn_step_backward<true, T>(a + r * GH, out + (t * B + r) * H, dy + r * H, dh + r * H, m * H);
        else
          rnn_step_backward<false, T>(a + r * GH, out + (t * B + r) * H, dy + r * H, dh + r * H, m * H);
      };
      bool any_held = false;
      const auto held = [&](int64_t r, int64_t m) {  // Note [Masked step loop]: no gate gradient, dh carries dy
        any_held = true;
        std::fill_n(a + r * GH, m * GH, T(0));
        if (d.gru()) {
          std::fill_n(dgh + r * GH, m * GH, T(0));
          std::fill_n(kept_t + r * H, m * H, T(0));
        }
        for (int64_t j = r * H; j < (r + m) * H; ++j) carry[j] = dh[j] + dy[j];
      };
      for_each_run(d, t, b0, nb, inside, held);
      back_to_hidden(i, d.gru() ? dgh + b0 * GH : a + b0 * GH, dh + b0 * H);  // dh_{t-1} = da_h W_hh (+ carry)
      if (d.gru())
        add_into<T>(dh + b0 * H, carry + b0 * H, nb * H);  // held rows: 0 + carry
      else if (any_held)
        for_each_run(d, t, b0, nb, [](int64_t, int64_t) {},
                     [&](int64_t r, int64_t m) { std::copy_n(carry + r * H, m * H, dh + r * H); });
      if (bias_sums) {
        add_into<T>(s.row_sums.data() + b0 * GH, a + b0 * GH, nb * GH);
        if (d.gru()) add_into<T>(s.row_sums_hn.data() + b0 * H, kept_t + b0 * H, nb * H);
      }
    }
  });
}

// db_ih += sum da;  db_hh += sum da_h (gru: r, z as b_ih's, n from da_n r), from the per-row sums.
template <class T>
void add_bias_grads(const Dims& d, const BackwardState<T>& s, const Grads<T>& g) {
  const int64_t H = d.H, GH = d.G * H;
  std::vector<T> sums(n(GH)), sums_hn(n(d.gru() ? H : 0));
  for (int64_t b = 0; b < d.B; ++b) {
    add_into<T>(sums.data(), s.row_sums.data() + b * GH, GH);
    if (d.gru()) add_into<T>(sums_hn.data(), s.row_sums_hn.data() + b * H, H);
  }
  if (g.db_ih) add_into<T>(g.db_ih, sums.data(), GH);
  if (g.db_hh) {
    add_into<T>(g.db_hh, sums.data(), d.gru() ? 2 * H : GH);
    if (d.gru()) add_into<T>(g.db_hh + 2 * H, sums_hn.data(), H);
  }
}

// The products over all steps: dx += da W_ih, dW_ih += da^T x, dW_hh += da_h^T h_prev.
template <class T>
void add_product_grads(Tape& tape, const Dims& d, const Inputs<T>& in, const T* out, const T* aux,
                       const Grads<T>& g) {
  const int64_t B = d.B, H = d.H, I = d.I, GH = d.G * H, rows = d.T * B;
  const T* gates = aux;
  const T* kept = aux + rows * GH;
  if (g.dx) gemm<T>(tape, {.m = rows, .n = I, .k = GH, .accumulate = true}, gates, in.w_ih, g.dx);
  if (g.dw_ih) gemm<T>(tape, {.m = GH, .n = I, .k = rows, .trans_a = true, .accumulate = true}, gates, in.x, g.dw_ih);
  if (!g.dw_hh) return;
  // da_h in blocks of W_hh's rows: all of da (lstm, rnn); gru: r, z from da (row stride 3H), n from kept.
  struct Block {
    const T* src;
    int64_t ld, width, first_row;
  };
  const std::vector<Block> blocks = d.gru() ? std::vector<Block>{{gates, GH, 2 * H, 0}, {kept, H, H, 2 * H}}
                                            : std::vector<Block>{{gates, GH, GH, 0}};
  // h_prev of step t is out[t - 1] (out[t + 1] in reverse), except the first step processed: h0.
  const int64_t first = d.time(0), with_prev = d.reverse ? 0 : 1, prev_of_it = d.reverse ? 1 : 0;
  for (const Block& blk : blocks) {
    T* dst = g.dw_hh + blk.first_row * H;
    if (d.T > 1)
      gemm<T>(tape, {.m = blk.width, .n = H, .k = (d.T - 1) * B, .trans_a = true, .accumulate = true, .lda = blk.ld},
              blk.src + with_prev * B * blk.ld, out + prev_of_it * B * H, dst);
    gemm<T>(tape, {.m = blk.width, .n = H, .k = B, .trans_a = true, .accumulate = true, .lda = blk.ld},
            blk.src + first * B * blk.ld, in.h0, dst);
  }
}

}  // namespace

int64_t step_loop_aux_elements(const Dims& d) { return d.T * d.B * (d.G * d.H + kept_width(d)); }

template <class T>
void step_loop_forward(Tape& tape, const Dims& d, const Inputs<T>& in, T* out, T* aux) {
  const int64_t B = d.B, H = d.H, GH = d.G * H;
  T* gates = aux;
  T* kept = aux + d.T * B * GH;
  // lstm, rnn: both biases go into the input projection and each step adds h W_hh^T straight onto its
  // gates (a sum post-op); gru keeps gh apart, as r multiplies its n block.
  std::vector<T> bias(in.b_ih, in.b_ih + GH);
  if (!d.gru())
    for (int64_t j = 0; j < GH; ++j) bias[n(j)] += in.b_hh[j];
  gemm<T>(tape, {.m = d.T * B, .n = GH, .k = d.I, .trans_b = true, .bias = true}, in.x, in.w_ih, gates, bias.data());
  std::vector<T> gh(n(d.gru() ? B * GH : 0));
  const std::vector<RowBlock> row_blocks = split_batch(B);
  const StepProducts<T> project_hidden(
      tape, {.n = GH, .k = H, .trans_b = true, .accumulate = !d.gru(), .bias = d.gru()}, in.w_hh, row_blocks);
  for_each_block(row_blocks.size(), [&](size_t i) {  // Note [Batch split]: this block's rows, every step
    const int64_t b0 = row_blocks[i].begin, nb = row_blocks[i].rows;
    for (int64_t k = 0; k < d.T; ++k) {
      const int64_t t = d.time(k), tp = k > 0 ? d.time(k - 1) : -1;
      const T* h_prev = tp >= 0 ? out + tp * B * H : in.h0;  // [B, H]
      const T* c_prev = tp >= 0 ? kept + tp * B * H : in.c0;  // lstm
      T* a = gates + t * B * GH;
      T* h = out + t * B * H;
      T* kept_t = kept + t * B * H;
      if (d.gru())
        project_hidden(i, h_prev + b0 * H, gh.data() + b0 * GH, in.b_hh);
      else
        project_hidden(i, h_prev + b0 * H, a + b0 * GH);  // a = gx + b_ih + b_hh, += h W_hh^T
      const auto inside = [&](int64_t r, int64_t m) {
        if (d.gru())
          gru_step<T>(a + r * GH, gh.data() + r * GH, h_prev + r * H, kept_t + r * H, h + r * H, m, H);
        else if (d.lstm())
          lstm_step<T>(a + r * GH, c_prev + r * H, kept_t + r * H, h + r * H, m, H);
        else if (d.kind == RnnKind::rnn_relu)
          rnn_step<true, T>(a + r * GH, h + r * H, m * H);
        else
          rnn_step<false, T>(a + r * GH, h + r * H, m * H);
      };
      const auto held = [&](int64_t r, int64_t m) {  // Note [Masked step loop]: the state as it was
        std::copy_n(h_prev + r * H, m * H, h + r * H);
        if (d.lstm()) std::copy_n(c_prev + r * H, m * H, kept_t + r * H);
      };
      for_each_run(d, t, b0, nb, inside, held);
    }
  });
  if (d.lstm()) std::copy_n(kept + d.time(d.T - 1) * B * H, B * H, out + d.T * B * H);  // the final c
}

// With da the gate pre-activation gradients of all steps (in place of the gates) and da_h = da except
// gru's n block (da_n r, in place of gh_n): dx += da W_ih, dW_ih += da^T x, db_ih += sum da,
// dW_hh += da_h^T h_prev, db_hh += sum da_h;  dh0, dc0 += what flows out of the first step processed.
template <class T>
void step_loop_backward(Tape& tape, const Dims& d, const Inputs<T>& in, const T* out, T* aux, const T* dout,
                        const Grads<T>& g) {
  const int64_t B = d.B, H = d.H, GH = d.G * H;
  const bool bias_sums = g.db_ih != nullptr || g.db_hh != nullptr;
  BackwardState<T> s{std::vector<T>(n(B * H)),
                     std::vector<T>(n(B * H)),
                     std::vector<T>(n(d.gru() || d.lengths ? B * H : 0)),
                     std::vector<T>(n(d.gru() ? B * GH : 0)),
                     std::vector<T>(n(bias_sums ? B * GH : 0)),
                     std::vector<T>(n(bias_sums && d.gru() ? B * H : 0))};
  if (d.lstm()) std::copy_n(dout + d.T * B * H, B * H, s.dc_next.begin());
  recurrence_backward(tape, d, in, out, aux, dout, s);
  if (g.dh0) add_into<T>(g.dh0, s.dh_next.data(), B * H);
  if (g.dc0) add_into<T>(g.dc0, s.dc_next.data(), B * H);
  if (bias_sums) add_bias_grads(d, s, g);
  add_product_grads(tape, d, in, out, aux, g);
}

template void step_loop_forward<float>(Tape&, const Dims&, const Inputs<float>&, float*, float*);
template void step_loop_forward<double>(Tape&, const Dims&, const Inputs<double>&, double*, double*);
template void step_loop_backward<float>(Tape&, const Dims&, const Inputs<float>&, const float*, float*, const float*,
                                        const Grads<float>&);
template void step_loop_backward<double>(Tape&, const Dims&, const Inputs<double>&, const double*, double*,
                                         const double*, const Grads<double>&);

}  // namespace unroll::rnn
