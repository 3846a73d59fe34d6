// SPDX-License-Identifier: Apache-2.0
// What lives here: the checks of a CellProgram (ops/cell_program.h, Note [Cell program]).
#include "ops/cell_program.h"

#include <fmt/format.h>

#include "graph/check.h"

namespace unroll {

namespace {

bool is_leaf(CellOp op) {
  return op == CellOp::gate_x || op == CellOp::gate_h || op == CellOp::state || op == CellOp::param ||
         op == CellOp::constant;
}
bool is_binary(CellOp op) { return op == CellOp::add || op == CellOp::sub || op == CellOp::mul || op == CellOp::div; }

}  // namespace

void CellProgram::validate() const {
  if (gates < 1) throw UsageError(fmt::format("cell program: gate count {} must be at least 1", gates));
  if (states < 1) throw UsageError(fmt::format("cell program: state count {} must be at least 1", states));
  for (size_t r = 0; r < code.size(); ++r) {
    const CellInstr& in = code[r];
    const auto operand_ok = [&](int32_t reg) { return reg >= 0 && static_cast<size_t>(reg) < r; };
    if (is_leaf(in.op)) {
      const int32_t limit = in.op == CellOp::gate_x || in.op == CellOp::gate_h ? gates
                            : in.op == CellOp::state                          ? states
                            : in.op == CellOp::param ? static_cast<int32_t>(param_names.size())
                                                     : 1;
      if (in.op != CellOp::constant && (in.index < 0 || in.index >= limit))
        throw UsageError(fmt::format("cell program: register {} reads index {} of {}", r, in.index, limit));
    } else if (!operand_ok(in.a) || (is_binary(in.op) && !operand_ok(in.b))) {
      throw UsageError(fmt::format("cell program: register {} reads a register that is not defined before it", r));
    }
  }
  if (outputs.size() != static_cast<size_t>(states))
    throw UsageError(fmt::format("cell program: {} outputs for {} states", outputs.size(), states));
  for (int32_t reg : outputs)
    if (reg < 0 || static_cast<size_t>(reg) >= code.size())
      throw UsageError(fmt::format("cell program: output register {} is not defined", reg));
}

bool CellProgram::uses_gate_sums_only() const {
  // Every gate_x / gate_h register must be read by exactly one add pairing it with the same gate's other
  // part, and by nothing else.
  std::vector<int> reads(code.size(), 0);
  for (const CellInstr& in : code) {
    if (in.a >= 0) ++reads[static_cast<size_t>(in.a)];
    if (in.b >= 0 && is_binary(in.op)) ++reads[static_cast<size_t>(in.b)];
  }
  for (int32_t reg : outputs) ++reads[static_cast<size_t>(reg)];
  const auto is_gate = [&](int32_t reg, CellOp op) { return code[static_cast<size_t>(reg)].op == op; };
  for (size_t r = 0; r < code.size(); ++r) {
    const CellInstr& in = code[r];
    if (in.op != CellOp::gate_x && in.op != CellOp::gate_h) continue;
    if (reads[r] > 1) return false;
    bool paired = false;
    for (const CellInstr& user : code) {
      if (user.op != CellOp::add || (user.a != static_cast<int32_t>(r) && user.b != static_cast<int32_t>(r))) continue;
      const int32_t other = user.a == static_cast<int32_t>(r) ? user.b : user.a;
      const CellOp want = in.op == CellOp::gate_x ? CellOp::gate_h : CellOp::gate_x;
      paired = is_gate(other, want) && code[static_cast<size_t>(other)].index == in.index;
    }
    if (!paired) return false;
  }
  return true;
}

}  // namespace unroll
