// SPDX-License-Identifier: Apache-2.0
// What lives here: Cell, the interface every recurrent cell implements (built-in or a user's own), and
// CellRegistry, the explicit name -> factory table the sequence driver (recurrent.h) builds cells from.
//
// Note [Cell layout]: a cell owns "w_ih" [G*H, I], "w_hh" [G*H, H], "b_ih" [G*H], "b_hh" [G*H] (G gate
// blocks of H rows each, PyTorch's gate order: LSTM i,f,g,o; GRU r,z,n), plus any extras it registers
// (LSTM peepholes "w_ci", "w_cf", "w_co" [H]). These names are the checkpoint layout.
//
// Note [Input projection]: project_inputs() applies w_ih and b_ih to ALL time steps in one linear
// ([T*B, I] -> [T*B, G*H]); step() receives one time step's rows of that projection. Everything else
// in a step is ordinary recorded ops, so BPTT is plain backward and a custom cell needs no gradient code.
//
// Note [Fused fast path]: a stock cell without extras (lstm, gru_lbr, rnn_tanh, rnn_relu) returns the
// RnnKind of fused_kind(), and the driver (choose_strategy, models/strategies/choose.cpp) then runs a
// whole layer and direction as one rnn_sequence op (ops/rnn_sequence.cpp: in float32 our step loop on
// oneDNN GEMMs, or oneDNN's fused RNN primitive with Recurrent::set_engine, which a variable-length batch
// never takes: Note [Masked step loop] in ops/rnn_step_loop.cpp) instead of T step() calls.
// step() stays the definition: tests/test_rnn_sequence.cpp checks the fast path against it, outputs and
// every gradient. Cells with extras, subclasses and custom cells return nothing.
//
// Note [Sequence context]: models::Recurrent runs one layer and direction as a sequence: it opens a
// SequenceContext for it (Cell::open_sequence) before the first step and hands that to every step() --
// and again to a recompute segment's replay of its steps (Note [Recompute segments]). The context holds the
// packed copies of the weights every step shares (Note [Packed weights] in ops/weight_packs.h), which
// project_hidden(h, seq) runs on, and whatever the cell keeps per sequence: nodes begin_sequence() records
// once for all steps (the Cho GRU's cuts of w_hh, models/cells.cpp). A cell that keeps nothing per
// sequence ignores the context (or passes it only to project_hidden).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "graph/rng.h"
#include "graph/tape.h"
#include "models/module.h"
#include "ops/cell_program.h"
#include "ops/ops.h"

namespace unroll {

class WeightPacks;  // ops/weight_packs.h

/// Note [Sequence context]: one layer and direction's per-sequence state, made by Cell::open_sequence.
class SequenceContext {
 public:
  explicit SequenceContext(Tape& tape);
  ~SequenceContext();
  SequenceContext(const SequenceContext&) = delete;
  SequenceContext& operator=(const SequenceContext&) = delete;

  Tape& tape() const { return *tape_; }
  WeightPacks* packs() const { return packs_.get(); }  ///< null: plain products
  /// Packs the weights recorded so far (and parameters) for the steps' products (Note [Packed weights]).
  void pack_weights();

  std::vector<Var> nodes;  ///< the cell's own per-sequence nodes, in the order its begin_sequence() chose

 private:
  Tape* tape_;
  std::unique_ptr<WeightPacks> packs_;
};

/// A recurrent cell: the interface every cell implements, built-in or your own. Subclass it, call the
/// protected constructor with the gate count, override kind(), state_count() and step() (ordinary ops
/// on Var, no gradient code), and register a factory in a CellRegistry; Recurrent unrolls it over time.
/// examples/cifg_cell.h is a complete cell.
class Cell : public Module {
 public:
  int input_size() const { return input_; }
  int hidden_size() const { return hidden_; }
  int gate_count() const { return gates_; }
  virtual int state_count() const { return 1; }  ///< 1: h; 2: h and c (h first)
  virtual std::string kind() const = 0;          ///< the registry name, for messages

