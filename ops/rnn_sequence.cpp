// What lives here: rnn_sequence, one stock-cell layer in one direction over a whole sequence as ONE recorded
// op (the fast path models/recurrent.cpp takes for stock cells; the graph of per-step ops stays the
// definition and the tests' reference). Two engines (RnnEngine, ops/ops.h):
//   step_loop (Note [Step loop] below): our own loop over the steps -- one GEMM for the input projection of
//     all steps, one small GEMM per step on weights packed once, the gate math in vectorised loops, and
//     the weight gradients as single GEMMs over all steps. float64 always runs it (the finite-difference
//     test checks it); float32 with oneDNN's GEMMs, by default;
//   primitive: oneDNN's fused RNN primitives through DnnlContext (lstm, lbr_gru, vanilla_rnn, float32 only:
//     forward_training keeps a workspace in the tape's arena, backward reads it; forward_inference, without
//     workspace, when nothing needs a gradient).
//
// Formulas (the stock cells of models/cells.h; gx = W_ih x_t + b_ih, gh = W_hh h + b_hh, PyTorch order):
//   lstm      [i f g o] = gx + gh;  c' = s(f) c + s(i) tanh(g);  h' = s(o) tanh(c')
//   gru_lbr   r = s(gx_r + gh_r), z = s(gx_z + gh_z), n = tanh(gx_n + r gh_n);  h' = (1 - z) n + z h
//   rnn_tanh  h' = tanh(gx + gh);   rnn_relu  h' = max(0, gx + gh)
// Output: h at every t ([T, B, H]); LSTM appends the final c as row T. With reverse the recursion runs
// t = T-1 .. 0 (oneDNN right2left) and h stays at its own t, as in the graph path.
//
// oneDNN's layout (Note [Cell layout] in models/cell.h -> oneDNN): w_ih [G*H, I] row-major is oneDNN's
// ldgoi; LSTM (i f g o) and vanilla RNN need no permutation; oneDNN's GRU gates are (u r o) = our
// (z r n), so blocks 0 and 1 swap. Bias: LSTM/RNN b_ih + b_hh; lbr_gru has 4 blocks
// [b_z, b_r, b_in, b_hn] (sums for z and r; b_hn stays inside r * (W_hn h + b_hn)).
#include <algorithm>
#include <array>
#include <cmath>
#include <type_traits>
#include <vector>

#include "ops/batch_split.h"
#include "ops/gemm.h"
#include "ops/op.h"
#include "ops/ops.h"
#include "ops/pointwise.h"
#include "ops/fast_math.h"
#include "ops/simd.h"

