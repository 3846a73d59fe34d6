// SPDX-License-Identifier: Apache-2.0
// What lives here: cell_program_sequence, one layer in one direction of ANY cell program (Note [Cell
// program]) over a whole sequence as ONE recorded op -- the fast path models/strategies/program_sequence.cpp
// takes for a cell that declares its program; its checks, record and backward. The engine is Note [Program
// step loop] (ops/cell_program_engine.h). The per-step graph of the cell's step() stays the definition and
// the tests' reference (tests/test_cell_program.cpp).
//
// Formula (gx = x_t W_ih^T + b_ih, gh = h W_hh^T + b_hh, G blocks of H columns):
//   (h', s_1', .., s_{S-1}') = program(gx, gh, h, s_1, .., s_{S-1}, params)   at every step
//   backward: reverse mode over the program per step, gradients of every input.
// Output: [T + S - 1, B, H]: h at every t, then the final states 1 .. S-1. With reverse the recursion runs
// t = T-1 .. 0 and h stays at its own t.
#include <vector>

#include "ops/cell_program_engine.h"
#include "ops/op.h"
#include "ops/ops.h"

namespace unroll {

namespace {

using namespace cellprog;

enum Input { kX = 0, kWih, kWhh, kBih, kBhh, kStates };  // then S states, then P params

Dims dims_of(const CellProgram& p, bool reverse, const Shape& x, const Shape& w_hh) {
  return Dims{reverse, x[0], x[1], x[2], w_hh[1], p.gates, p.states, static_cast<int64_t>(p.param_names.size())};
}

// dgx, dgh, d states, d params: reverse mode over the program per step (Note [Program step loop]).
void cell_program_sequence_backward(BackwardContext& c) {
  const CellProgram& program = *static_cast<const CellProgram*>(c.attrs().ptr);
  const Plan plan = make_plan(program);
  const Dims d = dims_of(program, c.attrs().i[0] != 0, c.in(kX).shape(), c.in(kWhh).shape());
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
    Inputs<T> inputs{in(kX), in(kWih), in(kWhh), in(kBih), in(kBhh), {}, {}};
    Grads<T> grads{din(kX), din(kWih), din(kWhh), din(kBih), din(kBhh), {}, {}};
    for (int s = 0; s < d.S; ++s) {
      inputs.states0.push_back(in(kStates + s));
      grads.dstates0.push_back(din(kStates + s));
    }
    for (int p = 0; p < d.P; ++p) {
      inputs.params.push_back(in(kStates + static_cast<int>(d.S) + p));
      grads.dparams.push_back(din(kStates + static_cast<int>(d.S) + p));
    }
    loop_backward<T>(c.tape(), plan, d, inputs, c.out().data<T>(), aux, c.dout().data<T>(), grads);
  });
}

void check_shape(const char* name, const Var& v, const Shape& want, const Shape& x, const char* hint) {
  UNROLL_CHECK(v.shape() == want, ShapeError,
               "cell_program_sequence: {} has shape {} but the input has shape {} and expects {} (hint: {})", name,
               v.shape().str(), x.str(), want.str(), hint);
}

}  // namespace

Var cell_program_sequence(const CellProgram& program, Var x, const std::vector<Var>& states0, Var w_ih, Var w_hh,
                          Var b_ih, Var b_hh, const std::vector<Var>& params, bool reverse) {
  const Plan plan = make_plan(program);  // validates
  UNROLL_CHECK(states0.size() == static_cast<size_t>(program.states), UsageError,
               "cell_program_sequence: {} initial states for a program of {} states (hint: h first)", states0.size(),
               program.states);
  UNROLL_CHECK(params.size() == program.param_names.size(), UsageError,
               "cell_program_sequence: {} vector parameters for a program that reads {}", params.size(),
               program.param_names.size());
  std::vector<Var> inputs{x, w_ih, w_hh, b_ih, b_hh};
  inputs.insert(inputs.end(), states0.begin(), states0.end());
  inputs.insert(inputs.end(), params.begin(), params.end());
  for (size_t i = 1; i < inputs.size(); ++i) {
    check_same_tape("cell_program_sequence", x, inputs[i]);
    check_same_dtype("cell_program_sequence", x, inputs[i]);
  }
  const Shape& xs = x.shape();
  UNROLL_CHECK(xs.rank() == 3 && xs[0] >= 1 && xs[1] >= 1 && xs[2] >= 1, ShapeError,
               "cell_program_sequence: the input must be [T, B, I] with T, B, I >= 1, got {} (hint: time-major)",
               xs.str());
  const int64_t G = program.gates;
  UNROLL_CHECK(w_hh.shape().rank() == 2 && w_hh.shape()[1] >= 1 && w_hh.shape()[0] == G * w_hh.shape()[1], ShapeError,
               "cell_program_sequence: w_hh has shape {}, expected [G*H, H] with G = {} (hint: Note [Cell layout])",
               w_hh.shape().str(), G);
  const Dims d = dims_of(program, reverse, xs, w_hh.shape());
  const int64_t GH = G * d.H;
  check_shape("w_ih", w_ih, Shape{GH, d.I}, xs, "w_ih is [G*H, I]: its columns must equal the input's last dimension");
  check_shape("b_ih", b_ih, Shape{GH}, xs, "b_ih is [G*H]");
  check_shape("b_hh", b_hh, Shape{GH}, xs, "b_hh is [G*H]");
  for (const Var& s : states0)
    check_shape("an initial state", s, Shape{d.B, d.H}, xs, "states are [B, H]: the input's batch, the hidden size");
  for (size_t p = 0; p < params.size(); ++p)
    check_shape(program.param_names[p].c_str(), params[p], Shape{d.H}, xs, "vector parameters are [H]");

  Tape& tape = x.tape();
  Tensor out = tape.alloc(Shape{d.T + d.S - 1, d.B, d.H}, x.dtype());
  Tensor aux = tape.alloc(Shape{aux_elements(plan, d)}, x.dtype());
  dispatch_dtype(x.dtype(), [&]<class T>() {
    const auto v = [](const Var& in) -> const T* { return in.value().data<T>(); };
    Inputs<T> in{v(x), v(w_ih), v(w_hh), v(b_ih), v(b_hh), {}, {}};
    for (const Var& s : states0) in.states0.push_back(v(s));
    for (const Var& p : params) in.params.push_back(v(p));
    loop_forward<T>(tape, plan, d, in, out.data<T>(), aux.data<T>());
  });
  OpAttrs attrs;
  attrs.i[0] = reverse ? 1 : 0;
  attrs.ptr = &program;  // the program outlives the tape's backward, as the cell's parameters do
  return record_op(OpKind::cell_program_sequence, inputs, out, &cell_program_sequence_backward, attrs, aux);
}

}  // namespace unroll
