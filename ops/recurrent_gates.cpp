// What lives here: the fused pointwise gate math of the stock LSTM and GRU (PyTorch form) cells. Each is
// one recorded op instead of ~10 (slices, sigmoids, tanh, products, sums): the same formulas, one pass
// over memory, one node on the tape. The matrix products stay ordinary linear ops. Tests check each
// against float64 finite differences and against the composed version of the same cell.
#include <cmath>

#include "ops/fast_math.h"
#include "ops/op.h"
#include "ops/ops.h"

namespace unroll {

namespace {

inline float act_sigmoid(float x) { return fast::sigmoid(x); }
inline double act_sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x)); }
inline float act_tanh(float x) { return fast::tanh(x); }
inline double act_tanh(double x) { return std::tanh(x); }

void check_gates(const char* op, const Var& gates, const Var& state, int blocks) {
  check_same_tape(op, gates, state);
  check_same_dtype(op, gates, state);
  check_rank(op, gates, 2, "the gates");
  check_rank(op, state, 2, "the state");
  UNROLL_CHECK(gates.shape()[0] == state.shape()[0] && gates.shape()[1] == blocks * state.shape()[1], ShapeError,
               "{}: gates shape {} does not fit state shape {} (hint: gates must be [B, {} * H] for a state [B, H])", op,
               gates.shape().str(), state.shape().str(), blocks);
}

// c = f c_prev + i g,  i = s(a_i), f = s(a_f), g = tanh(a_g)   (aux keeps i, f, g: [B, 3H])
// da_i += dc g i(1-i);  da_f += dc c_prev f(1-f);  da_g += dc i (1-g^2);  dc_prev += dc f
void lstm_cell_state_backward(BackwardContext& c) {
  const int64_t batch = c.out().shape()[0], hidden = c.out().shape()[1];
  dispatch_dtype(c.out().dtype(), [&]<class T>() {
    const T* act = c.aux().data<T>();
    const T* c_prev = c.in(1).data<T>();
    const T* dc = c.dout().data<T>();
    T* dgates = c.needs(0) ? c.din(0).data<T>() : nullptr;
    T* dc_prev = c.needs(1) ? c.din(1).data<T>() : nullptr;
    for (int64_t b = 0; b < batch; ++b) {
      const T* i = act + b * 3 * hidden;
      const T* f = i + hidden;
      const T* g = f + hidden;
      const T* cp = c_prev + b * hidden;
      const T* d = dc + b * hidden;
      if (dgates) {
        T* da = dgates + b * 4 * hidden;
        for (int64_t k = 0; k < hidden; ++k) {
          da[k] += d[k] * g[k] * i[k] * (1 - i[k]);
          da[hidden + k] += d[k] * cp[k] * f[k] * (1 - f[k]);
          da[2 * hidden + k] += d[k] * i[k] * (1 - g[k] * g[k]);
        }
      }
      if (dc_prev)
        for (int64_t k = 0; k < hidden; ++k) dc_prev[b * hidden + k] += d[k] * f[k];
    }
  });
}

// h = o tanh(c),  o = s(a_o)   (aux keeps o and tanh(c): [B, 2H])
// da_o += dh tanh(c) o(1-o);  dc += dh o (1 - tanh(c)^2)
void lstm_hidden_backward(BackwardContext& c) {
  const int64_t batch = c.out().shape()[0], hidden = c.out().shape()[1];
  dispatch_dtype(c.out().dtype(), [&]<class T>() {
    const T* act = c.aux().data<T>();
    const T* dh = c.dout().data<T>();
    T* dgates = c.needs(0) ? c.din(0).data<T>() : nullptr;
    T* dcell = c.needs(1) ? c.din(1).data<T>() : nullptr;
    for (int64_t b = 0; b < batch; ++b) {
      const T* o = act + b * 2 * hidden;
      const T* tc = o + hidden;
      const T* d = dh + b * hidden;
      if (dgates)
        for (int64_t k = 0; k < hidden; ++k) dgates[b * 4 * hidden + 3 * hidden + k] += d[k] * tc[k] * o[k] * (1 - o[k]);
      if (dcell)
        for (int64_t k = 0; k < hidden; ++k) dcell[b * hidden + k] += d[k] * o[k] * (1 - tc[k] * tc[k]);
    }
  });
}

