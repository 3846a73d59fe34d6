// SPDX-License-Identifier: Apache-2.0
// What lives here: the libFuzzer target for the cell equation parser (models/cell_equations.h). Any input
// must either parse into consistent CellEquations or throw CellEquationError whose message names the
// source, a line and a column inside the text; anything else -- another exception, a crash, a sanitizer
// report, a broken invariant of the parsed program -- is a finding. A parsed cell without products must
// also give a valid CellProgram (ops/cell_program.h).
// Build (the fuzz runner does this): clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined
//   -I<src> tests/fuzz/fuzz_cell_equations.cpp models/cell_equations.cpp ops/cell_program.cpp -lfmt
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "models/cell_equations.h"

namespace {

void check(const unroll::CellEquations& eq) {
  if (eq.name.empty() || eq.states.empty() || eq.gates.empty()) std::abort();
  if (eq.outputs.size() != eq.states.size()) std::abort();
  for (size_t r = 0; r < eq.code.size(); ++r) {
    const unroll::CellInstr& in = eq.code[r].op;
    if (in.a >= static_cast<int32_t>(r) || in.b >= static_cast<int32_t>(r)) std::abort();  // operands come first
  }
  for (int32_t reg : eq.outputs)
    if (reg < 0 || static_cast<size_t>(reg) >= eq.code.size()) std::abort();
  if (!eq.has_products()) {
    const std::optional<unroll::CellProgram> p = eq.program();  // validate() throws on a broken program
    if (!p || p->code.size() != eq.code.size()) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    check(unroll::parse_cell_equations(text, "fuzz.cell"));
  } catch (const unroll::CellEquationError& e) {
    if (e.line < 1 || e.column < 1) std::abort();
    if (std::string(e.what()).rfind("fuzz.cell:", 0) != 0) std::abort();
  }
  return 0;
}