namespace unroll {

const char* rnn_kind_name(RnnKind kind) {
  switch (kind) {
    case RnnKind::lstm: return "lstm";
    case RnnKind::gru_lbr: return "gru_lbr";
    case RnnKind::rnn_tanh: return "rnn_tanh";
    case RnnKind::rnn_relu: return "rnn_relu";
  }
  return "?";
}

int rnn_gate_count(RnnKind kind) { return kind == RnnKind::lstm ? 4 : kind == RnnKind::gru_lbr ? 3 : 1; }

namespace {

enum Input { kX = 0, kH0, kWih, kWhh, kBih, kBhh, kC0 };  // node input order (kC0: LSTM only)

struct Dims {
  RnnKind kind;
  bool reverse;
  int64_t T, B, I, H, G;
  bool lstm() const { return kind == RnnKind::lstm; }
  bool gru() const { return kind == RnnKind::gru_lbr; }
  int64_t time(int64_t k) const { return reverse ? T - 1 - k : k; }  // the k-th step processed
  RnnShape shape(bool inference = false) const { return RnnShape{kind, reverse, T, B, I, H, inference}; }
};

Dims dims_of(RnnKind kind, bool reverse, const Shape& x, const Shape& w_hh) {
  return Dims{kind, reverse, x[0], x[1], x[2], w_hh[1], rnn_gate_count(kind)};
}

// ---- the step loop: float64 always, float32 when the primitive is not used (Note [Step loop]) ----
//
// Note [Step loop]: aux keeps, per step, what backward needs and nothing else:
//   gates [T, B, G*H]: the input projection gx of all steps (one GEMM; lstm and rnn fold b_hh into it and
//     each step's GEMM adds h W_hh^T onto its rows), overwritten in each step by the gate activations
//     (lstm i f g o, gru r z n; rnn keeps the pre-activations), and in backward by the gate pre-activation
//     gradients da -- so the weight and input gradients are single GEMMs over all T*B rows;
//   kept [T, B, H]: lstm c; gru gh_n = W_hn h + b_hn, replaced in backward by da_n r; rnn: nothing.
// With h (the output) that is what BPTT needs: for config b's LSTM 5 * 32 * 256 floats = 0.16 MiB per step,
// against 0.62 MiB of oneDNN's workspace. Backward overwrites aux only in the tape's last backward (Note
// [Consumed activations] in graph/tape.h); otherwise it copies the gates first.

int64_t kept_width(const Dims& d) { return d.lstm() || d.gru() ? d.H : 0; }
int64_t aux_elements(const Dims& d) { return d.T * d.B * (d.G * d.H + kept_width(d)); }

// [i f g o] = s(a_i), s(a_f), tanh(a_g), s(a_o) (gates: the pre-activations a = gx + gh in, activations
// out);  c = f c_prev + i g;  h = o tanh(c)
template <class T>
UNROLL_SIMD_CLONES void lstm_step(T* __restrict gates, const T* __restrict c_prev, T* __restrict c, T* __restrict h,
                                  int64_t batch, int64_t hidden) {
  for (int64_t b = 0; b < batch; ++b) {
    T* a = gates + b * 4 * hidden;
    const int64_t r = b * hidden;
    for (int64_t k = 0; k < hidden; ++k) {
      const T i = act::sigmoid(a[k]), f = act::sigmoid(a[hidden + k]);
      const T g = act::tanh(a[2 * hidden + k]);
      const T o = act::sigmoid(a[3 * hidden + k]);
      a[k] = i;
      a[hidden + k] = f;
      a[2 * hidden + k] = g;
      a[3 * hidden + k] = o;
      const T ck = f * c_prev[r + k] + i * g;
      c[r + k] = ck;
      h[r + k] = o * act::tanh(ck);
    }
  }
}

// dh = dy + dh_next;  dc = dc_next + dh o (1 - tanh(c)^2);  da_i = dc g i(1-i);  da_f = dc c_prev f(1-f);
// da_g = dc i (1-g^2);  da_o = dh tanh(c) o(1-o);  dc_next <- dc f   (gates: activations in, da out)
template <class T>
UNROLL_SIMD_CLONES void lstm_step_backward(T* __restrict gates, const T* __restrict c, const T* __restrict c_prev,
                                           const T* __restrict dy, const T* __restrict dh_next,
                                           T* __restrict dc_next, int64_t batch, int64_t hidden) {
  for (int64_t b = 0; b < batch; ++b) {
    T* a = gates + b * 4 * hidden;
    const int64_t r = b * hidden;
    for (int64_t k = 0; k < hidden; ++k) {
      const T i = a[k], f = a[hidden + k], g = a[2 * hidden + k], o = a[3 * hidden + k];
      const T tc = act::tanh(c[r + k]);
      const T dh = dy[r + k] + dh_next[r + k];
      const T dc = dc_next[r + k] + dh * o * (1 - tc * tc);
      a[k] = dc * g * i * (1 - i);
      a[hidden + k] = dc * c_prev[r + k] * f * (1 - f);
      a[2 * hidden + k] = dc * i * (1 - g * g);
      a[3 * hidden + k] = dh * tc * o * (1 - o);
      dc_next[r + k] = dc * f;
    }
  }
}

// r = s(gx_r + gh_r), z = s(gx_z + gh_z), n = tanh(gx_n + r gh_n), h = (1-z) n + z h_prev
// (gates: gx in, r z n out; gh_n kept for backward)
template <class T>
UNROLL_SIMD_CLONES void gru_step(T* __restrict gates, const T* __restrict gh, const T* __restrict h_prev,
                                 T* __restrict gh_n, T* __restrict h, int64_t batch, int64_t hidden) {
  for (int64_t b = 0; b < batch; ++b) {
    T* a = gates + b * 3 * hidden;
    const T* p = gh + b * 3 * hidden;
    const int64_t r = b * hidden;
    for (int64_t k = 0; k < hidden; ++k) {
      const T rk = act::sigmoid(a[k] + p[k]), zk = act::sigmoid(a[hidden + k] + p[hidden + k]);
      const T nk = act::tanh(a[2 * hidden + k] + rk * p[2 * hidden + k]);
      a[k] = rk;
      a[hidden + k] = zk;
      a[2 * hidden + k] = nk;
      gh_n[r + k] = p[2 * hidden + k];
      h[r + k] = (1 - zk) * nk + zk * h_prev[r + k];
    }
  }
}

// dh = dy + dh_next;  da_n = dh (1-z)(1-n^2);  da_r = da_n gh_n r(1-r);  da_z = dh (h_prev - n) z(1-z);
// gates <- [da_r da_z da_n] (W_ih's);  gh_n <- da_n r;  dgh <- [da_r da_z da_n r] (W_hh's);  carry <- dh z
template <class T>
UNROLL_SIMD_CLONES void gru_step_backward(T* __restrict gates, T* __restrict gh_n, const T* __restrict h_prev,
                                          const T* __restrict dy, const T* __restrict dh_next, T* __restrict dgh,
                                          T* __restrict carry, int64_t batch, int64_t hidden) {
  for (int64_t b = 0; b < batch; ++b) {
    T* a = gates + b * 3 * hidden;
    T* ah = dgh + b * 3 * hidden;
    const int64_t r = b * hidden;
    for (int64_t k = 0; k < hidden; ++k) {
      const T rk = a[k], zk = a[hidden + k], nk = a[2 * hidden + k];
      const T dh = dy[r + k] + dh_next[r + k];
      const T da_n = dh * (1 - zk) * (1 - nk * nk);
      const T da_r = da_n * gh_n[r + k] * rk * (1 - rk);
      const T da_z = dh * (h_prev[r + k] - nk) * zk * (1 - zk);
      a[k] = ah[k] = da_r;
      a[hidden + k] = ah[hidden + k] = da_z;
      a[2 * hidden + k] = da_n;
      gh_n[r + k] = ah[2 * hidden + k] = da_n * rk;
      carry[r + k] = dh * zk;
    }
  }
}

// h = tanh(a) or max(a, 0) (gates: the pre-activations a = gx + gh, kept)
template <bool kRelu, class T>
UNROLL_SIMD_CLONES void rnn_step(const T* __restrict gates, T* __restrict h, int64_t n) {
  for (int64_t i = 0; i < n; ++i) h[i] = kRelu ? (gates[i] > 0 ? gates[i] : T(0)) : act::tanh(gates[i]);
}

// da = dh (1 - h^2), or dh [h > 0];  dh = dy + dh_next   (gates <- da)
template <bool kRelu, class T>
UNROLL_SIMD_CLONES void rnn_step_backward(T* __restrict gates, const T* __restrict h, const T* __restrict dy,
                                          const T* __restrict dh_next, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const T dh = dy[i] + dh_next[i];
    gates[i] = kRelu ? (h[i] > 0 ? dh : T(0)) : dh * (1 - h[i] * h[i]);
  }
}

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

// The product with one weight matrix at every step (h W_hh^T forward, da W_hh backward), for each row
// block of Note [Batch split]. float32 packs the weights once per sequence (once per distinct block
// height) into the layout oneDNN's matmul prefers for the small M (with plain weights it would repack them
// on every call), and gives each block its own runner; float64 runs the reference kernel on them as they
// are. Made on the calling thread; block i's product may then run on thread i.
template <class T>
class StepProducts {
 public:
  StepProducts(Tape& tape, const GemmShape& per_row, const T* w, const std::vector<RowBlock>& blocks) : w_(w) {
    PackedWeights packed;  // the last block height's copy (the runners hold theirs)
    for (const RowBlock& blk : blocks) {
      GemmShape shape = per_row;
      shape.m = blk.rows;
      shapes_.push_back(shape);
      if constexpr (std::is_same_v<T, float>) {
        DnnlContext& dnnl = dnnl_context(tape);
        if (!packed.memory || !(packed.shape == shape)) packed = dnnl.pack_weights(shape, w);
        runners_.push_back(dnnl.runner(packed));
      }
    }
  }
  void operator()(size_t block, const T* a, T* c, const T* bias = nullptr) const {
    if constexpr (std::is_same_v<T, float>)
      runners_[block](a, c, bias);
    else
      gemm_reference(shapes_[block], a, w_, c, bias);
  }

