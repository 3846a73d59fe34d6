// SPDX-License-Identifier: Apache-2.0
// What lives here: the fused_sequence strategy (strategies.h): a whole layer and direction as one
// rnn_sequence op (Note [Fused fast path] in models/cell.h). Its outputs, states and steps are the same
// tensors the graph path produces, at the same t; with variable lengths too (Note [Variable lengths]).
#include "models/strategies/steps.h"
#include "models/strategies/strategies.h"
#include "ops/ops.h"

namespace unroll::strategies {

DirectionOutput run_fused_sequence(const DirectionInput& in, RnnKind kind, RnnEngine engine) {
  const int S = static_cast<int>(in.state.size());
  const int64_t T = in.x.shape()[0];
  Tape& tape = in.tape;
  Cell& cell = in.cell;
  // h_T is y's last processed row; with lengths, the op holds each row's state past its end (Note [Masked
  // step loop] in ops/rnn_step_loop.cpp), so that row is still each sequence's own final state.
  const Var c0 = S == 2 ? in.state[1] : Var();
  const Var packed = rnn_sequence(kind, in.x, in.state[0], c0, tape.param(cell.w_ih()), tape.param(cell.w_hh()),
                                  tape.param(cell.b_ih()), tape.param(cell.b_hh()), in.reverse, engine,
                                  in.masks.lengths);
  DirectionOutput out;
  out.finals.resize(static_cast<size_t>(S));
  // c_T first: the h rows' slice is then packed's last consumer and may share its gradient memory
  // (Note [Gradient views] in graph/grad_memory.h).
  if (S == 2) out.finals[1] = slice(packed, 0, T, 1);
  const Var states = S == 2 ? slice(packed, 0, 0, T) : packed;  // [T, B, H]
  out.finals[0] = slice(states, 0, in.reverse ? 0 : T - 1, 1);
  // The outputs past each length are zeros, as the graph path's h * keep.
  out.sequence = in.masks.any() ? mul(states, in.masks.keep_steps) : states;
  return out;
}

}  // namespace unroll::strategies