  /// state_count() zero tensors [batch, H] of dtype, as constants on tape.
  virtual std::vector<Var> initial_state(Tape& tape, int64_t batch, DType dtype) const;
  /// x_seq [T*B, I] -> [T*B, G*H] = x_seq w_ih^T + b_ih (Note [Input projection]).
  virtual Var project_inputs(Var x_seq);
  /// Note [Sequence context]: a sequence on `tape`, before its first step: begin_sequence() fills the
  /// cell's part, then (with pack_weights) the context packs the weights recorded so far and parameters.
  std::shared_ptr<SequenceContext> open_sequence(Tape& tape, bool pack_weights = true);
  /// Records into seq.nodes what every step of the sequence shares (the Cho GRU's cut of w_hh). Default: nothing.
  virtual void begin_sequence(SequenceContext& seq) { (void)seq; }
  /// One time step of the sequence `seq`: projected_x_t [B, G*H], state (state_count() tensors [B, H]) ->
  /// the new state; the cell's output is new_state[0] (h).
  virtual std::vector<Var> step(Var projected_x_t, const std::vector<Var>& state, SequenceContext& seq) = 0;
  /// One time step on its own: step() in a context of its own on projected_x_t's tape, plain products.
  /// (A subclass that overrides step() above hides this one on its own type; `using Cell::step;` shows it.)
  std::vector<Var> step(Var projected_x_t, const std::vector<Var>& state);
  /// Note [Fused fast path]: the fused kind computing exactly step() over a sequence, if there is one.
  virtual std::optional<RnnKind> fused_kind() const { return std::nullopt; }
  /// Note [Cell program] (ops/cell_program.h): the element-wise part of step() as a program, if the cell
  /// declares one (then step() must compute exactly gx, gh -> program). Default: none.
  virtual const CellProgram* cell_program() const { return nullptr; }
  /// Note [Graph batch split] (models/strategies/batch_split.cpp): true promises that project_inputs(),
  /// begin_sequence() and step() treat every batch row on its own (no op mixes rows, such as a sum or mean over the batch)
  /// and change nothing in the cell, so that models::Recurrent may record each thread's block of rows on a
  /// tape of its own, on several threads at once. Default false; the built-in cells and the example CIFG
  /// cell say true.
  virtual bool rows_independent() const { return false; }

  Parameter& w_ih() { return *w_ih_; }
  Parameter& w_hh() { return *w_hh_; }
  Parameter& b_ih() { return *b_ih_; }
  Parameter& b_hh() { return *b_hh_; }

 protected:
  /// Registers w_ih, w_hh, b_ih, b_hh for `gates` gate blocks. options["init"] picks the scheme:
  ///   "uniform" (default, PyTorch): every tensor U(-1/sqrt(H), 1/sqrt(H));
  ///   "xavier": w_ih and w_hh Glorot-uniform, biases zero;
  ///   "orthogonal": w_ih Glorot-uniform, each gate's H x H block of w_hh orthogonal, biases zero.
  Cell(int input_size, int hidden_size, int gates, Rng& rng, const nlohmann::json& options);

  /// Throws UsageError naming the cell when options holds a key outside `allowed` (plus "init").
  void check_options(const nlohmann::json& options, const std::vector<std::string>& allowed) const;
  /// Validates one step's arguments (shapes, state count), naming the cell and both shapes.
  void check_step(const Var& projected_x_t, const std::vector<Var>& state) const;
  /// h w_hh^T + b_hh: [B, H] -> [B, G*H]; with seq, on its packed weights (the same values).
  Var project_hidden(Var h);
  Var project_hidden(Var h, const SequenceContext& seq);

 private:
  int input_, hidden_, gates_;
  Parameter* w_ih_;
  Parameter* w_hh_;
  Parameter* b_ih_;
  Parameter* b_hh_;
};

/// factory(input_size, hidden_size, rng, options) -> a new cell
using CellFactory =
    std::function<std::unique_ptr<Cell>(int input_size, int hidden_size, Rng& rng, const nlohmann::json& options)>;

/// An ordinary value: copy the built-in registry and add your own cells to the copy.
class CellRegistry {
 public:
  void register_cell(const std::string& name, CellFactory factory);  ///< a name may be registered once
  bool contains(const std::string& name) const { return factories_.count(name) != 0; }
  /// Registers the cell written as equations in `text` (Note [Cell equations], docs/cells.md) under `name`
  /// (the text's own `cell` line names it only for the CLI). Throws CellEquationError (a UsageError) at
  /// source:line:column; source defaults to name. models/equation_cell.cpp.
  void register_equations(const std::string& name, std::string_view text, const std::string& source = "");
  std::vector<std::string> names() const;  ///< sorted
  /// Throws UsageError listing the known names when `name` is not registered.
  std::unique_ptr<Cell> create(const std::string& name, int input_size, int hidden_size, Rng& rng,
                               const nlohmann::json& options = nlohmann::json::object()) const;

 private:
  std::map<std::string, CellFactory> factories_;
};

/// rnn_tanh, rnn_relu, lstm, lstm_peephole, gru (Cho form), gru_lbr (linear-before-reset, PyTorch form).
/// A function-local static const: read-only, built on first use.
const CellRegistry& builtin_cells();

}  // namespace unroll
