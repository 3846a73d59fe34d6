// SPDX-License-Identifier: Apache-2.0
// What lives here: the step loop of Note [Program step loop] (ops/cell_program_engine.h) -- forward and
// BPTT over the steps of one layer and direction of any cell program, each row block of Note [Batch split]
// on its own thread, the program run chunk by chunk by the Interpreter (ops/cell_program_interp.cpp).
#include <algorithm>
#include <vector>

#include "ops/batch_split.h"
#include "ops/cell_program_engine.h"
#include "ops/gemm.h"
#include "ops/pointwise.h"
#include "ops/step_products.h"

namespace unroll::cellprog {

namespace {

size_t z(int64_t v) { return static_cast<size_t>(v); }

// aux's parts (Note [Program step loop]).
template <class T>
struct Aux {
  T* gates;  // [T, B, G*H]
  T* gh;     // [T, B, G*H], null when folded
  T* kept;   // [S-1, T, B, H]
  Aux(const Plan& plan, const Dims& d, T* aux)
      : gates(aux),
        gh(plan.folded ? nullptr : aux + d.T * d.B * d.G * d.H),
        kept(aux + (plan.folded ? 1 : 2) * d.T * d.B * d.G * d.H) {}
  // new state s of step t: h in the output, the others in kept
  template <class U>
  U* at(int s, int64_t t, const Dims& d, U* out) const {
    return s == 0 ? out + t * d.B * d.H : kept + ((s - 1) * d.T + t) * d.B * d.H;
  }
};

// The leaves of row `row`, units j0.. of one step: the step's gates (and gh), the previous states, params.
template <class T>
void point_chunk(ChunkIn<T>& ci, const Dims& d, const T* gx_rows, const T* gh_rows, const std::vector<const T*>& prev,
                 const std::vector<const T*>& params, int64_t row, int64_t b, int64_t j0) {
  const int64_t GH = d.G * d.H;
  ci.n = std::min(kChunk, d.H - j0);
  ci.gx = gx_rows + b * GH + j0;
  ci.gh = gh_rows ? gh_rows + b * GH + j0 : nullptr;
  for (size_t s = 0; s < prev.size(); ++s) ci.states[s] = prev[s] + row * d.H + j0;
  for (size_t p = 0; p < params.size(); ++p) ci.params[p] = params[p] + j0;
}

template <class T>
ChunkIn<T> make_chunk(const Dims& d) {
  ChunkIn<T> ci{};
  ci.H = d.H;
  ci.states.resize(z(d.S));
  ci.params.resize(z(d.P));
  return ci;
}

// dx += da W_ih, dW_ih += da^T x, dW_hh += da_h^T h_prev (da_h: the gate sums' gradient when folded, else d gh).
template <class T>
void add_product_grads(Tape& tape, const Plan& plan, const Dims& d, const Inputs<T>& in, const T* out, const Aux<T>& a,
                       const Grads<T>& g) {
  const int64_t B = d.B, H = d.H, GH = d.G * H, rows = d.T * B;
  if (g.dx) gemm<T>(tape, {.m = rows, .n = d.I, .k = GH, .accumulate = true}, a.gates, in.w_ih, g.dx);
  if (g.dw_ih) gemm<T>(tape, {.m = GH, .n = d.I, .k = rows, .trans_a = true, .accumulate = true}, a.gates, in.x, g.dw_ih);
  if (!g.dw_hh) return;
  const T* da_h = plan.folded ? a.gates : a.gh;
  // h_prev of step t is out[t - 1] (out[t + 1] in reverse), except the first step processed: h0.
  const int64_t with_prev = d.reverse ? 0 : 1, prev_of_it = d.reverse ? 1 : 0;
  if (d.T > 1)
    gemm<T>(tape, {.m = GH, .n = H, .k = (d.T - 1) * B, .trans_a = true, .accumulate = true},
            da_h + with_prev * B * GH, out + prev_of_it * B * H, g.dw_hh);
  gemm<T>(tape, {.m = GH, .n = H, .k = B, .trans_a = true, .accumulate = true}, da_h + d.time(0) * B * GH,
          in.states0[0], g.dw_hh);
}

// dst += the B rows of `rows` [B, width], summed in row order.
template <class T>
void add_row_sums(T* dst, const std::vector<T>& rows, int64_t B, int64_t width) {
  std::vector<T> sums(z(width));
  for (int64_t b = 0; b < B; ++b) add_into<T>(sums.data(), rows.data() + b * width, width);
  add_into<T>(dst, sums.data(), width);
}

}  // namespace

int64_t aux_elements(const Plan& plan, const Dims& d) {
  return d.T * d.B * ((plan.folded ? 1 : 2) * d.G * d.H + (d.S - 1) * d.H);
}

template <class T>
void loop_forward(Tape& tape, const Plan& plan, const Dims& d, const Inputs<T>& in, T* out, T* aux) {
  const int64_t B = d.B, H = d.H, GH = d.G * H;
  const Aux<T> a(plan, d, aux);
  // Folded: both biases go into the input projection and each step adds h W_hh^T onto its gates.
  std::vector<T> bias(in.b_ih, in.b_ih + GH);
  if (plan.folded)
    for (int64_t j = 0; j < GH; ++j) bias[z(j)] += in.b_hh[j];
  gemm<T>(tape, {.m = d.T * B, .n = GH, .k = d.I, .trans_b = true, .bias = true}, in.x, in.w_ih, a.gates, bias.data());
  const std::vector<RowBlock> row_blocks = split_batch(B);
  const StepProducts<T> project_hidden(
      tape, {.n = GH, .k = H, .trans_b = true, .accumulate = plan.folded, .bias = !plan.folded}, in.w_hh, row_blocks);
  for_each_block(row_blocks.size(), [&](size_t i) {  // Note [Batch split]: this block's rows, every step
    const int64_t b0 = row_blocks[i].begin, nb = row_blocks[i].rows;
    Interpreter<T> interp(plan);
    ChunkIn<T> ci = make_chunk<T>(d);
    std::vector<const T*> prev(z(d.S));
    std::vector<T*> dst(z(d.S));  // where the chunk's new states go
    for (int64_t k = 0; k < d.T; ++k) {
      const int64_t t = d.time(k), tp = k > 0 ? d.time(k - 1) : -1;
      for (int s = 0; s < d.S; ++s) prev[z(s)] = tp >= 0 ? a.at(s, tp, d, static_cast<const T*>(out)) : in.states0[z(s)];
      T* gx_rows = a.gates + (t * B + b0) * GH;
      T* gh_rows = a.gh ? a.gh + (t * B + b0) * GH : nullptr;
      if (plan.folded)
        project_hidden(i, prev[0] + b0 * H, gx_rows);  // gates = gx + b_ih + b_hh, += h W_hh^T
      else
        project_hidden(i, prev[0] + b0 * H, gh_rows, in.b_hh);
      for (int64_t b = 0; b < nb; ++b)
        for (int64_t j0 = 0; j0 < H; j0 += kChunk) {
          point_chunk(ci, d, gx_rows, gh_rows, prev, in.params, b0 + b, b, j0);
          for (int s = 0; s < d.S; ++s) dst[z(s)] = a.at(s, t, d, out) + (b0 + b) * H + j0;
          interp.forward(ci, dst.data());
        }
    }
  });
  for (int s = 1; s < d.S; ++s)  // the final states 1..S-1 after h's rows
    std::copy_n(a.at(s, d.time(d.T - 1), d, out), B * H, out + (d.T + s - 1) * B * H);
}

// Per step, backwards: the program's gradients chunk by chunk (d gates into aux, d previous states), then
// dh_{t-1} = da_h W_hh + the program's own d h_prev; per-row sums of the bias and param gradients.
template <class T>
void loop_backward(Tape& tape, const Plan& plan, const Dims& d, const Inputs<T>& in, const T* out, T* aux,
                   const T* dout, const Grads<T>& g) {
  const int64_t B = d.B, H = d.H, GH = d.G * H;
  const Aux<T> a(plan, d, aux);
  const bool bias_sums = g.db_ih != nullptr || g.db_hh != nullptr;
  std::vector<std::vector<T>> carry(z(d.S), std::vector<T>(z(B * H)));  // d(state s) flowing to the step before
  for (int s = 1; s < d.S; ++s) std::copy_n(dout + (d.T + s - 1) * B * H, B * H, carry[z(s)].begin());
  std::vector<T> direct_dh(z(B * H));                               // the program's own d h_prev
  std::vector<T> row_sums(z(bias_sums ? B * GH : 0)), row_sums_h(z(bias_sums && !plan.folded ? B * GH : 0));
  std::vector<T> param_sums(z(B * d.P * H));                        // [B, P, H]
  const std::vector<RowBlock> row_blocks = split_batch(B);
  const StepProducts<T> back_to_hidden(tape, {.n = H, .k = GH}, in.w_hh, row_blocks);
  for_each_block(row_blocks.size(), [&](size_t i) {  // Note [Batch split]: this block's rows, every step
    const int64_t b0 = row_blocks[i].begin, nb = row_blocks[i].rows;
    Interpreter<T> interp(plan);
    ChunkIn<T> ci = make_chunk<T>(d);
    ChunkGrads<T> cg{std::vector<const T*>(z(d.S)), nullptr, nullptr, nullptr, std::vector<T*>(z(d.S)),
                     std::vector<T*>(z(d.P)), std::vector<const T*>(z(d.S))};
    std::vector<const T*> prev(z(d.S));
    for (int64_t k = d.T - 1; k >= 0; --k) {
      const int64_t t = d.time(k), tp = k > 0 ? d.time(k - 1) : -1;
      for (int s = 0; s < d.S; ++s) prev[z(s)] = tp >= 0 ? a.at(s, tp, d, out) : in.states0[z(s)];
      T* gx_rows = a.gates + (t * B + b0) * GH;
      T* gh_rows = a.gh ? a.gh + (t * B + b0) * GH : nullptr;
      for (int64_t b = 0; b < nb; ++b) {
        const int64_t row = b0 + b;
        for (int64_t j0 = 0; j0 < H; j0 += kChunk) {
          point_chunk(ci, d, gx_rows, gh_rows, prev, in.params, row, b, j0);
          for (int s = 0; s < d.S; ++s) {
            cg.seeds[z(s)] = carry[z(s)].data() + row * H + j0;
            cg.saved[z(s)] = a.at(s, t, d, out) + row * H + j0;
            cg.dstates[z(s)] = (s == 0 ? direct_dh.data() : carry[z(s)].data()) + row * H + j0;
          }
          cg.seed_h_extra = dout + (t * B + row) * H + j0;
          cg.dgx = gx_rows + b * GH + j0;
          cg.dgh = gh_rows ? gh_rows + b * GH + j0 : nullptr;
          for (int p = 0; p < d.P; ++p) cg.dparams[z(p)] = param_sums.data() + (row * d.P + p) * H + j0;
          interp.backward(ci, cg);
        }
      }
      T* dh = carry[0].data() + b0 * H;
      back_to_hidden(i, plan.folded ? gx_rows : gh_rows, dh);  // dh_{t-1} = da_h W_hh
      add_into<T>(dh, direct_dh.data() + b0 * H, nb * H);      //   + d h_prev of the program
      if (bias_sums) {
        add_into<T>(row_sums.data() + b0 * GH, gx_rows, nb * GH);
        if (gh_rows) add_into<T>(row_sums_h.data() + b0 * GH, gh_rows, nb * GH);
      }
    }
  });
  for (int s = 0; s < d.S; ++s)
    if (g.dstates0[z(s)]) add_into<T>(g.dstates0[z(s)], carry[z(s)].data(), B * H);
  if (g.db_ih) add_row_sums(g.db_ih, row_sums, B, GH);
  if (g.db_hh) add_row_sums(g.db_hh, plan.folded ? row_sums : row_sums_h, B, GH);
  for (int p = 0; p < d.P; ++p) {
    if (!g.dparams[z(p)]) continue;
    std::vector<T> sums(z(H));
    for (int64_t b = 0; b < B; ++b) add_into<T>(sums.data(), param_sums.data() + (b * d.P + p) * H, H);
    add_into<T>(g.dparams[z(p)], sums.data(), H);
  }
  add_product_grads(tape, plan, d, in, out, a, g);
}

template void loop_forward<float>(Tape&, const Plan&, const Dims&, const Inputs<float>&, float*, float*);
template void loop_forward<double>(Tape&, const Plan&, const Dims&, const Inputs<double>&, double*, double*);
template void loop_backward<float>(Tape&, const Plan&, const Dims&, const Inputs<float>&, const float*, float*,
                                   const float*, const Grads<float>&);
template void loop_backward<double>(Tape&, const Plan&, const Dims&, const Inputs<double>&, const double*, double*,
                                    const double*, const Grads<double>&);

}  // namespace unroll::cellprog