// h = (1-z) n + z h_prev, n = tanh(x_n + r h_n), r = s(x_r + h_r), z = s(x_z + h_z)   (aux: r, z, n)
// dn = dh (1-z);  dz = dh (h_prev - n);  dh_prev += dh z;  da_n = dn (1-n^2): dx_n += da_n, dh_n += da_n r;
// da_r = da_n h_n r(1-r): dx_r += da_r, dh_r += da_r;  da_z = dz z(1-z): dx_z += da_z, dh_z += da_z
void gru_lbr_update_backward(BackwardContext& c) {
  const int64_t batch = c.out().shape()[0], hidden = c.out().shape()[1];
  dispatch_dtype(c.out().dtype(), [&]<class T>() {
    const T* act = c.aux().data<T>();
    const T* hp = c.in(1).data<T>();
    const T* h_prev = c.in(2).data<T>();
    const T* dh = c.dout().data<T>();
    T* dx = c.needs(0) ? c.din(0).data<T>() : nullptr;
    T* dhp = c.needs(1) ? c.din(1).data<T>() : nullptr;
    T* dh_prev = c.needs(2) ? c.din(2).data<T>() : nullptr;
    for (int64_t b = 0; b < batch; ++b) {
      const T* r = act + b * 3 * hidden;
      const T* z = r + hidden;
      const T* n = z + hidden;
      const T* hn = hp + b * 3 * hidden + 2 * hidden;
      const T* hprev = h_prev + b * hidden;
      const T* d = dh + b * hidden;
      for (int64_t k = 0; k < hidden; ++k) {
        const T da_n = d[k] * (1 - z[k]) * (1 - n[k] * n[k]);
        const T da_r = da_n * hn[k] * r[k] * (1 - r[k]);
        const T da_z = d[k] * (hprev[k] - n[k]) * z[k] * (1 - z[k]);
        if (dx) {
          T* row = dx + b * 3 * hidden;
          row[k] += da_r;
          row[hidden + k] += da_z;
          row[2 * hidden + k] += da_n;
        }
        if (dhp) {
          T* row = dhp + b * 3 * hidden;
          row[k] += da_r;
          row[hidden + k] += da_z;
          row[2 * hidden + k] += da_n * r[k];
        }
        if (dh_prev) dh_prev[b * hidden + k] += d[k] * z[k];
      }
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
    for (int64_t b = 0; b < batch; ++b) {
      const T* a = gates.value().data<T>() + b * 4 * hidden;
      const T* cp = c_prev.value().data<T>() + b * hidden;
      T* i = act.data<T>() + b * 3 * hidden;
      T* f = i + hidden;
      T* g = f + hidden;
      T* out = cell.data<T>() + b * hidden;
      for (int64_t k = 0; k < hidden; ++k) {
        i[k] = act_sigmoid(a[k]);
        f[k] = act_sigmoid(a[hidden + k]);
        g[k] = act_tanh(a[2 * hidden + k]);
        out[k] = f[k] * cp[k] + i[k] * g[k];
      }
    }
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
    for (int64_t b = 0; b < batch; ++b) {
      const T* a = gates.value().data<T>() + b * 4 * hidden + 3 * hidden;
      const T* cell = c.value().data<T>() + b * hidden;
      T* o = act.data<T>() + b * 2 * hidden;
      T* tc = o + hidden;
      T* out = h.data<T>() + b * hidden;
      for (int64_t k = 0; k < hidden; ++k) {
        o[k] = act_sigmoid(a[k]);
        tc[k] = act_tanh(cell[k]);
        out[k] = o[k] * tc[k];
      }
    }
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
    for (int64_t b = 0; b < batch; ++b) {
      const T* x = x_proj.value().data<T>() + b * 3 * hidden;
      const T* hp = h_proj.value().data<T>() + b * 3 * hidden;
      const T* prev = h_prev.value().data<T>() + b * hidden;
      T* r = act.data<T>() + b * 3 * hidden;
      T* z = r + hidden;
      T* n = z + hidden;
      T* out = h.data<T>() + b * hidden;
      for (int64_t k = 0; k < hidden; ++k) {
        r[k] = act_sigmoid(x[k] + hp[k]);
        z[k] = act_sigmoid(x[hidden + k] + hp[hidden + k]);
        n[k] = act_tanh(x[2 * hidden + k] + r[k] * hp[2 * hidden + k]);
        out[k] = (1 - z[k]) * n[k] + z[k] * prev[k];
      }
    }
  });
  return record_op(OpKind::gru_lbr_update, {x_proj, h_proj, h_prev}, h, &gru_lbr_update_backward, {}, act);
}

}  // namespace unroll
