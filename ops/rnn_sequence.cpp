// What lives here: rnn_sequence, one stock-cell layer in one direction over a whole sequence as ONE recorded
// op (the fast path models/recurrent.cpp takes for stock cells; the graph of per-step ops stays the
// definition and the tests' reference). float32 runs oneDNN's fused primitives through DnnlContext
// (lstm, lbr_gru, vanilla_rnn: forward_training keeps a workspace in the tape's arena, backward reads it;
// forward_inference, without workspace, when nothing needs a gradient);
// float64 runs the reference loop below (oneDNN has no float64 RNN), which the finite-difference test checks.
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

#include "ops/gemm.h"
#include "ops/op.h"
#include "ops/ops.h"
#include "ops/reference_kernels.h"

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

namespace {

enum Input { kX = 0, kH0, kWih, kWhh, kBih, kBhh, kC0 };  // node input order (kC0: LSTM only)

struct Dims {
  RnnKind kind;
  bool reverse;
  int64_t T, B, I, H, G;
  bool lstm() const { return kind == RnnKind::lstm; }
  bool gru() const { return kind == RnnKind::gru_lbr; }
  int64_t time(int64_t k) const { return reverse ? T - 1 - k : k; }  // the k-th step processed
  int64_t aux_width() const { return lstm() ? 5 * H : gru() ? 4 * H : 0; }  // reference path, per row
  RnnShape shape(bool inference = false) const { return RnnShape{kind, reverse, T, B, I, H, inference}; }
};

int gate_count(RnnKind kind) { return kind == RnnKind::lstm ? 4 : kind == RnnKind::gru_lbr ? 3 : 1; }

Dims dims_of(RnnKind kind, bool reverse, const Shape& x, const Shape& w_hh) {
  return Dims{kind, reverse, x[0], x[1], x[2], w_hh[1], gate_count(kind)};
}

template <class T>
T sigm(T v) { return v >= 0 ? T(1) / (T(1) + std::exp(-v)) : std::exp(v) / (T(1) + std::exp(v)); }

// ---- float64 (and any-T) reference: the formulas above, one step at a time ----

// aux [T, B, A] keeps what backward needs per step: lstm i f g o c (A = 5H); gru r z n gh_n (A = 4H).
template <class T>
void reference_forward(const Dims& d, const T* x, const T* h0, const T* c0, const T* w_ih, const T* w_hh,
                       const T* b_ih, const T* b_hh, T* out, T* aux) {
  const int64_t B = d.B, H = d.H, GH = d.G * H, A = d.aux_width();
  std::vector<T> gx(static_cast<size_t>(B * GH)), gh(gx.size()), h(h0, h0 + B * H), c(static_cast<size_t>(B * H));
  if (d.lstm()) std::copy(c0, c0 + B * H, c.begin());
  for (int64_t k = 0; k < d.T; ++k) {
    const int64_t t = d.time(k);
    gemm_reference<T>({.m = B, .n = GH, .k = d.I, .trans_b = true, .bias = true}, x + t * B * d.I, w_ih, gx.data(), b_ih);
    gemm_reference<T>({.m = B, .n = GH, .k = H, .trans_b = true, .bias = true}, h.data(), w_hh, gh.data(), b_hh);
    for (int64_t b = 0; b < B; ++b) {
      const T* px = gx.data() + b * GH;
      const T* ph = gh.data() + b * GH;
      T* a = aux + (t * B + b) * A;
      T* hb = h.data() + b * H;
      for (int64_t j = 0; j < H; ++j) {
        if (d.lstm()) {
          const T i = sigm(px[j] + ph[j]), f = sigm(px[H + j] + ph[H + j]);
          const T g = std::tanh(px[2 * H + j] + ph[2 * H + j]), o = sigm(px[3 * H + j] + ph[3 * H + j]);
          T& cj = c[static_cast<size_t>(b * H + j)];
          cj = f * cj + i * g;
          hb[j] = o * std::tanh(cj);
          a[j] = i, a[H + j] = f, a[2 * H + j] = g, a[3 * H + j] = o, a[4 * H + j] = cj;
        } else if (d.gru()) {
          const T r = sigm(px[j] + ph[j]), z = sigm(px[H + j] + ph[H + j]);
          const T n = std::tanh(px[2 * H + j] + r * ph[2 * H + j]);
          hb[j] = (1 - z) * n + z * hb[j];
          a[j] = r, a[H + j] = z, a[2 * H + j] = n, a[3 * H + j] = ph[2 * H + j];
        } else {
          const T pre = px[j] + ph[j];
          hb[j] = d.kind == RnnKind::rnn_relu ? std::max(pre, T(0)) : std::tanh(pre);
        }
      }
    }
    std::copy(h.begin(), h.end(), out + t * B * H);
  }
  if (d.lstm()) std::copy(c.begin(), c.end(), out + d.T * B * H);
}

// Gradients of all inputs (overwritten) by BPTT over the saved activations. With da the gradient of a
// gate pre-activation at step t: dW_ih += da_x^T x_t, db_ih += sum_b da_x, dx_t = da_x W_ih, and the same
// with W_hh, h_{t-1} and da_h (= da_x except gru's n block: da_h = da_n r); dh_{t-1} = da_h W_hh (+ dh z).
template <class T>
struct ReferenceGrads {
  std::vector<T> dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh;
};

template <class T>
ReferenceGrads<T> reference_backward(const Dims& d, const T* x, const T* h0, const T* c0, const T* w_ih,
                                     const T* w_hh, const T* out, const T* aux, const T* dout) {
  const int64_t B = d.B, H = d.H, I = d.I, GH = d.G * H, A = d.aux_width();
  const auto n = [](int64_t v) { return static_cast<size_t>(v); };
  ReferenceGrads<T> g{std::vector<T>(n(d.T * B * I)), {}, {}, std::vector<T>(n(GH * I)),
                      std::vector<T>(n(GH * H)),      std::vector<T>(n(GH)), std::vector<T>(n(GH))};
  std::vector<T> dh_next(n(B * H)), dc_next(n(B * H)), dh(n(B * H)), dgx(n(B * GH)), dgh(n(B * GH));
  if (d.lstm()) std::copy(dout + d.T * B * H, dout + (d.T + 1) * B * H, dc_next.begin());
  for (int64_t k = d.T - 1; k >= 0; --k) {
    const int64_t t = d.time(k), tp = k > 0 ? d.time(k - 1) : -1;
    const T* h_prev = tp >= 0 ? out + tp * B * H : h0;
    for (int64_t b = 0; b < B; ++b) {
      const T* a = aux + (t * B + b) * A;
      T* ax = dgx.data() + b * GH;
      T* ah = dgh.data() + b * GH;
      for (int64_t j = 0; j < H; ++j) {
        const size_t bj = n(b * H + j);
        const T dhj = dout[(t * B + b) * H + j] + dh_next[bj];
        dh[bj] = dhj;
        if (d.lstm()) {
          const T i = a[j], f = a[H + j], gg = a[2 * H + j], o = a[3 * H + j], tc = std::tanh(a[4 * H + j]);
          const T cp = tp >= 0 ? aux[(tp * B + b) * A + 4 * H + j] : c0[bj];
          const T dc = dc_next[bj] + dhj * o * (1 - tc * tc);
          ax[j] = ah[j] = dc * gg * i * (1 - i);
          ax[H + j] = ah[H + j] = dc * cp * f * (1 - f);
          ax[2 * H + j] = ah[2 * H + j] = dc * i * (1 - gg * gg);
          ax[3 * H + j] = ah[3 * H + j] = dhj * tc * o * (1 - o);
          dc_next[bj] = dc * f;
        } else if (d.gru()) {
          const T r = a[j], z = a[H + j], nn = a[2 * H + j], hn = a[3 * H + j];
          const T da_n = dhj * (1 - z) * (1 - nn * nn);
          ax[j] = ah[j] = da_n * hn * r * (1 - r);
          ax[H + j] = ah[H + j] = dhj * (h_prev[bj] - nn) * z * (1 - z);
          ax[2 * H + j] = da_n;
          ah[2 * H + j] = da_n * r;
        } else {
          const T y = out[(t * B + b) * H + j];
          ax[j] = ah[j] = dhj * (d.kind == RnnKind::rnn_relu ? (y > 0 ? T(1) : T(0)) : 1 - y * y);
        }
      }
    }
    gemm_reference<T>({.m = GH, .n = I, .k = B, .trans_a = true, .accumulate = true}, dgx.data(), x + t * B * I,
                      g.dw_ih.data(), nullptr);
    gemm_reference<T>({.m = B, .n = I, .k = GH, .accumulate = true}, dgx.data(), w_ih, g.dx.data() + t * B * I, nullptr);
    gemm_reference<T>({.m = GH, .n = H, .k = B, .trans_a = true, .accumulate = true}, dgh.data(), h_prev,
                      g.dw_hh.data(), nullptr);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < GH; ++j) {
        g.db_ih[n(j)] += dgx[n(b * GH + j)];
        g.db_hh[n(j)] += dgh[n(b * GH + j)];
      }
    gemm_reference<T>({.m = B, .n = H, .k = GH}, dgh.data(), w_hh, dh_next.data(), nullptr);
    if (d.gru())
      for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < H; ++j) dh_next[n(b * H + j)] += dh[n(b * H + j)] * aux[(t * B + b) * A + H + j];
  }
  g.dh0 = std::move(dh_next);
  g.dc0 = std::move(dc_next);
  return g;
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
  const int64_t B = d.B, H = d.H, GH = d.G * H, I = d.I;
  const auto accumulate = [&](int input, const auto* src, int64_t count) {
    if (!c.needs(input)) return;
    using T = std::remove_const_t<std::remove_pointer_t<decltype(src)>>;
    T* dst = c.din(input).data<T>();
    for (int64_t i = 0; i < count; ++i) dst[i] += src[i];
  };
  if (c.out().dtype() == DType::f64) {
    const auto in = [&](int i) { return c.in(i).data<double>(); };
    const ReferenceGrads<double> g = reference_backward<double>(d, in(kX), in(kH0), d.lstm() ? in(kC0) : nullptr,
                                                                in(kWih), in(kWhh), c.out().data<double>(),
                                                                c.aux().data<double>(), c.dout().data<double>());
    accumulate(kX, g.dx.data(), d.T * B * I);
    accumulate(kH0, g.dh0.data(), B * H);
    if (d.lstm()) accumulate(kC0, g.dc0.data(), B * H);
    accumulate(kWih, g.dw_ih.data(), GH * I);
    accumulate(kWhh, g.dw_hh.data(), GH * H);
    accumulate(kBih, g.db_ih.data(), GH);
    accumulate(kBhh, g.db_hh.data(), GH);
    return;
  }
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

Var rnn_sequence(RnnKind kind, Var x, Var h0, Var c0, Var w_ih, Var w_hh, Var b_ih, Var b_hh, bool reverse) {
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
  UNROLL_CHECK(w_hh.shape().rank() == 2 && w_hh.shape()[1] >= 1 && w_hh.shape()[0] == gate_count(kind) * w_hh.shape()[1],
               ShapeError, "rnn_sequence ({}): w_hh has shape {}, expected [G*H, H] with G = {} (hint: Note [Cell layout])",
               name, w_hh.shape().str(), gate_count(kind));
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
  if (x.dtype() == DType::f64) {
    aux = tape.alloc(Shape{d.T, d.B, d.aux_width()}, DType::f64);
    const auto v = [](const Var& in) { return in.value().data<double>(); };
    reference_forward<double>(d, v(x), v(h0), lstm ? v(c0) : nullptr, v(w_ih), v(w_hh), v(b_ih), v(b_hh),
                              out.data<double>(), aux.data<double>());
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
  return record_op(OpKind::rnn_sequence, inputs, out, &rnn_sequence_backward, attrs, aux);
}

}  // namespace unroll
