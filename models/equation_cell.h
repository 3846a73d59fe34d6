// SPDX-License-Identifier: Apache-2.0
// What lives here: EquationCell, a recurrent cell defined by the equation format (Note [Cell equations] in
// models/cell_equations.h), and the helpers that read a cell file.
//
// Note [Equation cell]: an EquationCell has the parameters of Note [Cell layout] for its G gates, then its
// extra parameters in declaration order (vectors [H] U(-1/sqrt(H), 1/sqrt(H)) like the LSTM's peepholes;
// matrices [H,H] like w_hh under the chosen init), so a cell file of a built-in cell draws the same
// numbers from the same Rng and its checkpoints have the built-in layout. step() evaluates the parsed
// registers with ordinary recorded ops (BPTT is plain backward): the gates come from px + h W_hh^T + b_hh
// cut into blocks when the program only uses whole gates, else from the two parts cut separately; a
// gate applied to another vector (g.h(v)) cuts w_hh into runs of blocks once per sequence, as the Cho GRU
// does (Note [Cho weights cut once per sequence] in models/cells.cpp). Without products the cell declares
// its program (Cell::cell_program), so the fused engine may run it.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "models/cell.h"
#include "models/cell_equations.h"

namespace unroll {

class EquationCell : public Cell {
 public:
  /// name: the registry name (kind()); options: only "init" (Cell's schemes).
  EquationCell(std::string name, std::shared_ptr<const CellEquations> equations, int input_size, int hidden_size,
               Rng& rng, const nlohmann::json& options = nlohmann::json::object());
  std::string kind() const override { return name_; }
  int state_count() const override { return static_cast<int>(eq_->states.size()); }
  using Cell::step;
  std::vector<Var> step(Var projected_x_t, const std::vector<Var>& state, SequenceContext& seq) override;
  void begin_sequence(SequenceContext& seq) override;
  const CellProgram* cell_program() const override { return program_ ? &*program_ : nullptr; }
  bool rows_independent() const override { return true; }
  const CellEquations& equations() const { return *eq_; }

 private:
  struct Cut {  // rows [first*H, (first+count)*H) of w_hh and b_hh, cut once per sequence
    int first = 0, count = 0;
  };
  std::string name_;
  std::shared_ptr<const CellEquations> eq_;
  std::optional<CellProgram> program_;
  std::vector<Parameter*> vector_params_, matrix_params_;
  bool sums_only_ = false;          // every gate read as a whole: px + project_hidden(h), one add
  bool cut_hidden_ = false;         // some gate applied to another vector: w_hh cut into pieces
  std::vector<Cut> cuts_;           // when cut_hidden_: runs of gates read as g.h, then single gates g.h(v)
  std::vector<int> hidden_cut_, product_cut_;  // per gate: its cut in cuts_ for g.h and for g.h(v), -1 none

  std::vector<Var> cut_weights(Tape& tape);
};

/// Reads a cell file (at most CellEquations::kMaxTextBytes; IoError when unreadable) and parses it.
CellEquations read_cell_file(const std::string& path);

}  // namespace unroll
