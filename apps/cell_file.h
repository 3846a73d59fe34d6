// SPDX-License-Identifier: Apache-2.0
// What lives here: --cell-file, shared by train, gradcheck, bench and graph: a cell written as equations
// (docs/cells.md) read into a RecurrentConfig, whose cell_equations then travel in the model config (and
// so in every checkpoint: eval, predict, inspect and --resume need no file).
#pragma once
#include <string>

#include "models/recurrent.h"

namespace unroll::cli {

// Reads and parses the cell file at path (CellEquationError at path:line:column, IoError when unreadable)
// and sets rc.cell to its `cell` name and rc.cell_equations to its text.
void use_cell_file(RecurrentConfig& rc, const std::string& path);

// "cifg (equations)" for a cell from equations, else the cell name: how tables name the cell.
std::string cell_label(const RecurrentConfig& rc);

}  // namespace unroll::cli
