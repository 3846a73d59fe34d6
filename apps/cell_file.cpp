// SPDX-License-Identifier: Apache-2.0
// What lives here: --cell-file (apps/cell_file.h).
#include "apps/cell_file.h"

#include "models/equation_cell.h"

namespace unroll::cli {

void use_cell_file(RecurrentConfig& rc, const std::string& path) {
  const CellEquations eq = read_cell_file(path);
  rc.cell = eq.name;
  rc.cell_equations = eq.text;
}

std::string cell_label(const RecurrentConfig& rc) {
  return rc.cell_equations.empty() ? rc.cell : rc.cell + " (equations)";
}

}  // namespace unroll::cli