 private:
  const T* w_;
  std::vector<GemmShape> shapes_;
  std::vector<GemmRunner> runners_;
};

template <class T>
void loop_forward(Tape& tape, const Dims& d, const T* x, const T* h0, const T* c0, const T* w_ih, const T* w_hh,
                  const T* b_ih, const T* b_hh, T* out, T* aux) {
  const int64_t B = d.B, H = d.H, GH = d.G * H;
  T* gates = aux;
  T* kept = aux + d.T * B * GH;
  // lstm, rnn: both biases go into the input projection and each step adds h W_hh^T straight onto its
  // gates (a sum post-op); gru keeps gh apart, as r multiplies its n block.
  std::vector<T> bias(b_ih, b_ih + GH);
  if (!d.gru())
    for (int64_t j = 0; j < GH; ++j) bias[static_cast<size_t>(j)] += b_hh[j];
  gemm<T>(tape, {.m = d.T * B, .n = GH, .k = d.I, .trans_b = true, .bias = true}, x, w_ih, gates, bias.data());
  std::vector<T> gh(static_cast<size_t>(d.gru() ? B * GH : 0));
  const std::vector<RowBlock> row_blocks = split_batch(B);
  const StepProducts<T> project_hidden(
      tape, {.n = GH, .k = H, .trans_b = true, .accumulate = !d.gru(), .bias = d.gru()}, w_hh, row_blocks);
  for_each_block(row_blocks.size(), [&](size_t i) {  // Note [Batch split]: this block's rows, every step
    const int64_t b0 = row_blocks[i].begin, nb = row_blocks[i].rows;
    for (int64_t k = 0; k < d.T; ++k) {
      const int64_t t = d.time(k), tp = k > 0 ? d.time(k - 1) : -1;
      const T* h_prev = (tp >= 0 ? out + tp * B * H : h0) + b0 * H;
      T* a = gates + (t * B + b0) * GH;
      T* h = out + (t * B + b0) * H;
      T* kept_t = kept + (t * B + b0) * H;
      if (d.gru()) {
        T* gh_rows = gh.data() + b0 * GH;
        project_hidden(i, h_prev, gh_rows, b_hh);
        gru_step<T>(a, gh_rows, h_prev, kept_t, h, nb, H);
        continue;
      }
      project_hidden(i, h_prev, a);  // a = gx + b_ih + b_hh, += h W_hh^T
      if (d.lstm())
        lstm_step<T>(a, (tp >= 0 ? kept + tp * B * H : c0) + b0 * H, kept_t, h, nb, H);
      else if (d.kind == RnnKind::rnn_relu)
        rnn_step<true, T>(a, h, nb * H);
      else
        rnn_step<false, T>(a, h, nb * H);
    }
  });
  if (d.lstm()) std::copy_n(kept + d.time(d.T - 1) * B * H, B * H, out + d.T * B * H);  // the final c
}

// Where loop_backward adds each input's gradient (null: not needed).
template <class T>
struct LoopGrads {
  T *dx, *dh0, *dc0, *dw_ih, *dw_hh, *db_ih, *db_hh;
};

// BPTT over the saved activations, the gradients ADDED to g. With da the gate pre-activation gradients
// of all steps (in place of the gates) and da_h = da except gru's n block (da_n r, in place of gh_n):
// dx += da W_ih, dW_ih += da^T x, db_ih += sum da, dW_hh += da_h^T h_prev, db_hh += sum da_h.
template <class T>
void loop_backward(Tape& tape, const Dims& d, const T* x, const T* h0, const T* c0, const T* w_ih, const T* w_hh,
                   const T* out, T* aux, const T* dout, const LoopGrads<T>& g) {
  const int64_t B = d.B, H = d.H, I = d.I, GH = d.G * H, rows = d.T * B;
  T* gates = aux;
  T* kept = aux + rows * GH;
  const auto n = [](int64_t v) { return static_cast<size_t>(v); };
  std::vector<T> dh_next(n(B * H)), dc_next(n(B * H)), carry(n(d.gru() ? B * H : 0)), dgh(n(d.gru() ? B * GH : 0));
  if (d.lstm()) std::copy_n(dout + d.T * B * H, B * H, dc_next.begin());
  // Bias gradients: each row's gate gradients are summed over the steps right after the step writes them,
  // while they are in cache, then the rows are summed in order (so the split does not change the bits):
  // row_sums [B, G*H] of da (b_ih's; lstm, rnn: b_hh's too) and, gru, row_sums_hn [B, H] of da_n r (b_hn's).
  const bool bias_sums = g.db_ih != nullptr || g.db_hh != nullptr;
  std::vector<T> row_sums(n(bias_sums ? B * GH : 0)), row_sums_hn(n(bias_sums && d.gru() ? B * H : 0));
  const std::vector<RowBlock> row_blocks = split_batch(B);
  const StepProducts<T> back_to_hidden(tape, {.n = H, .k = GH}, w_hh, row_blocks);
  for_each_block(row_blocks.size(), [&](size_t i) {  // Note [Batch split]: this block's rows, every step
    const int64_t b0 = row_blocks[i].begin, nb = row_blocks[i].rows;
    T* dh = dh_next.data() + b0 * H;
    T* dc = dc_next.data() + b0 * H;
    for (int64_t k = d.T - 1; k >= 0; --k) {
      const int64_t t = d.time(k), tp = k > 0 ? d.time(k - 1) : -1;
      const T* h_prev = (tp >= 0 ? out + tp * B * H : h0) + b0 * H;
      T* a = gates + (t * B + b0) * GH;
      const T* dy = dout + (t * B + b0) * H;
      const T* da_h = a;
      if (d.lstm()) {
        lstm_step_backward<T>(a, kept + (t * B + b0) * H, (tp >= 0 ? kept + tp * B * H : c0) + b0 * H, dy, dh, dc, nb,
                              H);
      } else if (d.gru()) {
        T* dgh_rows = dgh.data() + b0 * GH;
        gru_step_backward<T>(a, kept + (t * B + b0) * H, h_prev, dy, dh, dgh_rows, carry.data() + b0 * H, nb, H);
        da_h = dgh_rows;
      } else if (d.kind == RnnKind::rnn_relu) {
        rnn_step_backward<true, T>(a, out + (t * B + b0) * H, dy, dh, nb * H);
      } else {
        rnn_step_backward<false, T>(a, out + (t * B + b0) * H, dy, dh, nb * H);
      }
      back_to_hidden(i, da_h, dh);  // dh_{t-1} = da_h W_hh (+ dh z)
      if (d.gru()) add_into<T>(dh, carry.data() + b0 * H, nb * H);
      if (bias_sums) {
        add_into<T>(row_sums.data() + b0 * GH, a, nb * GH);
        if (d.gru()) add_into<T>(row_sums_hn.data() + b0 * H, kept + (t * B + b0) * H, nb * H);
      }
    }
  });
  if (g.dh0) add_into<T>(g.dh0, dh_next.data(), B * H);
  if (g.dc0) add_into<T>(g.dc0, dc_next.data(), B * H);

  if (bias_sums) {
    std::vector<T> sums(n(GH)), sums_hn(n(d.gru() ? H : 0));
    for (int64_t b = 0; b < B; ++b) {
      add_into<T>(sums.data(), row_sums.data() + b * GH, GH);
      if (d.gru()) add_into<T>(sums_hn.data(), row_sums_hn.data() + b * H, H);
    }
    if (g.db_ih) add_into<T>(g.db_ih, sums.data(), GH);
    if (g.db_hh) {  // gru: r, z as b_ih's, n from da_n r
      add_into<T>(g.db_hh, sums.data(), d.gru() ? 2 * H : GH);
      if (d.gru()) add_into<T>(g.db_hh + 2 * H, sums_hn.data(), H);
    }
  }

  // The products over all steps.
  if (g.dx) gemm<T>(tape, {.m = rows, .n = I, .k = GH, .accumulate = true}, gates, w_ih, g.dx);
  if (g.dw_ih) gemm<T>(tape, {.m = GH, .n = I, .k = rows, .trans_a = true, .accumulate = true}, gates, x, g.dw_ih);
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
            blk.src + first * B * blk.ld, h0, dst);
  }
}

