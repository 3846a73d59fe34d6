// SPDX-License-Identifier: Apache-2.0
// What lives here: the gate ops (pointwise gate math in one op each) of the stock LSTM and GRU (linear-before-reset form) cells.
// Each is one recorded op instead of ~10 (slices, sigmoids, tanh, products, sums): the same formulas, one
// pass over memory, one node on the tape. The math of one hidden unit is ops/cell_math/ (shared with the
// step loop of rnn_sequence); here are the loops over rows, the checks and the records. The matrix
// products stay ordinary linear ops. Tests check each against float64 finite differences and against the
// composed version of the same cell.
#include <cmath>

#include "ops/cell_math/gru_lbr.h"
#include "ops/cell_math/lstm.h"
#include "ops/op.h"
#include "ops/ops.h"
#include "ops/simd.h"

namespace unroll {

namespace {

namespace lstm = cell_math::lstm;
namespace gru_lbr = cell_math::gru_lbr;

void check_gates(const char* op, const Var& gates, const Var& state, int blocks) {
  check_same_tape(op, gates, state);
  check_same_dtype(op, gates, state);
  check_rank(op, gates, 2, "the gates");
  check_rank(op, state, 2, "the state");
  UNROLL_CHECK(gates.shape()[0] == state.shape()[0] && gates.shape()[1] == blocks * state.shape()[1], ShapeError,
               "{}: gates shape {} does not fit state shape {} (hint: gates must be [B, {} * H] for a state [B, H])", op,
               gates.shape().str(), state.shape().str(), blocks);
}

// ---- the loops over a block of rows, plain arrays (restrict pointers, so they vectorise; three x86-64
// levels: ops/simd.h); the math of one unit is ops/cell_math/. kFresh: the gradient is unzeroed memory to
// overwrite with 0 + v (Note [Gradients accumulate]). ----

// c = f c_prev + i g   (act keeps i, f, g: [B, 3H])
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
      const lstm::CellState<T> s = lstm::cell_state(a[k], a[hidden + k], a[2 * hidden + k], cp[k]);
      i[k] = s.i;
      f[k] = s.f;
      g[k] = s.g;
      out[k] = s.c;
    }
  }
}

// da_{i,f,g} += lstm::cell_state_grad (the o block is lstm_hidden's)
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
      const lstm::CellStateGrad<T> gr = lstm::cell_state_grad(d[k], i[k], f[k], g[k], cp[k]);
      da[k] += gr.da_i;
      da[hidden + k] += gr.da_f;
      da[2 * hidden + k] += gr.da_g;
    }
  }
}

// dc_prev += lstm::cell_state_grad's dc_prev (dc f)
template <bool kFresh, class T>
UNROLL_SIMD_CLONES void lstm_cell_state_prev_grad(const T* __restrict act, const T* __restrict c_prev,
                                                  const T* __restrict dc, T* __restrict dc_prev, int64_t batch,
                                                  int64_t hidden) {
  for (int64_t b = 0; b < batch; ++b) {
    const T* i = act + b * 3 * hidden;
    const T* f = i + hidden;
    const T* g = f + hidden;
    const T* cp = c_prev + b * hidden;
    const T* d = dc + b * hidden;
    T* dp = dc_prev + b * hidden;
    for (int64_t k = 0; k < hidden; ++k)
      dp[k] = (kFresh ? T(0) : dp[k]) + lstm::cell_state_grad(d[k], i[k], f[k], g[k], cp[k]).dc_prev;
  }
}

void lstm_cell_state_backward(BackwardContext& c) {
  const int64_t batch = c.out().shape()[0], hidden = c.out().shape()[1];
  dispatch_dtype(c.out().dtype(), [&]<class T>() {
    const T* act = c.aux().data<T>();
    const T* c_prev = c.in(1).data<T>();
    const T* dc = c.dout().data<T>();
    if (c.needs(0)) lstm_cell_state_gates_grad<T>(act, c_prev, dc, c.din(0).data<T>(), batch, hidden);
    if (c.needs(1)) {
      const auto [dc_prev, fresh] = c.din_target(1);
      (fresh ? &lstm_cell_state_prev_grad<true, T> : &lstm_cell_state_prev_grad<false, T>)(
          act, c_prev, dc, dc_prev.template data<T>(), batch, hidden);
    }
  });
}

