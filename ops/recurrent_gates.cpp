// What lives here: the fused pointwise gate math of the stock LSTM and GRU (PyTorch form) cells. Each is
// one recorded op instead of ~10 (slices, sigmoids, tanh, products, sums): the same formulas, one pass
// over memory, one node on the tape. The matrix products stay ordinary linear ops. Tests check each
// against float64 finite differences and against the composed version of the same cell.
#include <cmath>

#include "ops/fast_math.h"
#include "ops/op.h"
#include "ops/ops.h"
#include "ops/simd.h"

namespace unroll {

namespace {

void check_gates(const char* op, const Var& gates, const Var& state, int blocks) {
  check_same_tape(op, gates, state);
  check_same_dtype(op, gates, state);
  check_rank(op, gates, 2, "the gates");
  check_rank(op, state, 2, "the state");
  UNROLL_CHECK(gates.shape()[0] == state.shape()[0] && gates.shape()[1] == blocks * state.shape()[1], ShapeError,
               "{}: gates shape {} does not fit state shape {} (hint: gates must be [B, {} * H] for a state [B, H])", op,
               gates.shape().str(), state.shape().str(), blocks);
}

// ---- the loops, over plain arrays (restrict pointers, so they vectorise; three x86-64 levels: ops/simd.h).
// kFresh: the gradient is unzeroed memory to overwrite with 0 + v (Note [Gradients accumulate]). ----

// c = f c_prev + i g,  i = s(a_i), f = s(a_f), g = tanh(a_g)   (act keeps i, f, g: [B, 3H])
template <class T>
UNROLL_SIMD_CLONES void lstm_cell_state_loop(const T* __restrict gates, const T* __restrict c_prev, T* __restrict act,
                                             T* __restrict cell, int64_t batch, int64_t hidden) {
  for (int64_t b = 0; b < batch; ++b) {
    const T* a = gates + b * 4 * hidden;
    const T* cp = c_prev + b * hidden;
    T* i = act + b * 3 * hidden;
    T* f = i + hidden;
    T* g = f + hidden;
    T* out = cell + b * hidden;
    for (int64_t k = 0; k < hidden; ++k) {
      const T ik = act::sigmoid(a[k]), fk = act::sigmoid(a[hidden + k]), gk = act::tanh(a[2 * hidden + k]);
      i[k] = ik;
      f[k] = fk;
      g[k] = gk;
      out[k] = fk * cp[k] + ik * gk;
    }
  }
}

// da_i += dc g i(1-i);  da_f += dc c_prev f(1-f);  da_g += dc i (1-g^2)   (the o block is lstm_hidden's)
template <class T>
UNROLL_SIMD_CLONES void lstm_cell_state_gates_grad(const T* __restrict act, const T* __restrict c_prev,
                                                   const T* __restrict dc, T* __restrict dgates, int64_t batch,
                                                   int64_t hidden) {
  for (int64_t b = 0; b < batch; ++b) {
    const T* i = act + b * 3 * hidden;
    const T* f = i + hidden;
    const T* g = f + hidden;
    const T* cp = c_prev + b * hidden;
    const T* d = dc + b * hidden;
    T* da = dgates + b * 4 * hidden;
    for (int64_t k = 0; k < hidden; ++k) {
      da[k] += d[k] * g[k] * i[k] * (1 - i[k]);
      da[hidden + k] += d[k] * cp[k] * f[k] * (1 - f[k]);
      da[2 * hidden + k] += d[k] * i[k] * (1 - g[k] * g[k]);
    }
  }
}

// d_prev += d_out a, a = the gate that carries the previous state over (LSTM: f in c = f c_prev + i g;
// GRU: z in h = (1-z) n + z h_prev), kept as the middle block of each [3H] row of act.
template <bool kFresh, class T>
UNROLL_SIMD_CLONES void carried_state_grad(const T* __restrict act, const T* __restrict d_out, T* __restrict d_prev,
                                           int64_t batch, int64_t hidden) {
  for (int64_t b = 0; b < batch; ++b) {
    const T* a = act + b * 3 * hidden + hidden;
    const T* d = d_out + b * hidden;
    T* dp = d_prev + b * hidden;
    for (int64_t k = 0; k < hidden; ++k) dp[k] = (kFresh ? T(0) : dp[k]) + d[k] * a[k];
  }
}

void lstm_cell_state_backward(BackwardContext& c) {
  const int64_t batch = c.out().shape()[0], hidden = c.out().shape()[1];
  dispatch_dtype(c.out().dtype(), [&]<class T>() {
    const T* act = c.aux().data<T>();
    const T* dc = c.dout().data<T>();
    if (c.needs(0)) lstm_cell_state_gates_grad<T>(act, c.in(1).data<T>(), dc, c.din(0).data<T>(), batch, hidden);
    if (c.needs(1)) {
      const auto [dc_prev, fresh] = c.din_target(1);
      (fresh ? &carried_state_grad<true, T> : &carried_state_grad<false, T>)(act, dc, dc_prev.template data<T>(), batch,
                                                                            hidden);  // dc_prev += dc f
    }
  });
}

// h = o tanh(c),  o = s(a_o)   (act keeps o and tanh(c): [B, 2H])
template <class T>
UNROLL_SIMD_CLONES void lstm_hidden_loop(const T* __restrict gates, const T* __restrict cell, T* __restrict act,
                                         T* __restrict h, int64_t batch, int64_t hidden) {
  for (int64_t b = 0; b < batch; ++b) {
    const T* a = gates + b * 4 * hidden + 3 * hidden;
    const T* cb = cell + b * hidden;
    T* o = act + b * 2 * hidden;
    T* tc = o + hidden;
    T* out = h + b * hidden;
    for (int64_t k = 0; k < hidden; ++k) {
      const T ok = act::sigmoid(a[k]), tk = act::tanh(cb[k]);
      o[k] = ok;
      tc[k] = tk;
      out[k] = ok * tk;
    }
  }
}

// da_o += dh tanh(c) o(1-o)
template <class T>
UNROLL_SIMD_CLONES void lstm_hidden_gates_grad(const T* __restrict act, const T* __restrict dh, T* __restrict dgates,
                                               int64_t batch, int64_t hidden) {
  for (int64_t b = 0; b < batch; ++b) {
    const T* o = act + b * 2 * hidden;
    const T* tc = o + hidden;
    const T* d = dh + b * hidden;
    T* da = dgates + b * 4 * hidden + 3 * hidden;
    for (int64_t k = 0; k < hidden; ++k) da[k] += d[k] * tc[k] * o[k] * (1 - o[k]);
  }
}

// dc += dh o (1 - tanh(c)^2)
template <bool kFresh, class T>
UNROLL_SIMD_CLONES void lstm_hidden_cell_grad(const T* __restrict act, const T* __restrict dh, T* __restrict dcell,
                                              int64_t batch, int64_t hidden) {
  for (int64_t b = 0; b < batch; ++b) {
    const T* o = act + b * 2 * hidden;
    const T* tc = o + hidden;
    const T* d = dh + b * hidden;
    T* dcb = dcell + b * hidden;
    for (int64_t k = 0; k < hidden; ++k) dcb[k] = (kFresh ? T(0) : dcb[k]) + d[k] * o[k] * (1 - tc[k] * tc[k]);
  }
}

void lstm_hidden_backward(BackwardContext& c) {
  const int64_t batch = c.out().shape()[0], hidden = c.out().shape()[1];
  dispatch_dtype(c.out().dtype(), [&]<class T>() {
    const T* act = c.aux().data<T>();
    const T* dh = c.dout().data<T>();
    if (c.needs(0)) lstm_hidden_gates_grad<T>(act, dh, c.din(0).data<T>(), batch, hidden);
    if (c.needs(1)) {
      const auto [dcell, fresh] = c.din_target(1);
      (fresh ? &lstm_hidden_cell_grad<true, T> : &lstm_hidden_cell_grad<false, T>)(act, dh, dcell.template data<T>(),
                                                                                  batch, hidden);
    }
  });
}

// h = (1-z) n + z h_prev, n = tanh(x_n + r h_n), r = s(x_r + h_r), z = s(x_z + h_z)   (act: r, z, n)
template <class T>
UNROLL_SIMD_CLONES void gru_lbr_update_loop(const T* __restrict x_proj, const T* __restrict h_proj,
                                            const T* __restrict h_prev, T* __restrict act, T* __restrict h,
                                            int64_t batch, int64_t hidden) {
  for (int64_t b = 0; b < batch; ++b) {
    const T* x = x_proj + b * 3 * hidden;
    const T* hp = h_proj + b * 3 * hidden;
    const T* prev = h_prev + b * hidden;
    T* r = act + b * 3 * hidden;
    T* z = r + hidden;
    T* n = z + hidden;
    T* out = h + b * hidden;
    for (int64_t k = 0; k < hidden; ++k) {
      const T rk = act::sigmoid(x[k] + hp[k]);
      const T zk = act::sigmoid(x[hidden + k] + hp[hidden + k]);
      const T nk = act::tanh(x[2 * hidden + k] + rk * hp[2 * hidden + k]);
      r[k] = rk;
      z[k] = zk;
      n[k] = nk;
      out[k] = (1 - zk) * nk + zk * prev[k];
    }
  }
}

// dn = dh (1-z);  dz = dh (h_prev - n);  da_n = dn (1-n^2);  da_r = da_n h_n r(1-r);  da_z = dz z(1-z)
// dx_r += da_r, dx_z += da_z, dx_n += da_n;  dh_r += da_r, dh_z += da_z, dh_n += da_n r
// (into = 0: the x_proj gradient, 1: the h_proj gradient)
template <int into, bool kFresh, class T>
UNROLL_SIMD_CLONES void gru_lbr_update_proj_grad(const T* __restrict act, const T* __restrict h_proj,
                                                 const T* __restrict h_prev, const T* __restrict dh,
                                                 T* __restrict dproj, int64_t batch, int64_t hidden) {
  for (int64_t b = 0; b < batch; ++b) {
    const T* r = act + b * 3 * hidden;
    const T* z = r + hidden;
    const T* n = z + hidden;
    const T* hn = h_proj + b * 3 * hidden + 2 * hidden;
    const T* hprev = h_prev + b * hidden;
    const T* d = dh + b * hidden;
    T* row = dproj + b * 3 * hidden;
    for (int64_t k = 0; k < hidden; ++k) {
      const T da_n = d[k] * (1 - z[k]) * (1 - n[k] * n[k]);
      const T da_r = da_n * hn[k] * r[k] * (1 - r[k]);
      const T da_z = d[k] * (hprev[k] - n[k]) * z[k] * (1 - z[k]);
      row[k] = (kFresh ? T(0) : row[k]) + da_r;
      row[hidden + k] = (kFresh ? T(0) : row[hidden + k]) + da_z;
      row[2 * hidden + k] = (kFresh ? T(0) : row[2 * hidden + k]) + (into == 0 ? da_n : da_n * r[k]);
    }
  }
}

void gru_lbr_update_backward(BackwardContext& c) {
  const int64_t batch = c.out().shape()[0], hidden = c.out().shape()[1];
  dispatch_dtype(c.out().dtype(), [&]<class T>() {
    const T* act = c.aux().data<T>();
    const T* h_proj = c.in(1).data<T>();
    const T* h_prev = c.in(2).data<T>();
    const T* dh = c.dout().data<T>();
    if (c.needs(0)) {
      const auto [dx, fresh] = c.din_target(0);
      (fresh ? &gru_lbr_update_proj_grad<0, true, T> : &gru_lbr_update_proj_grad<0, false, T>)(
          act, h_proj, h_prev, dh, dx.template data<T>(), batch, hidden);
    }
    if (c.needs(1)) {
      const auto [dhp, fresh] = c.din_target(1);
      (fresh ? &gru_lbr_update_proj_grad<1, true, T> : &gru_lbr_update_proj_grad<1, false, T>)(
          act, h_proj, h_prev, dh, dhp.template data<T>(), batch, hidden);
    }
    if (c.needs(2)) {
      const auto [dp, fresh] = c.din_target(2);
      (fresh ? &carried_state_grad<true, T> : &carried_state_grad<false, T>)(act, dh, dp.template data<T>(), batch,
                                                                            hidden);  // dh_prev += dh z
    }
  });
}

}  // namespace

Var lstm_cell_state(Var gates, Var c_prev) {
  check_gates("lstm_cell_state", gates, c_prev, 4);
  Tape& tape = gates.tape();
  const int64_t batch = c_prev.shape()[0], hidden = c_prev.shape()[1];
  Tensor cell = tape.alloc(c_prev.shape(), c_prev.dtype());
  Tensor act = tape.alloc(Shape{batch, 3 * hidden}, c_prev.dtype());
  dispatch_dtype(cell.dtype(), [&]<class T>() {
    lstm_cell_state_loop<T>(gates.value().data<T>(), c_prev.value().data<T>(), act.data<T>(), cell.data<T>(), batch,
                            hidden);
  });
  return record_op(OpKind::lstm_cell_state, {gates, c_prev}, cell, &lstm_cell_state_backward, {}, act);
}

Var lstm_hidden(Var gates, Var c) {
  check_gates("lstm_hidden", gates, c, 4);
  Tape& tape = gates.tape();
  const int64_t batch = c.shape()[0], hidden = c.shape()[1];
  Tensor h = tape.alloc(c.shape(), c.dtype());
  Tensor act = tape.alloc(Shape{batch, 2 * hidden}, c.dtype());
  dispatch_dtype(h.dtype(), [&]<class T>() {
    lstm_hidden_loop<T>(gates.value().data<T>(), c.value().data<T>(), act.data<T>(), h.data<T>(), batch, hidden);
  });
  return record_op(OpKind::lstm_hidden, {gates, c}, h, &lstm_hidden_backward, {}, act);
}

Var gru_lbr_update(Var x_proj, Var h_proj, Var h_prev) {
  check_gates("gru_lbr_update", x_proj, h_prev, 3);
  check_gates("gru_lbr_update", h_proj, h_prev, 3);
  Tape& tape = x_proj.tape();
  const int64_t batch = h_prev.shape()[0], hidden = h_prev.shape()[1];
  Tensor h = tape.alloc(h_prev.shape(), h_prev.dtype());
  Tensor act = tape.alloc(Shape{batch, 3 * hidden}, h_prev.dtype());
  dispatch_dtype(h.dtype(), [&]<class T>() {
    gru_lbr_update_loop<T>(x_proj.value().data<T>(), h_proj.value().data<T>(), h_prev.value().data<T>(), act.data<T>(),
                           h.data<T>(), batch, hidden);
  });
  return record_op(OpKind::gru_lbr_update, {x_proj, h_proj, h_prev}, h, &gru_lbr_update_backward, {}, act);
}

}  // namespace unroll
