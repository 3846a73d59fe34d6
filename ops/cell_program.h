// SPDX-License-Identifier: Apache-2.0
// What lives here: CellProgram, the element-wise part of a row-independent recurrent cell's step written as
// a straight-line program -- the one description that a cell from equations (models/) and a C++ cell that
// declares it (Cell::cell_program) share, and that both the per-step graph and the fused step loop run.
//
// Note [Cell program]: a step of such a cell is
//   gx = x W_ih^T + b_ih, gh = h W_hh^T + b_hh     (G gate blocks of H columns each, the products)
//   new states = program(gx blocks, gh blocks, previous states, vector parameters, constants)
// where the program works unit by unit: every register holds one value per (row, hidden unit), so the
// program runs over any block of rows and units on its own (Note [Batch split] in ops/rnn_step_loop.cpp).
// Register r is defined by code[r] and reads only registers before r (static single assignment; no loops,
// no recursion to evaluate or differentiate it). outputs[k] is the register holding new state k; state 0
// is h, the cell's output. A gate's full pre-activation is gate_x + gate_h; a program that only ever uses
// that sum lets the engine fold b_hh and h W_hh^T into gx (as the LSTM step loop does).
// A step needing another product inside the element-wise part (the Cho GRU's W_hn (r h)) is not a cell
// program: such cells run on the per-step graph.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace unroll {

enum class CellOp : uint8_t {
  gate_x,    // index k: gate block k's input part, x W_ih^T + b_ih (columns k H .. k H + H - 1)
  gate_h,    // index k: gate block k's hidden part, h W_hh^T + b_hh
  state,     // index k: the previous state k (0 = h)
  param,     // index k: the cell's vector parameter k, [H], the same for every row
  constant,  // value
  add, sub, mul, div,  // a op b
  neg,                 // -a
  sigmoid, tanh, relu, exp,  // f(a)
};

struct CellInstr {
  CellOp op = CellOp::constant;
  int32_t a = -1, b = -1;  // operand registers (earlier than this one); -1 when unused
  int32_t index = 0;       // gate_x, gate_h, state, param: which one
  double value = 0;        // constant
};

struct CellProgram {
  int32_t gates = 0;   // G
  int32_t states = 1;  // S (h first)
  std::vector<std::string> param_names;  // the vector parameters, in `param` index order (e.g. "w_ci")
  std::vector<CellInstr> code;           // register r = code[r]
  std::vector<int32_t> outputs;          // the register of each new state; outputs.size() == states

  /// Throws UsageError naming the first problem: an operand that is not an earlier register, an index out
  /// of range, an output missing or out of range.
  void validate() const;
  /// true when gate_x k and gate_h k only ever appear added together (a + b, either order, as one add
  /// instruction), so the engine may fold both projections into one (Note [Cell program]).
  bool uses_gate_sums_only() const;
};

}  // namespace unroll
