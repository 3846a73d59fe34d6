// SPDX-License-Identifier: Apache-2.0
// What lives here: the built-in cells' steps written as cell programs (Note [Cell program]) with
// CellProgramBuilder, for the tests of the program engine (tests/test_cell_program.cpp, the gradient cases
// in tests/test_ops_grad.cpp): each is exactly the C++ cell's step() (models/cells.cpp) after the products.
#pragma once
#include <string>

#include "ops/cell_program_builder.h"

namespace unroll::testing {

// lstm (i f g o):  c' = s(f) c + s(i) tanh(g);  h' = s(o) tanh(c');  with peepholes i, f see c, o sees c'
inline CellProgram lstm_program(bool peephole = false) {
  CellProgramBuilder p(4, 2);
  const CellReg c = p.state(1);
  const CellReg a_i = peephole ? p.gate(0) + c * p.param("w_ci") : p.gate(0);
  const CellReg a_f = peephole ? p.gate(1) + c * p.param("w_cf") : p.gate(1);
  const CellReg c_new = sigmoid(a_f) * c + sigmoid(a_i) * tanh(p.gate(2));
  const CellReg a_o = peephole ? p.gate(3) + c_new * p.param("w_co") : p.gate(3);
  return p.finish({sigmoid(a_o) * tanh(c_new), c_new});
}

// gru_lbr (r z n):  r = s(x_r + h_r), z = s(x_z + h_z), n = tanh(x_n + r h_n);  h' = (1 - z) n + z h
inline CellProgram gru_lbr_program() {
  CellProgramBuilder p(3, 1);
  const CellReg r = sigmoid(p.gate(0));
  const CellReg z = sigmoid(p.gate(1));
  const CellReg n = tanh(p.gate_x(2) + r * p.gate_h(2));
  return p.finish({(1.0 - z) * n + z * p.state(0)});
}

// rnn_tanh / rnn_relu:  h' = tanh(gx + gh) or max(gx + gh, 0)
inline CellProgram elman_program(bool relu_activation) {
  CellProgramBuilder p(1, 1);
  return p.finish({relu_activation ? relu(p.gate(0)) : tanh(p.gate(0))});
}

// The program of the built-in cell `name` (lstm, lstm_peephole, gru_lbr, rnn_tanh, rnn_relu).
inline CellProgram builtin_program(const std::string& name) {
  if (name == "lstm" || name == "lstm_peephole") return lstm_program(name == "lstm_peephole");
  if (name == "gru_lbr") return gru_lbr_program();
  return elman_program(name == "rnn_relu");
}

}  // namespace unroll::testing