// h = o tanh(c)   (act keeps o and tanh(c): [B, 2H])
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
      const lstm::Hidden<T> s = lstm::hidden(a[k], cb[k]);
      o[k] = s.o;
      tc[k] = s.tanh_c;
      out[k] = s.h;
    }
  }
}

// da_o += lstm::hidden_grad's da_o
template <class T>
UNROLL_SIMD_CLONES void lstm_hidden_gates_grad(const T* __restrict act, const T* __restrict dh, T* __restrict dgates,
                                               int64_t batch, int64_t hidden) {
  for (int64_t b = 0; b < batch; ++b) {
    const T* o = act + b * 2 * hidden;
    const T* tc = o + hidden;
    const T* d = dh + b * hidden;
    T* da = dgates + b * 4 * hidden + 3 * hidden;
    for (int64_t k = 0; k < hidden; ++k) da[k] += lstm::hidden_grad(d[k], o[k], tc[k]).da_o;
  }
}

// dc += lstm::hidden_grad's dc
template <bool kFresh, class T>
UNROLL_SIMD_CLONES void lstm_hidden_cell_grad(const T* __restrict act, const T* __restrict dh, T* __restrict dcell,
                                              int64_t batch, int64_t hidden) {
  for (int64_t b = 0; b < batch; ++b) {
    const T* o = act + b * 2 * hidden;
    const T* tc = o + hidden;
    const T* d = dh + b * hidden;
    T* dcb = dcell + b * hidden;
    for (int64_t k = 0; k < hidden; ++k) dcb[k] = (kFresh ? T(0) : dcb[k]) + lstm::hidden_grad(d[k], o[k], tc[k]).dc;
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

// h = (1-z) n + z h_prev   (act keeps r, z, n: [B, 3H])
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
      const gru_lbr::Update<T> s =
          gru_lbr::update(x[k], x[hidden + k], x[2 * hidden + k], hp[k], hp[hidden + k], hp[2 * hidden + k], prev[k]);
      r[k] = s.r;
      z[k] = s.z;
      n[k] = s.n;
      out[k] = s.h;
    }
  }
}

// dx_{r,z,n} += da_r, da_z, da_n (into = 0);  dh_{r,z,n} += da_r, da_z, da_n r (into = 1);
// dh_prev += dh z (into = 2)   (gru_lbr::update_grad)
template <int into, bool kFresh, class T>
UNROLL_SIMD_CLONES void gru_lbr_update_grad_loop(const T* __restrict act, const T* __restrict h_proj,
                                                 const T* __restrict h_prev, const T* __restrict dh,
                                                 T* __restrict dst, int64_t batch, int64_t hidden) {
  const int64_t width = into == 2 ? hidden : 3 * hidden;
  for (int64_t b = 0; b < batch; ++b) {
    const T* r = act + b * 3 * hidden;
    const T* z = r + hidden;
    const T* n = z + hidden;
    const T* hn = h_proj + b * 3 * hidden + 2 * hidden;
    const T* hprev = h_prev + b * hidden;
    const T* d = dh + b * hidden;
    T* row = dst + b * width;
    for (int64_t k = 0; k < hidden; ++k) {
      const gru_lbr::UpdateGrad<T> gr = gru_lbr::update_grad(d[k], r[k], z[k], n[k], hn[k], hprev[k]);
      if constexpr (into == 2) {
        row[k] = (kFresh ? T(0) : row[k]) + gr.dh_prev;
      } else {
        row[k] = (kFresh ? T(0) : row[k]) + gr.da_r;
        row[hidden + k] = (kFresh ? T(0) : row[hidden + k]) + gr.da_z;
        row[2 * hidden + k] = (kFresh ? T(0) : row[2 * hidden + k]) + (into == 0 ? gr.da_n : gr.dh_n);
      }
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
    const auto grad_of = [&]<int into>() {
      if (!c.needs(into)) return;
      const auto [dst, fresh] = c.din_target(into);
      (fresh ? &gru_lbr_update_grad_loop<into, true, T> : &gru_lbr_update_grad_loop<into, false, T>)(
          act, h_proj, h_prev, dh, dst.template data<T>(), batch, hidden);
    };
    grad_of.template operator()<0>();  // x_proj
    grad_of.template operator()<1>();  // h_proj
    grad_of.template operator()<2>();  // h_prev
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
