// SPDX-License-Identifier: Apache-2.0
// What lives here: the equation format of recurrent cells (docs/cells.md) and its parser, which turns a
// cell's text into CellEquations: its states, gates, extra parameters and a straight-line program over
// them (Note [Cell program] in ops/cell_program.h, extended by the products a cell program cannot hold).
// EquationCell (models/equation_cell.h) runs it; the parser itself knows nothing of tapes.
//
// Note [Cell equations]: a cell file is one statement per line, `#` starts a comment:
//   cell NAME                       the cell's name (a CellRegistry name)
//   state h, c                      the states, h (the output) first
//   gates f, g, o                   G gate blocks of W_ih x + b_ih + W_hh h + b_hh (the rows of w_ih, ...)
//   param w_ci[H], W_hn[H,H]        extra parameters: vectors [H] (element-wise) or matrices [H,H],
//                                   applied as W_hn(v) = v W_hn^T (registered after b_hh, in this order)
//   name = expr                     an intermediate value
//   c' = expr                       a state's new value (every state exactly once; c' may be read after)
// Expressions: numbers, + - * / (element-wise), unary -, ( ), sigmoid tanh relu exp; a gate `f` is its
// whole pre-activation, `f.x` its input part (W_ih x + b_ih), `f.h` its hidden part (W_hh h + b_hh), and
// `f.h(v)` the gate's hidden weights applied to another vector (W_hh,f v + b_hh,f; the Cho GRU).
// Parsing is iterative except for parentheses and calls, bounded at kMaxNesting levels; the text at
// kMaxTextBytes. Every error is a CellEquationError naming source:line:column, the line and a caret.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "graph/check.h"
#include "ops/cell_program.h"

namespace unroll {

/// A parse or check error at source:line:column. what() is three lines: "source:line:column: message",
/// the offending line, and a caret under the column; first_line() is the first alone; one_line() is the
/// first with the offending line after it, the caret inserted at the column (the CLI's one line).
struct CellEquationError : UsageError {
  CellEquationError(const std::string& source, int line, int column, const std::string& message,
                    const std::string& line_text);
  std::string first_line() const;
  std::string one_line() const;
  std::string source, message, line_text;
  int line = 0, column = 0;
};

/// An extra parameter: a vector [H] (index into the program's param_names) or a matrix [H, H].
struct EquationParam {
  std::string name;
  bool matrix = false;
  int32_t index = 0;  ///< among the parameters of its kind, in declaration order
};

/// One register of the parsed program: a cell-program instruction, or a product a cell program cannot
/// hold (Note [Cell program]): matrix: matrix parameter `index` applied to register a (a W^T); gate_hidden:
/// gate `index`'s block of w_hh applied to register a, plus that block of b_hh.
struct EquationInstr {
  enum class Product : uint8_t { none, matrix, gate_hidden };
  CellInstr op;
  Product product = Product::none;
};

struct CellEquations {
  static constexpr size_t kMaxTextBytes = 1 << 20;
  static constexpr int kMaxNesting = 64;  ///< parentheses and calls inside each other
  static constexpr int kMaxNames = 64;    ///< states, gates, parameters each

  std::string name;                    ///< from `cell NAME`
  std::vector<std::string> states;     ///< h first
  std::vector<std::string> gates;      ///< block order of w_ih / w_hh rows
  std::vector<EquationParam> params;   ///< declaration order (the registration order)
  std::vector<EquationInstr> code;     ///< register r = code[r], operands before r, dead code removed
  std::vector<int32_t> outputs;        ///< the register of each new state
  std::string text;                    ///< the source text, as given

  bool has_products() const;  ///< some register is a product (then no CellProgram)
  /// The program (Note [Cell program]) when there are no products; validated.
  std::optional<CellProgram> program() const;
  std::vector<std::string> vector_param_names() const;
  std::vector<std::string> matrix_param_names() const;
};

/// Parses `text`; errors name `source` (a file path, or the registry name). Never crashes on any input.
CellEquations parse_cell_equations(std::string_view text, const std::string& source);

}  // namespace unroll
