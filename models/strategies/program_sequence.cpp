// SPDX-License-Identifier: Apache-2.0
// What lives here: the program_sequence strategy (strategies.h): a whole layer and direction of a cell that
// declares its cell program (Cell::cell_program, Note [Cell program]) as one cell_program_sequence op
// (Note [Program step loop] in ops/cell_program_engine.h). Its outputs, states and steps are the same
// tensors the graph path produces, at the same t.
#include "graph/check.h"
#include "models/strategies/strategies.h"
#include "ops/ops.h"

namespace unroll::strategies {

DirectionOutput run_program_sequence(const DirectionInput& in) {
  Tape& tape = in.tape;
  Cell& cell = in.cell;
  const CellProgram& program = *cell.cell_program();
  const int S = static_cast<int>(in.state.size());
  const int64_t T = in.x.shape()[0];
  std::vector<Var> params;
  for (const std::string& name : program.param_names) {
    Parameter* p = cell.find_parameter(name);
    UNROLL_CHECK(p != nullptr, UsageError,
                 "cell '{}': its cell program reads the vector parameter '{}', which the cell does not register",
                 cell.kind(), name);
    params.push_back(tape.param(*p));
  }
  const Var packed = cell_program_sequence(program, in.x, in.state, tape.param(cell.w_ih()), tape.param(cell.w_hh()),
                                           tape.param(cell.b_ih()), tape.param(cell.b_hh()), params, in.reverse);
  DirectionOutput out;
  out.finals.resize(static_cast<size_t>(S));
  // The other states first: the h rows' slice is then packed's last consumer and may share its gradient
  // memory (Note [Gradient views] in graph/grad_memory.h).
  for (int s = 1; s < S; ++s) out.finals[static_cast<size_t>(s)] = slice(packed, 0, T + s - 1, 1);
  out.sequence = S > 1 ? slice(packed, 0, 0, T) : packed;  // [T, B, H]
  out.finals[0] = slice(out.sequence, 0, in.reverse ? 0 : T - 1, 1);
  return out;
}

}  // namespace unroll::strategies