// ---- float32: oneDNN (Note on the layout in the header comment) ----

// oneDNN gate block j holds our block kPerm[j].
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

void rnn_sequence_backward(BackwardContext& c) {
  const Dims d = dims_of(static_cast<RnnKind>(c.attrs().i[0]), c.attrs().i[1] != 0, c.in(kX).shape(),
                         c.in(kWhh).shape());
  const int64_t B = d.B, H = d.H, I = d.I;
  if (c.attrs().i[2] == static_cast<int64_t>(RnnEngine::step_loop)) {
    dispatch_dtype(c.out().dtype(), [&]<class T>() {
      const auto in = [&](int i) -> const T* { return c.in(i).data<T>(); };
      const auto din = [&](int i) -> T* { return c.needs(i) ? c.din(i).template data<T>() : nullptr; };
      // Note [Consumed activations]: the gate gradients go over the saved gates, or over a copy of them.
      std::vector<T> copy;
      T* aux = nullptr;
      if (Tensor* mine = c.aux_to_consume()) {
        aux = mine->data<T>();
      } else {
        copy.assign(c.aux().data<T>(), c.aux().data<T>() + c.aux().numel());
        aux = copy.data();
      }
      loop_backward<T>(c.tape(), d, in(kX), in(kH0), d.lstm() ? in(kC0) : nullptr, in(kWih), in(kWhh),
                       c.out().data<T>(), aux, c.dout().data<T>(),
                       LoopGrads<T>{din(kX), din(kH0), d.lstm() ? din(kC0) : nullptr, din(kWih), din(kWhh), din(kBih),
                                    din(kBhh)});
    });
    return;
  }
  const auto accumulate = [&](int input, const float* src, int64_t count) {
    if (!c.needs(input)) return;
    add_into<float>(c.din(input).data<float>(), src, count);
  };
  const auto in = [&](int i) { return c.in(i).data<float>(); };
  const DnnlParams p = dnnl_params(d, in(kWih), in(kWhh), in(kBih), in(kBhh));
  const float* out = c.out().data<float>();
  const float* dout = c.dout().data<float>();
  const RnnGrads g = dnnl_context(c.tape()).rnn_backward(
      d.shape(), RnnBackwardArgs{.x = in(kX), .h0 = in(kH0), .c0 = d.lstm() ? in(kC0) : nullptr, .w_layer = p.w_layer,
                                 .w_iter = p.w_iter, .bias = p.bias, .y = out,
                                 .c_last = d.lstm() ? out + d.T * B * H : nullptr, .workspace = c.aux().raw(),
                                 .dy = dout, .dc_last = d.lstm() ? dout + d.T * B * H : nullptr});
  accumulate(kX, g.dx, d.T * B * I);
  accumulate(kH0, g.dh0, B * H);
  if (d.lstm()) accumulate(kC0, g.dc0, B * H);
  // Weights: oneDNN block j -> our block perm[j]; bias: both b_ih and b_hh receive the summed blocks,
  // and for lbr_gru b_in gets block 2, b_hn block 3.
  const auto perm = gate_perm(d.kind);
  for (int w = 0; w < 2; ++w) {
    const int input = w == 0 ? kWih : kWhh;
    if (!c.needs(input)) continue;
    const int64_t cols = w == 0 ? I : H;
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

void check_param(const char* kind, const char* name, const Var& p, const Shape& want, const Shape& x,
                 const char* hint) {
  UNROLL_CHECK(p.shape() == want, ShapeError,
               "rnn_sequence ({}): {} has shape {} but the input has shape {} and expects {} (hint: {})", kind, name,
               p.shape().str(), x.str(), want.str(), hint);
}

}  // namespace

Var rnn_sequence(RnnKind kind, Var x, Var h0, Var c0, Var w_ih, Var w_hh, Var b_ih, Var b_hh, bool reverse,
                 RnnEngine engine) {
  const char* name = rnn_kind_name(kind);
  const bool lstm = kind == RnnKind::lstm;
  std::vector<Var> inputs{x, h0, w_ih, w_hh, b_ih, b_hh};
  if (lstm) {
    UNROLL_CHECK(c0.defined(), UsageError, "rnn_sequence (lstm): c0 is missing (hint: pass the initial cell state [B, H])");
    inputs.push_back(c0);
  } else {
    UNROLL_CHECK(!c0.defined(), UsageError, "rnn_sequence ({}): got a c0 but only lstm has a cell state (hint: pass Var())",
                 name);
  }
  for (size_t i = 1; i < inputs.size(); ++i) {
    check_same_tape("rnn_sequence", x, inputs[i]);
    check_same_dtype("rnn_sequence", x, inputs[i]);
  }
  const Shape& xs = x.shape();
  UNROLL_CHECK(xs.rank() == 3 && xs[0] >= 1 && xs[2] >= 1, ShapeError,
               "rnn_sequence ({}): the input must be [T, B, I] with T, I >= 1, got {} (hint: time-major)", name, xs.str());
  const int G = rnn_gate_count(kind);
  UNROLL_CHECK(w_hh.shape().rank() == 2 && w_hh.shape()[1] >= 1 && w_hh.shape()[0] == G * w_hh.shape()[1], ShapeError,
               "rnn_sequence ({}): w_hh has shape {}, expected [G*H, H] with G = {} (hint: Note [Cell layout])", name,
               w_hh.shape().str(), G);
  const Dims d = dims_of(kind, reverse, xs, w_hh.shape());
  const int64_t GH = d.G * d.H;
  check_param(name, "w_ih", w_ih, Shape{GH, d.I}, xs, "w_ih is [G*H, I]: its columns must equal the input's last dimension");
  check_param(name, "b_ih", b_ih, Shape{GH}, xs, "b_ih is [G*H]");
  check_param(name, "b_hh", b_hh, Shape{GH}, xs, "b_hh is [G*H]");
  check_param(name, "h0", h0, Shape{d.B, d.H}, xs, "h0 is [B, H]: the input's batch and the hidden size");
  if (lstm) check_param(name, "c0", c0, Shape{d.B, d.H}, xs, "c0 is [B, H]: the input's batch and the hidden size");

  Tape& tape = x.tape();
  Tensor out = tape.alloc(Shape{d.T + (lstm ? 1 : 0), d.B, d.H}, x.dtype());
  Tensor aux;
  const RnnEngine run = x.dtype() == DType::f64 ? RnnEngine::step_loop : engine;  // oneDNN has no float64 RNN
  if (run == RnnEngine::step_loop) {
    aux = tape.alloc(Shape{aux_elements(d)}, x.dtype());
    dispatch_dtype(x.dtype(), [&]<class T>() {
      const auto v = [](const Var& in) -> const T* { return in.value().data<T>(); };
      loop_forward<T>(tape, d, v(x), v(h0), lstm ? v(c0) : nullptr, v(w_ih), v(w_hh), v(b_ih), v(b_hh),
                      out.data<T>(), aux.data<T>());
    });
  } else {
    const auto v = [](const Var& in) { return in.value().data<float>(); };
    DnnlContext& dnnl = dnnl_context(tape);
    // Nothing will need a gradient (no-grad guard, constants only): forward_inference, no workspace.
    const bool inference = !tape.grad_enabled() || std::none_of(inputs.begin(), inputs.end(), [](const Var& in) {
      return in.requires_grad();
    });
    if (!inference) {
      const size_t ws = dnnl.rnn_workspace_bytes(d.shape());
      aux = Tensor::view(tape.alloc_bytes(ws), Shape{static_cast<int64_t>((ws + 3) / 4)}, DType::f32);  // workspace
    }
    const DnnlParams p = dnnl_params(d, v(w_ih), v(w_hh), v(b_ih), v(b_hh));
    float* y = out.data<float>();
    dnnl.rnn_forward(d.shape(inference), RnnForwardArgs{.x = v(x), .h0 = v(h0), .c0 = lstm ? v(c0) : nullptr,
                                               .w_layer = p.w_layer, .w_iter = p.w_iter, .bias = p.bias, .y = y,
                                               .c_last = lstm ? y + d.T * d.B * d.H : nullptr,
                                               .workspace = inference ? nullptr : aux.raw()});
  }
  OpAttrs attrs;
  attrs.i[0] = static_cast<int64_t>(kind);
  attrs.i[1] = reverse ? 1 : 0;
  attrs.i[2] = static_cast<int64_t>(run);
  return record_op(OpKind::rnn_sequence, inputs, out, &rnn_sequence_backward, attrs, aux);
}

}  // namespace unroll
